#include "core/contacts/contact_sync.hpp"

#include "core/json/json.hpp"
#include "core/text/text.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

namespace chatwoot::core {

namespace {

constexpr int kMaxLookups = 2;  // the first, and one after a create was refused as taken

// Chatwoot compares identifiers and e-mails with LOWER() and Ruby's downcase: beyond ASCII.
std::string lower(const std::string& text) { return fold_case(text); }

bool same_text_ci(const std::string& a, const std::string& b) { return lower(a) == lower(b); }

// Chatwoot's answer to a DELETE of a contact that is online (ContactsController#destroy):
// 422 "<Name> is Online, please try again later". It will go offline: a retry.
bool online_refusal(const HttpResponse& response) {
    if (response.status != 422) return false;
    std::string message = Json::parse(response.body)["message"].as_string().value_or("");
    return message.find(" is Online") != std::string::npos;
}

// A 422 for a value another contact holds. `attributes` names the failing fields in
// every locale, but it names them for any validation error; the drafts are checked
// against Chatwoot's format and length rules before they are sent, so a refused
// identifier, e-mail or phone is taken unless the (English) message says otherwise.
bool taken_error(const HttpResponse& response, const char* attribute = nullptr) {
    if (response.status != 422) return false;
    Json body = Json::parse(response.body);
    std::string message = body["message"].as_string().value_or("");
    std::string field = attribute ? std::string(attribute) == "phone_number" ? "Phone number" : attribute : "";
    if (!field.empty()) field[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(field[0])));
    if (message.find((field.empty() ? "" : field + " ") + "has already been taken") != std::string::npos) return true;
    for (const char* other : {"Invalid email", "e164 format", "is too long", "is invalid"})
        if (message.find(other) != std::string::npos) return false;
    Json attributes = body["attributes"];
    for (std::size_t i = 0; i < attributes.size(); ++i) {
        std::string name = attributes.at(i).as_string().value_or("");
        if (attribute ? name == attribute : (name == "identifier" || name == "email" || name == "phone_number"))
            return true;
    }
    return false;
}

// ContactInboxBuilder refusing a contact that lacks what the channel needs.
bool missing_channel_field(const HttpResponse& response) {
    if (response.status != 422) return false;
    std::string error = Json::parse(response.body)["error"].as_string().value_or("");
    return error.rfind("param is missing or the value is empty: contact", 0) == 0;
}

// What partes_chatwoot.dados_sincronizados keeps of Chatwoot's answer: the contact's
// own fields, not the inbox records Chatwoot nests in it (the source id is kept in
// its own column), so the snapshot stays small to store and to parse.
std::string contact_snapshot(const Json& contact) {
    if (!contact.is_object()) return "{}";
    Json snapshot = Json::object();
    for (const char* key : {"id", "name", "email", "phone_number", "identifier", "custom_attributes",
                            "additional_attributes", "blocked", "created_at", "last_activity_at"})
        if (Json value = contact[key]) snapshot.set(key, value);
    return snapshot.dump();
}

// The text of a reply a message quotes: Chatwoot's message or error, else the body.
std::string_view reply_message(const HttpResponse& response, std::string& holder) {
    Json body = Json::parse(response.body);
    for (const char* key : {"message", "error"})
        if (auto text = body[key].as_string()) return holder = std::move(*text);
    return response.body;
}

constexpr std::size_t kQuotedMessage = 300;
constexpr std::size_t kQuotedUnreadable = 120;

// The contacts a lookup's 2xx reply lists, or why it cannot be read. A reply Chatwoot
// would never send (not JSON, nested past jansson's limit, duplicate keys, no payload
// array, a contact that is no object or whose id is not a positive integer: an id past
// int64, a string, a float, a negative) is not "no contact".
struct LookupReply {
    std::vector<Json> contacts;
    std::string unreadable;  // empty when readable; else why, in Portuguese (not yet quoted)
};
LookupReply read_lookup(const HttpResponse& response) {
    LookupReply out;
    std::string parse_error;
    Json body = Json::parse(response.body, &parse_error, {}, Json::reject_duplicate_keys);
    if (!body) {
        out.unreadable = "não é JSON (" + parse_error + ")";
        return out;
    }
    Json payload = body["payload"];
    if (!payload.is_array()) {
        out.unreadable = "falta o array payload";
        return out;
    }
    for (std::size_t i = 0; i < payload.size(); ++i) {
        Json contact = payload.at(i);
        if (!contact.is_object() || contact["id"].as_integer().value_or(0) <= 0) {
            out.unreadable = "payload[" + std::to_string(i) + "] sem id inteiro positivo";
            out.contacts.clear();
            return out;
        }
        out.contacts.push_back(std::move(contact));
    }
    return out;
}

std::string percent_encoded(const std::string& text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        if (std::isalnum(c) || c == '_' || c == '-' || c == '.') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
    return out;
}

// The source id of the contact's contact inbox for `inbox_id`, when its reply lists one.
std::optional<std::string> source_id_for(const Json& contact, std::int64_t inbox_id) {
    Json inboxes = contact["contact_inboxes"];
    for (std::size_t i = 0; i < inboxes.size(); ++i) {
        Json entry = inboxes.at(i);
        if (entry["inbox"]["id"].as_integer() == inbox_id) return entry["source_id"].as_string();
    }
    return std::nullopt;
}

}  // namespace

