#include "core/contacts/contact_draft.hpp"

#include "core/contacts/document.hpp"
#include "core/json/json.hpp"
#include "core/contacts/phone.hpp"
#include "core/text/text.hpp"

#include <algorithm>
#include <cctype>

namespace chatwoot::core {

namespace {

constexpr std::size_t kChatwootStringLimit = 255;  // every string column (ApplicationRecord)

std::size_t utf8_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if ((lead >> 5) == 0x6) return 2;
    if ((lead >> 4) == 0xE) return 3;
    if ((lead >> 3) == 0x1E) return 4;
    return 1;  // stray continuation byte: treat as one unit
}

// Chatwoot's own e-mail rule (Devise): /\A[^@\s]+@[^@\s]+\z/, within 255 characters.
bool chatwoot_accepts_email(const std::string& email) {
    auto at = email.find('@');
    if (at == std::string::npos || at == 0 || at + 1 == email.size()) return false;
    if (email.find('@', at + 1) != std::string::npos) return false;
    for (unsigned char c : email)
        if (std::isspace(c) || std::iscntrl(c)) return false;
    return email.size() <= kChatwootStringLimit;
}

std::string lower_trimmed(std::string_view text) {
    return fold_case(clean_text(text, 10000));  // as Ruby's downcase (contact.rb), beyond ASCII
}

void pick_email(const std::string& emails_json, ContactDraft& draft) {
    if (emails_json.empty() || emails_json == "null") return;
    draft.email_blank = false;
    Json parsed = Json::parse(emails_json);
    std::vector<std::string> candidates;
    if (parsed.is_array()) {
        for (std::size_t i = 0; i < parsed.size(); ++i)
            if (auto s = parsed.at(i).as_string()) candidates.push_back(*s);
    } else if (auto s = parsed.as_string()) {
        candidates.push_back(*s);
    } else {
        draft.problems.push_back({"email", "emails não é uma lista JSON de textos: " + excerpt(emails_json)});
        return;
    }
    std::string rejected;
    bool any = false;
    for (const auto& candidate : candidates) {
        std::string email = lower_trimmed(candidate);
        if (email.empty()) continue;
        any = true;
        if (chatwoot_accepts_email(email)) {
            draft.email = email;
            return;
        }
        if (rejected.empty()) rejected = excerpt(candidate);
    }
    draft.email_blank = !any;  // [] or only blank strings: nothing typed
    if (!rejected.empty()) draft.problems.push_back({"email", "email inválido: '" + rejected + "'"});
}

void pick_phone(const std::vector<PartySnapshot::Phone>& phones, ContactDraft& draft) {
    std::string first_error;
    for (const auto& p : phones) {
        PhoneResult r = normalize_brazilian_phone(p.ddd, p.numero);
        if (!r.blank) draft.phone_blank = false;
        if (r.phone) {
            draft.phone_e164 = r.phone->e164;
            draft.phone_lookup_forms = r.phone->lookup_forms;
            return;
        }
        if (!r.blank && first_error.empty()) first_error = r.error;
    }
    if (!first_error.empty()) draft.problems.push_back({"telefone", first_error});
}

}  // namespace

std::string clean_text(std::string_view text, std::size_t max_chars) {
    std::string out;
    out.reserve(text.size());
    bool pending_space = false;
    std::size_t chars = 0;
    for (std::size_t i = 0; i < text.size();) {
        unsigned char c = static_cast<unsigned char>(text[i]);
        std::size_t len = std::min(utf8_length(c), text.size() - i);
        bool is_space = len == 1 && std::isspace(c);
        bool is_control = (len == 1 && (c < 0x20 || c == 0x7F) && !is_space) ||
                          (len == 2 && c == 0xC2 && static_cast<unsigned char>(text[i + 1]) < 0xA0);  // C1
        if (is_space) {
            pending_space = !out.empty();
        } else if (!is_control) {
            if (pending_space) {
                if (chars + 1 >= max_chars) break;
                out.push_back(' ');
                ++chars;
                pending_space = false;
            }
            if (chars >= max_chars) break;
            out.append(text.substr(i, len));
            ++chars;
        }
        i += len;
    }
    return out;
}

std::string released_identifier(std::string_view identifier, std::int64_t contact_id) {
    return std::string(identifier) + "-removido-" + std::to_string(contact_id);
}

bool is_released_identifier(std::string_view identifier) {
    return identifier.rfind("zattar_", 0) == 0 && identifier.find("-removido-") != std::string_view::npos;
}

