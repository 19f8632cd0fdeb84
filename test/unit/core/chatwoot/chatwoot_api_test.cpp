#include "core/chatwoot/chatwoot_api.hpp"
#include "core/json/json.hpp"

#include <gtest/gtest.h>

#include <deque>

using namespace chatwoot::core;

namespace {

// Answers requests from a script and remembers what was asked.
class ScriptedTransport : public HttpTransport {
public:
    std::deque<HttpResponse> answers;
    std::vector<HttpRequest> seen;
    HttpResponse send(const HttpRequest& request) override {
        seen.push_back(request);
        if (answers.empty()) ADD_FAILURE() << "unexpected request to " << request.url;
        HttpResponse r = answers.empty() ? HttpResponse{} : answers.front();
        if (!answers.empty()) answers.pop_front();
        return r;
    }
};

HttpResponse json_answer(long status, const std::string& body) {
    HttpResponse r;
    r.status = status;
    r.body = body;
    r.content_type = "application/json; charset=utf-8";
    return r;
}

const char* kProfile =
    R"({"id":1,"email":"admin@zattar.test","accounts":[{"id":1,"name":"Zattar Advocacia","role":"administrator"}]})";
const char* kInboxes = R"({"payload":[{"id":1,"name":"Zattar API","channel_type":"Channel::Api"}]})";

ConnectionConfig config_with_inbox(std::optional<std::int64_t> inbox = 1) {
    ConnectionConfig c;
    c.api_url = "http://chat.test/";
    c.api_key = "token-secreto-123";
    c.account_id = 1;
    c.default_inbox_id = inbox;
    c.timeout_ms = 1500;
    return c;
}

}  // namespace

TEST(ChatwootApi, RequestsCarryTheTokenHeaderAndAccountPath) {
    ScriptedTransport t;
    ChatwootApi api(config_with_inbox(), t);
    HttpRequest r = api.requests().account("POST", "/contacts", R"({"name":"x"})");
    EXPECT_EQ(r.url, "http://chat.test/api/v1/accounts/1/contacts");
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.timeout_ms, 1500);
    EXPECT_TRUE(r.verify_tls);
    EXPECT_NE(std::find(r.headers.begin(), r.headers.end(), "Api-Access-Token: token-secreto-123"), r.headers.end());
    EXPECT_NE(std::find(r.headers.begin(), r.headers.end(), "Content-Type: application/json"), r.headers.end());
}

TEST(ChatwootApi, SuccessfulTestReportsAccountAndInbox) {
    ScriptedTransport t;
    t.answers = {json_answer(200, kProfile), json_answer(200, kInboxes)};
    ChatwootApi api(config_with_inbox(), t);
    ConnectionReport report = api.test_connection();
    EXPECT_TRUE(report.ok) << report.erro;
    EXPECT_EQ(report.status, 200);
    EXPECT_EQ(report.account_name, "Zattar Advocacia");
    EXPECT_EQ(report.user_id, 1);
    ASSERT_TRUE(report.inbox);
    EXPECT_EQ(report.inbox->name, "Zattar API");
    ASSERT_EQ(t.seen.size(), 2u);
    EXPECT_EQ(t.seen[0].url, "http://chat.test/api/v1/profile");
    EXPECT_EQ(t.seen[1].url, "http://chat.test/api/v1/accounts/1/inboxes");

    Json json = Json::parse(report.to_json_text());
    EXPECT_EQ(json["ok"].as_bool(), true);
    EXPECT_EQ(json["inbox"]["id"].as_integer(), 1);
    EXPECT_TRUE(json["erro"].is_null());
}

TEST(ChatwootApi, WrongTokenIs401WithAClearMessage) {
    ScriptedTransport t;
    t.answers = {json_answer(401, R"({"error":"Invalid Access Token"})")};
    ConnectionReport report = ChatwootApi(config_with_inbox(), t).test_connection();
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.status, 401);
    EXPECT_NE(report.erro.find("token de API inválido"), std::string::npos) << report.erro;
}

// testar_conexao passes the backend's interrupt flags: a cancel that comes while a
// large reply is parsed ends the test as cancelled, without parsing the rest.
TEST(ChatwootApi, ACancelDuringTheParseOfALargeReplyEndsTheTest) {
    ScriptedTransport t;
    t.answers = {json_answer(200, std::string(64 << 20, ' ') + kProfile)};
    int asked = 0;
    ConnectionReport report = ChatwootApi(config_with_inbox(), t, [&] { return ++asked > 10; }).test_connection();
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.erro, "teste cancelado");
    EXPECT_EQ(asked, 11);
    EXPECT_EQ(t.seen.size(), 1u);  // nothing more was asked of Chatwoot
}

// Behind a proxy that drops headers with "_" (nginx's default), Chatwoot sees no
// token and Devise answers; testar_conexao says what that means.
TEST(ChatwootApi, A401WithoutATokenSeenIsExplainedAsAProxyDroppingTheHeader) {
    ScriptedTransport t;
    t.answers = {json_answer(401, R"({"errors":["You need to sign in or sign up before continuing."]})")};
    ConnectionReport report = ChatwootApi(config_with_inbox(), t).test_connection();
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.status, 401);
    EXPECT_NE(report.erro.find("proxy"), std::string::npos) << report.erro;
    EXPECT_NE(report.erro.find("underscores_in_headers"), std::string::npos) << report.erro;
}

TEST(ChatwootApi, UnknownAccountIs404) {
    ScriptedTransport t;
    t.answers = {json_answer(200, kProfile), json_answer(404, R"({"error":"Resource could not be found"})")};
    ConnectionReport report = ChatwootApi(config_with_inbox(), t).test_connection();
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.status, 404);
    EXPECT_NE(report.erro.find("404"), std::string::npos);
    EXPECT_NE(report.erro.find("account_id"), std::string::npos);
}

