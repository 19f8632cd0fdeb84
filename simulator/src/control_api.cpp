// Control port (/__sim/...): no auth, JSON, never affected by faults.
#include <mutex>
#include <shared_mutex>

#include "api_common.hpp"
#include "conversation_ops.hpp"
#include "util.hpp"
#include "views.hpp"

namespace sim {

namespace {

HttpResponse ok(json_t* body) { return json_response(200, body); }
HttpResponse bad_request(const std::string& msg) {
    json_t* o = json_object();
    json_object_set_new(o, "error", jstr(msg));
    return json_response(400, o);
}
HttpResponse ctl_not_found() { return HttpResponse::json(404, R"({"error":"not found"})"); }

std::uint64_t query_u64(const HttpRequest& req, const char* key, std::uint64_t fallback) {
    for (const auto& [k, v] : req.query)
        if (k == key) {
            auto n = parse_int(v);
            if (n && *n >= 0) return static_cast<std::uint64_t>(*n);
        }
    return fallback;
}

HttpResponse state_counts(App& app) {
    std::shared_lock<std::shared_mutex> lk(app.store.mu);
    const Store& s = app.store;
    json_t* accounts = json_object();
    for (const auto& [id, a] : s.accounts) {
        std::int64_t contacts = 0, conversations = 0, messages = 0, webhooks = 0, inboxes = 0;
        for (const auto& [cid, c] : s.contacts) contacts += c.account_id == id;
        for (const auto& [cid, c] : s.conversations) conversations += c.account_id == id;
        for (const auto& [mid, m] : s.messages) messages += m.account_id == id;
        for (const auto& [wid, w] : s.webhooks) webhooks += w.account_id == id;
        for (const auto& [iid, in] : s.inboxes) inboxes += in.account_id == id;
        json_t* o = json_object();
        json_object_set_new(o, "name", jstr(a.name));
        json_object_set_new(o, "contacts", json_integer(contacts));
        json_object_set_new(o, "conversations", json_integer(conversations));
        json_object_set_new(o, "messages", json_integer(messages));
        json_object_set_new(o, "agents", json_integer(static_cast<json_int_t>(a.users.size())));
        json_object_set_new(o, "webhooks", json_integer(webhooks));
        json_object_set_new(o, "inboxes", json_integer(inboxes));
        json_object_set_new(accounts, std::to_string(id).c_str(), o);
    }
    json_t* o = json_object();
    json_object_set_new(o, "accounts", accounts);
    json_object_set_new(o, "pending_webhook_deliveries", json_integer(static_cast<json_int_t>(app.deliverer.pending())));
    json_object_set_new(o, "api_listening", json_boolean(app.api && app.api->running()));
    json_object_set_new(o, "last_request_seq", json_integer(static_cast<json_int_t>(app.request_log.last_seq())));
    return ok(o);
}

HttpResponse dump_contacts(App& app, std::int64_t account_id) {
    std::shared_lock<std::shared_mutex> lk(app.store.mu);
    if (!app.store.accounts.count(account_id)) return ctl_not_found();
    json_t* arr = json_array();
    for (const auto& [id, c] : app.store.contacts)
        if (c.account_id == account_id) json_array_append_new(arr, contact_json(app.store, c, true));
    return ok(arr);
}

HttpResponse dump_conversations(App& app, std::int64_t account_id) {
    std::shared_lock<std::shared_mutex> lk(app.store.mu);
    if (!app.store.accounts.count(account_id)) return ctl_not_found();
    json_t* arr = json_array();
    for (const auto& [id, c] : app.store.conversations)
        if (c.account_id == account_id) json_array_append_new(arr, conversation_json(app.store, c));
    return ok(arr);
}

// A non-API inbox, which the Application API here cannot create (it would need the
// provider's credentials): {"name": "...", "channel_type": "Channel::Whatsapp"}.
HttpResponse create_inbox(App& app, std::int64_t account_id, const std::string& body) {
    Json parsed = Json::parse(body.empty() ? "{}" : body);
    if (!parsed.is_object()) return bad_request("body must be a JSON object");
    json_t* name = json_object_get(parsed.get(), "name");
    json_t* type = json_object_get(parsed.get(), "channel_type");
    json_t* medium = json_object_get(parsed.get(), "medium");
    if (!json_is_string(name) || is_blank(json_string_value(name))) return bad_request("name must be a non-blank string");
    std::string t = json_is_string(type) ? json_string_value(type) : "";
    if (t.rfind("Channel::", 0) != 0 || t.size() == 9) return bad_request("channel_type must be a string like \"Channel::Whatsapp\"");
    std::string m;
    if (medium && !json_is_null(medium)) {
        m = json_is_string(medium) ? json_string_value(medium) : "";
        if (t != "Channel::TwilioSms" || (m != "sms" && m != "whatsapp"))
            return bad_request("medium is \"sms\" or \"whatsapp\", for Channel::TwilioSms only");
    }
    Jobs jobs;
    json_t* out;
    {
        std::unique_lock<std::shared_mutex> lk(app.store.mu);
        if (!app.store.accounts.count(account_id)) return ctl_not_found();
        Inbox& in = app.store.add_inbox(account_id, json_string_value(name), t);
        if (!m.empty()) in.medium = m;
        emit_inbox(app.store, in, "inbox_created", nullptr, jobs);
        out = inbox_json(in, true);
    }
    app.deliverer.enqueue(std::move(jobs));
    return ok(out);
}

// The agents of an inbox: {"user_ids": [2, ...]} replaces them.
HttpResponse set_inbox_members(App& app, std::int64_t account_id, std::int64_t inbox_id, const std::string& body) {
    Json parsed = Json::parse(body.empty() ? "{}" : body);
    json_t* ids = json_object_get(parsed.get(), "user_ids");
    if (!json_is_array(ids)) return bad_request("user_ids must be an array of user ids");
    std::unique_lock<std::shared_mutex> lk(app.store.mu);
    Inbox* in = app.store.inbox(account_id, inbox_id);
    if (!in) return ctl_not_found();
    in->member_ids.clear();
    size_t i;
    json_t* v;
    json_array_foreach(ids, i, v) if (json_is_integer(v)) in->member_ids.push_back(json_integer_value(v));
    return ok(json_integer(static_cast<json_int_t>(in->member_ids.size())));
}

HttpResponse incoming_message(App& app, std::int64_t account_id, std::int64_t display_id, const std::string& body) {
    Json parsed = Json::parse(body.empty() ? "{}" : body);
    if (!parsed.is_object()) return bad_request("body must be a JSON object");
    Jobs jobs;
    json_t* out;
    {
        std::unique_lock<std::shared_mutex> lk(app.store.mu);
        Conversation* conv = app.store.conversation(account_id, display_id);
        if (!conv) return ctl_not_found();
        NewMessage nm;
        nm.content = json_scalar_text(json_object_get(parsed.get(), "content"));
        nm.source_id = json_scalar_text(json_object_get(parsed.get(), "source_id"));
        nm.message_type = kIncoming;
        nm.sender_type = "Contact";
        nm.sender_id = conv->contact_id;
        Message& m = add_message(app.store, *conv, std::move(nm), jobs);
        out = message_json(app.store, m);
    }
    app.deliverer.enqueue(std::move(jobs));
    return ok(out);
}

}  // namespace

HttpResponse handle_control(App& app, const HttpRequest& req) {
    std::vector<std::string> p = split_path(req.path);
    const std::string& m = req.method;
    if (p.empty() || p[0] != "__sim") return ctl_not_found();
    std::size_t n = p.size();
    if (n == 2 && p[1] == "health" && m == "GET") return HttpResponse::json(200, R"({"ok":true})");
    if (n == 2 && p[1] == "faults") {
        if (m == "GET") return ok(app.faults.to_json());
        if (m == "PUT" || m == "PATCH" || m == "POST") {
            Json body = Json::parse(req.body.empty() ? "{}" : req.body);
            if (!body) return bad_request("body is not JSON");
            if (auto err = app.faults.apply(body.get())) return bad_request(*err);
            app.sync_listening();
            return ok(app.faults.to_json());
        }
    }
    if (n == 3 && p[1] == "faults" && p[2] == "clear" && m == "POST") {
        app.faults.clear();
        app.sync_listening();
        return ok(app.faults.to_json());
    }
    if (n == 2 && p[1] == "requests") {
        if (m == "GET") return ok(app.request_log.to_json(query_u64(req, "since", 0), query_u64(req, "limit", 1000000)));
        if (m == "DELETE") {
            app.request_log.clear();
            return HttpResponse::json(200, R"({"ok":true})");
        }
    }
    if (n == 2 && p[1] == "webhook_deliveries") {
        if (m == "GET") return ok(app.deliverer.log_json(query_u64(req, "since", 0)));
        if (m == "DELETE") {
            app.deliverer.clear();
            return HttpResponse::json(200, R"({"ok":true})");
        }
    }
    if (n == 2 && p[1] == "mode") {
        if (m == "GET") return ok(modes_to_json(app.modes.get()));
        if (m == "PUT" || m == "PATCH" || m == "POST") {
            Json body = Json::parse(req.body.empty() ? "{}" : req.body);
            if (!body) return bad_request("body is not JSON");
            if (auto err = app.modes.apply(body.get())) return bad_request(*err);
            return ok(modes_to_json(app.modes.get()));
        }
    }
    if (n == 2 && p[1] == "sign" && m == "POST") {
        // The signing the webhook deliverer does, on given inputs (known-answer tests).
        Json body = Json::parse(req.body.empty() ? "{}" : req.body);
        json_t* secret = body ? json_object_get(body.get(), "secret") : nullptr;
        json_t* ts = body ? json_object_get(body.get(), "timestamp") : nullptr;
        json_t* payload = body ? json_object_get(body.get(), "body") : nullptr;
        if (!json_is_string(secret) || !json_is_integer(ts) || !json_is_string(payload))
            return bad_request("expected {\"secret\": str, \"timestamp\": int, \"body\": str}");
        json_t* o = json_object();
        for (const auto& [k, v] : signed_delivery_headers(std::string(json_string_value(secret), json_string_length(secret)),
                                                          json_integer_value(ts),
                                                          std::string(json_string_value(payload), json_string_length(payload))))
            json_object_set_new(o, k.c_str(), jstr(v));
        return ok(o);
    }
    if (n == 2 && p[1] == "state" && m == "GET") return state_counts(app);
    if (n == 2 && p[1] == "reset" && m == "POST") {
        app.reset();
        return HttpResponse::json(200, R"({"ok":true})");
    }
    if (n >= 4 && p[1] == "accounts") {
        auto account_id = parse_int(p[2]);
        if (!account_id) return ctl_not_found();
        if (n == 4 && p[3] == "contacts" && m == "GET") return dump_contacts(app, *account_id);
        if (n == 4 && p[3] == "conversations" && m == "GET") return dump_conversations(app, *account_id);
        if (n == 4 && p[3] == "inboxes" && m == "POST") return create_inbox(app, *account_id, req.body);
        if (n == 6 && p[3] == "inboxes" && p[5] == "members" && (m == "PUT" || m == "POST")) {
            auto inbox_id = parse_int(p[4]);
            if (!inbox_id) return ctl_not_found();
            return set_inbox_members(app, *account_id, *inbox_id, req.body);
        }
        if (n == 6 && p[3] == "conversations" && p[5] == "incoming" && m == "POST") {
            auto display_id = parse_int(p[4]);
            if (!display_id) return ctl_not_found();
            return incoming_message(app, *account_id, *display_id, req.body);
        }
    }
    return ctl_not_found();
}

}  // namespace sim
