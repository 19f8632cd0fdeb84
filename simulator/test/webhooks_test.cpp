// Webhooks API (facts §10.1) and webhook emission (facts §10.2-10.4).
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <chrono>
#include <ctime>
#include <thread>

#include "core/inbound/signature.hpp"
#include "sim_fixture.hpp"

using namespace simtest;

namespace {
std::string independent_signature(const std::string& secret, const std::string& ts, const std::string& body);
std::string create_webhook_body(const std::string& url, const std::string& events) {
    return "{\"url\":\"" + url + "\",\"name\":\"sync\",\"subscriptions\":" + events + "}";
}
const char* kAll = R"(["conversation_created","conversation_updated","conversation_status_changed","message_created","message_updated","contact_created","contact_updated"])";

std::vector<Received> of_event(const std::vector<Received>& all, const std::string& event) {
    std::vector<Received> out;
    for (const auto& r : all)
        if (J::parse(r.body)["event"].str() == event) out.push_back(r);
    return out;
}
}  // namespace

TEST_F(SimTest, WebhooksApiCrud) {
    Resp c = call("POST", "/api/v1/accounts/1/webhooks", create_webhook_body("https://example.test/hook", R"(["message_created"])"));
    ASSERT_EQ(c.status, 200) << c.body;
    J w = c.json()["payload"]["webhook"];
    EXPECT_TRUE(w["id"].is_int());
    EXPECT_EQ(w["url"].str(), "https://example.test/hook");
    EXPECT_EQ(w["name"].str(), "sync");
    EXPECT_EQ(w["account_id"].i(), 1);
    EXPECT_EQ(w["subscriptions"][0].str(), "message_created");
    EXPECT_FALSE(w["secret"].str().empty());
    std::string id = std::to_string(w["id"].i());
    J list = call("GET", "/api/v1/accounts/1/webhooks").json()["payload"]["webhooks"];
    ASSERT_EQ(list.size(), 1u);
    Resp u = call("PATCH", "/api/v1/accounts/1/webhooks/" + id, R"({"subscriptions":["contact_created","inbox_created"]})");
    ASSERT_EQ(u.status, 200) << u.body;
    EXPECT_EQ(u.json()["payload"]["webhook"]["subscriptions"].size(), 2u);
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/webhooks", "", "sim-agent-token").status, 401);
    EXPECT_EQ(call("DELETE", "/api/v1/accounts/1/webhooks/" + id).status, 200);
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/webhooks").json()["payload"]["webhooks"].size(), 0u);
    EXPECT_EQ(call("DELETE", "/api/v1/accounts/1/webhooks/" + id).status, 404);
}

TEST_F(SimTest, WebhooksApiValidation) {
    auto create = [&](const std::string& url, const std::string& events) {
        return call("POST", "/api/v1/accounts/1/webhooks", create_webhook_body(url, events));
    };
    Resp empty = create("https://a.test/h", "[]");
    EXPECT_EQ(empty.status, 422);
    EXPECT_EQ(empty.json()["attributes"][0].str(), "subscriptions");
    EXPECT_EQ(create("https://a.test/h", R"(["message.created"])").status, 422);  // dotted names are websocket-only
    Resp badurl = create("ftp://a.test/h", R"(["message_created"])");
    EXPECT_EQ(badurl.status, 422);
    EXPECT_EQ(badurl.json()["message"].str(), "Url is invalid");
    ASSERT_EQ(create("https://a.test/h", R"(["message_created"])").status, 200);
    Resp dup = create("https://a.test/h", R"(["contact_created"])");
    EXPECT_EQ(dup.status, 422);
    EXPECT_EQ(dup.body, R"({"message":"Url has already been taken","attributes":["url"]})");
}