InboxChannel inbox_channel_of(const std::string& channel_type) {
    if (channel_type == "Channel::Api" || channel_type == "Channel::WebWidget") return InboxChannel::api;
    if (channel_type == "Channel::Whatsapp" || channel_type == "Channel::Sms" || channel_type == "Channel::TwilioSms")
        return InboxChannel::needs_phone;
    if (channel_type == "Channel::Email") return InboxChannel::needs_email;
    return InboxChannel::unsupported;
}

bool InboxTarget::accepts(const ContactDraft& draft) const {
    switch (channel) {
        case InboxChannel::api: return true;
        case InboxChannel::needs_phone: return draft.phone_e164.has_value();
        case InboxChannel::needs_email: return draft.email.has_value();
        case InboxChannel::unsupported: return false;
    }
    return false;
}

std::vector<std::string> person_keys(const ContactDraft& draft) {
    std::vector<std::string> keys{"identifier:" + lower(draft.identifier)};
    if (draft.email) keys.push_back("email:" + lower(*draft.email));
    for (const auto& form : draft.phone_lookup_forms) keys.push_back("phone:" + form);
    return keys;
}

std::string contact_key(std::int64_t contact_id) { return "contact:" + std::to_string(contact_id); }

std::chrono::seconds wait_for_next_window(std::int64_t now_epoch) {
    constexpr std::int64_t kWindow = 60, kMargin = 2;
    std::int64_t into = ((now_epoch % kWindow) + kWindow) % kWindow;
    return std::chrono::seconds(kWindow - into + kMargin);
}

namespace {
// A name as people compare it: no case, no extra spaces.
std::string person_name(const std::string& name) { return fold_case(clean_text(name, 1000)); }
std::string digits_of(const std::string& text) {
    std::string out;
    for (unsigned char c : text)
        if (std::isdigit(c)) out.push_back(static_cast<char>(c));
    return out;
}
}  // namespace

bool same_person(const ContactDraft& draft, const std::string& contact_name, const std::string& contact_document) {
    std::string theirs = digits_of(contact_document);
    if (draft.document && !theirs.empty()) return *draft.document == theirs;
    std::string name = person_name(contact_name);
    return !name.empty() && name == person_name(draft.name);
}

HttpRequest SurvivorLookup::request(const RequestFactory& requests) const {
    if (!searching_) {
        std::string body = "{\"payload\":[{\"attribute_key\":\"identifier\",\"filter_operator\":\"equal_to\",\"values\":[";
        Json::append_string_literal(body, identifier_);
        body += "],\"query_operator\":null}]}";
        return requests.account("POST", "/contacts/filter?include_contact_inboxes=false", body);
    }
    HttpRequest search = requests.account("GET", "/contacts/search?q=" + percent_encoded(identifier_) + "&page=" +
                                                     std::to_string(page_) + "&include_contact_inboxes=false");
    search.separately_limited = true;
    return search;
}

SurvivorLookup::Step SurvivorLookup::read(const HttpResponse& response, std::int64_t& found_id, std::string& why) {
    LookupReply found = read_lookup(response);
    if (!found.unreadable.empty()) {
        why = found.unreadable;
        return Step::unreadable;
    }
    for (const Json& contact : found.contacts) {
        if (same_text_ci(contact["identifier"].as_string().value_or(""), identifier_)) {
            found_id = contact["id"].as_integer().value_or(0);
            return Step::found;
        }
    }
    if (!searching_) {
        searching_ = true;
        return Step::again;
    }
    if (Json::parse(response.body)["meta"]["has_more"].as_bool().value_or(false) && page_ < kMaxSearchPages) {
        ++page_;
        return Step::again;
    }
    return Step::none;
}

