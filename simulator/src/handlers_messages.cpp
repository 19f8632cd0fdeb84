// /api/v1/accounts/{id}/conversations/{display_id}/messages (MessagesController,
// MessageFinder, Messages::MessageBuilder).
#include <algorithm>

#include "api_common.hpp"
#include "conversation_ops.hpp"
#include "util.hpp"
#include "views.hpp"

namespace sim {

HttpResponse messages_index(ApiCtx& c) {
    Conversation* conv = c.s.conversation(c.account_id(), id_segment(c.seg[1]));
    if (!conv) return not_found();
    auto before = c.params.integer("before");
    auto after = c.params.integer("after");
    bool filter_internal = c.params.str("filter_internal_messages").value_or("") == "true";
    std::vector<const Message*> all;
    auto mids = c.s.messages_by_conversation.find(conv->id);
    if (mids != c.s.messages_by_conversation.end())
        for (std::int64_t id : mids->second) {
            const Message& m = c.s.messages.at(id);
            if (filter_internal && (m.is_private || m.message_type == kActivity)) continue;
            if (before && m.id >= *before) continue;
            if (after && m.id <= *after) continue;
            all.push_back(&m);
        }
    // Ascending output; the newest 20 without `after`, else the oldest 100 (1000 with both).
    std::vector<const Message*> page;
    if (after) {
        std::size_t limit = before ? 1000 : 100;
        page.assign(all.begin(), all.begin() + std::min(all.size(), limit));
    } else {
        std::size_t from = all.size() > 20 ? all.size() - 20 : 0;
        page.assign(all.begin() + from, all.end());
    }
    json_t* meta = json_object();
    json_object_set_new(meta, "labels", json_array());
    json_object_set_new(meta, "additional_attributes", jobject_copy(conv->additional_attributes.get()));
    auto contact = c.s.contacts.find(conv->contact_id);
    json_object_set_new(meta, "contact", contact == c.s.contacts.end() ? json_null() : contact_push_data(contact->second));
    if (conv->assignee_id) {
        User* u = c.s.user(*conv->assignee_id);
        const AccountUser* au = c.account->member(*conv->assignee_id);
        if (u && au) json_object_set_new(meta, "assignee", agent_json(*u, *au, c.account_id()));
    }
    auto seen = [](std::int64_t us) { return us ? jstr(iso8601(us)) : json_null(); };
    json_object_set_new(meta, "agent_last_seen_at", seen(conv->agent_last_seen_us));
    json_object_set_new(meta, "assignee_last_seen_at", seen(conv->assignee_last_seen_us));
    json_t* arr = json_array();
    for (const Message* m : page) json_array_append_new(arr, message_json(c.s, *m));
    json_t* o = json_object();
    json_object_set_new(o, "meta", meta);
    json_object_set_new(o, "payload", arr);
    return json_response(200, o);
}

HttpResponse messages_create(ApiCtx& c) {
    Conversation* conv = c.s.conversation(c.account_id(), id_segment(c.seg[1]));
    if (!conv) return not_found();
    Inbox* inbox = c.s.inbox(c.account_id(), conv->inbox_id);
    // Any builder exception becomes 422 {"error": message}.
    std::string type = c.params.str("message_type").value_or("outgoing");
    int message_type;
    if (type == "outgoing" || type == "1") message_type = kOutgoing;
    else if (type == "incoming" || type == "0") message_type = kIncoming;
    else if (type == "template" || type == "3") message_type = kTemplate;
    else if (type == "activity" || type == "2") message_type = kActivity;
    else return unprocessable_error("'" + type + "' is not a valid message_type");
    if (message_type == kIncoming && (!inbox || inbox->channel_type != "Channel::Api"))
        return unprocessable_error("Incoming messages are only allowed in Api inboxes");
    auto content = c.params.str("content");
    if (content && utf8_length(*content) > 150000)
        return unprocessable_error("Validation failed: Content is too long (maximum is 150000 characters)");
    // Limits: CONVERSATION_MESSAGE_PER_MINUTE_LIMIT (200) per conversation.
    std::int64_t now = now_us(), recent = 0;
    auto mids = c.s.messages_by_conversation.find(conv->id);
    if (mids != c.s.messages_by_conversation.end())
        for (auto r = mids->second.rbegin(); r != mids->second.rend(); ++r) {
            if (c.s.messages.at(*r).created_us < now - 60000000) break;
            ++recent;
        }
    if (recent >= 200) return unprocessable_error("Validation failed: Too many messages");

    NewMessage nm;
    nm.content = content;
    nm.message_type = message_type;
    nm.is_private = c.params.boolean("private").value_or(false);
    nm.source_id = c.params.str("source_id");
    if (auto ct = c.params.str("content_type")) nm.content_type = *ct;
    if (json_t* attrs = c.params.raw("content_attributes"); json_is_object(attrs))
        nm.content_attributes = Json::adopt(json_deep_copy(attrs));
    if (message_type == kIncoming) {
        nm.sender_type = "Contact";
        nm.sender_id = conv->contact_id;
    } else {
        nm.sender_type = "User";
        nm.sender_id = c.user->id;
    }
    Message& m = add_message(c.s, *conv, std::move(nm), c.jobs);
    auto echo = c.params.str("echo_id");  // echoed, never stored
    return json_response(200, message_json(c.s, m, echo));
}

}  // namespace sim