TEST(ChatwootApi, AccountTheTokenCannotAccessIs401) {
    ScriptedTransport t;
    t.answers = {json_answer(200, kProfile),
                 json_answer(401, R"({"error":"You are not authorized to access this account"})")};
    ConnectionReport report = ChatwootApi(config_with_inbox(), t).test_connection();
    EXPECT_FALSE(report.ok);
    EXPECT_NE(report.erro.find("não tem acesso à conta 1"), std::string::npos) << report.erro;
}

TEST(ChatwootApi, MissingInboxIsReported) {
    ScriptedTransport t;
    t.answers = {json_answer(200, kProfile), json_answer(200, kInboxes)};
    ConnectionReport report = ChatwootApi(config_with_inbox(99), t).test_connection();
    EXPECT_FALSE(report.ok);
    EXPECT_NE(report.erro.find("inbox 99"), std::string::npos);
}

TEST(ChatwootApi, NonJsonReplyIsReported) {
    ScriptedTransport t;
    HttpResponse html;
    html.status = 200;
    html.body = "<html><body>Welcome to nginx</body></html>";
    html.content_type = "text/html";
    t.answers = {html};
    ConnectionReport report = ChatwootApi(config_with_inbox(), t).test_connection();
    EXPECT_FALSE(report.ok);
    EXPECT_NE(report.erro.find("não é JSON"), std::string::npos);
    EXPECT_NE(report.erro.find("text/html"), std::string::npos);
}

TEST(ChatwootApi, TransportFailuresAreExplainedAndNeverLeakTheKey) {
    for (auto error : {TransportError::connect_failed, TransportError::timed_out, TransportError::tls_failed,
                       TransportError::connection_lost}) {
        ScriptedTransport t;
        HttpResponse failed;
        failed.error = error;
        failed.error_text = "curl says token-secreto-123 went wrong";  // a hostile error text
        t.answers = {failed};
        ConnectionReport report = ChatwootApi(config_with_inbox(), t).test_connection();
        EXPECT_FALSE(report.ok);
        EXPECT_EQ(report.status, 0);
        EXPECT_FALSE(report.erro.empty());
        EXPECT_EQ(report.erro.find("token-secreto-123"), std::string::npos) << report.erro;
        EXPECT_EQ(report.to_json_text().find("token-secreto-123"), std::string::npos);
    }
}

TEST(ChatwootApi, AgentTokenWorksWithAWarning) {
    ScriptedTransport t;
    t.answers = {json_answer(200, R"({"id":2,"accounts":[{"id":1,"name":"Z","role":"agent"}]})"),
                 json_answer(200, kInboxes)};
    ConnectionReport report = ChatwootApi(config_with_inbox(), t).test_connection();
    EXPECT_TRUE(report.ok);
    EXPECT_NE(report.aviso.find("administrador"), std::string::npos);
}

TEST(ChatwootApi, ServerErrorAndThrottlingAreNotOk) {
    ScriptedTransport t;
    t.answers = {json_answer(500, R"({"error":"boom"})")};
    ConnectionReport r1 = ChatwootApi(config_with_inbox(), t).test_connection();
    EXPECT_FALSE(r1.ok);
    EXPECT_EQ(r1.status, 500);
    HttpResponse throttled;
    throttled.status = 429;
    throttled.body = "Retry later\n";
    throttled.content_type = "text/plain";
    t.answers = {throttled};
    ConnectionReport r2 = ChatwootApi(config_with_inbox(), t).test_connection();
    EXPECT_FALSE(r2.ok);
    EXPECT_EQ(r2.status, 429);
    EXPECT_NE(r2.erro.find("429"), std::string::npos);
}

// The worker's inbox probe is one paced request on the HTTP thread: its channel, a
// refusal of the connection itself, or an error; never a second request.
TEST(InboxProbeOperation, OneGetOfTheInboxGivesItsChannelOrWhyNot) {
    InboxProbeOperation whatsapp(config_with_inbox(), 7);
    auto request = whatsapp.next_request();
    ASSERT_TRUE(request);
    EXPECT_EQ(request->method, "GET");
    EXPECT_EQ(request->url, "http://chat.test/api/v1/accounts/1/inboxes/7");
    EXPECT_FALSE(whatsapp.result().ok);  // not answered yet
    whatsapp.on_response(json_answer(200, R"({"id":7,"name":"WhatsApp","channel_type":"Channel::Whatsapp"})"));
    EXPECT_FALSE(whatsapp.next_request());
    EXPECT_TRUE(whatsapp.result().ok);
    EXPECT_EQ(whatsapp.result().channel_type, "Channel::Whatsapp");

    InboxProbeOperation refused(config_with_inbox(), 7);
    refused.on_response(json_answer(401, R"({"error":"Invalid Access Token"})"));
    EXPECT_TRUE(refused.result().refused);
    EXPECT_NE(refused.result().error.find("token de API inválido"), std::string::npos);

    InboxProbeOperation missing(config_with_inbox(), 7);
    missing.on_response(json_answer(404, R"({"error":"Resource could not be found"})"));
    EXPECT_FALSE(missing.result().ok);
    EXPECT_FALSE(missing.result().refused);
    EXPECT_EQ(missing.result().error.rfind("inbox 7: ", 0), 0u) << missing.result().error;

    InboxProbeOperation odd(config_with_inbox(), 7);
    odd.on_response(json_answer(200, R"({"id":7})"));
    EXPECT_FALSE(odd.result().ok);
    EXPECT_EQ(odd.result().error, "inbox 7: resposta sem channel_type");
}