bool ContactOperation::ended_by(const HttpResponse& response, bool search, bool denial_ends) {
    ++result_.requests;
    const ConnectionConfig& config = requests_.config();
    Verdict verdict = classify_response(response, {config.api_key, config.webhook_secret});
    if (verdict.throttled) result_.throttled = true;
    if (verdict.retry_after) result_.retry_after = verdict.retry_after;
    // The search's own throttle (100/min per account, dashboards included) says nothing of
    // when: the job waits for rack-attack's next window instead of coming straight back.
    if (verdict.throttled && search && !verdict.retry_after)
        result_.retry_after = wait_for_next_window(static_cast<std::int64_t>(std::time(nullptr)));
    if (verdict.denied && denial_ends) {
        finish(Outcome::permanent, verdict.reason);
        return true;
    }
    if (response.error == TransportError::aborted) {
        result_.aborted = true;
        finish(Outcome::retry, verdict.reason);
        return true;
    }
    if (verdict.outcome == Outcome::retry || verdict.outcome == Outcome::refused) {
        finish(verdict.outcome, verdict.reason);
        return true;
    }
    return false;
}

std::string ContactOperation::quoted(std::string_view reply_text, std::size_t max_bytes) const {
    const ConnectionConfig& config = requests_.config();
    return recorded_text(reply_text, {config.api_key, config.webhook_secret}, max_bytes);
}

std::string ContactOperation::http_error(const char* what, const HttpResponse& response) const {
    std::string holder;
    return std::string(what) + "HTTP " + std::to_string(response.status) + ": " +
           quoted(reply_message(response, holder), kQuotedMessage);
}

void ContactOperation::finish(Outcome outcome, std::string error) {
    result_.outcome = outcome;
    result_.error = std::move(error);
    done_ = true;
}

ReleaseStep plan_release(const ContactLink& link, const std::string& removed_identifier, bool delete_contact) {
    ReleaseStep step;
    if (!link.contact_id) return step;
    step.contact_id = *link.contact_id;
    if (!link.owner) return step;  // a sharer never wrote to the contact: it only lets go
    if (link.others_active) {
        if (!link.successor) return step;
        step.kind = ReleaseStep::Kind::transfer;
        std::string body = "{\"identifier\":";
        Json::append_string_literal(body, link.successor->identifier());
        body += ",\"custom_attributes\":{\"tipo_entidade\":";
        Json::append_string_literal(body, link.successor->tipo_entidade);
        body += ",\"entidade_id\":" + std::to_string(link.successor->entidade_id) +
                ",\"sistema_origem\":\"zattar\",\"ativo\":true}}";
        step.body = std::move(body);
        return step;
    }
    if (delete_contact) {
        step.kind = ReleaseStep::Kind::remove;
        return step;
    }
    step.kind = ReleaseStep::Kind::deactivate;
    step.body = "{\"identifier\":";
    Json::append_string_literal(step.body, released_identifier(removed_identifier, step.contact_id));
    step.body += ",\"custom_attributes\":{\"ativo\":false}}";
    return step;
}

namespace {

std::optional<HttpRequest> release_request(const RequestFactory& requests, const ReleaseStep& step) {
    std::string path = "/contacts/" + std::to_string(step.contact_id);
    switch (step.kind) {
        case ReleaseStep::Kind::none: return std::nullopt;
        case ReleaseStep::Kind::remove: return requests.account("DELETE", path);
        case ReleaseStep::Kind::transfer:
        case ReleaseStep::Kind::deactivate: return requests.account("PUT", path, step.body);
    }
    return std::nullopt;
}

}  // namespace

// --- ContactSync ------------------------------------------------------------------

ContactSync::ContactSync(const RequestFactory& requests, ContactDraft draft, ContactLink link,
                         std::optional<InboxTarget> inbox, bool delete_contacts)
    : ContactOperation(requests), draft_(std::move(draft)), link_(std::move(link)), inbox_(inbox) {
    create_with_inbox_ = inbox_ && inbox_->accepts(draft_);
    BodyOptions create;
    if (create_with_inbox_) create.inbox_id = inbox_->id;
    wanted_body_ = draft_.request_body(create);
    lookup_body_ = draft_.lookup_filter_body();
    if (link_.removed && link_.contact_id) {
        release_ = plan_release(link_, draft_.identifier, delete_contacts);
        state_ = State::release;
        if (release_.kind == ReleaseStep::Kind::none) after_release();
    } else if (link_.contact_id && *link_.contact_id > 0) {
        target_id_ = *link_.contact_id;
        state_ = link_.owner ? State::update_mapped : State::check_shared;
        if (link_.owner) update_body_ = owner_body();  // a new contact never needs one
        clear_document_ = link_.owner && link_.last_sent.document && draft_.document_blank;
    } else {
        state_ = State::lookup;
    }
}

