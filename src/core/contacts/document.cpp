#include "core/contacts/document.hpp"

#include "core/text/text.hpp"

#include <cctype>

namespace chatwoot::core {

namespace {

bool all_same(std::string_view digits) {
    for (char c : digits)
        if (c != digits.front()) return false;
    return true;
}

// Modulo-11 check digit over `digits` with the given weights.
int check_digit(std::string_view digits, const int* weights) {
    int sum = 0;
    for (std::size_t i = 0; i < digits.size(); ++i) sum += (digits[i] - '0') * weights[i];
    int rest = sum % 11;
    return rest < 2 ? 0 : 11 - rest;
}

}  // namespace

bool cpf_check_digits_ok(std::string_view d) {
    if (d.size() != 11 || all_same(d)) return false;
    static const int w1[] = {10, 9, 8, 7, 6, 5, 4, 3, 2};
    static const int w2[] = {11, 10, 9, 8, 7, 6, 5, 4, 3, 2};
    return check_digit(d.substr(0, 9), w1) == d[9] - '0' && check_digit(d.substr(0, 10), w2) == d[10] - '0';
}

bool cnpj_check_digits_ok(std::string_view d) {
    if (d.size() != 14 || all_same(d)) return false;
    static const int w1[] = {5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2};
    static const int w2[] = {6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2};
    return check_digit(d.substr(0, 12), w1) == d[12] - '0' && check_digit(d.substr(0, 13), w2) == d[13] - '0';
}

DocumentResult normalize_document(DocumentKind kind, std::string_view text) {
    DocumentResult result;
    std::string digits;
    bool has_other = false;
    for (char c : text) {
        unsigned char u = static_cast<unsigned char>(c);
        if (std::isdigit(u)) digits.push_back(c);
        else if (!(c == '.' || c == '-' || c == '/' || std::isspace(u))) has_other = true;
    }
    const char* name = kind == DocumentKind::cpf ? "CPF" : "CNPJ";
    if (digits.empty() && !has_other) {
        result.blank = true;
        return result;
    }
    std::size_t expected = kind == DocumentKind::cpf ? 11 : 14;
    // Legacy rows lost leading zeros when the column was numeric somewhere upstream.
    if (!has_other && digits.size() < expected && digits.size() >= expected - 3)
        digits.insert(0, expected - digits.size(), '0');
    bool ok = !has_other && digits.size() == expected &&
              (kind == DocumentKind::cpf ? cpf_check_digits_ok(digits) : cnpj_check_digits_ok(digits));
    if (!ok) {
        result.error = std::string(name) + " inválido: '" + excerpt(text) + "'";
        return result;
    }
    result.digits = digits;
    return result;
}

}  // namespace chatwoot::core
