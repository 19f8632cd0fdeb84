#include "events.hpp"

#include <cstring>

#include "json_util.hpp"
#include "views.hpp"

namespace sim {

static const char* const kAllowedEvents[] = {
    "conversation_created", "conversation_updated", "conversation_status_changed", "message_created",
    "message_updated",      "contact_created",      "contact_updated",             "webwidget_triggered",
    "inbox_created",        "inbox_updated",        "conversation_typing_on",      "conversation_typing_off"};

bool is_allowed_webhook_event(const std::string& name) {
    for (const char* e : kAllowedEvents)
        if (name == e) return true;
    return false;
}

ChangeSet::ChangeSet() : arr_(json_array()) {}
ChangeSet::~ChangeSet() { json_decref(arr_); }

void ChangeSet::add(const char* key, json_t* previous, json_t* current) {
    json_t* pair = json_object();
    json_object_set_new(pair, "previous_value", previous ? previous : json_null());
    json_object_set_new(pair, "current_value", current ? current : json_null());
    json_t* entry = json_object();
    json_object_set_new(entry, key, pair);
    json_array_append_new(arr_, entry);
}

bool ChangeSet::has(const char* key) const {
    size_t i;
    json_t* e;
    json_array_foreach(arr_, i, e) if (json_object_get(e, key)) return true;
    return false;
}

json_t* ChangeSet::take() { return json_incref(arr_); }

// Sends `payload` (stolen) to the account's subscribed webhooks and, when
// `api_inbox` is given, to that inbox's webhook_url without filtering.
static void emit(const Store& s, std::int64_t account_id, const char* event, json_t* payload, const Inbox* api_inbox,
                 std::optional<std::int64_t> message_id, Jobs& out) {
    json_object_set_new(payload, "event", json_string(event));
    std::string body = rails_escape_json(dump_steal(payload));  // payload.to_json
    for (const auto& [id, w] : s.webhooks) {
        if (w.account_id != account_id) continue;
        bool subscribed = false;
        for (const auto& e : w.subscriptions)
            if (e == event) { subscribed = true; break; }
        if (!subscribed) continue;
        DeliveryJob j;
        j.url = w.url;
        j.secret = w.secret;
        j.event = event;
        j.body = body;
        j.kind = "account";
        j.account_id = account_id;
        j.webhook_id = w.id;
        out.push_back(std::move(j));
    }
    if (api_inbox && !api_inbox->webhook_url.empty() && api_inbox->channel_type == "Channel::Api") {
        DeliveryJob j;
        j.url = api_inbox->webhook_url;
        j.secret = api_inbox->secret;
        j.event = event;
        j.body = body;
        j.kind = "api_inbox";
        j.account_id = account_id;
        j.inbox_id = api_inbox->id;
        j.message_id = message_id;
        out.push_back(std::move(j));
    }
}

static const Inbox* inbox_of(const Store& s, std::int64_t inbox_id) {
    auto it = s.inboxes.find(inbox_id);
    return it == s.inboxes.end() ? nullptr : &it->second;
}

void emit_contact_created(const Store& s, const Contact& c, Jobs& out) {
    emit(s, c.account_id, "contact_created", contact_webhook_data(s, c), nullptr, std::nullopt, out);
}

void emit_contact_updated(const Store& s, const Contact& c, ChangeSet& changes, Jobs& out) {
    if (changes.empty()) return;  // Chatwoot skips contact_updated when nothing changed
    json_t* p = contact_webhook_data(s, c);
    json_object_set_new(p, "changed_attributes", changes.take());
    emit(s, c.account_id, "contact_updated", p, nullptr, std::nullopt, out);
}

void emit_conversation_created(const Store& s, const Conversation& c, Jobs& out) {
    emit(s, c.account_id, "conversation_created", conversation_webhook_data(s, c), inbox_of(s, c.inbox_id),
         std::nullopt, out);
}

void emit_conversation_updated(const Store& s, const Conversation& c, ChangeSet& changes, Jobs& out) {
    json_t* p = conversation_webhook_data(s, c);
    json_object_set_new(p, "changed_attributes", changes.take());
    emit(s, c.account_id, "conversation_updated", p, inbox_of(s, c.inbox_id), std::nullopt, out);
}

void emit_conversation_status_changed(const Store& s, const Conversation& c, Jobs& out) {
    // Rails has already cleared the change set when this runs: null in practice.
    json_t* p = conversation_webhook_data(s, c);
    json_object_set_new(p, "changed_attributes", json_null());
    emit(s, c.account_id, "conversation_status_changed", p, inbox_of(s, c.inbox_id), std::nullopt, out);
}

void emit_message(const Store& s, const Message& m, const char* event, Jobs& out) {
    if (m.message_type == kActivity) return;  // activity messages are never webhook-sendable
    emit(s, m.account_id, event, message_webhook_data(s, m), inbox_of(s, m.inbox_id), m.id, out);
}

void emit_inbox(const Store& s, const Inbox& in, const char* event, ChangeSet* changes, Jobs& out) {
    json_t* p = inbox_webhook_data(s, in);
    if (changes) json_object_set_new(p, "changed_attributes", changes->take());
    emit(s, in.account_id, event, p, nullptr, std::nullopt, out);
}

}  // namespace sim