// The owner's PUT: the draft's fields; a field the app emptied since the last body
// that carried it is cleared; a field another contact holds is left out; the contact
// stays active while another active party shares it.
std::string ContactSync::owner_body() const {
    BodyOptions options;
    bool mapped = state_ == State::update_mapped;
    options.clear_email = mapped && link_.last_sent.email && draft_.email_blank;
    options.clear_phone = mapped && link_.last_sent.phone && draft_.phone_blank;
    options.leave_out_email = drop_email_;
    options.leave_out_phone = drop_phone_;
    if (link_.others_active && !draft_.ativo) options.ativo = true;
    return draft_.request_body(options);
}

std::vector<std::string> ContactSync::exclusive_keys() const {
    std::vector<std::string> keys = person_keys(draft_);
    if (link_.contact_id) keys.push_back(contact_key(*link_.contact_id));
    return keys;
}

std::optional<HttpRequest> ContactSync::next_request() const {
    switch (state_) {
        case State::release: return release_request(requests_, release_);
        case State::release_lookup: return survivor_->request(requests_);
        case State::clear_document:
            return requests_.account("POST", "/contacts/" + std::to_string(target_id_) + "/destroy_custom_attributes",
                                     R"({"custom_attributes":["documento"]})");
        case State::update_mapped:
        case State::update_found:
            return requests_.account("PUT", "/contacts/" + std::to_string(target_id_), update_body_);
        case State::check_shared:
            return requests_.account("GET", "/contacts/" + std::to_string(target_id_) + "?include_contact_inboxes=false");
        case State::lookup:
            return requests_.account("POST", "/contacts/filter?include_contact_inboxes=false", lookup_body_);
        case State::create: return requests_.account("POST", "/contacts", wanted_body_);
        case State::search: {
            HttpRequest search = requests_.account("GET", "/contacts/search?q=" + percent_encoded(draft_.identifier) +
                                                              "&page=" + std::to_string(search_page_) +
                                                              "&include_contact_inboxes=false");
            search.separately_limited = true;  // a 429 ends this job (retried later, no attempt lost)
            return search;
        }
        case State::add_inbox:
            return requests_.account("POST", "/contacts/" + std::to_string(target_id_) + "/contact_inboxes",
                                     "{\"inbox_id\":" + std::to_string(inbox_->id) + "}");
        case State::done: return std::nullopt;
    }
    return std::nullopt;
}

void ContactSync::on_response(const HttpResponse& response) {
    bool search = state_ == State::search || (state_ == State::release_lookup && survivor_->searching());
    // A contact inbox refused to the token's user is noted; the contact itself is synced.
    if (ended_by(response, search, state_ != State::add_inbox)) {
        state_ = State::done;
        return;
    }
    switch (state_) {
        case State::release: handle_release(response); break;
        case State::release_lookup: {
            if (response.status < 200 || response.status >= 300) {
                finish(Outcome::permanent, http_error("busca do sobrevivente de uma mesclagem: ", response));
                break;
            }
            std::int64_t survivor = 0;
            std::string why;
            switch (survivor_->read(response, survivor, why)) {
                case SurvivorLookup::Step::again: break;
                case SurvivorLookup::Step::none: after_release(); break;
                case SurvivorLookup::Step::unreadable:
                    finish(Outcome::retry, unreadable_lookup("busca do sobrevivente", response, why));
                    break;
                case SurvivorLookup::Step::found: {
                    result_.notes += "contato " + std::to_string(release_.contact_id) + " foi mesclado no " +
                                     std::to_string(survivor) + ", que leva o identificador; ";
                    ContactLink on_survivor = link_;
                    on_survivor.contact_id = survivor;
                    release_ = plan_release(on_survivor, draft_.identifier, release_.kind == ReleaseStep::Kind::remove);
                    state_ = State::release;
                    break;
                }
            }
            break;
        }
        case State::clear_document:
            if (response.status < 200 || response.status >= 300)
                result_.notes += "documento não removido do contato: " + http_error("", response) + ". ";
            owner_written(target_id_, Json::parse(written_reply_)["payload"]);
            break;
        case State::update_mapped: handle_update(response, true); break;
        case State::update_found: handle_update(response, false); break;
        case State::check_shared: handle_check(response); break;
        case State::lookup: handle_lookup(response); break;
        case State::create: handle_create(response); break;
        case State::search: handle_search(response); break;
        case State::add_inbox: handle_add_inbox(response); break;
        case State::done: break;
    }
    if (done_) state_ = State::done;
}

