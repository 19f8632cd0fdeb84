// Find-or-create of one party's Chatwoot contact, as a state machine that hands
// out one request at a time, so the worker can run many of them concurrently on
// libcurl's multi interface and the unit tests can drive it with scripted replies.
//
//   mapped id known  ->  PUT contacts/{id}          (1 request for an update)
//                         404: the contact was deleted or merged -> look it up again
//   otherwise        ->  POST contacts/filter       identifier OR email OR phone (both forms)
//                         found, ours or unowned -> PUT it (adopt)
//                         found, another party's -> share it, no write
//                         none -> POST contacts   (2 requests for a new contact)
//                                 422 "has already been taken" -> look up again, adopt
//
// Every step is safe to repeat: a retried job looks up before it creates.
#pragma once
#include "core/concurrent_runner.hpp"
#include "core/contact_draft.hpp"
#include "core/http_client.hpp"
#include "core/request_factory.hpp"
#include "core/retry_policy.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace chatwoot::core {

struct ContactSyncResult {
    Outcome outcome = Outcome::permanent;   // success, retry (whole job later) or permanent
    std::int64_t contact_id = 0;
    std::optional<std::string> source_id;    // contact_inbox source id, when Chatwoot gave one
    bool created = false;
    bool shared = false;                     // adopted a contact another party already owns
    std::string shared_with;                 // that contact's identifier
    bool throttled = false;                  // a 429 was seen: slow the tenant down
    std::optional<std::chrono::seconds> retry_after;
    int requests = 0;
    std::string error;                       // why it failed (retry or permanent)
    std::string notes;                       // fields left out on update conflicts, etc.
    std::string snapshot_json;               // what Chatwoot now holds for us (dados_sincronizados)
};

class ContactSync final : public HttpOperation {
public:
    ContactSync(const RequestFactory& requests, ContactDraft draft, std::optional<std::int64_t> mapped_contact_id,
                std::optional<std::int64_t> inbox_id);

    // The request to send now; empty once finished().
    std::optional<HttpRequest> next_request() const override;
    void on_response(const HttpResponse& response) override;
    bool finished() const { return state_ == State::done; }
    const ContactSyncResult& result() const { return result_; }
    // The contact as we want it in Chatwoot (the create body), built once: sent on a
    // create and stored as dados_sincronizados.enviado.
    const std::string& wanted_body() const { return wanted_body_; }
    // The party as drafted (its active flag and the fields left out, for the record).
    const ContactDraft& draft() const { return draft_; }

private:
    enum class State { update_mapped, lookup, create, update_found, done };

    void finish(Outcome outcome, std::string error = {});
    void handle_update(const HttpResponse& response, bool mapped);
    void handle_lookup(const HttpResponse& response);
    void handle_create(const HttpResponse& response);
    std::string update_body() const;

    const RequestFactory& requests_;
    ContactDraft draft_;
    std::optional<std::int64_t> inbox_id_;
    std::string wanted_body_;
    std::string lookup_body_;   // built up front too: the HTTP thread only sends
    std::string update_body_;   // rebuilt when a conflicting field is left out
    State state_;
    std::int64_t target_id_ = 0;
    int lookups_ = 0;
    bool drop_email_ = false;
    bool drop_phone_ = false;
    ContactSyncResult result_;
};

}  // namespace chatwoot::core

namespace chatwoot::core {

// A party was deleted (or desincronizar was called): tell Chatwoot it is inactive
// (custom attribute ativo = false), or delete the contact when the operator opted
// in (erasure requests under LGPD). One request; a 404 counts as done.
class ContactDeactivation final : public HttpOperation {
public:
    ContactDeactivation(const RequestFactory& requests, std::int64_t contact_id, bool delete_contact)
        : requests_(requests), contact_id_(contact_id), delete_(delete_contact) {}
    std::optional<HttpRequest> next_request() const override;
    void on_response(const HttpResponse& response) override;
    const ContactSyncResult& result() const { return result_; }

private:
    const RequestFactory& requests_;
    std::int64_t contact_id_;
    bool delete_;
    bool done_ = false;
    ContactSyncResult result_;
};

}  // namespace chatwoot::core
