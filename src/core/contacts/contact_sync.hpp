// One party's Chatwoot contact, as state machines that hand out one request at a
// time, so the worker can run many of them concurrently on libcurl's multi interface
// and the unit tests can drive them with scripted replies.
//
// Ownership. The party whose identifier (zattar_<tipo>_<id>) a contact carries owns
// it; another party of the same person (client and witness) that maps to it shares
// it and never writes the owner's identity (identifier, custom attributes).
//
// ContactSync, the party's row exists:
//   mapping marked removed (its id belonged to a removed party)
//                     -> release that contact first (ContactRelease's rules), then as unmapped
//   mapped, owner  -> PUT contacts/{id} (1 request): fields the app emptied are cleared
//   mapped, sharer -> GET contacts/{id} (1 request): still there; nothing written
//                     404 on either: deleted or merged in Chatwoot -> look it up again
//   unmapped       -> POST contacts/filter   identifier OR e-mail OR phone (both forms)
//                     ours, unowned or released -> PUT it (adopt, owner)
//                     another identifier, the same person -> share it, no write
//                       (same person: both documents equal; without both, the same name)
//                     another identifier, another person (a shared office e-mail or
//                       phone) -> this party gets its own contact, the shared field left out
//                     none -> POST contacts (2 requests for a new contact)
//                             422 taken -> look up again; an identifier still not found
//                             (crm_v2 filters only leads) -> GET contacts/search, page
//                             by page (a LIKE on the identifier: exact match on our side)
//   an owner's PUT that clears the document -> POST destroy_custom_attributes (Chatwoot
//   merges custom_attributes: a null would stay as a key)
//   then, when the contact has no contact inbox for the default inbox and the inbox's
//   channel can take this party (Api: always; WhatsApp/SMS: a phone; Email: an
//   e-mail) -> POST contacts/{id}/contact_inboxes
//
// ContactRelease, the party was removed (DELETE, TRUNCATE): another active party
// still maps to the contact -> nothing is deactivated (an owner hands the identity
// to that party: PUT its identifier); otherwise PUT ativo false with the identifier
// renamed (released_identifier) so a new party with the same id never matches it,
// or DELETE with chatwoot_sync.delete_contacts.
//
// ContactDeactivation (desincronizar): PUT ativo false unless another active party
// shares the contact.
//
// A 404 on the release or the deactivation is not "gone": a Chatwoot merge destroys
// the mergee and the survivor inherits its identifier, e-mail, phone and custom
// attributes where its own are blank (ContactMergeAction). The identifier is looked up
// (filter, then search): a survivor that carries it gets the same step. A DELETE of a
// contact that is online (422 "... is Online") is retried.
//
// Every step is safe to repeat: a retried job looks up before it creates. So a reply
// the machine cannot read is a retry, never a guess: a lookup (filter, search, the
// sharer's GET) answered 2xx with a body that is not JSON, has no payload, or holds a
// contact whose id is not a positive integer is never read as "no contact found" (a
// create after it could duplicate one); a create whose reply names no contact id is
// retried, and the retry looks up first (the first create may have succeeded). A
// redirect is never followed: a retry that names its Location (retry_policy.hpp).
#pragma once
#include "core/http/blocking_runner.hpp"
#include "core/contacts/contact_draft.hpp"
#include "core/http/http_client.hpp"
#include "core/chatwoot/request_factory.hpp"
#include "core/outbox/retry_policy.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chatwoot::core {

class Json;  // core/json.hpp: kept out of headers PostgreSQL files include

struct PartyRef {
    std::string tipo_entidade;
    std::int64_t entidade_id = 0;
    std::string identifier() const { return contact_identifier(tipo_entidade, entidade_id); }
};

// Which optional fields the last body this party sent carried.
struct SentFields {
    bool email = false;
    bool phone = false;
    bool document = false;
};

// What the worker knows of the party's Chatwoot side before the job runs.
struct ContactLink {
    std::optional<std::int64_t> contact_id;  // the mapping's contact
    bool owner = false;                      // the contact carries this party's identifier
    bool removed = false;                    // the mapping is a removed party's: release before use
    bool others_active = false;              // another active party maps to the same contact
    std::optional<PartyRef> successor;       // that party, to take over the identity
    bool has_contact_inbox = false;          // a contact inbox for the default inbox exists
    SentFields last_sent;
};

