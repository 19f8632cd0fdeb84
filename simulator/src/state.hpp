// In-memory model of the Chatwoot records the simulator serves. One
// shared_mutex guards everything: handlers take it shared for reads and
// exclusive for writes, and build webhook payloads while holding it. (In the
// real-concurrency mode a contact write validates under the shared lock and
// takes the exclusive one only for its insert or update.)
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "json_util.hpp"

namespace sim {

struct SeedConfig {
    std::int64_t account_id = 1;
    std::string admin_token = "sim-admin-token";
};

struct AccountUser {
    std::int64_t user_id = 0;
    std::string role = "agent";  // agent | administrator
    std::string availability = "online";
    bool auto_offline = true;
};

struct Account {
    std::int64_t id = 0;
    std::string name;
    std::int64_t next_display_id = 1;
    std::vector<AccountUser> users;

    AccountUser* member(std::int64_t user_id);
    const AccountUser* member(std::int64_t user_id) const;
};

struct User {
    std::int64_t id = 0;
    std::string name;
    std::string email;
    std::string token;
    std::string pubsub_token;
};

struct Inbox {
    std::int64_t id = 0;
    std::int64_t account_id = 0;
    std::int64_t channel_id = 0;
    std::string name;
    std::string channel_type = "Channel::Api";
    std::string medium;       // Channel::TwilioSms: "sms" | "whatsapp"
    std::string webhook_url;  // empty: no API-inbox webhook
    std::string identifier;   // inbox_identifier (Public API token)
    std::string secret;       // webhook signing secret
    std::string hmac_token;
    bool hmac_mandatory = false;
    bool lock_to_single_conversation = false;
    // Its agents (inbox_members): an agent sees only the inboxes it is a member of
    // (InboxPolicy#show?, User#assigned_inboxes); administrators see all.
    std::vector<std::int64_t> member_ids;
    Json additional_attributes = Json::object();
    std::int64_t created_us = 0;
    std::int64_t updated_us = 0;
};

struct Contact {
    std::int64_t id = 0;
    std::int64_t account_id = 0;
    std::string name;
    std::optional<std::string> email;
    std::optional<std::string> phone_number;
    std::optional<std::string> identifier;
    bool blocked = false;
    std::string contact_type = "visitor";  // visitor | lead | customer (Contacts::SyncAttributes)
    Json additional_attributes = Json::object();
    Json custom_attributes = Json::object();
    std::int64_t created_us = 0;
    std::int64_t updated_us = 0;
    std::optional<std::int64_t> last_activity_us;
};

// A non-unique index: key -> ids in insertion order.
class MultiIndex {
public:
    void add(const std::string& key, std::int64_t id) { map_[key].push_back(id); }
    void remove(const std::string& key, std::int64_t id);
    const std::vector<std::int64_t>* find(const std::string& key) const {
        auto it = map_.find(key);
        return it == map_.end() ? nullptr : &it->second;
    }
    // Whether the key holds an id other than `except`.
    bool has_other(const std::string& key, std::int64_t except) const;
    void clear() { map_.clear(); }

private:
    std::unordered_map<std::string, std::vector<std::int64_t>> map_;
};

struct ContactInbox {
    std::int64_t id = 0;
    std::int64_t contact_id = 0;
    std::int64_t inbox_id = 0;
    std::string source_id;
    std::string pubsub_token;
    std::int64_t created_us = 0;
    std::int64_t updated_us = 0;
};

struct Conversation {
    std::int64_t id = 0;  // internal, never exposed
    std::int64_t account_id = 0;
    std::int64_t display_id = 0;
    std::int64_t inbox_id = 0;
    std::int64_t contact_id = 0;
    std::int64_t contact_inbox_id = 0;
    std::string uuid;
    std::string status = "open";
    std::optional<std::int64_t> assignee_id;
    std::optional<std::string> priority;
    std::optional<std::int64_t> snoozed_until_us;
    std::optional<std::int64_t> waiting_since_us;
    std::optional<std::int64_t> first_reply_us;
    std::int64_t agent_last_seen_us = 0;
    std::int64_t contact_last_seen_us = 0;
    std::int64_t assignee_last_seen_us = 0;
    Json additional_attributes = Json::object();
    Json custom_attributes = Json::object();
    std::int64_t created_us = 0;
    std::int64_t updated_us = 0;
    std::int64_t last_activity_us = 0;
};

enum MessageType { kIncoming = 0, kOutgoing = 1, kActivity = 2, kTemplate = 3 };
const char* message_type_name(int type);

struct Message {
    std::int64_t id = 0;
    std::int64_t account_id = 0;
    std::int64_t conversation_id = 0;  // internal id
    std::int64_t inbox_id = 0;
    std::optional<std::string> content;
    int message_type = kOutgoing;
    bool is_private = false;
    std::optional<std::string> source_id;
    std::string content_type = "text";
    std::string status = "sent";
    std::optional<std::string> external_error;
    Json content_attributes = Json::object();
    std::string sender_type;  // "User" | "Contact" | ""
    std::int64_t sender_id = 0;
    std::int64_t created_us = 0;
    std::int64_t updated_us = 0;
};

struct Webhook {
    std::int64_t id = 0;
    std::int64_t account_id = 0;
    std::string name;
    std::string url;
    std::vector<std::string> subscriptions;
    std::string secret;
};

class Store {
public:
    mutable std::shared_mutex mu;