// Retried, never read as "no contact found".
std::string ContactSync::unreadable_lookup(const char* what, const HttpResponse& response,
                                           const std::string& why) const {
    return "resposta ilegível da " + std::string(what) + " (HTTP " + std::to_string(response.status) + ", " +
           quoted(why, kQuotedUnreadable) + "): " + quoted(response.body, kQuotedUnreadable);
}

void ContactSync::handle_release(const HttpResponse& response) {
    if (response.status >= 200 && response.status < 300) {
        after_release();
    } else if (response.status == 404 && !survivor_) {
        // Deleted, or merged into a contact that may carry the removed party's identifier
        // (which this party would then inherit): look for it.
        survivor_.emplace(draft_.identifier);
        state_ = State::release_lookup;
    } else if (response.status == 404) {
        after_release();
    } else if (online_refusal(response)) {
        finish(Outcome::retry, http_error("liberação do contato anterior: ", response));
    } else {
        finish(Outcome::permanent, http_error("liberação do contato anterior: ", response));
    }
}

// The removed party's contact is let go: from here on the party is unmapped.
void ContactSync::after_release() {
    result_.released_contact = release_.contact_id;
    if (release_.kind == ReleaseStep::Kind::transfer) result_.new_owner = link_.successor;
    result_.notes += "contato " + std::to_string(release_.contact_id) + " era de uma parte removida com o mesmo id; liberado. ";
    link_ = ContactLink{};
    state_ = State::lookup;
}

void ContactSync::owner_written(std::int64_t contact_id, const Json& contact) {
    result_.contact_id = contact_id;
    result_.owner = true;
    result_.snapshot_json = contact_snapshot(contact);
    if (inbox_ && !link_.has_contact_inbox) {
        if (auto source = source_id_for(contact, inbox_->id)) {
            result_.source_id = *source;
            result_.inbox_id = inbox_->id;
        } else if (inbox_->accepts(draft_)) {
            target_id_ = contact_id;
            state_ = State::add_inbox;
            return;
        }
    }
    finish(Outcome::success);
}

void ContactSync::handle_update(const HttpResponse& response, bool mapped) {
    if (response.status >= 200 && response.status < 300) {
        sent_body_ = update_body_;
        if (clear_document_ && mapped) {
            // custom_attributes are merged on update: only this removes the key.
            written_reply_ = response.body;
            state_ = State::clear_document;
            return;
        }
        owner_written(target_id_, Json::parse(response.body)["payload"]);
        return;
    }
    if (response.status == 404 && mapped) {
        // Deleted or merged in Chatwoot: find the person again and re-map.
        result_.notes += "contato " + std::to_string(target_id_) + " não existe mais no Chatwoot; remapeado. ";
        state_ = State::lookup;
        return;
    }
    // Our e-mail or phone belongs to another contact: keep this one, leave the field out.
    if (taken_error(response, "email") && !drop_email_) {
        drop_email_ = true;
        update_body_ = owner_body();
        result_.notes += "email já pertence a outro contato no Chatwoot; não enviado. ";
        return;
    }
    if (taken_error(response, "phone_number") && !drop_phone_) {
        drop_phone_ = true;
        update_body_ = owner_body();
        result_.notes += "telefone já pertence a outro contato no Chatwoot; não enviado. ";
        return;
    }
    finish(Outcome::permanent, http_error("", response));
}

// A sharer's sync: the shared contact is still there. One that nobody owns any more
// (no identifier, or a released one) is taken over.
void ContactSync::handle_check(const HttpResponse& response) {
    if (response.status >= 200 && response.status < 300) {
        Json contact = Json::parse(response.body)["payload"];
        if (!contact.is_object() || contact["id"].as_integer().value_or(0) <= 0) {
            // Unread, it would look like a contact nobody owns, and be taken over.
            finish(Outcome::retry, "resposta ilegível do contato compartilhado " + std::to_string(target_id_) +
                                       " (HTTP " + std::to_string(response.status) +
                                       "): " + quoted(response.body, kQuotedUnreadable));
            return;
        }
        if (takes_over(contact)) return;
        result_.contact_id = target_id_;
        result_.snapshot_json = contact_snapshot(contact);
        finish(Outcome::success);
        return;
    }
    if (response.status == 404) {
        result_.notes += "contato compartilhado " + std::to_string(target_id_) + " não existe mais no Chatwoot; remapeado. ";
        state_ = State::lookup;
        return;
    }
    finish(Outcome::permanent, http_error("contato compartilhado: ", response));
}

