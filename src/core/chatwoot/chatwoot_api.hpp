// The Chatwoot Application API calls the extension makes, built on an
// HttpTransport. Knows URLs, the auth header and response shapes
// (see shared/reference/chatwoot-api.md); knows nothing about PostgreSQL.
#pragma once
#include "core/http/blocking_runner.hpp"
#include "core/connections/connection_config.hpp"
#include "core/http/http_client.hpp"
#include "core/chatwoot/request_factory.hpp"

#include <functional>
#include <optional>
#include <string>

namespace chatwoot::core {

class Json;  // core/json.hpp; kept out of this header so PostgreSQL files can include it

// What chatwoot.testar_conexao() reports: {ok, status, account_id, inbox, erro}.
struct ConnectionReport {
    bool ok = false;
    long status = 0;                  // last HTTP status seen, 0 if none
    std::int64_t account_id = 0;
    std::string account_name;
    std::int64_t user_id = 0;         // the token's user: recognises our own echoes later
    std::string user_role;            // "administrator" or "agent" in this account
    struct Inbox {
        std::int64_t id = 0;
        std::string name;
        std::string channel_type;
    };
    std::optional<Inbox> inbox;       // the default inbox, when one is configured
    std::string erro;                 // Portuguese, safe to show (never contains the key)
    std::string aviso;                // a warning when ok (e.g. not an administrator token)
    // {"ok":..,"status":..,"account_id":..,"inbox":..,"erro":..} plus `extra` members
    // (a JSON object's inner text, e.g. "\"origem\":\"guc\""), as JSON text.
    std::string to_json_text(const std::string& extra_origin = {}) const;
};

// The default inbox as the worker needs it: its channel decides which parties a
// contact inbox can be made for.
struct InboxProbe {
    bool ok = false;
    bool refused = false;       // 401/403: the connection itself is refused
    std::string channel_type;
    std::string error;          // Portuguese, not yet redacted
};

// GET /api/v1/accounts/{id}/inboxes/{inbox_id} as an operation of the worker's HTTP
// thread: the request is paced with the jobs' (Chatwoot counts it too).
class InboxProbeOperation final : public HttpOperation {
public:
    InboxProbeOperation(ConnectionConfig config, std::int64_t inbox_id)
        : requests_(std::move(config)), inbox_id_(inbox_id) {}
    std::optional<HttpRequest> next_request() const override;
    void on_response(const HttpResponse& response) override;
    std::int64_t inbox_id() const { return inbox_id_; }
    // Meaningful once the operation came back finished (an unanswered probe is an error).
    const InboxProbe& result() const { return result_; }

private:
    RequestFactory requests_;
    std::int64_t inbox_id_;
    bool answered_ = false;
    InboxProbe result_{false, false, {}, "inbox: sem resposta"};
};

class ChatwootApi {
public:
    // `aborted` (optional) is asked while a reply is parsed, as the transport asks it
    // while one is received.
    ChatwootApi(ConnectionConfig config, HttpTransport& transport, std::function<bool()> aborted = {})
        : config_(config), requests_(std::move(config)), transport_(transport), aborted_(std::move(aborted)) {}

    // GET /api/v1/profile, then the default inbox (or the inbox list) of the account.
    ConnectionReport test_connection();

    const RequestFactory& requests() const { return requests_; }

private:
    ConnectionReport run_test();
    // Fills report.erro and returns false when the response is not a usable JSON answer.
    bool check_response(const HttpResponse& response, ConnectionReport& report, const char* what,
                        Json& parsed) const;

    ConnectionConfig config_;
    RequestFactory requests_;
    HttpTransport& transport_;
    std::function<bool()> aborted_;
};

}  // namespace chatwoot::core
