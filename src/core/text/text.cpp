#include "core/text/text.hpp"

#include <cstring>

#include "core/connections/connection_config.hpp"

namespace chatwoot::core {

namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
constexpr std::string_view kEllipsis = "\xE2\x80\xA6";     // U+2026

// Length of the well-formed UTF-8 sequence at `text[i]` (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF), or 0 when it is not one.
std::size_t sequence_length(std::string_view text, std::size_t i) {
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char lead = byte(i);
    std::size_t left = text.size() - i;
    auto continuation = [&](std::size_t k) { return k < text.size() && (byte(k) & 0xC0) == 0x80; };
    if (lead < 0x80) return lead == 0 ? 0 : 1;
    if (lead >= 0xC2 && lead <= 0xDF) return left >= 2 && continuation(i + 1) ? 2 : 0;
    if (lead >= 0xE0 && lead <= 0xEF) {
        if (left < 3 || !continuation(i + 1) || !continuation(i + 2)) return 0;
        unsigned char second = byte(i + 1);
        if (lead == 0xE0 && second < 0xA0) return 0;  // overlong
        if (lead == 0xED && second > 0x9F) return 0;  // surrogate
        return 3;
    }
    if (lead >= 0xF0 && lead <= 0xF4) {
        if (left < 4 || !continuation(i + 1) || !continuation(i + 2) || !continuation(i + 3)) return 0;
        unsigned char second = byte(i + 1);
        if (lead == 0xF0 && second < 0x90) return 0;  // overlong
        if (lead == 0xF4 && second > 0x8F) return 0;  // above U+10FFFF
        return 4;
    }
    return 0;
}

}  // namespace

std::string valid_utf8(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        std::size_t n = sequence_length(text, i);
        if (n == 0) {
            out += kReplacement;
            ++i;
        } else {
            out.append(text.substr(i, n));
            i += n;
        }
    }
    return out;
}

std::size_t utf8_prefix(std::string_view text, std::size_t max_bytes) noexcept {
    if (text.size() <= max_bytes) return text.size();
    std::size_t end = max_bytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;  // a character's start
    return end;
}

void copy_utf8(char* dst, std::size_t size, std::string_view src) noexcept {
    if (size == 0) return;
    std::size_t n = utf8_prefix(src, size - 1);
    std::memcpy(dst, src.data(), n);
    dst[n] = '\0';
}

std::string cut_utf8(std::string_view text, std::size_t max_bytes) {
    std::string valid = valid_utf8(text);
    if (valid.size() <= max_bytes) return valid;
    if (max_bytes < kEllipsis.size()) return std::string();
    valid.resize(utf8_prefix(valid, max_bytes - kEllipsis.size()));
    valid += kEllipsis;
    return valid;
}

std::string excerpt(std::string_view input, std::size_t max_chars) {
    std::string valid = valid_utf8(input);
    std::size_t chars = 0;
    for (std::size_t i = 0; i < valid.size(); ++i) {
        if ((static_cast<unsigned char>(valid[i]) & 0xC0) == 0x80) continue;
        if (chars == max_chars) {
            valid.resize(i);
            valid += kEllipsis;
            return valid;
        }
        ++chars;
    }
    return valid;
}

std::string recorded_text(std::string_view text, std::initializer_list<std::string_view> secrets,
                          std::size_t max_bytes) {
    std::string out(text);
    for (std::string_view secret : secrets) out = redact(std::move(out), secret);
    return cut_utf8(out, max_bytes);
}

namespace {

char32_t folded(char32_t cp) {
    if (cp >= 'A' && cp <= 'Z') return cp + 32;
    if (cp < 0xC0) return cp;
    if (cp <= 0xDE) return cp == 0xD7 ? cp : cp + 32;                          // Latin-1 (not ×)
    if (cp >= 0x100 && cp <= 0x137) return cp % 2 == 0 && cp != 0x130 ? cp + 1 : cp;  // Ā..ķ (İ apart)
    if (cp >= 0x139 && cp <= 0x148) return cp % 2 == 1 ? cp + 1 : cp;         // Ĺ..ň
    if (cp >= 0x14A && cp <= 0x177) return cp % 2 == 0 ? cp + 1 : cp;         // Ŋ..ŷ
    if (cp == 0x178) return 0xFF;                                              // Ÿ
    if (cp >= 0x179 && cp <= 0x17E) return cp % 2 == 1 ? cp + 1 : cp;         // Ź..ž
    if (cp == 0x386) return 0x3AC;
    if (cp >= 0x388 && cp <= 0x38A) return cp + 37;
    if (cp == 0x38C) return 0x3CC;
    if (cp == 0x38E || cp == 0x38F) return cp + 63;
    if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) return cp + 32;             // Greek
    if (cp >= 0x400 && cp <= 0x40F) return cp + 80;                            // Cyrillic Ѐ..Џ
    if (cp >= 0x410 && cp <= 0x42F) return cp + 32;                            // А..Я
    return cp;
}

void append_cp(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

}  // namespace

std::string fold_case(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        if (c < 0x80) {
            out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : static_cast<char>(c));
            ++i;
            continue;
        }
        // Two-byte sequences hold every capital folded here; İ (U+0130) becomes "i̇" as in Ruby.
        if ((c >> 5) == 0x6 && i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) >> 6) == 0x2) {
            char32_t cp = (static_cast<char32_t>(c & 0x1F) << 6) | (static_cast<unsigned char>(text[i + 1]) & 0x3F);
            if (cp == 0x130) out += "i\xCC\x87";
            else append_cp(out, folded(cp));
            i += 2;
            continue;
        }
        out.push_back(static_cast<char>(c));
        ++i;
    }
    return out;
}

}  // namespace chatwoot::core
