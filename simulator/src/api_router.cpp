// Application API entry: rack-attack throttles, faults, routing (as
// config/routes.rb), then the authentication chain of
// Api::V1::Accounts::BaseController.
#include <ctime>
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
    bool two_phase = false;  // validates, then writes after the race window (real-concurrency mode)
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
        if (n == 1 && post) return {contacts_create, true, true};
        if (n == 2 && seg[1] == "search" && get) return {contacts_search, false};
        if (n == 2 && seg[1] == "filter" && post) return {contacts_filter, false};
        if (n == 2 && get) return {contacts_show, false};
        if (n == 2 && put) return {contacts_update, true, true};
        if (n == 2 && del) return {contacts_destroy, true};
        if (n == 3 && seg[2] == "conversations" && get) return {contacts_conversations, false};
        if (n == 3 && seg[2] == "contact_inboxes" && post) return {contacts_contact_inboxes_create, true};
        if (n == 3 && seg[2] == "contactable_inboxes" && get) return {contacts_contactable_inboxes, false};
        if (n == 3 && seg[2] == "destroy_custom_attributes" && post) return {contacts_destroy_custom_attributes, true};
    } else if (r == "actions") {
        if (n == 2 && seg[1] == "contact_merge" && post) return {contacts_merge, true};  // config/routes.rb
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

// Api::BaseController#authenticate_by_access_token? reads request.headers[:api_access_token]
// or [:HTTP_API_ACCESS_TOKEN]. Rack files both `api_access_token:` and `Api-Access-Token:`
// under HTTP_API_ACCESS_TOKEN; when both arrive, Puma (>= 6.4.3) discards the underscore one.
// Behind a proxy that drops underscore headers only the hyphen form arrives.
std::optional<std::string> access_token(const HttpRequest& req, bool proxy_drops_underscores) {
    if (auto h = req.header("Api-Access-Token")) return h;
    if (proxy_drops_underscores) return std::nullopt;
    return req.header("api_access_token");
}

std::optional<std::int64_t> path_account_id(const std::string& path) {
    std::vector<std::string> parts = split_path(path);
    if (parts.size() >= 4 && parts[0] == "api" && parts[1] == "v1" && parts[2] == "accounts")
        return ruby_to_i(parts[3]);
    return std::nullopt;
}

// Token, then account, then membership: the order of the before_actions.
std::optional<HttpResponse> authenticate(ApiCtx& ctx, const std::optional<std::string>& token,
                                         const std::optional<std::int64_t>& account_id) {
    if (!token || is_blank(*token))  // Devise's session check, no token
        return HttpResponse::json(401, R"({"errors":["You need to sign in or sign up before continuing."]})");
    auto uit = ctx.s.user_by_token.find(*token);
    if (uit == ctx.s.user_by_token.end()) return unauthorized("Invalid Access Token");
    ctx.user = ctx.s.user(uit->second);
    ctx.token = *token;
    if (account_id) {
        ctx.account = ctx.s.account(*account_id);
        if (!ctx.account) return not_found();
        ctx.membership = ctx.account->member(ctx.user->id);
        if (!ctx.membership) return unauthorized("You are not authorized to access this account");
    }
    return std::nullopt;
}

bool is_2xx(int status) { return status >= 200 && status < 300; }

HttpResponse dispatch(App& app, const HttpRequest& req, const Modes& modes) {
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
    auto params = std::make_shared<Params>(body.is_object() ? body.get() : nullptr, req.query);

    std::optional<std::int64_t> account_id;
    if (in_account) account_id = ruby_to_i(parts[3]);

    const bool deferred = route.two_phase && modes.concurrency == Concurrency::real;
    std::shared_lock<std::shared_mutex> rlock(app.store.mu, std::defer_lock);
    std::unique_lock<std::shared_mutex> wlock(app.store.mu, std::defer_lock);
    if (route.write && !deferred) wlock.lock(); else rlock.lock();

    ApiCtx ctx{app, req, app.store, *params, nullptr, nullptr, nullptr, std::move(seg), {}, modes, params, {}, deferred};

    if (auto denied = authenticate(ctx, access_token(req, modes.proxy_drops_underscore_headers), account_id)) {
        denied->account_id = account_id;
        return std::move(*denied);
    }
    HttpResponse resp = route.handler(ctx);
    resp.account_id = account_id;
    if (route.write && !resp.then && is_2xx(resp.status)) resp.write_applied = true;
    Jobs jobs = std::move(ctx.jobs);
    if (wlock.owns_lock()) wlock.unlock();
    if (rlock.owns_lock()) rlock.unlock();
    app.deliverer.enqueue(std::move(jobs));
    return resp;
}

// rack-attack's default throttled responder (no Retry-After: Chatwoot leaves
// throttled_response_retry_after_header false).
HttpResponse throttled(const char* fault) {
    HttpResponse r;
    r.status = 429;
    r.content_type = "text/plain";
    r.body = "Retry later\n";
    r.fault = fault;
    return r;
}

// The account id of %r{/api/v1/accounts/(?<account_id>\d+)/contacts/search} anywhere in the path.
std::optional<std::string> search_throttle_account(const std::string& path) {
    static const std::string head = "/api/v1/accounts/", tail = "/contacts/search";
    for (std::size_t at = path.find(head); at != std::string::npos; at = path.find(head, at + 1)) {
        std::size_t d = at + head.size(), e = d;
        while (e < path.size() && path[e] >= '0' && path[e] <= '9') ++e;
        if (e > d && path.compare(e, tail.size(), tail) == 0) return path.substr(d, e - d);
    }
    return std::nullopt;
}

// Throttles in the order config/initializers/rack_attack.rb defines them; the first
// that matches answers (Configuration#throttled? is an any?, so a request throttled
// by req/ip is not counted by the later ones).
std::optional<HttpResponse> rate_limited(App& app, const HttpRequest& req, const Modes& m) {
    if (!m.rate_limit && !m.search_rate_limit) return std::nullopt;
    const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
    if (m.rate_limit && app.limiter.hit("req/ip:" + req.peer_ip, *m.rate_limit, now)) return throttled("rate_limit");
    if (m.search_rate_limit) {
        if (auto account = search_throttle_account(req.path))
            if (app.limiter.hit("contacts/search:" + *account, *m.search_rate_limit, now))
                return throttled("search_rate_limit");
    }
    return std::nullopt;
}

// Last steps of every API answer: a write's lost reply (after_apply) and latency.
// A deferred second phase gets them when it has run.
HttpResponse finish_api(App& app, const HttpRequest& req, HttpResponse resp) {
    if (resp.then) {
        std::function<HttpResponse()> inner = std::move(resp.then);
        App* a = &app;
        const HttpRequest* r = &req;
        resp.then = [a, r, inner]() { return finish_api(*a, *r, inner()); };
        return resp;
    }
    if (resp.write_applied) {
        if (auto action = app.faults.after_apply(req.path)) {
            const int applied = resp.status;
            if (*action == "drop") {
                resp.action = HttpResponse::Action::drop;
                resp.status = 0;
                resp.body.clear();
                resp.fault = "after_apply_drop";
            } else {
                std::optional<std::int64_t> account = resp.account_id;
                resp = internal_error();
                resp.account_id = account;
                resp.fault = "after_apply_500";
            }
            resp.applied_status = applied;
        }
    }
    if (resp.fault != "hang") {
        int latency = app.faults.latency_ms();
        if (latency > 0) resp.delay_ms += latency;
    }
    return resp;
}

}  // namespace