TEST_F(SimTest, ContactCreatedIsSignedAndFlat) {
    WebhookReceiver rx;
    Resp w = call("POST", "/api/v1/accounts/1/webhooks", create_webhook_body(rx.url(), kAll));
    std::string secret = w.json()["payload"]["webhook"]["secret"].str();
    long long id = make_contact(R"({"name":"Ana","email":"ana@x.test","identifier":"zattar:1"})");
    auto got = rx.wait_for(1);
    ASSERT_EQ(got.size(), 1u);
    const Received& r = got[0];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.headers.at("content-type"), "application/json");
    EXPECT_TRUE(is_uuid(r.headers.at("x-chatwoot-delivery")));
    std::string ts = r.headers.at("x-chatwoot-timestamp");
    std::string sig = r.headers.at("x-chatwoot-signature");
    EXPECT_EQ(sig, chatwoot::core::chatwoot_signature_header(secret, std::stoll(ts), r.body));
    EXPECT_EQ(sig, independent_signature(secret, ts, r.body));
    EXPECT_EQ(chatwoot::core::verify_chatwoot_signature(secret, ts, sig, r.body, std::time(nullptr)),
              chatwoot::core::SignatureVerdict::valid);
    EXPECT_NE(chatwoot::core::verify_chatwoot_signature("wrong", ts, sig, r.body, std::time(nullptr)),
              chatwoot::core::SignatureVerdict::valid);
    J p = J::parse(r.body);
    EXPECT_EQ(p["event"].str(), "contact_created");
    EXPECT_FALSE(p.has("data"));
    EXPECT_EQ(p["id"].i(), id);
    EXPECT_EQ(p["identifier"].str(), "zattar:1");
    EXPECT_EQ(p["account"]["id"].i(), 1);
    EXPECT_EQ(p["account"]["name"].str(), "Zattar Advocacia");
    EXPECT_FALSE(p.has("type"));  // Contact#webhook_data has no type
    // The delivery log saw it too.
    J log = deliveries(1);
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0]["status"].i(), 200);
    EXPECT_EQ(log[0]["event"].str(), "contact_created");
    EXPECT_EQ(log[0]["headers"]["X-Chatwoot-Signature"].str(), sig);
}

TEST_F(SimTest, StatusChangeEmitsBothEventsWithChatwootChangedAttributes) {
    long long id = make_conversation(make_contact(R"({"name":"Ana","email":"ana@x.test"})"));
    WebhookReceiver rx;
    call("POST", "/api/v1/accounts/1/webhooks", create_webhook_body(rx.url(), kAll));
    call("POST", "/api/v1/accounts/1/conversations/" + std::to_string(id) + "/toggle_status", R"({"status":"resolved"})");
    auto got = rx.wait_for(2);
    auto changed = of_event(got, "conversation_status_changed");
    auto updated = of_event(got, "conversation_updated");
    ASSERT_EQ(changed.size(), 1u);
    ASSERT_EQ(updated.size(), 1u);
    J sc = J::parse(changed[0].body);
    EXPECT_TRUE(sc.has("changed_attributes") && sc["changed_attributes"].is_null());
    EXPECT_EQ(sc["id"].i(), id);
    EXPECT_EQ(sc["status"].str(), "resolved");
    EXPECT_EQ(sc["account"]["id"].i(), 1);
    J up = J::parse(updated[0].body);
    ASSERT_TRUE(up["changed_attributes"].is_array());
    EXPECT_EQ(up["changed_attributes"][0]["status"]["previous_value"].str(), "open");
    EXPECT_EQ(up["changed_attributes"][0]["status"]["current_value"].str(), "resolved");
    bool has_updated_at = false;
    for (std::size_t i = 0; i < up["changed_attributes"].size(); ++i)
        has_updated_at = has_updated_at || up["changed_attributes"][i].has("updated_at");
    EXPECT_TRUE(has_updated_at);
    EXPECT_TRUE(up["updated_at"].is_real());
    EXPECT_TRUE(up["meta"]["assignee"].is_null());
}