// The default inbox and what its channel needs (ContactInboxBuilder derives the
// source id from the channel: docs/SIMULATOR.md cites it).
enum class InboxChannel { api, needs_phone, needs_email, unsupported };
InboxChannel inbox_channel_of(const std::string& channel_type);
struct InboxTarget {
    std::int64_t id = 0;
    InboxChannel channel = InboxChannel::api;
    bool accepts(const ContactDraft& draft) const;
};

// Exclusive keys (TransferEngine) for a person and a contact.
std::vector<std::string> person_keys(const ContactDraft& draft);
std::string contact_key(std::int64_t contact_id);

// Whether a contact that holds the party's e-mail or phone under another party's
// identifier is the same person: both documents known -> they are equal; otherwise the
// names are equal, without case and extra spaces. A shared office e-mail or phone of
// two people is not one person.
bool same_person(const ContactDraft& draft, const std::string& contact_name, const std::string& contact_document);

// How long a search refused by its own per-account throttle (429 without Retry-After)
// waits: to the next epoch-aligned 60 s window of rack-attack, plus a margin.
std::chrono::seconds wait_for_next_window(std::int64_t now_epoch);

// Pages of GET contacts/search read at most per lookup (15 contacts each).
constexpr int kMaxSearchPages = 20;

struct ContactSyncResult {
    Outcome outcome = Outcome::permanent;   // success, retry (whole job later), permanent or refused
    std::int64_t contact_id = 0;            // 0: the party maps to no contact now
    bool owner = false;
    bool created = false;
    std::optional<std::string> source_id;   // the contact inbox's source id, when one was made or seen
    std::optional<std::int64_t> inbox_id;   // ...and its inbox
    std::optional<std::int64_t> released_contact;  // a removed party's contact released on the way
    std::optional<PartyRef> new_owner;      // took over a released contact's identity
    bool throttled = false;                 // a 429 reached the job (after the engine's resends)
    bool aborted = false;                   // cut by the worker itself: no evidence against the job
    std::optional<std::chrono::seconds> retry_after;
    int requests = 0;
    std::string error;                      // why it failed (retry or permanent)
    std::string notes;                      // fields left out, contacts re-mapped, etc.
    std::string snapshot_json;              // what Chatwoot now holds for us (dados_sincronizados)
};

// Common ground of the three operations: the request count and how a reply that is a
// transport error, 5xx, 429 or 401/403 ends the job.
class ContactOperation : public HttpOperation {
public:
    const ContactSyncResult& result() const { return result_; }
    bool finished() const { return done_; }

protected:
    explicit ContactOperation(const RequestFactory& requests) : requests_(requests) {}
    // Counts the reply; true when it ended the job (retry, refused, an action denied).
    // `search`: a contacts search, throttled apart from the rest (its 429 waits for the window).
    bool ended_by(const HttpResponse& response, bool search = false, bool denial_ends = true);
    void finish(Outcome outcome, std::string error = {});
    // A piece of a reply for a message: the connection's secrets redacted from all of
    // it before it is cut to `max_bytes` (recorded_text).
    std::string quoted(std::string_view reply_text, std::size_t max_bytes) const;
    // "<what>HTTP <status>: <Chatwoot's message or the body, quoted>".
    std::string http_error(const char* what, const HttpResponse& response) const;
    const RequestFactory& requests_;
    ContactSyncResult result_;
    bool done_ = false;
};

// The release of a removed party's contact, as a sequence of at most one request.
struct ReleaseStep {
    enum class Kind { none, transfer, deactivate, remove } kind = Kind::none;
    std::int64_t contact_id = 0;
    std::string body;  // PUT body for transfer / deactivate
};
ReleaseStep plan_release(const ContactLink& link, const std::string& removed_identifier, bool delete_contact);

