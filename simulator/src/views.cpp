#include "views.hpp"

#include "util.hpp"

namespace sim {

json_t* epoch_int(std::int64_t us) { return json_integer(us / 1000000); }
json_t* epoch_float(std::int64_t us) { return json_real(static_cast<double>(us) / 1e6); }
json_t* iso_or_null(const std::optional<std::int64_t>& us) { return us ? jstr(iso8601(*us)) : json_null(); }

static void set(json_t* o, const char* k, json_t* v) { json_object_set_new(o, k, v); }

std::string availability_status(const AccountUser& au) {
    // With auto_offline the status needs a live dashboard websocket, which an
    // API-only simulator never has.
    return au.auto_offline ? "offline" : au.availability;
}

json_t* inbox_slim_json(const Inbox& in) {
    json_t* o = json_object();
    set(o, "id", json_integer(in.id));
    set(o, "avatar_url", jstr(""));
    set(o, "channel_id", json_integer(in.channel_id));
    set(o, "name", jstr(in.name));
    set(o, "channel_type", jstr(in.channel_type));
    set(o, "provider", in.channel_type == "Channel::Whatsapp" ? jstr("whatsapp_cloud") : json_null());
    return o;
}

json_t* contact_json(const Store& s, const Contact& c, bool with_contact_inboxes) {
    json_t* o = json_object();
    set(o, "additional_attributes", jobject_copy(c.additional_attributes.get()));
    set(o, "availability_status", jstr("offline"));
    set(o, "email", jstr_opt(c.email));
    set(o, "id", json_integer(c.id));
    set(o, "name", jstr(c.name));
    set(o, "phone_number", jstr_opt(c.phone_number));
    set(o, "blocked", json_boolean(c.blocked));
    set(o, "identifier", jstr_opt(c.identifier));
    set(o, "thumbnail", jstr(""));
    set(o, "custom_attributes", jobject_copy(c.custom_attributes.get()));
    if (c.last_activity_us) set(o, "last_activity_at", epoch_int(*c.last_activity_us));
    set(o, "created_at", epoch_int(c.created_us));
    if (with_contact_inboxes) {
        json_t* arr = json_array();
        for (const ContactInbox* ci : s.contact_inboxes_of(c.id)) {
            auto in = s.inboxes.find(ci->inbox_id);
            if (in == s.inboxes.end()) continue;
            json_t* e = json_object();
            set(e, "source_id", jstr(ci->source_id));
            set(e, "inbox", inbox_slim_json(in->second));
            json_array_append_new(arr, e);
        }
        set(o, "contact_inboxes", arr);
    }
    return o;
}

static json_t* working_hours_json() {
    json_t* arr = json_array();
    for (int day = 0; day < 7; ++day) {
        json_t* d = json_object();
        bool weekend = day == 0 || day == 6;
        set(d, "day_of_week", json_integer(day));
        set(d, "closed_all_day", json_boolean(weekend));
        set(d, "open_hour", weekend ? json_null() : json_integer(9));
        set(d, "open_minutes", weekend ? json_null() : json_integer(0));
        set(d, "close_hour", weekend ? json_null() : json_integer(17));
        set(d, "close_minutes", weekend ? json_null() : json_integer(0));
        set(d, "open_all_day", json_false());
        json_array_append_new(arr, d);
    }
    return arr;
}

json_t* inbox_json(const Inbox& in, bool administrator) {
    json_t* o = json_object();
    set(o, "id", json_integer(in.id));
    set(o, "avatar_url", jstr(""));
    set(o, "channel_id", json_integer(in.channel_id));
    set(o, "name", jstr(in.name));
    set(o, "channel_type", jstr(in.channel_type));
    set(o, "greeting_enabled", json_false());
    set(o, "greeting_message", json_null());
    set(o, "working_hours_enabled", json_false());
    set(o, "enable_email_collect", json_true());
    set(o, "csat_survey_enabled", json_false());
    set(o, "enable_auto_assignment", json_true());
    set(o, "auto_assignment_config", json_object());
    set(o, "out_of_office_message", json_null());
    set(o, "working_hours", working_hours_json());
    set(o, "timezone", jstr("UTC"));
    set(o, "callback_webhook_url", json_null());
    set(o, "allow_messages_after_resolved", json_true());
    set(o, "lock_to_single_conversation", json_boolean(in.lock_to_single_conversation));
    set(o, "sender_name_type", jstr("friendly"));
    set(o, "business_name", json_null());
    set(o, "widget_color", json_null());
    set(o, "website_url", json_null());
    set(o, "hmac_mandatory", json_boolean(in.hmac_mandatory));
    set(o, "welcome_title", json_null());
    set(o, "welcome_tagline", json_null());
    set(o, "web_widget_script", json_null());
    set(o, "website_token", json_null());
    set(o, "selected_feature_flags", json_null());
    set(o, "reply_time", json_null());
    set(o, "messaging_service_sid", json_null());
    set(o, "phone_number", json_null());
    if (in.channel_type == "Channel::TwilioSms") set(o, "medium", jstr(in.medium));
    if (in.channel_type == "Channel::Api") {  // _inbox.json.jbuilder: API channel attributes only
        if (administrator) set(o, "hmac_token", jstr(in.hmac_token));
        set(o, "webhook_url", jstr(in.webhook_url));
        set(o, "inbox_identifier", jstr(in.identifier));
        set(o, "additional_attributes", jobject_copy(in.additional_attributes.get()));
        if (administrator) set(o, "secret", jstr(in.secret));
    }
    set(o, "provider", in.channel_type == "Channel::Whatsapp" ? jstr("whatsapp_cloud") : json_null());
    if (in.channel_type == "Channel::Whatsapp") {
        set(o, "message_templates", json_array());
        if (administrator) set(o, "provider_config", json_object());
    }
    return o;
}

json_t* inbox_record_json(const Inbox& in) {
    json_t* o = json_object();
    set(o, "id", json_integer(in.id));
    set(o, "channel_id", json_integer(in.channel_id));
    set(o, "account_id", json_integer(in.account_id));
    set(o, "name", jstr(in.name));
    set(o, "created_at", jstr(iso8601(in.created_us)));
    set(o, "updated_at", jstr(iso8601(in.updated_us)));
    set(o, "channel_type", jstr(in.channel_type));
    set(o, "enable_auto_assignment", json_true());
    set(o, "greeting_enabled", json_false());
    set(o, "greeting_message", json_null());
    set(o, "email_address", json_null());
    set(o, "working_hours_enabled", json_false());
    set(o, "out_of_office_message", json_null());
    set(o, "timezone", jstr("UTC"));
    set(o, "enable_email_collect", json_true());
    set(o, "csat_survey_enabled", json_false());
    set(o, "allow_messages_after_resolved", json_true());
    set(o, "auto_assignment_config", json_object());
    set(o, "lock_to_single_conversation", json_boolean(in.lock_to_single_conversation));
    set(o, "portal_id", json_null());
    set(o, "sender_name_type", jstr("friendly"));
    set(o, "business_name", json_null());
    return o;
}

json_t* agent_json(const User& u, const AccountUser& au, std::int64_t account_id) {
    json_t* o = json_object();
    set(o, "id", json_integer(u.id));
    set(o, "account_id", json_integer(account_id));
    set(o, "availability_status", jstr(availability_status(au)));
    set(o, "auto_offline", json_boolean(au.auto_offline));
    set(o, "confirmed", json_true());
    set(o, "email", jstr(u.email));
    set(o, "provider", jstr("email"));
    set(o, "available_name", jstr(u.name));
    set(o, "name", jstr(u.name));
    set(o, "role", jstr(au.role));
    set(o, "thumbnail", jstr(""));
    return o;
}

json_t* profile_json(const Store& s, const User& u) {
    // The "active" account is the first membership, as for a fresh API user.
    const Account* active = nullptr;
    const AccountUser* active_au = nullptr;
    json_t* accounts = json_array();
    for (const auto& [id, a] : s.accounts) {
        const AccountUser* au = a.member(u.id);
        if (!au) continue;
        if (!active) { active = &a; active_au = au; }
        json_t* e = json_object();
        set(e, "id", json_integer(a.id));
        set(e, "name", jstr(a.name));
        set(e, "status", jstr("active"));
        set(e, "active_at", json_null());
        set(e, "role", jstr(au->role));
        json_t* perms = json_array();
        json_array_append_new(perms, jstr(au->role));
        set(e, "permissions", perms);
        set(e, "availability", jstr(au->availability));
        set(e, "availability_status", jstr(availability_status(*au)));
        set(e, "auto_offline", json_boolean(au->auto_offline));
        json_array_append_new(accounts, e);
    }
    json_t* o = json_object();
    set(o, "access_token", jstr(u.token));
    set(o, "account_id", active ? json_integer(active->id) : json_null());
    set(o, "available_name", jstr(u.name));
    set(o, "avatar_url", jstr(""));
    set(o, "confirmed", json_true());
    set(o, "display_name", json_null());
    set(o, "message_signature", json_null());
    set(o, "email", jstr(u.email));
    set(o, "id", json_integer(u.id));
    set(o, "inviter_id", json_null());
    set(o, "name", jstr(u.name));
    set(o, "provider", jstr("email"));
    set(o, "pubsub_token", jstr(u.pubsub_token));
    set(o, "role", active_au ? jstr(active_au->role) : json_null());
    set(o, "ui_settings", json_object());
    set(o, "uid", jstr(u.email));
    set(o, "type", json_null());
    set(o, "accounts", accounts);
    return o;
}

json_t* user_push_data(const Store& s, const User& u, std::int64_t account_id) {
    std::string status = "offline";
    auto a = s.accounts.find(account_id);
    if (a != s.accounts.end())
        if (const AccountUser* au = a->second.member(u.id)) status = availability_status(*au);
    json_t* o = json_object();
    set(o, "id", json_integer(u.id));
    set(o, "name", jstr(u.name));
    set(o, "available_name", jstr(u.name));
    set(o, "avatar_url", jstr(""));
    set(o, "type", jstr("user"));
    set(o, "availability_status", jstr(status));
    set(o, "thumbnail", jstr(""));
    return o;
}

json_t* user_webhook_data(const User& u) {
    json_t* o = json_object();
    set(o, "id", json_integer(u.id));
    set(o, "name", jstr(u.name));
    set(o, "email", jstr(u.email));
    set(o, "type", jstr("user"));
    return o;
}

json_t* contact_push_data(const Contact& c) {
    json_t* o = json_object();
    set(o, "additional_attributes", jobject_copy(c.additional_attributes.get()));
    set(o, "custom_attributes", jobject_copy(c.custom_attributes.get()));
    set(o, "email", jstr_opt(c.email));
    set(o, "id", json_integer(c.id));
    set(o, "identifier", jstr_opt(c.identifier));
    set(o, "name", jstr(c.name));
    set(o, "phone_number", jstr_opt(c.phone_number));
    set(o, "thumbnail", jstr(""));
    set(o, "blocked", json_boolean(c.blocked));
    set(o, "type", jstr("contact"));
    return o;
}

json_t* account_webhook_data(const Account& a) {
    json_t* o = json_object();
    set(o, "id", json_integer(a.id));
    set(o, "name", jstr(a.name));
    return o;
}

json_t* contact_webhook_data(const Store& s, const Contact& c) {
    json_t* o = json_object();
    auto a = s.accounts.find(c.account_id);
    set(o, "account", a == s.accounts.end() ? json_null() : account_webhook_data(a->second));
    set(o, "additional_attributes", jobject_copy(c.additional_attributes.get()));
    set(o, "avatar", jstr(""));
    set(o, "custom_attributes", jobject_copy(c.custom_attributes.get()));
    set(o, "email", jstr_opt(c.email));
    set(o, "id", json_integer(c.id));
    set(o, "identifier", jstr_opt(c.identifier));
    set(o, "name", jstr(c.name));
    set(o, "phone_number", jstr_opt(c.phone_number));
    set(o, "thumbnail", jstr(""));
    set(o, "blocked", json_boolean(c.blocked));
    return o;
}

static const Conversation* conversation_of(const Store& s, const Message& m) {
    auto it = s.conversations.find(m.conversation_id);
    return it == s.conversations.end() ? nullptr : &it->second;
}

static json_t* sender_push(const Store& s, const Message& m) {
    if (m.sender_type == "User") {
        auto u = s.users.find(m.sender_id);
        if (u != s.users.end()) return user_push_data(s, u->second, m.account_id);
    } else if (m.sender_type == "Contact") {
        auto c = s.contacts.find(m.sender_id);
        if (c != s.contacts.end()) return contact_push_data(c->second);
    }
    return nullptr;
}

static std::int64_t unread_count(const Store& s, const Conversation& c) {
    std::int64_t n = 0;
    auto it = s.messages_by_conversation.find(c.id);
    if (it == s.messages_by_conversation.end()) return 0;
    for (std::int64_t id : it->second) {
        auto m = s.messages.find(id);
        if (m != s.messages.end() && m->second.message_type == kIncoming && m->second.created_us > c.agent_last_seen_us)
            ++n;
    }
    return n;
}

json_t* message_push_data(const Store& s, const Message& m) {
    const Conversation* conv = conversation_of(s, m);
    json_t* o = json_object();
    set(o, "id", json_integer(m.id));
    set(o, "content", jstr_opt(m.content));
    set(o, "account_id", json_integer(m.account_id));
    set(o, "inbox_id", json_integer(m.inbox_id));
    set(o, "conversation_id", conv ? json_integer(conv->display_id) : json_null());
    set(o, "message_type", json_integer(m.message_type));
    set(o, "created_at", epoch_int(m.created_us));
    set(o, "updated_at", jstr(iso8601(m.updated_us)));
    set(o, "private", json_boolean(m.is_private));
    set(o, "status", jstr(m.status));
    set(o, "source_id", jstr_opt(m.source_id));
    set(o, "content_type", jstr(m.content_type));
    set(o, "content_attributes", jobject_copy(m.content_attributes.get()));
    set(o, "sender_type", m.sender_type.empty() ? json_null() : jstr(m.sender_type));
    set(o, "sender_id", m.sender_type.empty() ? json_null() : json_integer(m.sender_id));
    set(o, "external_source_ids", json_object());
    set(o, "additional_attributes", json_object());
    set(o, "processed_message_content", jstr_opt(m.content));
    set(o, "sentiment", json_object());
    if (conv) {
        json_t* cd = json_object();
        set(cd, "assignee_id", jint_opt(conv->assignee_id));
        set(cd, "unread_count", json_integer(unread_count(s, *conv)));
        set(cd, "last_activity_at", epoch_int(conv->last_activity_us));
        json_t* ci = json_object();
        auto cit = s.contact_inboxes.find(conv->contact_inbox_id);
        set(ci, "source_id", cit == s.contact_inboxes.end() ? json_null() : jstr(cit->second.source_id));
        set(cd, "contact_inbox", ci);
        set(o, "conversation", cd);
    }
    if (json_t* sender = sender_push(s, m)) set(o, "sender", sender);
    return o;
}

json_t* message_json(const Store& s, const Message& m, const std::optional<std::string>& echo_id) {
    const Conversation* conv = conversation_of(s, m);
    json_t* o = json_object();
    set(o, "id", json_integer(m.id));
    set(o, "content", jstr_opt(m.content));
    set(o, "inbox_id", json_integer(m.inbox_id));
    if (echo_id) set(o, "echo_id", jstr(*echo_id));
    set(o, "conversation_id", conv ? json_integer(conv->display_id) : json_null());
    set(o, "message_type", json_integer(m.message_type));
    set(o, "content_type", jstr(m.content_type));
    set(o, "status", jstr(m.status));
    set(o, "content_attributes", jobject_copy(m.content_attributes.get()));
    set(o, "created_at", epoch_int(m.created_us));
    set(o, "private", json_boolean(m.is_private));
    set(o, "source_id", jstr_opt(m.source_id));
    if (json_t* sender = sender_push(s, m)) set(o, "sender", sender);
    return o;
}

json_t* conversation_json(const Store& s, const Conversation& c) {
    json_t* meta = json_object();
    auto contact = s.contacts.find(c.contact_id);
    set(meta, "sender", contact == s.contacts.end() ? json_null() : contact_json(s, contact->second, false));
    auto inbox = s.inboxes.find(c.inbox_id);
    set(meta, "channel", inbox == s.inboxes.end() ? json_null() : jstr(inbox->second.channel_type));
    if (c.assignee_id) {
        auto u = s.users.find(*c.assignee_id);
        auto a = s.accounts.find(c.account_id);
        const AccountUser* au = a == s.accounts.end() ? nullptr : a->second.member(*c.assignee_id);
        if (u != s.users.end() && au) {
            set(meta, "assignee", agent_json(u->second, *au, c.account_id));
            set(meta, "assignee_type", jstr("User"));
        }
    }
    set(meta, "hmac_verified", json_false());

    json_t* o = json_object();
    set(o, "meta", meta);
    set(o, "id", json_integer(c.display_id));
    json_t* msgs = json_array();
    if (const Message* last = s.last_message(c.id, false)) json_array_append_new(msgs, message_push_data(s, *last));
    set(o, "messages", msgs);
    set(o, "account_id", json_integer(c.account_id));
    set(o, "uuid", jstr(c.uuid));
    set(o, "additional_attributes", jobject_copy(c.additional_attributes.get()));
    set(o, "agent_last_seen_at", epoch_int(c.agent_last_seen_us));
    set(o, "assignee_last_seen_at", epoch_int(c.assignee_last_seen_us));
    set(o, "can_reply", json_true());
    set(o, "contact_last_seen_at", epoch_int(c.contact_last_seen_us));
    set(o, "custom_attributes", jobject_copy(c.custom_attributes.get()));
    set(o, "inbox_id", json_integer(c.inbox_id));
    set(o, "labels", json_array());
    set(o, "muted", json_false());
    set(o, "snoozed_until", iso_or_null(c.snoozed_until_us));
    set(o, "status", jstr(c.status));
    set(o, "created_at", epoch_int(c.created_us));
    set(o, "updated_at", epoch_float(c.updated_us));
    set(o, "timestamp", epoch_int(c.last_activity_us));
    set(o, "first_reply_created_at", epoch_int(c.first_reply_us.value_or(0)));
    set(o, "unread_count", json_integer(unread_count(s, c)));
    const Message* last_na = s.last_message(c.id, true);
    set(o, "last_non_activity_message", last_na ? message_push_data(s, *last_na) : json_null());
    set(o, "last_activity_at", epoch_int(c.last_activity_us));
    set(o, "priority", jstr_opt(c.priority));
    set(o, "waiting_since", epoch_int(c.waiting_since_us.value_or(0)));
    set(o, "sla_policy_id", json_null());
    return o;
}

json_t* conversation_webhook_data(const Store& s, const Conversation& c) {
    json_t* o = json_object();
    set(o, "additional_attributes", jobject_copy(c.additional_attributes.get()));
    set(o, "can_reply", json_true());
    auto inbox = s.inboxes.find(c.inbox_id);
    set(o, "channel", inbox == s.inboxes.end() ? json_null() : jstr(inbox->second.channel_type));
    auto ci = s.contact_inboxes.find(c.contact_inbox_id);
    if (ci != s.contact_inboxes.end()) {
        json_t* cio = json_object();
        set(cio, "id", json_integer(ci->second.id));
        set(cio, "contact_id", json_integer(ci->second.contact_id));
        set(cio, "inbox_id", json_integer(ci->second.inbox_id));
        set(cio, "source_id", jstr(ci->second.source_id));
        set(cio, "created_at", jstr(iso8601(ci->second.created_us)));
        set(cio, "updated_at", jstr(iso8601(ci->second.updated_us)));
        set(cio, "hmac_verified", json_false());
        set(cio, "pubsub_token", jstr(ci->second.pubsub_token));
        set(o, "contact_inbox", cio);
    } else {
        set(o, "contact_inbox", json_null());
    }
    set(o, "id", json_integer(c.display_id));
    set(o, "inbox_id", json_integer(c.inbox_id));
    json_t* msgs = json_array();
    // Last non-private, non-activity message.
    auto mids = s.messages_by_conversation.find(c.id);
    if (mids != s.messages_by_conversation.end()) {
        for (auto r = mids->second.rbegin(); r != mids->second.rend(); ++r) {
            auto m = s.messages.find(*r);
            if (m == s.messages.end() || m->second.is_private || m->second.message_type == kActivity) continue;
            json_array_append_new(msgs, message_push_data(s, m->second));
            break;
        }
    }
    set(o, "messages", msgs);
    set(o, "labels", json_array());
    json_t* meta = json_object();
    auto contact = s.contacts.find(c.contact_id);
    set(meta, "sender", contact == s.contacts.end() ? json_null() : contact_push_data(contact->second));
    json_t* assignee = json_null();
    if (c.assignee_id) {
        auto u = s.users.find(*c.assignee_id);
        if (u != s.users.end()) {
            json_decref(assignee);
            assignee = user_push_data(s, u->second, c.account_id);
        }
    }
    bool assigned = !json_is_null(assignee);
    set(meta, "assignee", assignee);
    set(meta, "assignee_type", assigned ? jstr("User") : json_null());
    set(meta, "team", json_null());
    set(meta, "hmac_verified", json_false());
    set(o, "meta", meta);
    set(o, "status", jstr(c.status));
    set(o, "custom_attributes", jobject_copy(c.custom_attributes.get()));
    set(o, "snoozed_until", iso_or_null(c.snoozed_until_us));
    set(o, "unread_count", json_integer(unread_count(s, c)));
    set(o, "first_reply_created_at", iso_or_null(c.first_reply_us));
    set(o, "priority", jstr_opt(c.priority));
    set(o, "waiting_since", epoch_int(c.waiting_since_us.value_or(0)));
    set(o, "agent_last_seen_at", epoch_int(c.agent_last_seen_us));
    set(o, "contact_last_seen_at", epoch_int(c.contact_last_seen_us));
    set(o, "last_activity_at", epoch_int(c.last_activity_us));
    set(o, "timestamp", epoch_int(c.last_activity_us));
    set(o, "created_at", epoch_int(c.created_us));
    set(o, "updated_at", epoch_float(c.updated_us));
    auto a = s.accounts.find(c.account_id);
    set(o, "account", a == s.accounts.end() ? json_null() : account_webhook_data(a->second));
    return o;
}

json_t* message_webhook_data(const Store& s, const Message& m) {
    json_t* o = json_object();
    auto a = s.accounts.find(m.account_id);
    set(o, "account", a == s.accounts.end() ? json_null() : account_webhook_data(a->second));
    set(o, "additional_attributes", json_object());
    set(o, "content_attributes", jobject_copy(m.content_attributes.get()));
    set(o, "content_type", jstr(m.content_type));
    set(o, "content", jstr_opt(m.content));
    const Conversation* conv = conversation_of(s, m);
    set(o, "conversation", conv ? conversation_webhook_data(s, *conv) : json_null());
    set(o, "created_at", jstr(iso8601(m.created_us)));
    set(o, "id", json_integer(m.id));
    auto in = s.inboxes.find(m.inbox_id);
    json_t* inbox = json_object();
    if (in != s.inboxes.end()) {
        set(inbox, "id", json_integer(in->second.id));
        set(inbox, "name", jstr(in->second.name));
    }
    set(o, "inbox", inbox);
    set(o, "message_type", jstr(message_type_name(m.message_type)));
    set(o, "private", json_boolean(m.is_private));
    json_t* sender = json_null();
    if (m.sender_type == "User") {
        auto u = s.users.find(m.sender_id);
        if (u != s.users.end()) { json_decref(sender); sender = user_webhook_data(u->second); }
    } else if (m.sender_type == "Contact") {
        auto c = s.contacts.find(m.sender_id);
        if (c != s.contacts.end()) { json_decref(sender); sender = contact_webhook_data(s, c->second); }
    }
    set(o, "sender", sender);
    set(o, "source_id", jstr_opt(m.source_id));
    return o;
}

json_t* inbox_webhook_data(const Store& s, const Inbox& in) {
    json_t* o = inbox_json(in, false);
    json_t* channel = json_object();
    set(channel, "id", json_integer(in.channel_id));
    set(channel, "webhook_url", jstr(in.webhook_url));
    set(channel, "account_id", json_integer(in.account_id));
    set(channel, "identifier", jstr(in.identifier));
    set(channel, "hmac_mandatory", json_boolean(in.hmac_mandatory));
    set(channel, "additional_attributes", jobject_copy(in.additional_attributes.get()));
    set(o, "channel", channel);
    auto a = s.accounts.find(in.account_id);
    set(o, "account", a == s.accounts.end() ? json_null() : account_webhook_data(a->second));
    return o;
}

json_t* webhook_json(const Webhook& w) {
    json_t* o = json_object();
    set(o, "id", json_integer(w.id));
    set(o, "name", w.name.empty() ? json_null() : jstr(w.name));
    set(o, "url", jstr(w.url));
    set(o, "account_id", json_integer(w.account_id));
    json_t* subs = json_array();
    for (const auto& e : w.subscriptions) json_array_append_new(subs, jstr(e));
    set(o, "subscriptions", subs);
    set(o, "secret", jstr(w.secret));
    return o;
}

}  // namespace sim