TEST_F(SimTest, AssignmentEmitsConversationUpdatedWithAssigneeChange) {
    long long id = make_conversation(make_contact(R"({"name":"Ana","email":"ana@x.test"})"));
    WebhookReceiver rx;
    call("POST", "/api/v1/accounts/1/webhooks", create_webhook_body(rx.url(), R"(["conversation_updated"])"));
    call("POST", "/api/v1/accounts/1/conversations/" + std::to_string(id) + "/assignments", R"({"assignee_id":2})");
    auto got = rx.wait_for(1);
    ASSERT_EQ(got.size(), 1u);
    J p = J::parse(got[0].body);
    EXPECT_EQ(p["event"].str(), "conversation_updated");
    EXPECT_TRUE(p["changed_attributes"][0]["assignee_id"]["previous_value"].is_null());
    EXPECT_EQ(p["changed_attributes"][0]["assignee_id"]["current_value"].i(), 2);
    EXPECT_EQ(p["meta"]["assignee"]["id"].i(), 2);
    EXPECT_EQ(p["meta"]["assignee"]["type"].str(), "user");
    EXPECT_EQ(p["meta"]["assignee_type"].str(), "User");
    // PATCH with assignee_id changes nothing, so no further webhook.
    call("PATCH", "/api/v1/accounts/1/conversations/" + std::to_string(id), R"({"assignee_id":1})");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(rx.all().size(), 1u);
}

TEST_F(SimTest, MessageCreatedPayloadIsFlatWithStringType) {
    long long contact = make_contact(R"({"name":"Ana","email":"ana@x.test"})");
    long long id = make_conversation(contact);
    WebhookReceiver rx;
    call("POST", "/api/v1/accounts/1/webhooks", create_webhook_body(rx.url(), R"(["message_created"])"));
    Resp m = call("POST", "/api/v1/accounts/1/conversations/" + std::to_string(id) + "/messages",
                  R"({"content":"Olá","source_id":"zattar:msg:9"})");
    auto got = rx.wait_for(1);
    ASSERT_EQ(got.size(), 1u);
    J p = J::parse(got[0].body);
    EXPECT_EQ(p["event"].str(), "message_created");
    EXPECT_EQ(p["id"].i(), m.json()["id"].i());
    EXPECT_EQ(p["content"].str(), "Olá");
    EXPECT_EQ(p["message_type"].str(), "outgoing");
    EXPECT_TRUE(p["created_at"].is_string());
    EXPECT_EQ(p["created_at"].str().size(), 24u);  // 2026-06-20T13:07:30.915Z
    EXPECT_EQ(p["source_id"].str(), "zattar:msg:9");
    EXPECT_EQ(p["conversation"]["id"].i(), id);
    EXPECT_EQ(p["account"]["id"].i(), 1);
    EXPECT_EQ(p["inbox"]["id"].i(), 1);
    EXPECT_EQ(p["inbox"]["name"].str(), "Zattar API");
    EXPECT_EQ(p["sender"]["type"].str(), "user");
    EXPECT_EQ(p["sender"]["id"].i(), 1);
    EXPECT_FALSE(p.has("data"));
    EXPECT_EQ(p["conversation"]["messages"][0]["message_type"].i(), 1);  // integer inside
}

