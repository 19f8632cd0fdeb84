#include "core/contact_sync.hpp"

#include "core/json.hpp"

namespace chatwoot::core {

namespace {

constexpr int kMaxLookups = 2;  // the first, and one after a create lost a race

bool taken_error(const HttpResponse& response, const char* attribute = nullptr) {
    if (response.status != 422) return false;
    Json body = Json::parse(response.body);
    std::string message = body["message"].as_string().value_or("");
    if (message.find("has already been taken") == std::string::npos) return false;
    if (!attribute) return true;
    Json attributes = body["attributes"];
    for (std::size_t i = 0; i < attributes.size(); ++i)
        if (attributes.at(i).as_string() == attribute) return true;
    return false;
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

std::string chatwoot_message(const HttpResponse& response) {
    Json body = Json::parse(response.body);
    for (const char* key : {"message", "error"})
        if (auto text = body[key].as_string()) return *text;
    return response.body.substr(0, 300);
}

}  // namespace

ContactSync::ContactSync(const RequestFactory& requests, ContactDraft draft,
                         std::optional<std::int64_t> mapped_contact_id, std::optional<std::int64_t> inbox_id)
    : requests_(requests),
      draft_(std::move(draft)),
      inbox_id_(inbox_id),
      wanted_body_(draft_.request_body(inbox_id)),
      lookup_body_(draft_.lookup_filter_body()) {
    if (mapped_contact_id && *mapped_contact_id > 0) {
        target_id_ = *mapped_contact_id;
        state_ = State::update_mapped;
        update_body_ = update_body();  // a new contact never needs one: built only on the way to a PUT
    } else {
        state_ = State::lookup;
    }
}

std::string ContactSync::update_body() const {
    // No inbox_id: an update does not move the contact's inbox.
    if (!drop_email_ && !drop_phone_) return draft_.request_body(std::nullopt);
    ContactDraft without = draft_;
    if (drop_email_) without.email.reset();
    if (drop_phone_) without.phone_e164.reset();
    return without.request_body(std::nullopt);
}

std::optional<HttpRequest> ContactSync::next_request() const {
    switch (state_) {
        case State::update_mapped:
        case State::update_found:
            return requests_.account("PUT", "/contacts/" + std::to_string(target_id_), update_body_);
        case State::lookup:
            return requests_.account("POST", "/contacts/filter?include_contact_inboxes=false", lookup_body_);
        case State::create:
            return requests_.account("POST", "/contacts", wanted_body_);
        case State::done:
            return std::nullopt;
    }
    return std::nullopt;
}

void ContactSync::finish(Outcome outcome, std::string error) {
    result_.outcome = outcome;
    result_.error = std::move(error);
    state_ = State::done;
}

void ContactSync::on_response(const HttpResponse& response) {
    ++result_.requests;
    Verdict verdict = classify_response(response);
    if (verdict.throttled) result_.throttled = true;
    if (verdict.retry_after) result_.retry_after = verdict.retry_after;
    if (verdict.outcome == Outcome::retry) {
        finish(Outcome::retry, verdict.reason);
        return;
    }
    switch (state_) {
        case State::update_mapped: handle_update(response, true); break;
        case State::update_found: handle_update(response, false); break;
        case State::lookup: handle_lookup(response); break;
        case State::create: handle_create(response); break;
        case State::done: break;
    }
}

void ContactSync::handle_update(const HttpResponse& response, bool mapped) {
    if (response.status >= 200 && response.status < 300) {
        result_.contact_id = target_id_;
        Json body = Json::parse(response.body);
        result_.snapshot_json = contact_snapshot(body["payload"]);
        finish(Outcome::success);
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
        update_body_ = update_body();
        result_.notes += "email já pertence a outro contato no Chatwoot; não enviado. ";
        return;
    }
    if (taken_error(response, "phone_number") && !drop_phone_) {
        drop_phone_ = true;
        update_body_ = update_body();
        result_.notes += "telefone já pertence a outro contato no Chatwoot; não enviado. ";
        return;
    }
    finish(Outcome::permanent, "HTTP " + std::to_string(response.status) + ": " + chatwoot_message(response));
}

void ContactSync::handle_lookup(const HttpResponse& response) {
    ++lookups_;
    if (response.status < 200 || response.status >= 300) {
        finish(Outcome::permanent, "busca de contato: HTTP " + std::to_string(response.status) + ": " +
                                       chatwoot_message(response));
        return;
    }
    Json payload = Json::parse(response.body)["payload"];
    // Priority: our identifier, then e-mail, then either phone form.
    Json best;
    int best_rank = 99;
    for (std::size_t i = 0; i < payload.size(); ++i) {
        Json contact = payload.at(i);
        int rank = 99;
        std::string identifier = contact["identifier"].as_string().value_or("");
        std::string email = contact["email"].as_string().value_or("");
        std::string phone = contact["phone_number"].as_string().value_or("");
        if (identifier == draft_.identifier) rank = 0;
        else if (draft_.email && email == *draft_.email) rank = 1;
        else
            for (const auto& form : draft_.phone_lookup_forms)
                if (phone == form) rank = 2;
        if (rank < best_rank) {
            best_rank = rank;
            best = contact;
        }
    }
    if (!best) {
        if (lookups_ > 1) {
            finish(Outcome::retry, "Chatwoot recusou a criação por duplicidade mas a busca não achou o contato");
            return;
        }
        state_ = State::create;
        return;
    }
    target_id_ = best["id"].as_integer().value_or(0);
    std::string owner = best["identifier"].as_string().value_or("");
    if (!owner.empty() && owner != draft_.identifier) {
        // The same person is already another party's contact (client and third party):
        // map to it without rewriting the other party's identifier or attributes.
        result_.contact_id = target_id_;
        result_.shared = true;
        result_.shared_with = owner;
        result_.snapshot_json = contact_snapshot(best);
        finish(Outcome::success);
        return;
    }
    state_ = State::update_found;
    update_body_ = update_body();
}

void ContactSync::handle_create(const HttpResponse& response) {
    if (response.status >= 200 && response.status < 300) {
        Json payload = Json::parse(response.body)["payload"];
        Json contact = payload["contact"];
        result_.contact_id = contact["id"].as_integer().value_or(0);
        if (result_.contact_id <= 0) {
            finish(Outcome::retry, "resposta de criação sem payload.contact.id");
            return;
        }
        if (auto source = payload["contact_inbox"]["source_id"].as_string()) result_.source_id = *source;
        result_.created = true;
        result_.snapshot_json = contact_snapshot(contact);
        finish(Outcome::success);
        return;
    }
    if (taken_error(response) && lookups_ < kMaxLookups) {
        // Someone created it between our lookup and our create: adopt that one.
        state_ = State::lookup;
        return;
    }
    finish(Outcome::permanent, "HTTP " + std::to_string(response.status) + ": " + chatwoot_message(response));
}

}  // namespace chatwoot::core

namespace chatwoot::core {

std::optional<HttpRequest> ContactDeactivation::next_request() const {
    if (done_) return std::nullopt;
    if (delete_) return requests_.account("DELETE", "/contacts/" + std::to_string(contact_id_));
    return requests_.account("PUT", "/contacts/" + std::to_string(contact_id_),
                             R"({"custom_attributes":{"ativo":false}})");
}

void ContactDeactivation::on_response(const HttpResponse& response) {
    done_ = true;
    ++result_.requests;
    result_.contact_id = contact_id_;
    Verdict verdict = classify_response(response);
    result_.throttled = verdict.throttled;
    result_.retry_after = verdict.retry_after;
    if (verdict.outcome == Outcome::success || response.status == 404) {
        result_.outcome = Outcome::success;  // already gone counts as done
        result_.notes = response.status == 404 ? "contato já não existia no Chatwoot" : "";
        return;
    }
    result_.outcome = verdict.outcome;
    result_.error = verdict.reason;
}

}  // namespace chatwoot::core
