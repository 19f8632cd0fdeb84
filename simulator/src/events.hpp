// Builds Chatwoot webhook events (flat payloads, real event names) for state
// changes and resolves their targets: subscribed account webhooks and, for
// conversation/message events, the API inbox's webhook_url. Called with the
// store lock held; the jobs are handed to the deliverer after unlocking.
#pragma once
#include <jansson.h>

#include <string>
#include <vector>

#include "state.hpp"
#include "webhook_delivery.hpp"

namespace sim {

// Accumulates {"key":{"previous_value","current_value"}} entries in order.
class ChangeSet {
public:
    ChangeSet();
    ~ChangeSet();
    ChangeSet(const ChangeSet&) = delete;
    ChangeSet& operator=(const ChangeSet&) = delete;
    void add(const char* key, json_t* previous, json_t* current);  // steals both
    bool empty() const { return json_array_size(arr_) == 0; }
    bool has(const char* key) const;
    json_t* take();  // new reference to the array

private:
    json_t* arr_;
};

using Jobs = std::vector<DeliveryJob>;

void emit_contact_created(const Store& s, const Contact& c, Jobs& out);
void emit_contact_updated(const Store& s, const Contact& c, ChangeSet& changes, Jobs& out);
void emit_conversation_created(const Store& s, const Conversation& c, Jobs& out);
void emit_conversation_updated(const Store& s, const Conversation& c, ChangeSet& changes, Jobs& out);
void emit_conversation_status_changed(const Store& s, const Conversation& c, Jobs& out);
void emit_message(const Store& s, const Message& m, const char* event, Jobs& out);
void emit_inbox(const Store& s, const Inbox& in, const char* event, ChangeSet* changes, Jobs& out);

bool is_allowed_webhook_event(const std::string& name);

}  // namespace sim