TEST_F(SimTest, SubscriptionsFilterEvents) {
    WebhookReceiver rx;
    call("POST", "/api/v1/accounts/1/webhooks", create_webhook_body(rx.url(), R"(["message_created"])"));
    long long id = make_conversation(make_contact(R"({"name":"Ana","email":"ana@x.test"})"));
    call("POST", "/api/v1/accounts/2/contacts", R"({"name":"O","email":"o@x.test"})", "sim-other-admin-token");
    control("POST", "/__sim/accounts/1/conversations/" + std::to_string(id) + "/incoming", R"({"content":"cliente"})");
    auto got = rx.wait_for(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    got = rx.all();
    ASSERT_EQ(got.size(), 1u);
    J p = J::parse(got[0].body);
    EXPECT_EQ(p["event"].str(), "message_created");
    EXPECT_EQ(p["message_type"].str(), "incoming");
    EXPECT_EQ(p["sender"]["email"].str(), "ana@x.test");
    EXPECT_FALSE(p["sender"].has("type"));  // contact sender: no type
}

TEST_F(SimTest, ApiInboxWebhookGetsConversationEventsUnfilteredSignedWithInboxSecret) {
    WebhookReceiver rx;
    ASSERT_EQ(call("PATCH", "/api/v1/accounts/1/inboxes/1", "{\"channel\":{\"webhook_url\":\"" + rx.url("/inbox") + "\"}}").status, 200);
    long long contact = make_contact(R"({"name":"Ana","email":"ana@x.test"})");  // contact events never go there
    make_conversation(contact, R"(,"message":{"content":"primeira"})");
    auto got = rx.wait_for(2);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    got = rx.all();
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(of_event(got, "conversation_created").size(), 1u);
    EXPECT_EQ(of_event(got, "message_created").size(), 1u);
    EXPECT_EQ(of_event(got, "contact_created").size(), 0u);
    for (const auto& r : got)
        EXPECT_EQ(r.headers.at("x-chatwoot-signature"),
                  chatwoot::core::chatwoot_signature_header("zattarApiInboxSecret", std::stoll(r.headers.at("x-chatwoot-timestamp")), r.body));
    J created = J::parse(of_event(got, "conversation_created")[0].body);
    EXPECT_EQ(created["messages"][0]["content"].str(), "primeira");
}

TEST_F(SimTest, FailedDeliveryIsLoggedAndNotRetried) {
    WebhookReceiver rx;
    rx.set_status(500);
    call("POST", "/api/v1/accounts/1/webhooks", create_webhook_body(rx.url(), R"(["contact_created"])"));
    call("POST", "/api/v1/accounts/1/webhooks", create_webhook_body("http://127.0.0.1:1/closed", R"(["contact_created"])"));
    make_contact(R"({"name":"Ana","email":"ana@x.test"})");
    rx.wait_for(1);
    J log = deliveries(2);
    ASSERT_EQ(log.size(), 2u);
    int with_500 = 0, refused = 0;
    for (std::size_t i = 0; i < log.size(); ++i) {
        if (log[i]["status"].i() == 500 && log[i]["error"].str() == "500 Internal Server Error") ++with_500;
        if (log[i]["status"].is_null() && !log[i]["error"].str().empty()) ++refused;
    }
    EXPECT_EQ(with_500, 1);
    EXPECT_EQ(refused, 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(rx.all().size(), 1u);  // no retries
}

TEST_F(SimTest, FailedApiInboxDeliveryMarksMessageFailed) {
    ASSERT_EQ(call("PATCH", "/api/v1/accounts/1/inboxes/1", R"({"channel":{"webhook_url":"http://127.0.0.1:1/dead"}})").status, 200);
    long long id = make_conversation(make_contact(R"({"name":"Ana","email":"ana@x.test"})"));
    std::string path = "/api/v1/accounts/1/conversations/" + std::to_string(id) + "/messages";
    ASSERT_EQ(call("POST", path, R"({"content":"x"})").json()["status"].str(), "sent");
    J log = deliveries(4);  // conversation_created, message_created, conversation_updated, message_updated
    std::string status;
    for (int i = 0; i < 50 && status != "failed"; ++i) {
        status = call("GET", path).json()["payload"][0]["status"].str();
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(status, "failed");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    int updated = 0;
    J all = control("GET", "/__sim/webhook_deliveries").json();
    for (std::size_t i = 0; i < all.size(); ++i) updated += all[i]["event"].str() == "message_updated";
    EXPECT_EQ(updated, 1);  // marking it failed once; the repeat failure changes nothing
}

namespace {
// HMAC-SHA256 straight from OpenSSL: not the chatwoot::core code the simulator signs with.
std::string independent_signature(const std::string& secret, const std::string& ts, const std::string& body) {
    std::string msg = ts + "." + body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), reinterpret_cast<const unsigned char*>(msg.data()),
         msg.size(), mac, &len);
    static const char* hex = "0123456789abcdef";
    std::string out = "sha256=";
    for (unsigned int i = 0; i < len; ++i) {
        out.push_back(hex[mac[i] >> 4]);
        out.push_back(hex[mac[i] & 15]);
    }
    return out;
}
}  // namespace

TEST_F(SimTest, SimulatorSigningMatchesKnownAnswers) {
    // The same constants as test/unit/signature_test.cpp, computed with
    //   printf '%s' '<ts>.<body>' | openssl dgst -sha256 -hmac '<secret>'
    struct {
        const char* secret;
        long long ts;
        const char* body;
        const char* header;
    } known[] = {
        {"zattar-webhook-secret", 1700000000, R"({"event":"contact_created","id":1,"name":"Ana"})",
         "sha256=05dfefdfc47f3f44e9ceb1ac5671767c2b847fcb8284e7ff128dd53bf37ec8b6"},
        {"zattar-webhook-secret", 1700000000, R"({"event":"message_created","content":"a \u003cb\u003e \u0026 c"})",
         "sha256=6711baabbc18a9fca0036b092d6a876765352b10d87627e1ba9d6eb07f9b4ddf"},
        {"zattarApiInboxSecret", 1712345678, R"({"event":"conversation_created","id":42})",
         "sha256=e32d8bcb143833b2d5d58beeb83a8e1bc58e9dc4e6353721be8fa27edd36fc9e"},
    };
    for (const auto& k : known) {
        json_t* req = json_object();
        json_object_set_new(req, "secret", json_string(k.secret));
        json_object_set_new(req, "timestamp", json_integer(k.ts));
        json_object_set_new(req, "body", json_string(k.body));
        J body(req);
        Resp r = control("POST", "/__sim/sign", body.dump());
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.json()["X-Chatwoot-Signature"].str(), k.header) << k.body;
        EXPECT_EQ(r.json()["X-Chatwoot-Timestamp"].str(), std::to_string(k.ts));
        EXPECT_EQ(independent_signature(k.secret, std::to_string(k.ts), k.body), k.header);
    }
}

TEST_F(SimTest, DeliveredBodyIsRailsEscapedAndSignedOverItsRawBytes) {
    WebhookReceiver rx;
    Resp w = call("POST", "/api/v1/accounts/1/webhooks", create_webhook_body(rx.url(), R"(["contact_created"])"));
    std::string secret = w.json()["payload"]["webhook"]["secret"].str();
    make_contact(R"({"name":"Ana <b> & \"Cia\"","email":"ana@x.test"})");
    auto got = rx.wait_for(1);
    ASSERT_EQ(got.size(), 1u);
    const Received& r = got[0];
    EXPECT_NE(r.body.find(R"("name":"Ana \u003cb\u003e \u0026 \"Cia\"")"), std::string::npos) << r.body;
    EXPECT_EQ(r.body.find('<'), std::string::npos);
    EXPECT_EQ(J::parse(r.body)["name"].str(), "Ana <b> & \"Cia\"");  // the same text once parsed
    const std::string ts = r.headers.at("x-chatwoot-timestamp");
    EXPECT_EQ(r.headers.at("x-chatwoot-signature"), independent_signature(secret, ts, r.body));
    EXPECT_EQ(chatwoot::core::verify_chatwoot_signature(secret, ts, r.headers.at("x-chatwoot-signature"), r.body,
                                                        std::time(nullptr)),
              chatwoot::core::SignatureVerdict::valid);
    // A receiver that re-serialises the parsed payload would check other bytes, and fail.
    std::string reserialised = J::parse(r.body).dump();
    EXPECT_NE(independent_signature(secret, ts, reserialised), r.headers.at("x-chatwoot-signature"));
}