// After a 404: the contact that now carries `identifier` (a merge survivor), by the
// filter, then page by page through the search (the filter of crm_v2 lists only leads).
class SurvivorLookup {
public:
    explicit SurvivorLookup(std::string identifier) : identifier_(std::move(identifier)) {}
    HttpRequest request(const RequestFactory& requests) const;
    bool searching() const { return searching_; }
    enum class Step { again, none, found, unreadable };
    // A 2xx reply: found (its id in `found_id`), none, or ask `request()` again.
    Step read(const HttpResponse& response, std::int64_t& found_id, std::string& why);

private:
    std::string identifier_;
    bool searching_ = false;
    int page_ = 1;
};

class ContactSync final : public ContactOperation {
public:
    ContactSync(const RequestFactory& requests, ContactDraft draft, ContactLink link,
                std::optional<InboxTarget> inbox, bool delete_contacts = false);

    std::optional<HttpRequest> next_request() const override;
    void on_response(const HttpResponse& response) override;
    std::vector<std::string> exclusive_keys() const override;
    // The create body, built once: sent on a create and stored as dados_sincronizados.enviado.
    const std::string& wanted_body() const { return wanted_body_; }
    // The body the owner last wrote (create or PUT); empty when nothing was written
    // (a sharer). Stored as dados_sincronizados.enviado: the next sync reads from it
    // which fields Chatwoot holds from us, to clear those the app empties.
    const std::string& sent_body() const { return sent_body_; }
    const ContactDraft& draft() const { return draft_; }

private:
    enum class State { release, release_lookup, update_mapped, check_shared, lookup, create, search, update_found,
                       clear_document, add_inbox, done };

    void after_release();
    void handle_update(const HttpResponse& response, bool mapped);
    void handle_check(const HttpResponse& response);
    void handle_lookup(const HttpResponse& response);
    void handle_create(const HttpResponse& response);
    void handle_search(const HttpResponse& response);
    void handle_add_inbox(const HttpResponse& response);
    void handle_release(const HttpResponse& response);
    void after_owner_write(const Json& contact);
    void rebuild_create_body();
    bool takes_over(const Json& contact);
    void adopt(const Json& contact);
    void owner_written(std::int64_t contact_id, const Json& contact);
    std::string owner_body() const;
    std::string unreadable_lookup(const char* what, const HttpResponse& response, const std::string& why) const;

    ContactDraft draft_;
    ContactLink link_;
    std::optional<InboxTarget> inbox_;
    ReleaseStep release_;
    std::string wanted_body_;
    std::string lookup_body_;   // built up front too: the HTTP thread only sends
    std::string update_body_;   // rebuilt when a conflicting field is left out
    std::string sent_body_;
    State state_;
    std::int64_t target_id_ = 0;
    int lookups_ = 0;
    bool drop_email_ = false;
    bool drop_phone_ = false;
    bool create_with_inbox_ = false;
    bool identifier_taken_ = false;
    bool clear_document_ = false;   // the owner's PUT is followed by destroy_custom_attributes
    int search_page_ = 1;
    std::optional<SurvivorLookup> survivor_;  // the release met a 404
    std::string written_reply_;               // the owner's PUT reply, read after clear_document
};

class ContactRelease final : public ContactOperation {
public:
    ContactRelease(const RequestFactory& requests, const PartyRef& party, const ContactLink& link, bool delete_contact);
    std::optional<HttpRequest> next_request() const override;
    void on_response(const HttpResponse& response) override;
    std::vector<std::string> exclusive_keys() const override;
    bool needs_request() const { return step_.kind != ReleaseStep::Kind::none; }

private:
    PartyRef party_;
    ContactLink link_;
    ReleaseStep step_;
    bool delete_contact_ = false;
    std::optional<SurvivorLookup> survivor_;
    bool looked_up_ = false;
};

class ContactDeactivation final : public ContactOperation {
public:
    ContactDeactivation(const RequestFactory& requests, const PartyRef& party, std::int64_t contact_id,
                        bool others_active);
    std::optional<HttpRequest> next_request() const override;
    void on_response(const HttpResponse& response) override;
    std::vector<std::string> exclusive_keys() const override { return {contact_key(contact_id_)}; }
    bool needs_request() const { return !others_active_; }

private:
    PartyRef party_;
    std::int64_t contact_id_;
    bool others_active_;
    std::optional<SurvivorLookup> survivor_;
    bool looked_up_ = false;
};

}  // namespace chatwoot::core