// A contact with no identifier, a released one or ours is this party's to own: the
// next step writes its identity.
bool ContactSync::takes_over(const Json& contact) {
    std::string identifier = contact["identifier"].as_string().value_or("");
    if (!identifier.empty() && !is_released_identifier(identifier) && !same_text_ci(identifier, draft_.identifier))
        return false;
    state_ = State::update_found;
    update_body_ = owner_body();
    return true;
}

void ContactSync::adopt(const Json& contact) {
    target_id_ = contact["id"].as_integer().value_or(0);
    if (takes_over(contact)) return;
    std::string identifier = contact["identifier"].as_string().value_or("");
    // The same person is already another party's contact (client and witness): map to
    // it without rewriting the owner's identifier or attributes.
    result_.contact_id = target_id_;
    result_.snapshot_json = contact_snapshot(contact);
    result_.notes += "contato compartilhado com " + excerpt(identifier, 80) + ". ";
    finish(Outcome::success);
}

void ContactSync::handle_lookup(const HttpResponse& response) {
    ++lookups_;
    if (response.status < 200 || response.status >= 300) {
        finish(Outcome::permanent, http_error("busca de contato: ", response));
        return;
    }
    LookupReply found = read_lookup(response);
    if (!found.unreadable.empty()) {
        finish(Outcome::retry, unreadable_lookup("busca de contato (filter)", response, found.unreadable));
        return;
    }
    // Priority: our identifier, then e-mail, then either phone form. Chatwoot compares
    // identifiers and e-mails without case (LOWER() in its filter), and so do we. A
    // contact of another party that holds our e-mail or phone is shared only when it is
    // the same person (same_person); otherwise the field is another person's (a shared
    // office e-mail or phone) and this party's own contact goes without it.
    Json best;
    int best_rank = 99;
    bool email_conflict = false, phone_conflict = false;
    std::string conflict_with;
    for (const Json& contact : found.contacts) {
        std::string identifier = contact["identifier"].as_string().value_or("");
        std::string email = contact["email"].as_string().value_or("");
        std::string phone = contact["phone_number"].as_string().value_or("");
        if (!identifier.empty() && same_text_ci(identifier, draft_.identifier)) {
            best_rank = 0;
            best = contact;
            break;
        }
        bool by_email = draft_.email && !email.empty() && same_text_ci(email, *draft_.email);
        bool by_phone = std::find(draft_.phone_lookup_forms.begin(), draft_.phone_lookup_forms.end(), phone) !=
                        draft_.phone_lookup_forms.end();
        if (!by_email && !by_phone) continue;
        bool unowned = identifier.empty() || is_released_identifier(identifier);
        std::string document = contact["custom_attributes"]["documento"].as_string().value_or("");
        if (!unowned && !same_person(draft_, contact["name"].as_string().value_or(""), document)) {
            email_conflict = email_conflict || by_email;
            phone_conflict = phone_conflict || by_phone;
            conflict_with = identifier;
            continue;
        }
        int rank = by_email ? 1 : 2;
        if (rank < best_rank) {
            best_rank = rank;
            best = contact;
        }
    }
    if (best) {
        if (email_conflict && best_rank > 0) drop_email_ = true;   // the adopted contact's PUT leaves it out
        if (phone_conflict && best_rank > 0) drop_phone_ = true;
        adopt(best);
        return;
    }
    bool newly_left_out = (email_conflict && !drop_email_) || (phone_conflict && !drop_phone_);
    if (newly_left_out) {
        drop_email_ = drop_email_ || email_conflict;
        drop_phone_ = drop_phone_ || phone_conflict;
        rebuild_create_body();
        result_.notes += std::string(email_conflict ? "email" : "") + (email_conflict && phone_conflict ? " e " : "") +
                         (phone_conflict ? "telefone" : "") + " de outra pessoa (" + excerpt(conflict_with, 80) +
                         "); contato próprio sem ele. ";
    }
    if (lookups_ > 1 && !newly_left_out) {
        if (identifier_taken_) {
            state_ = State::search;  // invisible to the filter (crm_v2 lists only leads)
            return;
        }
        finish(Outcome::retry, "Chatwoot recusou a criação por duplicidade mas a busca não achou o contato");
        return;
    }
    state_ = State::create;
}

// The create body without the fields another person holds; an inbox whose channel
// needs a left-out field is not asked for (the contact gets it once it can).
void ContactSync::rebuild_create_body() {
    ContactDraft sendable = draft_;
    if (drop_email_) sendable.email.reset();
    if (drop_phone_) sendable.phone_e164.reset();
    create_with_inbox_ = inbox_ && inbox_->accepts(sendable);
    BodyOptions create;
    if (create_with_inbox_) create.inbox_id = inbox_->id;
    create.leave_out_email = drop_email_;
    create.leave_out_phone = drop_phone_;
    wanted_body_ = draft_.request_body(create);
}

