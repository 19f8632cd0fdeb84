// CPF and CNPJ, the Brazilian person and company registry numbers: punctuation
// stripped and check digits verified before they are sent as custom attributes.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace chatwoot::core {

enum class DocumentKind { cpf, cnpj };

struct DocumentResult {
    std::optional<std::string> digits;  // 11 (CPF) or 14 (CNPJ) digits, check digits valid
    std::string error;                  // Portuguese; empty when valid or blank
    bool blank = false;
};

DocumentResult normalize_document(DocumentKind kind, std::string_view text);

bool cpf_check_digits_ok(std::string_view eleven_digits);
bool cnpj_check_digits_ok(std::string_view fourteen_digits);

}  // namespace chatwoot::core
