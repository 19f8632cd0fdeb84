// A law-firm party turned into the Chatwoot contact we want to exist: cleaned
// fields, the stable identifier, custom attributes, the values to look it up by,
// and a per-field record of what could not be used (the contact is still synced
// with the rest).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::core {

// The party's fields as the sync trigger captured them (already mapped from the
// app's columns, still raw: free-form phones, emails as a JSON array, etc.).
struct PartySnapshot {
    std::string tipo_entidade;        // cliente, parte_contraria, terceiro
    std::int64_t entidade_id = 0;
    std::string tipo_pessoa;          // pf or pj (decides CPF vs CNPJ)
    std::string nome;
    std::string documento;            // CPF or CNPJ as typed
    std::string emails_json;          // JSON array of strings, a single string, null, or junk
    struct Phone {
        std::string ddd;
        std::string numero;
    };
    std::vector<Phone> phones;        // in order of preference (mobile first)
    bool ativo = true;
};

struct FieldProblem {
    std::string field;                // nome, email, telefone, documento
    std::string message;              // Portuguese
};

// How one request body is written beyond the draft's own fields.
struct BodyOptions {
    std::optional<std::int64_t> inbox_id;   // create only: also make the contact inbox
    bool clear_email = false;                // "email": null (the app's field became empty)
    bool clear_phone = false;                // "phone_number": null
    bool leave_out_email = false;            // another contact holds it: say nothing
    bool leave_out_phone = false;
    std::optional<bool> ativo;               // instead of the draft's (another active party shares the contact)
};

struct ContactDraft {
    std::string tipo_entidade;
    std::int64_t entidade_id = 0;
    std::string identifier;           // zattar_<tipo_entidade>_<entidade_id>
    std::string name;
    std::optional<std::string> email;
    std::optional<std::string> phone_e164;
    std::vector<std::string> phone_lookup_forms;
    std::optional<std::string> document;  // digits
    bool ativo = true;
    // The app's field is empty (not merely unusable): what was sent before may be cleared.
    bool email_blank = true;
    bool phone_blank = true;
    bool document_blank = true;
    std::vector<FieldProblem> problems;

    // The POST/PUT body: only fields we trust, custom attributes always.
    std::string request_body(const BodyOptions& options = {}) const;
    // A contacts/filter body matching identifier OR email OR each phone form.
    std::string lookup_filter_body() const;
    // One line for partes_chatwoot.erro_sincronizacao, empty when nothing was dropped.
    std::string problems_text() const;
};

std::string contact_identifier(std::string_view tipo_entidade, std::int64_t entidade_id);

ContactDraft draft_contact(const PartySnapshot& party);

// Trims, collapses white space, drops control characters and cuts to at most
// `max_chars` Unicode code points without splitting a UTF-8 sequence.
std::string clean_text(std::string_view text, std::size_t max_chars);

// The identifier a removed party's contact is given when it is released, so that a
// new party with the same id (identifiers are reused after TRUNCATE ... RESTART
// IDENTITY) never matches it: "<identifier>-removido-<contact id>".
std::string released_identifier(std::string_view identifier, std::int64_t contact_id);
bool is_released_identifier(std::string_view identifier);

}  // namespace chatwoot::core
