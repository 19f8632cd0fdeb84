#include "util.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

namespace sim {

std::int64_t now_us() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::int64_t now_ms() { return now_us() / 1000; }

std::string iso8601(std::int64_t us) {
    std::time_t secs = static_cast<std::time_t>(us / 1000000);
    int ms = static_cast<int>((us % 1000000) / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    return buf;
}

static std::mt19937_64& rng() {
    thread_local std::mt19937_64 gen{std::random_device{}()};
    return gen;
}

double random_unit() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng()); }

std::string uuid_v4() {
    std::uint64_t a = rng()(), b = rng()();
    a = (a & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;
    b = (b & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                  static_cast<unsigned>((a >> 16) & 0xFFFF), static_cast<unsigned>(a & 0xFFFF),
                  static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xFFFFFFFFFFFFULL));
    return buf;
}

std::string random_token(std::size_t length) {
    static const char alphabet[] = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ123456789";
    std::uniform_int_distribution<std::size_t> pick(0, sizeof(alphabet) - 2);
    std::string out;
    out.reserve(length);
    for (std::size_t i = 0; i < length; ++i) out.push_back(alphabet[pick(rng())]);
    return out;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string url_decode(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '+') {
            out.push_back(' ');
        } else if (c == '%' && i + 2 < s.size() && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
            i += 2;
        } else {
            out.push_back(c);
        }
    }
    return out;
}

std::vector<std::pair<std::string, std::string>> parse_query(std::string_view raw) {
    std::vector<std::pair<std::string, std::string>> out;
    std::size_t pos = 0;
    while (pos <= raw.size() && !raw.empty()) {
        std::size_t amp = raw.find('&', pos);
        std::string_view part = raw.substr(pos, amp == std::string_view::npos ? std::string_view::npos : amp - pos);
        if (!part.empty()) {
            std::size_t eq = part.find('=');
            if (eq == std::string_view::npos)
                out.emplace_back(url_decode(part), "");
            else
                out.emplace_back(url_decode(part.substr(0, eq)), url_decode(part.substr(eq + 1)));
        }
        if (amp == std::string_view::npos) break;
        pos = amp + 1;
    }
    return out;
}

std::u32string utf8_to_u32(std::string_view s) {
    std::u32string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        int extra = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : -1;
        if (extra < 0) {
            out.push_back(c);  // invalid lead byte: count it as one character
            ++i;
            continue;
        }
        char32_t cp = extra == 0 ? c : (c & (0x3F >> extra));
        bool ok = true;
        for (int k = 1; k <= extra; ++k) {
            if (i + k >= s.size()) { ok = false; break; }
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) { ok = false; break; }
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (!ok) {
            out.push_back(c);
            ++i;
            continue;
        }
        out.push_back(cp);
        i += extra + 1;
    }
    return out;
}

std::size_t utf8_length(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;
    return n;
}

static void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

static char32_t fold_cp(char32_t cp) {
    if (cp >= 'A' && cp <= 'Z') return cp + 32;
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) return cp + 32;
    if (cp >= 0x100 && cp <= 0x17F && (cp % 2) == 0 && cp != 0x130 && cp != 0x138) return cp + 1;
    return cp;
}

std::string fold_case(std::string_view s) {
    bool ascii = true;
    for (unsigned char c : s)
        if (c >= 0x80) { ascii = false; break; }
    if (ascii) return ascii_lower(s);
    std::string out;
    out.reserve(s.size());
    for (char32_t cp : utf8_to_u32(s)) append_utf8(out, fold_cp(cp));
    return out;
}

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    return out;
}

static bool is_ruby_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '\0'; }

std::string strip(std::string_view s) {
    std::size_t b = 0, e = s.size();
    while (b < e && is_ruby_space(s[b])) ++b;
    while (e > b && is_ruby_space(s[e - 1])) --e;
    return std::string(s.substr(b, e - b));
}

bool is_blank(std::string_view s) {
    for (char c : s)
        if (!is_ruby_space(c)) return false;
    return true;
}

static bool like_match(const std::u32string& t, std::size_t ti, const std::u32string& p, std::size_t pi) {
    // Iterative matcher with backtracking on the last '%'.
    std::size_t star_p = std::u32string::npos, star_t = 0;
    while (ti < t.size()) {
        if (pi < p.size() && p[pi] == U'\\' && pi + 1 < p.size()) {
            if (p[pi + 1] == t[ti]) { pi += 2; ++ti; continue; }
        } else if (pi < p.size() && p[pi] == U'%') {
            star_p = pi++;
            star_t = ti;
            continue;
        } else if (pi < p.size() && (p[pi] == U'_' || p[pi] == t[ti])) {
            ++pi; ++ti;
            continue;
        }
        if (star_p == std::u32string::npos) return false;
        pi = star_p + 1;
        ti = ++star_t;
    }
    while (pi < p.size() && p[pi] == U'%') ++pi;
    return pi == p.size();
}

bool sql_like(std::string_view text, std::string_view pattern, bool ci) {
    std::u32string t = utf8_to_u32(ci ? fold_case(text) : std::string(text));
    std::u32string p = utf8_to_u32(ci ? fold_case(pattern) : std::string(pattern));
    return like_match(t, 0, p, 0);
}

std::optional<std::int64_t> parse_int(std::string_view s) {
    if (s.empty() || s.size() > 18) return std::nullopt;
    std::size_t i = 0;
    bool neg = false;
    if (s[0] == '-') { neg = true; i = 1; }
    if (i >= s.size()) return std::nullopt;
    std::int64_t v = 0;
    for (; i < s.size(); ++i) {
        if (s[i] < '0' || s[i] > '9') return std::nullopt;
        v = v * 10 + (s[i] - '0');
    }
    return neg ? -v : v;
}

std::int64_t ruby_to_i(std::string_view s) {
    std::string t = strip(s);
    std::size_t i = 0;
    bool neg = false;
    if (i < t.size() && (t[i] == '-' || t[i] == '+')) { neg = t[i] == '-'; ++i; }
    std::int64_t v = 0;
    std::size_t digits = 0;
    for (; i < t.size() && t[i] >= '0' && t[i] <= '9' && digits < 18; ++i, ++digits) v = v * 10 + (t[i] - '0');
    return neg ? -v : v;
}

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < path.size()) {
        std::size_t j = path.find('/', i);
        if (j == std::string::npos) j = path.size();
        if (j > i) out.push_back(path.substr(i, j - i));
        i = j + 1;
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view s) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::string out;
    out.reserve(s.size() / 4 * 3);
    std::uint32_t acc = 0;
    int bits = 0;
    bool padding = false;
    for (char c : s) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        int v = value(c);
        if (v < 0 || padding) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xFF));
        }
    }
    if (bits >= 6) return std::nullopt;  // a lone 6-bit group encodes no byte
    return out;
}

}  // namespace sim
