#include "conversation_ops.hpp"

#include "util.hpp"
#include "views.hpp"

namespace sim {

bool is_valid_status(const std::string& s) {
    return s == "open" || s == "resolved" || s == "pending" || s == "snoozed";
}

bool is_valid_priority(const std::string& p) { return p == "low" || p == "medium" || p == "high" || p == "urgent"; }

static json_t* iso_opt(const std::optional<std::int64_t>& us) { return us ? jstr(iso8601(*us)) : json_null(); }

void change_status(Conversation& c, const std::string& status, std::optional<std::int64_t> snoozed_until_us,
                   ConversationChange& ch) {
    if (status != "snoozed") snoozed_until_us.reset();
    if (c.status != status) {
        ch.changes.add("status", jstr(c.status), jstr(status));
        c.status = status;
        ch.status_changed = true;
        ch.touched = true;
    }
    if (c.snoozed_until_us != snoozed_until_us) {
        ch.changes.add("snoozed_until", iso_opt(c.snoozed_until_us), iso_opt(snoozed_until_us));
        c.snoozed_until_us = snoozed_until_us;
        ch.touched = true;
    }
}

void change_assignee(Conversation& c, std::optional<std::int64_t> assignee_id, ConversationChange& ch) {
    if (c.assignee_id == assignee_id) return;
    ch.changes.add("assignee_id", jint_opt(c.assignee_id), jint_opt(assignee_id));
    c.assignee_id = assignee_id;
    ch.touched = true;
}

void change_priority(Conversation& c, std::optional<std::string> priority, ConversationChange& ch) {
    if (c.priority == priority) return;
    ch.changes.add("priority", jstr_opt(c.priority), jstr_opt(priority));
    c.priority = std::move(priority);
    ch.touched = true;
}

void commit_conversation(Store& s, Conversation& c, ConversationChange& ch, Jobs& out) {
    if (!ch.touched) return;
    std::int64_t now = now_us();
    ch.changes.add("updated_at", jstr(iso8601(c.updated_us)), jstr(iso8601(now)));
    c.updated_us = now;
    if (ch.status_changed) emit_conversation_status_changed(s, c, out);
    emit_conversation_updated(s, c, ch.changes, out);
}

Message& add_message(Store& s, Conversation& c, NewMessage in, Jobs& out) {
    std::int64_t now = now_us();
    Message m;
    m.id = s.next_message_id++;
    m.account_id = c.account_id;
    m.conversation_id = c.id;
    m.inbox_id = c.inbox_id;
    m.content = std::move(in.content);
    m.message_type = in.message_type;
    m.is_private = in.is_private;
    m.source_id = std::move(in.source_id);
    m.content_type = in.content_type;
    m.content_attributes = in.content_attributes;
    m.sender_type = in.sender_type;
    m.sender_id = in.sender_id;
    m.created_us = m.updated_us = now;
    Message& stored = s.messages[m.id] = m;
    s.messages_by_conversation[c.id].push_back(m.id);

    c.last_activity_us = now;
    emit_message(s, stored, "message_created", out);

    ConversationChange ch;
    if (stored.message_type == kIncoming) {
        // A customer message reopens resolved and snoozed conversations.
        if (c.status == "resolved" || c.status == "snoozed") change_status(c, "open", std::nullopt, ch);
        if (!c.waiting_since_us) {
            ch.changes.add("waiting_since", json_null(), jstr(iso8601(now)));
            c.waiting_since_us = now;
            ch.touched = true;
        }
    } else if (stored.message_type == kOutgoing && !stored.is_private && stored.sender_type == "User") {
        if (!c.first_reply_us) {
            ch.changes.add("first_reply_created_at", json_null(), jstr(iso8601(now)));
            c.first_reply_us = now;
            ch.touched = true;
        }
        if (c.waiting_since_us) {
            ch.changes.add("waiting_since", jstr(iso8601(*c.waiting_since_us)), json_null());
            c.waiting_since_us.reset();
            ch.touched = true;
        }
    }
    if (ch.touched) {
        commit_conversation(s, c, ch, out);
    } else {
        c.updated_us = now;  // last_activity_at bump saves the row, without a webhook
    }

    if (stored.message_type == kIncoming && stored.sender_type == "Contact") {
        auto ct = s.contacts.find(stored.sender_id);
        if (ct != s.contacts.end()) {
            Contact& contact = ct->second;
            ChangeSet cs;
            cs.add("last_activity_at", contact.last_activity_us ? jstr(iso8601(*contact.last_activity_us)) : json_null(),
                   jstr(iso8601(now)));
            cs.add("updated_at", jstr(iso8601(contact.updated_us)), jstr(iso8601(now)));
            contact.last_activity_us = now;
            contact.updated_us = now;
            emit_contact_updated(s, contact, cs, out);
        }
    }
    return stored;
}

}  // namespace sim
