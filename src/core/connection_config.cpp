#include "core/connection_config.hpp"

#include <cctype>

namespace chatwoot::core {

static bool starts_with_ci(std::string_view text, std::string_view prefix) {
    if (text.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
    return true;
}

std::optional<std::string> check_api_url(std::string_view url) {
    std::string_view rest;
    if (starts_with_ci(url, "https://")) rest = url.substr(8);
    else if (starts_with_ci(url, "http://")) rest = url.substr(7);
    else return std::string("api_url deve começar com http:// ou https://");
    if (rest.empty() || rest.front() == '/' || rest.front() == ':')
        return std::string("api_url não tem host");
    for (char c : url) {
        if (std::isspace(static_cast<unsigned char>(c)) || std::iscntrl(static_cast<unsigned char>(c)))
            return std::string("api_url não pode conter espaços ou caracteres de controle");
    }
    if (rest.find('@') != std::string_view::npos && rest.find('@') < rest.find('/'))
        return std::string("api_url não pode conter credenciais (use api_key)");
    if (rest.find('?') != std::string_view::npos || rest.find('#') != std::string_view::npos)
        return std::string("api_url não pode conter query string nem fragmento");
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
    std::size_t pos = 0;
    while ((pos = text.find(secret, pos)) != std::string::npos) {
        text.replace(pos, secret.size(), "[redacted]");
        pos += 10;
    }
    return text;
}

}  // namespace chatwoot::core