void ContactSync::handle_create(const HttpResponse& response) {
    if (response.status >= 200 && response.status < 300) {
        Json payload = Json::parse(response.body)["payload"];
        Json contact = payload["contact"];
        std::int64_t id = contact["id"].as_integer().value_or(0);
        if (id <= 0) {
            // The contact may exist now: the retry looks it up before it creates.
            finish(Outcome::retry, "resposta ilegível da criação (HTTP " + std::to_string(response.status) +
                                       ", sem payload.contact.id inteiro positivo): " +
                                       quoted(response.body, kQuotedUnreadable) +
                                       "; a próxima tentativa busca o contato antes de criar");
            return;
        }
        result_.created = true;
        if (create_with_inbox_) {
            if (auto source = payload["contact_inbox"]["source_id"].as_string()) {
                result_.source_id = *source;
                result_.inbox_id = inbox_->id;
            }
        }
        link_.has_contact_inbox = true;  // made with the contact, or the channel cannot take it yet
        sent_body_ = wanted_body_;
        owner_written(id, contact);
        return;
    }
    if (taken_error(response) && lookups_ < kMaxLookups) {
        // Someone created it between our lookup and our create (or it is invisible to
        // the filter): find it and adopt it.
        identifier_taken_ = taken_error(response, "identifier");
        state_ = State::lookup;
        return;
    }
    if (missing_channel_field(response) && create_with_inbox_) {
        // The inbox's channel needs a field this party lacks: the contact goes without
        // it and gets its contact inbox once it has the field.
        create_with_inbox_ = false;
        wanted_body_ = draft_.request_body();
        result_.notes += "o inbox exige um campo que a parte não tem; contato criado sem inbox. ";
        return;
    }
    finish(Outcome::permanent, http_error("", response));
}

void ContactSync::handle_search(const HttpResponse& response) {
    if (response.status < 200 || response.status >= 300) {
        finish(Outcome::permanent, http_error("pesquisa de contato: ", response));
        return;
    }
    LookupReply found = read_lookup(response);
    if (!found.unreadable.empty()) {
        finish(Outcome::retry, unreadable_lookup("pesquisa de contato (search)", response, found.unreadable));
        return;
    }
    // A LIKE '%q%' where '_' matches any character, 15 a page in no set order: only the
    // exact identifier counts, and it may be on any page.
    for (const Json& contact : found.contacts) {
        if (same_text_ci(contact["identifier"].as_string().value_or(""), draft_.identifier)) {
            adopt(contact);
            return;
        }
    }
    if (Json::parse(response.body)["meta"]["has_more"].as_bool().value_or(false) && search_page_ < kMaxSearchPages) {
        ++search_page_;
        return;
    }
    finish(Outcome::retry, "Chatwoot recusou a criação por duplicidade mas nem a busca nem a pesquisa acharam o contato");
}

void ContactSync::handle_add_inbox(const HttpResponse& response) {
    if (response.status >= 200 && response.status < 300) {
        Json body = Json::parse(response.body);
        if (auto source = body["source_id"].as_string()) {
            result_.source_id = *source;
            result_.inbox_id = inbox_->id;
        }
    } else {
        result_.notes += "inbox " + std::to_string(inbox_->id) + " não adicionado ao contato: " + http_error("", response) + ". ";
    }
    finish(Outcome::success);
}

// --- ContactRelease ---------------------------------------------------------------

ContactRelease::ContactRelease(const RequestFactory& requests, const PartyRef& party, const ContactLink& link,
                               bool delete_contact)
    : ContactOperation(requests), party_(party), link_(link),
      step_(plan_release(link, party.identifier(), delete_contact)), delete_contact_(delete_contact) {
    result_.released_contact = link.contact_id;
    if (step_.kind == ReleaseStep::Kind::none) finish(Outcome::success);
}

std::optional<HttpRequest> ContactRelease::next_request() const {
    if (done_) return std::nullopt;
    if (survivor_) return survivor_->request(requests_);
    return release_request(requests_, step_);
}

std::vector<std::string> ContactRelease::exclusive_keys() const {
    std::vector<std::string> keys{"identifier:" + lower(party_.identifier())};
    if (link_.contact_id) keys.push_back(contact_key(*link_.contact_id));
    if (link_.successor) keys.push_back("identifier:" + lower(link_.successor->identifier()));
    return keys;
}

