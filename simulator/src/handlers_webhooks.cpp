// /api/v1/accounts/{id}/webhooks (administrators only).
#include "api_common.hpp"
#include "util.hpp"
#include "validation.hpp"
#include "views.hpp"

namespace sim {

// params.require(:webhook).permit(:url, :name, subscriptions: []), fed by
// wrap_parameters from a flat body.
static json_t* webhook_params(ApiCtx& c) {
    json_t* nested = c.params.raw("webhook");
    if (json_is_object(nested)) return nested;
    json_t* o = c.params.object();
    if (json_object_get(o, "url") || json_object_get(o, "name") || json_object_get(o, "subscriptions") ||
        json_object_get(o, "inbox_id"))
        return o;
    return nullptr;
}

static void apply_params(Webhook& w, json_t* p) {
    if (auto url = json_scalar_text(json_object_get(p, "url"))) w.url = *url;
    if (json_t* n = json_object_get(p, "name")) w.name = json_scalar_text(n).value_or("");
    json_t* subs = json_object_get(p, "subscriptions");
    if (subs) {
        w.subscriptions.clear();
        if (json_is_array(subs)) {
            size_t i;
            json_t* e;
            json_array_foreach(subs, i, e) {
                std::string v = json_scalar_text(e).value_or("");
                bool dup = false;
                for (const auto& x : w.subscriptions) dup = dup || x == v;
                if (!dup) w.subscriptions.push_back(v);
            }
        } else {
            w.subscriptions.push_back("\x01invalid");  // a scalar is not an Array: invalid
        }
    }
}

static HttpResponse wrapped(const Webhook& w) {
    json_t* inner = json_object();
    json_object_set_new(inner, "webhook", webhook_json(w));
    json_t* o = json_object();
    json_object_set_new(o, "payload", inner);
    return json_response(200, o);
}

HttpResponse webhooks_index(ApiCtx& c) {
    if (!c.admin()) return policy_denied();
    json_t* arr = json_array();
    for (const auto& [id, w] : c.s.webhooks)
        if (w.account_id == c.account_id()) json_array_append_new(arr, webhook_json(w));
    json_t* inner = json_object();
    json_object_set_new(inner, "webhooks", arr);
    json_t* o = json_object();
    json_object_set_new(o, "payload", inner);
    return json_response(200, o);
}

HttpResponse webhooks_create(ApiCtx& c) {
    if (!c.admin()) return policy_denied();
    json_t* p = webhook_params(c);
    if (!p) return unprocessable_error("param is missing or the value is empty: webhook");
    Webhook w;
    w.account_id = c.account_id();
    apply_params(w, p);
    ValidationErrors errors;
    validate_webhook(c.s, w, errors);
    if (!errors.empty()) return errors.response();
    w.id = c.s.next_webhook_id++;
    w.secret = random_token();
    c.s.webhooks[w.id] = w;
    return wrapped(w);
}

HttpResponse webhooks_update(ApiCtx& c) {
    if (!c.admin()) return policy_denied();
    auto it = c.s.webhooks.find(id_segment(c.seg[1]));
    if (it == c.s.webhooks.end() || it->second.account_id != c.account_id()) return not_found();
    json_t* p = webhook_params(c);
    if (!p) return unprocessable_error("param is missing or the value is empty: webhook");
    Webhook w = it->second;
    apply_params(w, p);
    ValidationErrors errors;
    validate_webhook(c.s, w, errors);
    if (!errors.empty()) return errors.response();
    it->second = w;
    return wrapped(w);
}

HttpResponse webhooks_destroy(ApiCtx& c) {
    if (!c.admin()) return policy_denied();
    auto it = c.s.webhooks.find(id_segment(c.seg[1]));
    if (it == c.s.webhooks.end() || it->second.account_id != c.account_id()) return not_found();
    c.s.webhooks.erase(it);
    return HttpResponse::empty(200);
}

}  // namespace sim
