// /api/v1/accounts/{id}/inboxes (API-channel inboxes only).
#include "api_common.hpp"
#include "util.hpp"
#include "validation.hpp"
#include "views.hpp"

namespace sim {

HttpResponse inboxes_index(ApiCtx& c) {
    json_t* arr = json_array();
    for (const auto& [id, in] : c.s.inboxes)
        if (in.account_id == c.account_id() && c.sees(in))  // policy_scope: the agent's own inboxes
            json_array_append_new(arr, inbox_json(in, c.admin()));
    json_t* o = json_object();
    json_object_set_new(o, "payload", arr);
    return json_response(200, o);
}

HttpResponse inboxes_show(ApiCtx& c) {
    Inbox* in = c.s.inbox(c.account_id(), id_segment(c.seg[1]));
    if (!in) return not_found();
    if (!c.sees(*in)) return policy_denied();  // authorize @inbox, :show?
    return json_response(200, inbox_json(*in, c.admin()));
}

static std::optional<std::string> channel_webhook_url(const Params& p) {
    json_t* channel = p.raw("channel");
    if (!json_is_object(channel)) return std::nullopt;
    return json_scalar_text(json_object_get(channel, "webhook_url"));
}

HttpResponse inboxes_create(ApiCtx& c) {
    if (!c.admin()) return policy_denied();
    json_t* channel = c.params.raw("channel");
    if (!json_is_object(channel)) return unprocessable_error("param is missing or the value is empty: channel");
    std::optional<std::string> type = json_scalar_text(json_object_get(channel, "type"));
    if (!type || *type != "api") {
        // Other channel types need provider credentials the simulator does not model.
        return unprocessable_error("Invalid channel type");
    }
    std::string name = c.params.str("name").value_or("");
    if (is_blank(name)) {
        ValidationErrors e;
        e.add("name", "Name can't be blank");
        return e.response();
    }
    Inbox& in = c.s.add_api_inbox(c.account_id(), name, channel_webhook_url(c.params).value_or(""));
    if (json_t* hm = json_object_get(channel, "hmac_mandatory")) in.hmac_mandatory = json_truthy_cast(hm);
    emit_inbox(c.s, in, "inbox_created", nullptr, c.jobs);
    return json_response(200, inbox_json(in, true));
}

HttpResponse inboxes_update(ApiCtx& c) {
    if (!c.admin()) return policy_denied();
    Inbox* in = c.s.inbox(c.account_id(), id_segment(c.seg[1]));
    if (!in) return not_found();
    ChangeSet changes;
    if (auto name = c.params.str("name"); name && *name != in->name) {
        changes.add("name", jstr(in->name), jstr(*name));
        in->name = *name;
    }
    if (auto url = channel_webhook_url(c.params); url && *url != in->webhook_url) {
        changes.add("webhook_url", jstr(in->webhook_url), jstr(*url));
        in->webhook_url = *url;
    }
    if (!changes.empty()) {
        std::int64_t now = now_us();
        changes.add("updated_at", jstr(iso8601(in->updated_us)), jstr(iso8601(now)));
        in->updated_us = now;
        emit_inbox(c.s, *in, "inbox_updated", &changes, c.jobs);
    }
    return json_response(200, inbox_json(*in, true));
}

}  // namespace sim