std::string contact_identifier(std::string_view tipo_entidade, std::int64_t entidade_id) {
    return "zattar_" + std::string(tipo_entidade) + "_" + std::to_string(entidade_id);
}

ContactDraft draft_contact(const PartySnapshot& party) {
    ContactDraft draft;
    draft.tipo_entidade = party.tipo_entidade;
    draft.entidade_id = party.entidade_id;
    draft.identifier = contact_identifier(party.tipo_entidade, party.entidade_id);
    draft.ativo = party.ativo;

    std::string full_name = clean_text(party.nome, 100000);
    draft.name = clean_text(party.nome, kChatwootStringLimit);
    if (draft.name.empty()) {
        draft.name = draft.identifier;
        draft.problems.push_back({"nome", "nome vazio; usado o identificador"});
    } else if (draft.name.size() < full_name.size()) {
        draft.problems.push_back({"nome", "nome cortado em 255 caracteres (limite do Chatwoot)"});
    }

    pick_email(party.emails_json, draft);
    pick_phone(party.phones, draft);

    if (!party.documento.empty()) {
        DocumentKind kind = party.tipo_pessoa == "pj" ? DocumentKind::cnpj : DocumentKind::cpf;
        DocumentResult doc = normalize_document(kind, party.documento);
        draft.document_blank = doc.blank;
        if (doc.digits) draft.document = doc.digits;
        else if (!doc.blank) draft.problems.push_back({"documento", doc.error});
    }
    return draft;
}

// Both bodies have a fixed shape: their text is written around values jansson
// encodes (see Json::append_string_literal). The unit tests hold them to what a
// jansson tree of the same fields dumps, byte for byte.
std::string ContactDraft::request_body(const BodyOptions& options) const {
    std::string body;
    body.reserve(320 + name.size());
    body += "{\"name\":";
    Json::append_string_literal(body, name);
    if (email && !options.leave_out_email) {
        body += ",\"email\":";
        Json::append_string_literal(body, *email);
    } else if (!email && options.clear_email && !options.leave_out_email) {
        body += ",\"email\":null";
    }
    if (phone_e164 && !options.leave_out_phone) {
        body += ",\"phone_number\":";
        Json::append_string_literal(body, *phone_e164);
    } else if (!phone_e164 && options.clear_phone && !options.leave_out_phone) {
        body += ",\"phone_number\":null";
    }
    body += ",\"identifier\":";
    Json::append_string_literal(body, identifier);
    if (options.inbox_id) body += ",\"inbox_id\":" + std::to_string(*options.inbox_id);
    body += ",\"custom_attributes\":{\"tipo_entidade\":";
    Json::append_string_literal(body, tipo_entidade);
    body += ",\"entidade_id\":" + std::to_string(entidade_id);
    body += ",\"sistema_origem\":\"zattar\",\"ativo\":";
    body += options.ativo.value_or(ativo) ? "true" : "false";
    if (document) {  // a cleared one is removed by destroy_custom_attributes (a null would stay as a key)
        body += ",\"documento\":";
        Json::append_string_literal(body, *document);
    }
    body += "}}";
    return body;
}

std::string ContactDraft::lookup_filter_body() const {
    struct Condition {
        const char* key;
        std::string_view value;
    };
    std::vector<Condition> conditions{{"identifier", identifier}};
    if (email) conditions.push_back({"email", *email});
    // Chatwoot's filter reads only values[0] and prefixes "+" itself (older versions
    // do not strip one we send): one condition per form, digits only.
    for (const auto& form : phone_lookup_forms) conditions.push_back({"phone_number", std::string_view(form).substr(1)});
    std::string body;
    body.reserve(128 * conditions.size());
    body += "{\"payload\":[";
    for (std::size_t i = 0; i < conditions.size(); ++i) {
        body += i ? ",{\"attribute_key\":\"" : "{\"attribute_key\":\"";
        body += conditions[i].key;
        body += "\",\"filter_operator\":\"equal_to\",\"values\":[";
        Json::append_string_literal(body, conditions[i].value);
        body += i + 1 < conditions.size() ? "],\"query_operator\":\"OR\"}" : "],\"query_operator\":null}";
    }
    body += "]}";
    return body;
}

std::string ContactDraft::problems_text() const {
    std::string out;
    for (const auto& p : problems) {
        if (!out.empty()) out += "; ";
        out += p.field + ": " + p.message;
    }
    return out;
}

}  // namespace chatwoot::core