    std::map<std::int64_t, Account> accounts;
    std::map<std::int64_t, User> users;
    std::unordered_map<std::string, std::int64_t> user_by_token;
    std::map<std::int64_t, Inbox> inboxes;
    std::map<std::int64_t, Contact> contacts;
    std::map<std::int64_t, ContactInbox> contact_inboxes;
    std::unordered_map<std::int64_t, std::vector<std::int64_t>> contact_inboxes_by_contact;
    std::map<std::pair<std::int64_t, std::string>, std::int64_t> contact_inbox_by_source;  // (inbox, source_id)
    std::map<std::int64_t, Conversation> conversations;
    std::map<std::pair<std::int64_t, std::int64_t>, std::int64_t> conversation_by_display;  // (account, display)
    std::map<std::int64_t, Message> messages;
    std::unordered_map<std::int64_t, std::vector<std::int64_t>> messages_by_conversation;  // ascending ids
    std::map<std::int64_t, Webhook> webhooks;

    // Per-account keys of contacts. E-mail and identifier are unique, as Chatwoot's
    // database indexes are (uniq_email_per_account_contact, uniq_identifier_per_account_contact);
    // phone has a plain index only, and the lower-cased identifier (what the filter compares)
    // may be shared by identifiers that differ in case.
    std::unordered_map<std::string, std::int64_t> contact_email_idx;
    std::unordered_map<std::string, std::int64_t> contact_identifier_idx;
    MultiIndex contact_identifier_lower_idx;
    MultiIndex contact_phone_idx;

    std::int64_t next_user_id = 1, next_inbox_id = 1, next_channel_id = 1, next_contact_id = 1,
                 next_contact_inbox_id = 1, next_conversation_id = 1, next_message_id = 1, next_webhook_id = 1;

    SeedConfig seed_config;

    // Drops everything and loads the seed state (caller holds `mu` exclusively).
    void reset(const SeedConfig& cfg);

    // Lookups; the caller holds `mu`.
    Account* account(std::int64_t id);
    User* user(std::int64_t id);
    Inbox* inbox(std::int64_t account_id, std::int64_t id);
    Contact* contact(std::int64_t account_id, std::int64_t id);
    Conversation* conversation(std::int64_t account_id, std::int64_t display_id);
    std::vector<const ContactInbox*> contact_inboxes_of(std::int64_t contact_id) const;
    const Message* last_message(std::int64_t conversation_id, bool non_activity_only) const;

    static std::string key(std::int64_t account_id, const std::string& value);
    void index_contact(const Contact& c);
    void unindex_contact(const Contact& c);

    Inbox& add_api_inbox(std::int64_t account_id, const std::string& name, const std::string& webhook_url);
    Inbox& add_inbox(std::int64_t account_id, const std::string& name, const std::string& channel_type);
    ContactInbox& add_contact_inbox(std::int64_t contact_id, std::int64_t inbox_id, const std::string& source_id);
    // Gives a contact_inbox another source_id (ContactInboxBuilder#update_old_contact_inbox).
    void rename_contact_inbox(std::int64_t contact_inbox_id, const std::string& source_id);
    User& add_user(const std::string& name, const std::string& email, const std::string& token);
    void delete_contact(std::int64_t contact_id);
    // ContactMergeAction's moves: the mergee's conversations, messages and contact
    // inboxes become the base's (the caller then destroys the mergee and updates the base).
    void move_contact_records(std::int64_t mergee_id, std::int64_t base_id);
    void delete_conversation(std::int64_t conversation_id);
};

}  // namespace sim