void ContactRelease::on_response(const HttpResponse& response) {
    if (ended_by(response, survivor_ && survivor_->searching())) return;
    if (survivor_) {
        if (response.status < 200 || response.status >= 300) {
            finish(Outcome::permanent, http_error("busca do sobrevivente de uma mesclagem: ", response));
            return;
        }
        std::int64_t survivor = 0;
        std::string why;
        switch (survivor_->read(response, survivor, why)) {
            case SurvivorLookup::Step::again: return;
            case SurvivorLookup::Step::none:
                result_.notes = "contato já não existia no Chatwoot";
                finish(Outcome::success);
                return;
            case SurvivorLookup::Step::unreadable:
                finish(Outcome::retry, "resposta ilegível da busca do sobrevivente (HTTP " +
                                           std::to_string(response.status) + ", " + quoted(why, kQuotedUnreadable) + ")");
                return;
            case SurvivorLookup::Step::found: {
                // The survivor of a merge carries the party's identifier: the same step on it.
                result_.notes = "contato " + std::to_string(step_.contact_id) + " foi mesclado no " +
                                std::to_string(survivor) + ", que leva o identificador; ";
                ContactLink on_survivor = link_;
                on_survivor.contact_id = survivor;
                step_ = plan_release(on_survivor, party_.identifier(), delete_contact_);
                survivor_.reset();
                looked_up_ = true;
                return;
            }
        }
        return;
    }
    if (response.status == 404 && !looked_up_) {
        survivor_.emplace(party_.identifier());
        return;
    }
    if ((response.status >= 200 && response.status < 300) || response.status == 404) {
        if (step_.kind == ReleaseStep::Kind::transfer) result_.new_owner = link_.successor;
        if (response.status == 404) result_.notes += "contato já não existia no Chatwoot";
        finish(Outcome::success);
        return;
    }
    if (online_refusal(response)) {  // a DELETE of a contact online: it goes offline soon
        finish(Outcome::retry, http_error("", response));
        return;
    }
    finish(Outcome::permanent, http_error("", response));
}

// --- ContactDeactivation ----------------------------------------------------------

ContactDeactivation::ContactDeactivation(const RequestFactory& requests, const PartyRef& party,
                                         std::int64_t contact_id, bool others_active)
    : ContactOperation(requests), party_(party), contact_id_(contact_id), others_active_(others_active) {
    result_.contact_id = contact_id;
    if (others_active_) {
        result_.notes = "contato mantido ativo: outra parte ativa usa o mesmo contato";
        finish(Outcome::success);
    }
}

std::optional<HttpRequest> ContactDeactivation::next_request() const {
    if (done_) return std::nullopt;
    if (survivor_) return survivor_->request(requests_);
    return requests_.account("PUT", "/contacts/" + std::to_string(result_.contact_id),
                             R"({"custom_attributes":{"ativo":false}})");
}

void ContactDeactivation::on_response(const HttpResponse& response) {
    if (ended_by(response, survivor_ && survivor_->searching())) return;
    if (survivor_) {
        if (response.status < 200 || response.status >= 300) {
            finish(Outcome::permanent, http_error("busca do sobrevivente de uma mesclagem: ", response));
            return;
        }
        std::int64_t survivor = 0;
        std::string why;
        switch (survivor_->read(response, survivor, why)) {
            case SurvivorLookup::Step::again: return;
            case SurvivorLookup::Step::none:
                result_.notes = "contato já não existia no Chatwoot";
                finish(Outcome::success);
                return;
            case SurvivorLookup::Step::unreadable:
                finish(Outcome::retry, "resposta ilegível da busca do sobrevivente (HTTP " +
                                           std::to_string(response.status) + ", " + quoted(why, kQuotedUnreadable) + ")");
                return;
            case SurvivorLookup::Step::found:
                result_.notes = "contato " + std::to_string(contact_id_) + " foi mesclado no " +
                                std::to_string(survivor) + ", que leva o identificador; ";
                result_.contact_id = survivor;  // the mapping follows the survivor
                survivor_.reset();
                looked_up_ = true;
                return;
        }
        return;
    }
    if (response.status == 404 && !looked_up_) {
        survivor_.emplace(party_.identifier());
        return;
    }
    if ((response.status >= 200 && response.status < 300) || response.status == 404) {
        if (response.status == 404) result_.notes += "contato já não existia no Chatwoot";
        finish(Outcome::success);
        return;
    }
    finish(Outcome::permanent, http_error("", response));
}

}  // namespace chatwoot::core
