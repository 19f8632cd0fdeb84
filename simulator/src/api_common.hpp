// What every Application API handler gets: the authenticated user, the
// account, parsed parameters, and a place to put webhook jobs. Also the
// standard Chatwoot error bodies.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "app.hpp"
#include "events.hpp"
#include "http_types.hpp"
#include "json_util.hpp"
#include "state.hpp"

namespace sim {

struct ApiCtx {
    App& app;
    const HttpRequest& req;
    Store& s;
    Params& params;
    User* user = nullptr;
    Account* account = nullptr;
    AccountUser* membership = nullptr;
    std::vector<std::string> seg;  // path segments after /api/v1/accounts/{id}/
    Jobs jobs;
    Modes modes;                           // as they were when the request arrived
    std::shared_ptr<Params> params_owner;  // keeps `params` alive for a deferred second phase
    std::string token;                     // the access token the request authenticated with
    // Real-concurrency mode, first phase of a contact write: the store is locked shared,
    // the handler only validates and hands its write to defer_commit.
    bool deferred = false;

    bool admin() const { return membership && membership->role == "administrator"; }
    // InboxPolicy#show?: Current.user.assigned_inboxes.include?(inbox) (all of them for an administrator).
    bool sees(const Inbox& inbox) const {
        if (admin()) return true;
        for (std::int64_t id : inbox.member_ids)
            if (user && id == user->id) return true;
        return false;
    }
    std::int64_t account_id() const { return account ? account->id : 0; }
};

using ApiHandler = HttpResponse (*)(ApiCtx&);
using CommitFn = std::function<HttpResponse(ApiCtx&)>;

// Runs `commit` now (serialized mode: the caller holds the write lock) or, in the
// first phase of a real-mode write, after race_window_ms under the write lock,
// with authentication checked again: the gap between Rails' validation SELECT and
// its INSERT, in which racing requests overlap.
HttpResponse commit_or_defer(ApiCtx& c, CommitFn commit);

HttpResponse json_response(int status, json_t* body);  // steals body
HttpResponse not_found();
HttpResponse unauthorized(const char* message);
HttpResponse policy_denied();
HttpResponse unprocessable_error(const std::string& message);
HttpResponse internal_error();
HttpResponse routing_not_found();

// Page number as Kaminari reads it (>= 1), and `current_page` as Chatwoot
// echoes it (the raw parameter, e.g. the string "2", or 1 when absent).
std::int64_t page_number(const Params& p);
json_t* current_page_json(const Params& p);
std::int64_t id_segment(const std::string& seg);

// Handlers, one file per resource.
HttpResponse profile_show(ApiCtx& c);

HttpResponse inboxes_index(ApiCtx& c);
HttpResponse inboxes_show(ApiCtx& c);
HttpResponse inboxes_create(ApiCtx& c);
HttpResponse inboxes_update(ApiCtx& c);

HttpResponse contacts_index(ApiCtx& c);
HttpResponse contacts_search(ApiCtx& c);
HttpResponse contacts_filter(ApiCtx& c);
HttpResponse contacts_create(ApiCtx& c);
HttpResponse contacts_show(ApiCtx& c);
HttpResponse contacts_update(ApiCtx& c);
HttpResponse contacts_destroy(ApiCtx& c);
HttpResponse contacts_conversations(ApiCtx& c);
HttpResponse contacts_contact_inboxes_create(ApiCtx& c);
HttpResponse contacts_contactable_inboxes(ApiCtx& c);
HttpResponse contacts_destroy_custom_attributes(ApiCtx& c);
HttpResponse contacts_merge(ApiCtx& c);

HttpResponse conversations_index(ApiCtx& c);
HttpResponse conversations_meta(ApiCtx& c);
HttpResponse conversations_create(ApiCtx& c);
HttpResponse conversations_show(ApiCtx& c);
HttpResponse conversations_update(ApiCtx& c);
HttpResponse conversations_destroy(ApiCtx& c);
HttpResponse conversations_toggle_status(ApiCtx& c);
HttpResponse conversations_toggle_priority(ApiCtx& c);
HttpResponse conversations_assignments(ApiCtx& c);
HttpResponse conversations_custom_attributes(ApiCtx& c);

HttpResponse messages_index(ApiCtx& c);
HttpResponse messages_create(ApiCtx& c);

HttpResponse agents_index(ApiCtx& c);
HttpResponse agents_create(ApiCtx& c);
HttpResponse agents_update(ApiCtx& c);
HttpResponse agents_destroy(ApiCtx& c);

HttpResponse webhooks_index(ApiCtx& c);
HttpResponse webhooks_create(ApiCtx& c);
HttpResponse webhooks_update(ApiCtx& c);
HttpResponse webhooks_destroy(ApiCtx& c);

}  // namespace sim