HttpResponse commit_or_defer(ApiCtx& c, CommitFn commit) {
    if (!c.deferred) return commit(c);
    HttpResponse r;
    r.delay_ms = c.modes.race_window_ms;
    App* app = &c.app;
    const HttpRequest* req = &c.req;
    std::shared_ptr<Params> params = c.params_owner;
    std::vector<std::string> seg = c.seg;
    Modes modes = c.modes;
    std::string token = c.token;
    std::optional<std::int64_t> account_id;
    if (c.account) account_id = c.account->id;
    r.then = [app, req, params, seg, modes, token, account_id, commit]() {
        std::unique_lock<std::shared_mutex> lk(app->store.mu);
        ApiCtx ctx{*app, *req, app->store, *params, nullptr, nullptr, nullptr, seg, {}, modes, params, {}, false};
        // The user, account and membership are looked up again: a reset may have run meanwhile.
        if (auto denied = authenticate(ctx, token, account_id)) {
            denied->account_id = account_id;
            return std::move(*denied);
        }
        HttpResponse resp = commit(ctx);
        resp.account_id = account_id;
        if (is_2xx(resp.status)) resp.write_applied = true;
        Jobs jobs = std::move(ctx.jobs);
        lk.unlock();
        app->deliverer.enqueue(std::move(jobs));
        return resp;
    };
    return r;
}

HttpResponse handle_api(App& app, const HttpRequest& req) {
    const Modes modes = app.modes.get();
    if (std::optional<HttpResponse> limited = rate_limited(app, req, modes)) {
        limited->account_id = path_account_id(req.path);
        return finish_api(app, req, std::move(*limited));
    }
    std::optional<HttpResponse> faulted = app.faults.intercept(req);
    if (faulted) {
        faulted->account_id = path_account_id(req.path);
        return finish_api(app, req, std::move(*faulted));
    }
    return finish_api(app, req, dispatch(app, req, modes));
}

}  // namespace sim
