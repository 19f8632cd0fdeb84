#include "state.hpp"

#include "util.hpp"

namespace sim {

const char* message_type_name(int type) {
    switch (type) {
        case kIncoming: return "incoming";
        case kOutgoing: return "outgoing";
        case kActivity: return "activity";
        case kTemplate: return "template";
        default: return "outgoing";
    }
}

AccountUser* Account::member(std::int64_t user_id) {
    for (auto& au : users)
        if (au.user_id == user_id) return &au;
    return nullptr;
}

const AccountUser* Account::member(std::int64_t user_id) const {
    for (const auto& au : users)
        if (au.user_id == user_id) return &au;
    return nullptr;
}

std::string Store::key(std::int64_t account_id, const std::string& value) {
    return std::to_string(account_id) + '\x1f' + value;
}

void MultiIndex::remove(const std::string& key, std::int64_t id) {
    auto it = map_.find(key);
    if (it == map_.end()) return;
    auto& ids = it->second;
    for (auto i = ids.begin(); i != ids.end(); ++i)
        if (*i == id) {
            ids.erase(i);
            break;
        }
    if (ids.empty()) map_.erase(it);
}

bool MultiIndex::has_other(const std::string& key, std::int64_t except) const {
    const std::vector<std::int64_t>* ids = find(key);
    if (!ids) return false;
    for (std::int64_t id : *ids)
        if (id != except) return true;
    return false;
}

void Store::index_contact(const Contact& c) {
    if (c.email && !c.email->empty()) contact_email_idx[key(c.account_id, *c.email)] = c.id;
    if (c.identifier && !c.identifier->empty()) {
        contact_identifier_idx[key(c.account_id, *c.identifier)] = c.id;
        contact_identifier_lower_idx.add(key(c.account_id, fold_case(*c.identifier)), c.id);
    }
    if (c.phone_number && !c.phone_number->empty()) contact_phone_idx.add(key(c.account_id, *c.phone_number), c.id);
}

void Store::unindex_contact(const Contact& c) {
    auto drop = [&](std::unordered_map<std::string, std::int64_t>& idx, const std::optional<std::string>& v) {
        if (!v || v->empty()) return;
        auto it = idx.find(key(c.account_id, *v));
        if (it != idx.end() && it->second == c.id) idx.erase(it);
    };
    drop(contact_email_idx, c.email);
    drop(contact_identifier_idx, c.identifier);
    if (c.identifier && !c.identifier->empty())
        contact_identifier_lower_idx.remove(key(c.account_id, fold_case(*c.identifier)), c.id);
    if (c.phone_number && !c.phone_number->empty()) contact_phone_idx.remove(key(c.account_id, *c.phone_number), c.id);
}

Account* Store::account(std::int64_t id) {
    auto it = accounts.find(id);
    return it == accounts.end() ? nullptr : &it->second;
}

User* Store::user(std::int64_t id) {
    auto it = users.find(id);
    return it == users.end() ? nullptr : &it->second;
}

Inbox* Store::inbox(std::int64_t account_id, std::int64_t id) {
    auto it = inboxes.find(id);
    return it == inboxes.end() || it->second.account_id != account_id ? nullptr : &it->second;
}

Contact* Store::contact(std::int64_t account_id, std::int64_t id) {
    auto it = contacts.find(id);
    return it == contacts.end() || it->second.account_id != account_id ? nullptr : &it->second;
}

Conversation* Store::conversation(std::int64_t account_id, std::int64_t display_id) {
    auto it = conversation_by_display.find({account_id, display_id});
    if (it == conversation_by_display.end()) return nullptr;
    auto c = conversations.find(it->second);
    return c == conversations.end() ? nullptr : &c->second;
}

std::vector<const ContactInbox*> Store::contact_inboxes_of(std::int64_t contact_id) const {
    std::vector<const ContactInbox*> out;
    auto it = contact_inboxes_by_contact.find(contact_id);
    if (it == contact_inboxes_by_contact.end()) return out;
    for (std::int64_t id : it->second) {
        auto ci = contact_inboxes.find(id);
        if (ci != contact_inboxes.end()) out.push_back(&ci->second);
    }
    return out;
}

const Message* Store::last_message(std::int64_t conversation_id, bool non_activity_only) const {
    auto it = messages_by_conversation.find(conversation_id);
    if (it == messages_by_conversation.end()) return nullptr;
    for (auto r = it->second.rbegin(); r != it->second.rend(); ++r) {
        auto m = messages.find(*r);
        if (m == messages.end()) continue;
        if (non_activity_only && m->second.message_type == kActivity) continue;
        return &m->second;
    }
    return nullptr;
}

User& Store::add_user(const std::string& name, const std::string& email, const std::string& token) {
    User u;
    u.id = next_user_id++;
    u.name = name;
    u.email = email;
    u.token = token.empty() ? random_token() : token;
    u.pubsub_token = random_token();
    user_by_token[u.token] = u.id;
    return users[u.id] = u;
}

Inbox& Store::add_inbox(std::int64_t account_id, const std::string& name, const std::string& channel_type) {
    Inbox& in = add_api_inbox(account_id, name, "");
    in.channel_type = channel_type;
    if (channel_type == "Channel::TwilioSms") in.medium = "sms";
    return in;
}

void Store::rename_contact_inbox(std::int64_t contact_inbox_id, const std::string& source_id) {
    auto it = contact_inboxes.find(contact_inbox_id);
    if (it == contact_inboxes.end()) return;
    contact_inbox_by_source.erase({it->second.inbox_id, it->second.source_id});
    it->second.source_id = source_id;
    it->second.updated_us = now_us();
    contact_inbox_by_source[{it->second.inbox_id, source_id}] = contact_inbox_id;
}

Inbox& Store::add_api_inbox(std::int64_t account_id, const std::string& name, const std::string& webhook_url) {
    Inbox in;
    in.id = next_inbox_id++;
    in.channel_id = next_channel_id++;
    in.account_id = account_id;
    in.name = name;
    in.webhook_url = webhook_url;
    in.identifier = random_token();
    in.secret = random_token();
    in.hmac_token = random_token();
    in.created_us = in.updated_us = now_us();
    return inboxes[in.id] = in;
}

ContactInbox& Store::add_contact_inbox(std::int64_t contact_id, std::int64_t inbox_id, const std::string& source_id) {
    ContactInbox ci;
    ci.id = next_contact_inbox_id++;
    ci.contact_id = contact_id;
    ci.inbox_id = inbox_id;
    ci.source_id = source_id;
    ci.pubsub_token = random_token();
    ci.created_us = ci.updated_us = now_us();
    contact_inboxes_by_contact[contact_id].push_back(ci.id);
    contact_inbox_by_source[{inbox_id, source_id}] = ci.id;
    return contact_inboxes[ci.id] = ci;
}

void Store::delete_conversation(std::int64_t conversation_id) {
    auto it = conversations.find(conversation_id);
    if (it == conversations.end()) return;
    auto msgs = messages_by_conversation.find(conversation_id);
    if (msgs != messages_by_conversation.end()) {
        for (std::int64_t mid : msgs->second) messages.erase(mid);
        messages_by_conversation.erase(msgs);
    }
    conversation_by_display.erase({it->second.account_id, it->second.display_id});
    conversations.erase(it);
}

void Store::move_contact_records(std::int64_t mergee_id, std::int64_t base_id) {
    for (auto& [id, conv] : conversations)
        if (conv.contact_id == mergee_id) conv.contact_id = base_id;
    for (auto& [id, m] : messages)
        if (m.sender_type == "Contact" && m.sender_id == mergee_id) m.sender_id = base_id;
    auto moved = contact_inboxes_by_contact.find(mergee_id);
    if (moved == contact_inboxes_by_contact.end()) return;
    std::vector<std::int64_t> ids = std::move(moved->second);
    contact_inboxes_by_contact.erase(moved);
    for (std::int64_t id : ids) {
        auto ci = contact_inboxes.find(id);
        if (ci == contact_inboxes.end()) continue;
        ci->second.contact_id = base_id;
        contact_inboxes_by_contact[base_id].push_back(id);
    }
}

void Store::delete_contact(std::int64_t contact_id) {
    auto it = contacts.find(contact_id);
    if (it == contacts.end()) return;
    std::vector<std::int64_t> convs;
    for (const auto& [id, c] : conversations)
        if (c.contact_id == contact_id) convs.push_back(id);
    for (std::int64_t id : convs) delete_conversation(id);
    for (const ContactInbox* ci : contact_inboxes_of(contact_id)) {
        contact_inbox_by_source.erase({ci->inbox_id, ci->source_id});
        contact_inboxes.erase(ci->id);
    }
    contact_inboxes_by_contact.erase(contact_id);
    unindex_contact(it->second);
    contacts.erase(it);
}

void Store::reset(const SeedConfig& cfg) {
    seed_config = cfg;
    accounts.clear();
    users.clear();
    user_by_token.clear();
    inboxes.clear();
    contacts.clear();
    contact_inboxes.clear();
    contact_inboxes_by_contact.clear();
    contact_inbox_by_source.clear();
    conversations.clear();
    conversation_by_display.clear();
    messages.clear();
    messages_by_conversation.clear();
    webhooks.clear();
    contact_email_idx.clear();
    contact_identifier_idx.clear();
    contact_identifier_lower_idx.clear();
    contact_phone_idx.clear();
    next_user_id = next_inbox_id = next_channel_id = next_contact_id = next_contact_inbox_id = next_conversation_id =
        next_message_id = next_webhook_id = 1;

    const std::int64_t a = cfg.account_id;
    accounts[a] = Account{a, "Zattar Advocacia", 1, {}};
    accounts[a + 1] = Account{a + 1, "Outra Conta", 1, {}};

    User& admin = add_user("Admin Zattar", "admin@zattar.test", cfg.admin_token);
    User& agent = add_user("Agente Zattar", "agente@zattar.test", "sim-agent-token");
    User& other = add_user("Admin Outra", "admin@outra.test", "sim-other-admin-token");
    accounts[a].users.push_back(AccountUser{admin.id, "administrator", "online", true});
    accounts[a].users.push_back(AccountUser{agent.id, "agent", "online", true});
    accounts[a + 1].users.push_back(AccountUser{other.id, "administrator", "online", true});

    // Fixed secrets so tests and docs can rely on them.
    Inbox& api = add_api_inbox(a, "Zattar API", "");
    api.member_ids.push_back(agent.id);  // the seeded agent works in the seeded inbox
    api.identifier = "zattarApiInboxIdentifier";
    api.secret = "zattarApiInboxSecret";
    api.hmac_token = "zattarApiInboxHmacToken";
    Inbox& other_inbox = add_api_inbox(a + 1, "Outra API", "");
    other_inbox.identifier = "outraApiInboxIdentifier";
    other_inbox.secret = "outraApiInboxSecret";
}

}  // namespace sim
