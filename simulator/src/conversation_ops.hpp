// State transitions on conversations shared by the API handlers and the
// control API, with Chatwoot's side effects and webhook events. The caller
// holds the store lock exclusively.
#pragma once
#include <optional>
#include <string>

#include "events.hpp"
#include "state.hpp"

namespace sim {

struct NewMessage {
    std::optional<std::string> content;
    int message_type = kOutgoing;
    bool is_private = false;
    std::optional<std::string> source_id;
    std::string content_type = "text";
    Json content_attributes = Json::object();
    std::string sender_type;  // "User" | "Contact"
    std::int64_t sender_id = 0;
};

bool is_valid_status(const std::string& status);
bool is_valid_priority(const std::string& priority);

// Adds a message and applies what Chatwoot does after it: activity bump,
// reopening on customer messages, waiting_since / first_reply_created_at,
// contact last_activity_at. Emits message_created and follow-up events.
Message& add_message(Store& s, Conversation& c, NewMessage in, Jobs& out);

// Conversation field changes collected before one "save".
struct ConversationChange {
    ChangeSet changes;
    bool status_changed = false;
    bool touched = false;
};

void change_status(Conversation& c, const std::string& status, std::optional<std::int64_t> snoozed_until_us,
                   ConversationChange& ch);
void change_assignee(Conversation& c, std::optional<std::int64_t> assignee_id, ConversationChange& ch);
void change_priority(Conversation& c, std::optional<std::string> priority, ConversationChange& ch);

// Stamps updated_at and emits conversation_status_changed / conversation_updated
// as Chatwoot's after_update_commit callbacks do. No-op when nothing changed.
void commit_conversation(Store& s, Conversation& c, ConversationChange& ch, Jobs& out);

}  // namespace sim
