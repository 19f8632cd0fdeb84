// JSON shapes, mirroring Chatwoot's jbuilder views (API) and the
// webhook_data / push_event_data model methods (webhooks). The caller holds
// the store lock; every function returns a new reference.
#pragma once
#include <jansson.h>

#include <optional>
#include <string>

#include "state.hpp"

namespace sim {

// --- Application API views ---
json_t* contact_json(const Store& s, const Contact& c, bool with_contact_inboxes);
json_t* inbox_slim_json(const Inbox& in);
json_t* inbox_json(const Inbox& in, bool administrator);
json_t* inbox_record_json(const Inbox& in);  // raw DB record (contact create response)
json_t* agent_json(const User& u, const AccountUser& au, std::int64_t account_id);
json_t* profile_json(const Store& s, const User& u);
json_t* conversation_json(const Store& s, const Conversation& c);
json_t* message_json(const Store& s, const Message& m, const std::optional<std::string>& echo_id = std::nullopt);
json_t* webhook_json(const Webhook& w);

// --- push / webhook building blocks ---
std::string availability_status(const AccountUser& au);
json_t* account_webhook_data(const Account& a);
json_t* user_push_data(const Store& s, const User& u, std::int64_t account_id);
json_t* user_webhook_data(const User& u);
json_t* contact_push_data(const Contact& c);
json_t* contact_webhook_data(const Store& s, const Contact& c);
json_t* message_push_data(const Store& s, const Message& m);
json_t* conversation_webhook_data(const Store& s, const Conversation& c);
json_t* message_webhook_data(const Store& s, const Message& m);
json_t* inbox_webhook_data(const Store& s, const Inbox& in);

// Epoch seconds (int) and Rails float for updated_at.
json_t* epoch_int(std::int64_t us);
json_t* epoch_float(std::int64_t us);
json_t* iso_or_null(const std::optional<std::int64_t>& us);

}  // namespace sim
