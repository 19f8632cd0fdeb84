#include "core/chatwoot/chatwoot_api.hpp"

#include "core/contacts/contact_sync.hpp"
#include "core/json/json.hpp"
#include "core/outbox/retry_policy.hpp"
#include "core/text/text.hpp"

namespace chatwoot::core {

std::string ConnectionReport::to_json_text(const std::string& origin) const {
    Json out = Json::object();
    out.set("ok", Json::boolean(ok));
    out.set("status", Json::integer(status));
    out.set("account_id", account_id > 0 ? Json::integer(account_id) : Json::null());
    if (!account_name.empty()) out.set("account_name", account_name);
    if (user_id > 0) out.set("user_id", Json::integer(user_id));
    if (!user_role.empty()) out.set("role", user_role);
    if (inbox) {
        Json summary = Json::object();
        summary.set("id", Json::integer(inbox->id));
        summary.set("name", inbox->name);
        summary.set("channel_type", inbox->channel_type);
        out.set("inbox", summary);
    } else {
        out.set("inbox", Json::null());
    }
    out.set("erro", erro.empty() ? Json::null() : Json::string(erro));
    if (!aviso.empty()) out.set("aviso", aviso);
    if (!origin.empty()) out.set("origem", origin);
    return out.dump();
}

static void add_warning(ConnectionReport& report, const std::string& warning) {
    report.aviso += (report.aviso.empty() ? "" : "; ") + warning;
}

static std::string error_field(const Json& body) {
    for (const char* key : {"error", "message"}) {
        if (auto text = body[key].as_string()) return *text;
    }
    return {};
}

namespace {
constexpr const char* kCancelled = "teste cancelado";  // a cancel, statement_timeout or shutdown
}  // namespace

bool ChatwootApi::check_response(const HttpResponse& response, ConnectionReport& report, const char* what,
                                 Json& parsed) const {
    report.status = response.status;
    std::string base = normalized_base_url(config_.api_url);
    switch (response.error) {
        case TransportError::none: break;
        case TransportError::timed_out:
            report.erro = "sem resposta de " + base + " em " + std::to_string(config_.timeout_ms) + " ms (" + what + ")";
            return false;
        case TransportError::connect_failed:
            report.erro = "não foi possível conectar a " + base + ": " + response.error_text;
            return false;
        case TransportError::tls_failed:
            report.erro = "falha de TLS com " + base + " (certificado verificado): " + response.error_text;
            return false;
        case TransportError::aborted:
            report.erro = kCancelled;
            return false;
        case TransportError::too_large:
        case TransportError::forbidden_address:
            report.erro = std::string(what) + ": " + response.error_text;
            return false;
        default:
            report.erro = "conexão com " + base + " falhou: " + response.error_text;
            return false;
    }
    std::string parse_error;
    parsed = Json::parse(response.body, &parse_error, aborted_);
    if (!parsed && parse_error == "aborted") {
        report.erro = kCancelled;
        return false;
    }
    if (response.status == 401 || response.status == 403) {
        std::string detail = parsed ? error_field(parsed) : std::string();
        std::string code = std::to_string(response.status);
        if (detail == "You are not authorized to access this account")
            report.erro = "o token não tem acesso à conta " + std::to_string(config_.account_id) + " (" + code + ")";
        else if (detail == "Invalid Access Token")
            report.erro = "token de API inválido (" + code + ": " + detail + ")";
        else
            report.erro = refusal_reason(response, {config_.api_key, config_.webhook_secret});
        return false;
    }
    if (is_redirect(response)) {  // never followed: say where it pointed
        report.erro = std::string(what) + ": " + redirect_reason(response, {config_.api_key, config_.webhook_secret});
        return false;
    }
    if (response.status == 404) {
        report.erro = std::string(what) + ": não encontrado (404): verifique account_id e api_url";
        return false;
    }
    if (response.status == 429) {
        report.erro = "Chatwoot limitou as requisições (429); tente de novo em instantes";
        return false;
    }
    if (response.status < 200 || response.status >= 300) {
        std::string detail = parsed ? error_field(parsed) : std::string();
        report.erro = std::string(what) + ": HTTP " + std::to_string(response.status) +
                      (detail.empty() ? std::string() : ": " + detail);
        return false;
    }
    if (!parsed) {
        report.erro = std::string(what) + ": a resposta não é JSON (content-type " +
                      (response.content_type.empty() ? std::string("ausente") : response.content_type) +
                      "); api_url aponta para o Chatwoot?";
        return false;
    }
    return true;
}

ConnectionReport ChatwootApi::test_connection() {
    ConnectionReport report = run_test();
    // What a reply said ends up in erro: never the secrets, always valid and bounded.
    report.erro = recorded_text(report.erro, {config_.api_key, config_.webhook_secret});
    report.aviso = recorded_text(report.aviso, {config_.api_key, config_.webhook_secret});
    report.account_name = recorded_text(report.account_name, {config_.api_key, config_.webhook_secret}, 255);
    if (report.inbox) {
        report.inbox->name = recorded_text(report.inbox->name, {config_.api_key, config_.webhook_secret}, 255);
        report.inbox->channel_type = recorded_text(report.inbox->channel_type, {}, 64);
    }
    return report;
}

ConnectionReport ChatwootApi::run_test() {
    ConnectionReport report;
    report.account_id = config_.account_id;
    Json profile;
    if (!check_response(transport_.send(requests_.profile()), report, "perfil do token", profile)) {
        return report;
    }
    report.user_id = profile["id"].as_integer().value_or(0);
    Json accounts = profile["accounts"];
    for (std::size_t i = 0; i < accounts.size(); ++i) {
        Json account = accounts.at(i);
        if (account["id"].as_integer().value_or(-1) == config_.account_id) {
            report.account_name = account["name"].as_string().value_or("");
            report.user_role = account["role"].as_string().value_or("");
        }
    }

    Json inboxes;
    if (!check_response(transport_.send(requests_.account("GET", "/inboxes")), report,
                        ("conta " + std::to_string(config_.account_id)).c_str(), inboxes)) {
        return report;
    }
    Json list = inboxes["payload"];
    if (!list.is_array()) {
        report.erro = "resposta inesperada de /inboxes: falta o array payload";
        return report;
    }
    if (config_.default_inbox_id) {
        for (std::size_t i = 0; i < list.size(); ++i) {
            Json inbox = list.at(i);
            if (inbox["id"].as_integer().value_or(-1) == *config_.default_inbox_id) {
                report.inbox = ConnectionReport::Inbox{*config_.default_inbox_id,
                                                       inbox["name"].as_string().value_or(""),
                                                       inbox["channel_type"].as_string().value_or("")};
            }
        }
        if (!report.inbox) {
            report.erro = "inbox " + std::to_string(*config_.default_inbox_id) + " não existe na conta " +
                          std::to_string(config_.account_id);
            return report;
        }
    }
    if (report.inbox) {
        switch (inbox_channel_of(report.inbox->channel_type)) {
            case InboxChannel::api: break;
            case InboxChannel::needs_phone:
                add_warning(report, "o inbox " + std::to_string(report.inbox->id) + " é do canal " +
                                        report.inbox->channel_type +
                                        ": contatos sem telefone são criados sem inbox e o recebem quando tiverem telefone");
                break;
            case InboxChannel::needs_email:
                add_warning(report, "o inbox " + std::to_string(report.inbox->id) + " é do canal " +
                                        report.inbox->channel_type +
                                        ": contatos sem e-mail são criados sem inbox e o recebem quando tiverem e-mail");
                break;
            case InboxChannel::unsupported:
                add_warning(report, "o inbox " + std::to_string(report.inbox->id) + " é do canal " +
                                        report.inbox->channel_type +
                                        ", em que a API não cria contatos: os contatos são criados sem inbox");
                break;
        }
    }
    if (!report.user_role.empty() && report.user_role != "administrator") {
        // Works, but deleting contacts and managing agents need an administrator's token.
        add_warning(report, "o token é de um usuário '" + report.user_role +
                                "'; use o token de um administrador para todas as operações");
    }
    report.ok = true;
    return report;
}

std::optional<HttpRequest> InboxProbeOperation::next_request() const {
    if (answered_) return std::nullopt;
    return requests_.account("GET", "/inboxes/" + std::to_string(inbox_id_));
}

void InboxProbeOperation::on_response(const HttpResponse& response) {
    answered_ = true;
    InboxProbe probe;
    const ConnectionConfig& config = requests_.config();
    Verdict verdict = classify_response(response, {config.api_key, config.webhook_secret});
    if (verdict.outcome == Outcome::refused) {
        probe.refused = true;
        probe.error = verdict.reason;
    } else if (verdict.denied) {  // an agent's token on an inbox it is not a member of: not the token's refusal
        probe.error = "inbox " + std::to_string(inbox_id_) + ": o usuário do token não é membro deste inbox; " +
                      verdict.reason;
    } else if (verdict.outcome != Outcome::success) {
        probe.error = "inbox " + std::to_string(inbox_id_) + ": " + verdict.reason;
    } else {
        Json body = Json::parse(response.body);
        auto channel = body["channel_type"].as_string();
        if (!channel) channel = body["payload"]["channel_type"].as_string();
        if (channel) {
            probe.ok = true;
            probe.channel_type = *channel;
        } else {
            probe.error = "inbox " + std::to_string(inbox_id_) + ": resposta sem channel_type";
        }
    }
    result_ = std::move(probe);
}

}  // namespace chatwoot::core
