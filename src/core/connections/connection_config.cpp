#include "core/connections/connection_config.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace chatwoot::core {

static bool starts_with_ci(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
    return true;
}

namespace {

bool is_decimal_octet(std::string_view part) {
    if (part.empty() || part.size() > 3) return false;
    if (part.size() > 1 && part.front() == '0') return false;  // 010 is octal to a resolver
    for (char c : part)
        if (c < '0' || c > '9') return false;
    return std::stoi(std::string(part)) <= 255;
}

// A host made only of digits, dots and hex notation is an IPv4 address to a
// resolver (inet_aton accepts 2130706433, 0x7f.1, 0177.0.0.1): only a.b.c.d passes.
bool looks_numeric(std::string_view host) {
    for (char c : host)
        if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == '.' || c == 'x' || c == 'X')) return false;
    return !host.empty() && std::isdigit(static_cast<unsigned char>(host.front()));
}

bool dotted_decimal(std::string_view host) {
    int parts = 0;
    std::size_t start = 0;
    for (;;) {
        std::size_t dot = host.find('.', start);
        std::string_view part = host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        if (!is_decimal_octet(part)) return false;
        ++parts;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return parts == 4;
}

std::string lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Host names of metadata services that resolve to link-local addresses.
bool metadata_host_name(const std::string& host) {
    for (const char* name : {"metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"})
        if (host == name || host == std::string(name) + ".") return true;
    return false;
}

}  // namespace

bool is_forbidden_address(std::string_view numeric_ip) {
    std::string ip(numeric_ip);
    unsigned char v4[4];
    if (inet_pton(AF_INET, ip.c_str(), v4) == 1)
        return (v4[0] == 169 && v4[1] == 254) || (v4[0] == 100 && v4[1] == 100 && v4[2] == 100 && v4[3] == 200);
    unsigned char v6[16];
    if (inet_pton(AF_INET6, ip.c_str(), v6) != 1) return false;
    if (v6[0] == 0xfe && (v6[1] & 0xc0) == 0x80) return true;  // fe80::/10
    static const unsigned char aws[16] = {0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54};
    if (std::equal(v6, v6 + 16, aws)) return true;
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(v6, v6 + 12, mapped)) {
        char text[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, v6 + 12, text, sizeof text)) return is_forbidden_address(text);
    }
    return false;
}

std::optional<std::string> check_api_url(std::string_view url, bool allow_link_local) {
    if (url.size() > kMaxApiUrlLength)
        return "api_url longa demais (máximo " + std::to_string(kMaxApiUrlLength) + " caracteres)";
    std::string_view rest;
    if (starts_with_ci(url, "https://")) rest = url.substr(8);
    else if (starts_with_ci(url, "http://")) rest = url.substr(7);
    else return std::string("api_url deve começar com http:// ou https://");
    for (char c : url) {
        unsigned char u = static_cast<unsigned char>(c);
        if (std::isspace(u) || std::iscntrl(u) || u == 0x7f)
            return std::string("api_url não pode conter espaços ou caracteres de controle");
        if (c == '\\') return std::string("api_url não pode conter barra invertida");
    }
    std::string_view authority = rest.substr(0, rest.find('/'));
    if (authority.find('@') != std::string_view::npos)
        return std::string("api_url não pode conter credenciais (use api_key)");
    if (rest.find('?') != std::string_view::npos || rest.find('#') != std::string_view::npos)
        return std::string("api_url não pode conter query string nem fragmento");
    std::string_view host = authority, port;
    bool has_port = false;
    if (!authority.empty() && authority.front() == '[') {
        std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return std::string("api_url: endereço IPv6 sem ']'");
        host = authority.substr(1, close - 1);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty() && after.front() != ':') return std::string("api_url: porta inválida");
        has_port = !after.empty();
        if (has_port) port = after.substr(1);
        unsigned char v6[16];
        if (inet_pton(AF_INET6, std::string(host).c_str(), v6) != 1) return std::string("api_url: endereço IPv6 inválido");
    } else {
        std::size_t colon = authority.find(':');
        has_port = colon != std::string_view::npos;
        if (has_port) {
            host = authority.substr(0, colon);
            port = authority.substr(colon + 1);
        }
        for (char c : host)
            if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' ||
                  static_cast<unsigned char>(c) >= 0x80))
                return std::string("api_url: host com caracteres inválidos");
        if (looks_numeric(host) && !dotted_decimal(host))
            return std::string("api_url: escreva o endereço IPv4 na forma a.b.c.d");
    }
    if (host.empty()) return std::string("api_url não tem host");
    if (has_port) {
        bool digits = !port.empty() && port.size() <= 5;
        for (char c : port) digits = digits && std::isdigit(static_cast<unsigned char>(c));
        if (!digits || std::stoi(std::string(port)) < 1 || std::stoi(std::string(port)) > 65535)
            return std::string("api_url: a porta deve estar entre 1 e 65535");
    }
    if (!allow_link_local && (is_forbidden_address(host) || metadata_host_name(lower(host))))
        return std::string("api_url aponta para um endereço link-local ou de metadados da nuvem "
                           "(habilite chatwoot_sync.allow_link_local_addresses se for mesmo o Chatwoot)");
    return std::nullopt;
}

std::optional<std::string> check_api_key(std::string_view key) {
    bool has_visible = false;
    for (char c : key) {
        unsigned char u = static_cast<unsigned char>(c);
        if (std::iscntrl(u) || u == ' ') return std::string("api_key não pode conter espaços ou caracteres de controle");
        has_visible = true;
    }
    if (!has_visible) return std::string("api_key não pode ser vazia");
    return std::nullopt;
}

std::optional<std::string> check_account_id(std::int64_t account_id) {
    if (account_id <= 0) return std::string("account_id deve ser um inteiro positivo");
    return std::nullopt;
}

std::string normalized_base_url(std::string_view url) {
    std::string out(url);
    while (!out.empty() && out.back() == '/') out.pop_back();
    return out;
}

std::string redact(std::string text, std::string_view secret) {
    if (secret.size() < 4) return text;
    // A piece is found by the secret's first characters, then extended as far as it goes.
    std::string_view head = secret.substr(0, std::min(secret.size(), kSecretPieceMasked));
    std::size_t at = text.find(head);
    if (at == std::string::npos) return text;
    std::string out;
    std::size_t from = 0;
    for (; at != std::string::npos; at = text.find(head, from)) {
        std::size_t n = head.size();
        while (n < secret.size() && at + n < text.size() && text[at + n] == secret[n]) ++n;
        out.append(text, from, at - from);
        out += "[redacted]";
        from = at + n;
    }
    out.append(text, from, std::string::npos);
    return out;
}

}  // namespace chatwoot::core
