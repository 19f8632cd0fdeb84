// Application API entry: faults, routing (as config/routes.rb), then the
// authentication chain of Api::V1::Accounts::BaseController.
#include <mutex>
#include <shared_mutex>

#include "api_common.hpp"
#include "util.hpp"

namespace sim {

HttpResponse json_response(int status, json_t* body) { return HttpResponse::json(status, dump_steal(body)); }
HttpResponse not_found() { return HttpResponse::json(404, R"({"error":"Resource could not be found"})"); }
HttpResponse unauthorized(const char* message) {
    json_t* o = json_object();
    json_object_set_new(o, "error", json_string(message));
    return json_response(401, o);
}
HttpResponse policy_denied() { return unauthorized("You are not authorized to do this action"); }
HttpResponse unprocessable_error(const std::string& message) {
    json_t* o = json_object();
    json_object_set_new(o, "error", jstr(message));
    return json_response(422, o);
}
HttpResponse internal_error() { return HttpResponse::json(500, R"({"status":500,"error":"Internal Server Error"})"); }
HttpResponse routing_not_found() {
    // Rails' public/404.html: unknown routes never reach a controller.
    HttpResponse r;
    r.status = 404;
    r.content_type = "text/html; charset=utf-8";
    r.body = "<!DOCTYPE html>\n<html>\n<head><title>The page you were looking for doesn't exist (404)</title></head>\n"
             "<body><h1>The page you were looking for doesn't exist.</h1></body>\n</html>\n";
    return r;
}

std::int64_t page_number(const Params& p) {
    std::optional<std::int64_t> v = p.integer("page");
    return v && *v > 0 ? *v : 1;
}

json_t* current_page_json(const Params& p) {
    json_t* v = p.raw("page");
    if (!v || json_is_null(v)) return json_integer(1);
    return json_deep_copy(v);
}

std::int64_t id_segment(const std::string& seg) { return ruby_to_i(seg); }

namespace {

struct Route {
    ApiHandler handler = nullptr;
    bool write = false;
};

// `seg` is what follows /api/v1/accounts/{id}/.
Route route_account(const std::vector<std::string>& seg, const std::string& m) {
    const bool get = m == "GET", post = m == "POST", del = m == "DELETE", put = m == "PUT" || m == "PATCH";
    const std::size_t n = seg.size();
    if (n == 0) return {};
    const std::string& r = seg[0];
    if (r == "inboxes") {
        if (n == 1 && get) return {inboxes_index, false};
        if (n == 1 && post) return {inboxes_create, true};
        if (n == 2 && get) return {inboxes_show, false};
        if (n == 2 && put) return {inboxes_update, true};
    } else if (r == "contacts") {
        if (n == 1 && get) return {contacts_index, false};
        if (n == 1 && post) return {contacts_create, true};
        if (n == 2 && seg[1] == "search" && get) return {contacts_search, false};
        if (n == 2 && seg[1] == "filter" && post) return {contacts_filter, false};
        if (n == 2 && get) return {contacts_show, false};
        if (n == 2 && put) return {contacts_update, true};
        if (n == 2 && del) return {contacts_destroy, true};
        if (n == 3 && seg[2] == "conversations" && get) return {contacts_conversations, false};
        if (n == 3 && seg[2] == "contact_inboxes" && post) return {contacts_contact_inboxes_create, true};
        if (n == 3 && seg[2] == "contactable_inboxes" && get) return {contacts_contactable_inboxes, false};
        if (n == 3 && seg[2] == "destroy_custom_attributes" && post) return {contacts_destroy_custom_attributes, true};
    } else if (r == "conversations") {
        if (n == 1 && get) return {conversations_index, false};
        if (n == 1 && post) return {conversations_create, true};
        if (n == 2 && seg[1] == "meta" && get) return {conversations_meta, false};
        if (n == 2 && get) return {conversations_show, false};
        if (n == 2 && put) return {conversations_update, true};
        if (n == 2 && del) return {conversations_destroy, true};
        if (n == 3 && seg[2] == "toggle_status" && post) return {conversations_toggle_status, true};
        if (n == 3 && seg[2] == "toggle_priority" && post) return {conversations_toggle_priority, true};
        if (n == 3 && seg[2] == "assignments" && post) return {conversations_assignments, true};
        if (n == 3 && seg[2] == "custom_attributes" && post) return {conversations_custom_attributes, true};
        if (n == 3 && seg[2] == "messages" && get) return {messages_index, false};
        if (n == 3 && seg[2] == "messages" && post) return {messages_create, true};
    } else if (r == "agents") {
        if (n == 1 && get) return {agents_index, false};
        if (n == 1 && post) return {agents_create, true};
        if (n == 2 && put) return {agents_update, true};
        if (n == 2 && del) return {agents_destroy, true};
    } else if (r == "webhooks") {
        if (n == 1 && get) return {webhooks_index, false};
        if (n == 1 && post) return {webhooks_create, true};
        if (n == 2 && put) return {webhooks_update, true};
        if (n == 2 && del) return {webhooks_destroy, true};
    }
    return {};
}

HttpResponse dispatch(App& app, const HttpRequest& req) {
    std::vector<std::string> parts = split_path(req.path);
    const bool profile = parts.size() == 3 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "profile";
    const bool in_account = parts.size() >= 5 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "accounts";
    Route route;
    std::vector<std::string> seg;
    if (profile) {
        if (req.method != "GET") return routing_not_found();
        route = {profile_show, false};
    } else if (in_account) {
        seg.assign(parts.begin() + 4, parts.end());
        route = route_account(seg, req.method);
        if (!route.handler) return routing_not_found();
    } else {
        return routing_not_found();
    }

    // Body: Rails answers 400 when a JSON body does not parse.
    Json body;
    if (!req.body.empty() && !is_blank(req.body)) {
        body = Json::parse(req.body);
        if (!body) return HttpResponse::json(400, R"({"status":400,"error":"Bad Request"})");
    }
    Params params(body.is_object() ? body.get() : nullptr, req.query);

    std::optional<std::int64_t> account_id;
    if (in_account) account_id = ruby_to_i(parts[3]);

    std::shared_lock<std::shared_mutex> rlock(app.store.mu, std::defer_lock);
    std::unique_lock<std::shared_mutex> wlock(app.store.mu, std::defer_lock);
    if (route.write) wlock.lock(); else rlock.lock();

    ApiCtx ctx{app, req, app.store, params, nullptr, nullptr, nullptr, {}, {}};
    ctx.seg = std::move(seg);

    // Authentication: the token header, else Devise's session check.
    std::optional<std::string> token = req.header("api_access_token");
    if (!token || is_blank(*token)) {
        HttpResponse r = HttpResponse::json(401, R"({"errors":["You need to sign in or sign up before continuing."]})");
        r.account_id = account_id;
        return r;
    }
    auto uit = app.store.user_by_token.find(*token);
    if (uit == app.store.user_by_token.end()) {
        HttpResponse r = unauthorized("Invalid Access Token");
        r.account_id = account_id;
        return r;
    }
    ctx.user = app.store.user(uit->second);
    if (in_account) {
        ctx.account = app.store.account(*account_id);
        if (!ctx.account) {
            HttpResponse r = not_found();
            r.account_id = account_id;
            return r;
        }
        ctx.membership = ctx.account->member(ctx.user->id);
        if (!ctx.membership) {
            HttpResponse r = unauthorized("You are not authorized to access this account");
            r.account_id = account_id;
            return r;
        }
    }
    HttpResponse resp = route.handler(ctx);
    resp.account_id = account_id;
    Jobs jobs = std::move(ctx.jobs);
    if (wlock.owns_lock()) wlock.unlock();
    if (rlock.owns_lock()) rlock.unlock();
    app.deliverer.enqueue(std::move(jobs));
    return resp;
}

}  // namespace

HttpResponse handle_api(App& app, const HttpRequest& req) {
    std::optional<HttpResponse> faulted = app.faults.intercept();
    HttpResponse resp = faulted ? std::move(*faulted) : dispatch(app, req);
    if (faulted) {
        std::vector<std::string> parts = split_path(req.path);
        if (parts.size() >= 4 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "accounts")
            resp.account_id = ruby_to_i(parts[3]);
    }
    if (resp.fault != "hang") {
        int latency = app.faults.latency_ms();
        if (latency > 0) resp.delay_ms += latency;
    }
    return resp;
}

}  // namespace sim
