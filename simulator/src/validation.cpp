#include "validation.hpp"

#include <regex>

#include "events.hpp"
#include "json_util.hpp"
#include "util.hpp"

namespace sim {

void ValidationErrors::add(const std::string& attribute, const std::string& full_message) {
    messages_.push_back(full_message);
    for (const auto& a : attributes_)
        if (a == attribute) return;
    attributes_.push_back(attribute);
}

HttpResponse ValidationErrors::response() const {
    std::string joined;
    for (std::size_t i = 0; i < messages_.size(); ++i) {
        if (i) joined += ", ";
        joined += messages_[i];
    }
    json_t* o = json_object();
    json_object_set_new(o, "message", jstr(joined));
    json_t* attrs = json_array();
    for (const auto& a : attributes_) json_array_append_new(attrs, jstr(a));
    json_object_set_new(o, "attributes", attrs);
    return HttpResponse::json(422, dump_steal(o));
}

bool phone_matches_chatwoot_regex(const std::string& phone) {
    std::size_t n = phone.size(), k = 0;
    while (k < n && phone[n - 1 - k] >= '0' && phone[n - 1 - k] <= '9') ++k;
    // The '+' must sit right before the trailing digit run: [1-9] then 1..14 digits.
    if (k < 2 || k > 15 || k == n) return false;
    if (phone[n - k - 1] != '+') return false;
    return phone[n - k] != '0';
}

static bool is_ruby_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

bool email_matches_devise_regex(const std::string& email) {
    std::size_t at = email.find('@');
    if (at == std::string::npos || at == 0 || at + 1 >= email.size()) return false;
    if (email.find('@', at + 1) != std::string::npos) return false;
    for (char c : email)
        if (is_ruby_ws(c)) return false;
    return true;
}

static bool taken(const std::unordered_map<std::string, std::int64_t>& idx, const Contact& c,
                  const std::string& value) {
    auto it = idx.find(Store::key(c.account_id, value));
    return it != idx.end() && it->second != c.id;
}

void validate_contact(const Store& s, const Contact& c, ValidationErrors& errors) {
    // ApplicationRecord#validates_column_content_length runs first, in column order.
    auto too_long = [&](const char* attr, const char* human, const std::optional<std::string>& v) {
        if (v && utf8_length(*v) > 255) errors.add(attr, std::string(human) + " is too long (maximum is 255 characters)");
    };
    too_long("name", "Name", std::optional<std::string>(c.name));
    too_long("email", "Email", c.email);
    too_long("phone_number", "Phone number", c.phone_number);
    too_long("identifier", "Identifier", c.identifier);

    if (c.email && !c.email->empty()) {
        if (taken(s.contact_email_idx, c, *c.email)) errors.add("email", "Email has already been taken");
        if (!email_matches_devise_regex(*c.email)) errors.add("email", "Email Invalid email");
    }
    if (c.identifier && !c.identifier->empty() && taken(s.contact_identifier_idx, c, *c.identifier))
        errors.add("identifier", "Identifier has already been taken");
    if (c.phone_number && !c.phone_number->empty()) {
        if (s.contact_phone_idx.has_other(Store::key(c.account_id, *c.phone_number), c.id))
            errors.add("phone_number", "Phone number has already been taken");
        if (!phone_matches_chatwoot_regex(*c.phone_number))
            errors.add("phone_number", "Phone number should be in e164 format");
    }
}

bool violates_unique_index(const Store& s, const Contact& c) {
    if (c.email && !c.email->empty() && taken(s.contact_email_idx, c, *c.email)) return true;
    return c.identifier && !c.identifier->empty() && taken(s.contact_identifier_idx, c, *c.identifier);
}

void sync_contact_type(Contact& c) {
    if (c.contact_type != "visitor") return;  // a lead or customer stays what it is
    auto present = [](const std::optional<std::string>& v) { return v && !is_blank(*v); };
    bool social = false;
    const char* key;
    json_t* v;
    json_object_foreach(c.additional_attributes.get(), key, v) {
        if (std::string(key).rfind("social_", 0) != 0) continue;
        // Ruby's present?: not nil, not false, not a blank string, not an empty hash or array.
        if (json_is_null(v) || json_is_false(v)) continue;
        if (json_is_string(v) && is_blank(json_string_value(v))) continue;
        if ((json_is_object(v) && json_object_size(v) == 0) || (json_is_array(v) && json_array_size(v) == 0)) continue;
        social = true;
    }
    if (present(c.email) || present(c.phone_number) || social) c.contact_type = "lead";
}

void validate_webhook(const Store& s, const Webhook& w, ValidationErrors& errors) {
    for (const auto& [id, other] : s.webhooks)
        if (other.account_id == w.account_id && other.id != w.id && other.url == w.url) {
            errors.add("url", "Url has already been taken");
            break;
        }
    // URI::DEFAULT_PARSER.make_regexp(%w[http https]) is not anchored.
    static const std::regex url_re(R"((^|[^A-Za-z0-9+.-])(https?)://[^\s/?#]+)", std::regex::icase);
    if (!std::regex_search(w.url, url_re)) errors.add("url", "Url is invalid");
    bool ok = !w.subscriptions.empty();
    for (const auto& e : w.subscriptions)
        if (!is_allowed_webhook_event(e)) ok = false;
    if (!ok) errors.add("subscriptions", "Subscriptions Invalid events");
}

}  // namespace sim
