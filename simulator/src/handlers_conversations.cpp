// /api/v1/accounts/{id}/conversations (ConversationsController,
// ConversationFinder, AssignmentsController).
#include <algorithm>

#include "api_common.hpp"
#include "conversation_ops.hpp"
#include "util.hpp"
#include "views.hpp"

namespace sim {

namespace {

constexpr std::size_t kPerPage = 25;

Conversation* fetch(ApiCtx& c) { return c.s.conversation(c.account_id(), id_segment(c.seg[1])); }

struct Counts {
    std::int64_t mine = 0, assigned = 0, unassigned = 0, all = 0;
};

// Status/inbox/updated_within/q filters (the counts are taken after these).
std::vector<const Conversation*> base_scope(ApiCtx& c, bool& unpaginated) {
    std::string status = c.params.str("status").value_or("open");
    auto q = c.params.str("q");
    if (q && !is_blank(*q)) status = "all";  // a search disables the status filter
    auto inbox_id = c.params.integer("inbox_id");
    auto updated_within = c.params.integer("updated_within");
    unpaginated = updated_within.has_value();
    std::int64_t since_us = updated_within ? now_us() - *updated_within * 1000000 : 0;
    std::vector<const Conversation*> list;
    for (const auto& [id, conv] : c.s.conversations) {
        if (conv.account_id != c.account_id()) continue;
        if (status != "all" && conv.status != status) continue;
        if (inbox_id && conv.inbox_id != *inbox_id) continue;
        if (updated_within && conv.updated_us <= since_us) continue;
        if (q && !is_blank(*q)) {
            bool hit = false;
            auto mids = c.s.messages_by_conversation.find(conv.id);
            if (mids != c.s.messages_by_conversation.end())
                for (std::int64_t mid : mids->second) {
                    const Message& m = c.s.messages.at(mid);
                    if (m.content && sql_like(*m.content, "%" + strip(*q) + "%", true)) { hit = true; break; }
                }
            if (!hit) continue;
        }
        list.push_back(&conv);
    }
    return list;
}

Counts count(const std::vector<const Conversation*>& list, std::int64_t user_id) {
    Counts k;
    for (const Conversation* conv : list) {
        ++k.all;
        if (conv->assignee_id) ++k.assigned; else ++k.unassigned;
        if (conv->assignee_id == user_id) ++k.mine;
    }
    return k;
}

json_t* counts_json(const Counts& k) {
    json_t* m = json_object();
    json_object_set_new(m, "mine_count", json_integer(k.mine));
    json_object_set_new(m, "assigned_count", json_integer(k.assigned));
    json_object_set_new(m, "unassigned_count", json_integer(k.unassigned));
    json_object_set_new(m, "all_count", json_integer(k.all));
    return m;
}

void sort_conversations(std::vector<const Conversation*>& list, const std::string& sort_by) {
    auto by = [&](auto key, bool desc) {
        std::stable_sort(list.begin(), list.end(), [&](const Conversation* a, const Conversation* b) {
            auto ka = key(a), kb = key(b);
            return desc ? ka > kb : ka < kb;
        });
    };
    auto activity = [](const Conversation* c) { return c->last_activity_us; };
    auto created = [](const Conversation* c) { return c->created_us; };
    auto waiting = [](const Conversation* c) { return c->waiting_since_us.value_or(INT64_MAX); };
    auto priority = [](const Conversation* c) {
        const std::string p = c->priority.value_or("");
        return p == "urgent" ? 4 : p == "high" ? 3 : p == "medium" ? 2 : p == "low" ? 1 : 0;
    };
    if (sort_by == "last_activity_at_asc") by(activity, false);
    else if (sort_by == "created_at_desc") by(created, true);
    else if (sort_by == "created_at_asc") by(created, false);
    else if (sort_by == "priority_desc") by(priority, true);
    else if (sort_by == "priority_asc") by(priority, false);
    else if (sort_by == "waiting_since_desc") by(waiting, true);
    else if (sort_by == "waiting_since_asc") by(waiting, false);
    else by(activity, true);  // last_activity_at_desc, the default
}

// ArgumentError from an invalid enum value is unhandled: 500.
bool bad_enum(const std::optional<std::string>& v, bool (*valid)(const std::string&)) { return v && !valid(*v); }

}  // namespace

HttpResponse conversations_index(ApiCtx& c) {
    bool unpaginated = false;
    std::vector<const Conversation*> list = base_scope(c, unpaginated);
    Counts k = count(list, c.user->id);
    std::string assignee_type = c.params.str("assignee_type").value_or("all");
    if (assignee_type != "all") {
        std::vector<const Conversation*> kept;
        for (const Conversation* conv : list) {
            bool keep = assignee_type == "me"           ? conv->assignee_id == c.user->id
                        : assignee_type == "unassigned" ? !conv->assignee_id
                        : assignee_type == "assigned"   ? conv->assignee_id.has_value()
                                                        : true;
            if (keep) kept.push_back(conv);
        }
        list.swap(kept);
    }
    sort_conversations(list, c.params.str("sort_by").value_or("last_activity_at_desc"));
    std::size_t from = 0, to = list.size();
    if (!unpaginated) {
        std::size_t page = static_cast<std::size_t>(page_number(c.params));
        from = std::min(list.size(), (page - 1) * kPerPage);
        to = std::min(list.size(), from + kPerPage);
    }
    json_t* arr = json_array();
    for (std::size_t i = from; i < to; ++i) json_array_append_new(arr, conversation_json(c.s, *list[i]));
    json_t* data = json_object();
    json_object_set_new(data, "meta", counts_json(k));
    json_object_set_new(data, "payload", arr);
    json_t* o = json_object();
    json_object_set_new(o, "data", data);
    return json_response(200, o);
}

HttpResponse conversations_meta(ApiCtx& c) {
    bool unpaginated = false;
    std::vector<const Conversation*> list = base_scope(c, unpaginated);
    json_t* o = json_object();
    json_object_set_new(o, "meta", counts_json(count(list, c.user->id)));
    return json_response(200, o);
}

HttpResponse conversations_create(ApiCtx& c) {
    auto status = c.params.str("status");
    if (bad_enum(status, is_valid_status)) return internal_error();
    auto contact_id = c.params.integer("contact_id");
    auto inbox_id = c.params.integer("inbox_id");
    auto source_param = c.params.str("source_id");
    bool has_source = source_param && !is_blank(*source_param);

    Contact* contact = nullptr;
    Inbox* inbox = nullptr;
    const ContactInbox* ci = nullptr;
    if (contact_id && inbox_id) {
        contact = c.s.contact(c.account_id(), *contact_id);
        inbox = c.s.inbox(c.account_id(), *inbox_id);
        if (!contact || !inbox) return not_found();
        // ContactInboxBuilder: a fresh UUID source for API inboxes when none is sent.
        std::string source_id = has_source ? *source_param : uuid_v4();
        auto existing = c.s.contact_inbox_by_source.find({inbox->id, source_id});
        if (existing != c.s.contact_inbox_by_source.end()) {
            const ContactInbox& found = c.s.contact_inboxes.at(existing->second);
            if (found.contact_id != contact->id) return internal_error();  // RecordNotUnique
            ci = &found;
        }
        if (!ci) ci = &c.s.add_contact_inbox(contact->id, inbox->id, source_id);
    } else if (has_source) {
        // ContactInbox.find_by!(source_id:) -- looked up globally.
        for (const auto& [id, x] : c.s.contact_inboxes)
            if (x.source_id == *source_param) { ci = &x; break; }
        if (!ci) return not_found();
        inbox = c.s.inbox(c.account_id(), ci->inbox_id);
        contact = c.s.contact(c.account_id(), ci->contact_id);
        if (!inbox || !contact) return not_found();
    } else {
        return not_found();
    }

    if (inbox->lock_to_single_conversation) {
        const Conversation* last = nullptr;
        for (const auto& [id, conv] : c.s.conversations)
            if (conv.contact_inbox_id == ci->id) last = &conv;
        if (last) return json_response(200, conversation_json(c.s, *last));
    }

    std::int64_t now = now_us();
    Conversation conv;
    conv.id = c.s.next_conversation_id++;
    conv.account_id = c.account_id();
    conv.display_id = c.account->next_display_id++;
    conv.inbox_id = inbox->id;
    conv.contact_id = contact->id;
    conv.contact_inbox_id = ci->id;
    conv.uuid = uuid_v4();
    conv.status = contact->blocked ? "resolved" : status.value_or("open");
    if (auto assignee = c.params.integer("assignee_id"); assignee && c.account->member(*assignee)) conv.assignee_id = assignee;
    if (json_t* aa = c.params.raw("additional_attributes"); json_is_object(aa)) conv.additional_attributes = Json::adopt(json_deep_copy(aa));
    if (json_t* ca = c.params.raw("custom_attributes"); json_is_object(ca)) conv.custom_attributes = Json::adopt(json_deep_copy(ca));
    conv.created_us = conv.updated_us = conv.last_activity_us = now;
    Conversation& stored = c.s.conversations[conv.id] = conv;
    c.s.conversation_by_display[{stored.account_id, stored.display_id}] = stored.id;

    // The optional first message commits with the conversation, so only
    // after_create callbacks fire: no conversation_updated.
    Jobs message_jobs;
    json_t* msg = c.params.raw("message");
    if (json_is_object(msg)) {
        NewMessage nm;
        nm.content = json_scalar_text(json_object_get(msg, "content"));
        std::string type = json_scalar_text(json_object_get(msg, "message_type")).value_or("outgoing");
        nm.message_type = type == "incoming" ? kIncoming : type == "template" ? kTemplate : kOutgoing;
        if (nm.message_type == kIncoming) { nm.sender_type = "Contact"; nm.sender_id = contact->id; }
        else { nm.sender_type = "User"; nm.sender_id = c.user->id; }
        add_message(c.s, stored, std::move(nm), message_jobs);
    }
    emit_conversation_created(c.s, stored, c.jobs);
    for (auto& j : message_jobs)
        if (j.event != "conversation_updated" && j.event != "conversation_status_changed") c.jobs.push_back(std::move(j));
    return json_response(200, conversation_json(c.s, stored));
}

HttpResponse conversations_show(ApiCtx& c) {
    Conversation* conv = fetch(c);
    if (!conv) return not_found();
    return json_response(200, conversation_json(c.s, *conv));
}

HttpResponse conversations_update(ApiCtx& c) {
    Conversation* conv = fetch(c);
    if (!conv) return not_found();
    // permitted_update_params: only priority; anything else is ignored silently.
    if (c.params.has("priority")) {
        auto p = c.params.str("priority");
        if (p && !is_blank(*p) && !is_valid_priority(*p)) return internal_error();
        ConversationChange ch;
        change_priority(*conv, p && !is_blank(*p) ? p : std::nullopt, ch);
        commit_conversation(c.s, *conv, ch, c.jobs);
    }
    return json_response(200, conversation_json(c.s, *conv));
}

HttpResponse conversations_destroy(ApiCtx& c) {
    if (!c.admin()) return policy_denied();
    Conversation* conv = fetch(c);
    if (!conv) return not_found();
    c.s.delete_conversation(conv->id);
    return HttpResponse::empty(200);
}

HttpResponse conversations_toggle_status(ApiCtx& c) {
    Conversation* conv = fetch(c);
    if (!conv) return not_found();
    auto status = c.params.str("status");
    if (status && is_blank(*status)) status.reset();
    if (bad_enum(status, is_valid_status)) return internal_error();
    std::string next = status ? *status : (conv->status == "open" ? "resolved" : "open");
    std::optional<std::int64_t> snoozed_until;
    if (next == "snoozed") {
        if (auto su = c.params.integer("snoozed_until")) snoozed_until = *su * 1000000;
    }
    ConversationChange ch;
    change_status(*conv, next, snoozed_until, ch);
    // An agent-role user reopening an unassigned conversation takes it.
    if (next == "open" && c.membership->role == "agent" && !conv->assignee_id) change_assignee(*conv, c.user->id, ch);
    commit_conversation(c.s, *conv, ch, c.jobs);

    json_t* payload = json_object();
    json_object_set_new(payload, "success", json_true());
    json_object_set_new(payload, "conversation_id", json_integer(conv->display_id));
    json_object_set_new(payload, "current_status", jstr(conv->status));
    json_object_set_new(payload, "snoozed_until", iso_or_null(conv->snoozed_until_us));
    json_t* o = json_object();
    json_object_set_new(o, "meta", json_object());
    json_object_set_new(o, "payload", payload);
    return json_response(200, o);
}

HttpResponse conversations_toggle_priority(ApiCtx& c) {
    Conversation* conv = fetch(c);
    if (!conv) return not_found();
    auto p = c.params.str("priority");
    if (p && !is_blank(*p) && !is_valid_priority(*p)) return internal_error();
    ConversationChange ch;
    change_priority(*conv, p && !is_blank(*p) ? p : std::nullopt, ch);
    commit_conversation(c.s, *conv, ch, c.jobs);
    return HttpResponse::empty(200);
}

HttpResponse conversations_assignments(ApiCtx& c) {
    Conversation* conv = fetch(c);
    if (!conv) return not_found();
    if (c.params.has("assignee_id")) {
        // Current.account.users.find_by(id:): unknown or null unassigns.
        std::optional<std::int64_t> id = c.params.integer("assignee_id");
        const AccountUser* au = id ? c.account->member(*id) : nullptr;
        User* user = au ? c.s.user(*id) : nullptr;
        ConversationChange ch;
        change_assignee(*conv, user ? std::optional<std::int64_t>(user->id) : std::nullopt, ch);
        commit_conversation(c.s, *conv, ch, c.jobs);
        if (!user) return HttpResponse::json(200, "null");
        return json_response(200, agent_json(*user, *au, c.account_id()));
    }
    // team_id: the simulator has no teams, so any team is unknown: null.
    return HttpResponse::json(200, "null");
}

HttpResponse conversations_custom_attributes(ApiCtx& c) {
    Conversation* conv = fetch(c);
    if (!conv) return not_found();
    json_t* ca = c.params.raw("custom_attributes");
    Json next = Json::adopt(json_is_object(ca) ? json_deep_copy(ca) : json_object());
    if (!json_equal(next.get(), conv->custom_attributes.get())) {
        ConversationChange ch;
        ch.changes.add("custom_attributes", jobject_copy(conv->custom_attributes.get()), jobject_copy(next.get()));
        ch.touched = true;
        conv->custom_attributes = next;
        commit_conversation(c.s, *conv, ch, c.jobs);
    }
    json_t* o = json_object();
    json_object_set_new(o, "custom_attributes", jobject_copy(conv->custom_attributes.get()));
    return json_response(200, o);
}

}  // namespace sim
