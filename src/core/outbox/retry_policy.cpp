#include "core/outbox/retry_policy.hpp"

#include "core/json/json.hpp"
#include "core/text/text.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <ctime>

namespace chatwoot::core {

namespace {
// How much of a reply a reason quotes.
constexpr std::size_t kQuotedBody = 300;
constexpr std::size_t kQuotedRefusal = 200;
constexpr std::size_t kQuotedLocation = 300;
}  // namespace

Verdict classify_response(const HttpResponse& response, Secrets secrets) {
    Verdict v;
    if (!response.transport_ok()) {
        v.outcome = Outcome::retry;
        v.reason = std::string("falha de rede (") + to_string(response.error) + "): " + response.error_text;
        return v;
    }
    long s = response.status;
    if (s >= 200 && s < 300) {
        v.outcome = Outcome::success;
        return v;
    }
    if (s >= 300 && s < 400) {
        v.outcome = Outcome::retry;
        v.reason = redirect_reason(response, secrets);
        return v;
    }
    if (is_action_denied(response)) {
        v.outcome = Outcome::permanent;
        v.denied = true;
        v.reason = refusal_reason(response, secrets);
        return v;
    }
    if (s == 401 || s == 403) {
        v.outcome = Outcome::refused;
        v.reason = refusal_reason(response, secrets);
        return v;
    }
    v.reason = "HTTP " + std::to_string(s);
    if (!response.body.empty()) v.reason += ": " + recorded_text(response.body, secrets, kQuotedBody);
    if (s == 429) {
        v.outcome = Outcome::retry;
        v.throttled = true;
        if (!response.retry_after.empty())
            v.retry_after = parse_retry_after(response.retry_after, static_cast<std::int64_t>(std::time(nullptr)));
        return v;
    }
    if (s >= 500 || s == 408) {
        v.outcome = Outcome::retry;
        if (!response.retry_after.empty())
            v.retry_after = parse_retry_after(response.retry_after, static_cast<std::int64_t>(std::time(nullptr)));
        return v;
    }
    v.outcome = Outcome::permanent;
    return v;
}

bool is_action_denied(const HttpResponse& response) {
    if (!response.transport_ok() || response.status != 401) return false;
    return Json::parse(response.body)["error"].as_string() == std::string("You are not authorized to do this action");
}

std::string redirect_reason(const HttpResponse& response, Secrets secrets) {
    std::string reason = "HTTP " + std::to_string(response.status) + ": redirecionamento ";
    if (response.location.empty()) reason += "sem Location";
    else reason += "para '" + recorded_text(response.location, secrets, kQuotedLocation) + "'";
    return reason + " não seguido; api_url deve ser o endereço final do Chatwoot (https? outro host?)";
}

std::string refusal_reason(const HttpResponse& response, Secrets secrets) {
    std::string prefix = "HTTP " + std::to_string(response.status) + ": ";
    Json body = Json::parse(response.body);
    if (auto message = body["error"].as_string()) {
        if (*message == "Invalid Access Token") return prefix + "token de API inválido (Invalid Access Token)";
        if (*message == "Account is suspended") return prefix + "a conta do Chatwoot está suspensa (Account is suspended)";
        if (*message == "You are not authorized to access this account")
            return prefix + "o token não tem acesso a esta conta (You are not authorized to access this account)";
        if (*message == "You are not authorized to do this action")
            return prefix + "o usuário do token não pode fazer isto (só este trabalho falha); use o token de um "
                            "administrador (You are not authorized to do this action)";
        return prefix + recorded_text(*message, secrets, kQuotedRefusal);
    }
    Json errors = body["errors"];
    if (errors.is_array() && errors.size() > 0) {
        std::string first = errors.at(0).as_string().value_or("");
        if (first.rfind("You need to sign in", 0) == 0)
            return prefix + "o Chatwoot não recebeu o token: um proxy removeu o cabeçalho de autenticação? "
                            "(nginx descarta cabeçalhos com '_' sem underscores_in_headers on)";
        return prefix + recorded_text(first, secrets, kQuotedRefusal);
    }
    return prefix + (response.body.empty() ? std::string("acesso recusado")
                                            : recorded_text(response.body, secrets, kQuotedRefusal));
}

std::optional<std::chrono::seconds> parse_retry_after(const std::string& value, std::int64_t now_epoch,
                                                      std::chrono::seconds cap) {
    std::string v = value;
    v.erase(0, v.find_first_not_of(" \t"));
    v.erase(v.find_last_not_of(" \t\r\n") + 1);
    if (v.empty()) return std::nullopt;
    std::int64_t seconds = 0;
    if (std::all_of(v.begin(), v.end(), [](unsigned char c) { return std::isdigit(c); })) {
        seconds = v.size() > 9 ? cap.count() : std::stoll(v);
    } else {
        std::tm tm{};
        // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT"
        if (strptime(v.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) == nullptr) return std::nullopt;
        seconds = static_cast<std::int64_t>(timegm(&tm)) - now_epoch;
    }
    return std::chrono::seconds(std::clamp<std::int64_t>(seconds, 0, cap.count()));
}

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt, std::mt19937_64& rng) {
    int exponent = std::clamp(attempt - 1, 0, 30);
    double raw = static_cast<double>(policy.base.count()) * std::pow(2.0, exponent);
    raw = std::min(raw, static_cast<double>(policy.cap.count()));
    std::uniform_real_distribution<double> spread(1.0 - policy.jitter, 1.0 + policy.jitter);
    return std::chrono::milliseconds(static_cast<std::int64_t>(raw * spread(rng)));
}

}  // namespace chatwoot::core
