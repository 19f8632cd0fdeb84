// Chatwoot's ActiveRecord validations for contacts and webhooks, with the
// exact messages and ordering of errors.full_messages / attribute_names.
#pragma once
#include <string>
#include <vector>

#include "http_types.hpp"
#include "state.hpp"

namespace sim {

class ValidationErrors {
public:
    void add(const std::string& attribute, const std::string& full_message);
    bool empty() const { return messages_.empty(); }
    // 422 {"message":"<joined by ', '>","attributes":[...]} (RecordInvalid handler).
    HttpResponse response() const;

private:
    std::vector<std::string> messages_;
    std::vector<std::string> attributes_;
};

// /\+[1-9]\d{1,14}\z/ -- note: no \A anchor, so only the tail is checked.
bool phone_matches_chatwoot_regex(const std::string& phone);
// Devise.email_regexp /\A[^@\s]+@[^@\s]+\z/
bool email_matches_devise_regex(const std::string& email);

// Validates `c` (already normalised: email lower-cased, blank email -> null)
// against the rest of the account; `c.id` is skipped in uniqueness checks.
void validate_contact(const Store& s, const Contact& c, ValidationErrors& errors);

// The database's own check at INSERT/UPDATE time: only (email, account) and
// (identifier, account) have unique indexes; phone has none. True when `c` would
// raise ActiveRecord::RecordNotUnique.
bool violates_unique_index(const Store& s, const Contact& c);

// Contacts::SyncAttributes#set_contact_type (a before_save callback): a visitor with an
// e-mail, a phone or a present social_* additional attribute becomes a lead.
void sync_contact_type(Contact& c);

// Webhook model: url format (http/https) and per-account uniqueness, and
// subscriptions being a non-empty subset of the allowed events.
void validate_webhook(const Store& s, const Webhook& w, ValidationErrors& errors);

}  // namespace sim
