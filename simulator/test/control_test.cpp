// Request log, state, reset and the incoming-message hook of the control API.
#include "sim_fixture.hpp"

using namespace simtest;

TEST_F(SimTest, RequestLogRecordsWithoutToken) {
    call("POST", "/api/v1/accounts/1/contacts?x=1", R"({"name":"Ana","email":"ana@x.test"})");
    call("GET", "/api/v1/accounts/2/contacts");
    J log = control("GET", "/__sim/requests").json();
    ASSERT_EQ(log.size(), 2u);
    EXPECT_EQ(log[0]["method"].str(), "POST");
    EXPECT_EQ(log[0]["path"].str(), "/api/v1/accounts/1/contacts");
    EXPECT_EQ(log[0]["query"].str(), "x=1");
    EXPECT_EQ(log[0]["status"].i(), 200);
    EXPECT_EQ(log[0]["account_id"].i(), 1);
    EXPECT_EQ(J::parse(log[0]["body"].str())["email"].str(), "ana@x.test");
    EXPECT_TRUE(log[0]["at_ms"].is_int());
    EXPECT_TRUE(log[0]["duration_ms"].is_real());
    EXPECT_EQ(log[1]["status"].i(), 401);
    EXPECT_EQ(log[1]["account_id"].i(), 2);
    EXPECT_EQ(log.dump().find("sim-admin-token"), std::string::npos);
    long long seq = log[0]["seq"].i();
    J since = control("GET", "/__sim/requests?since=" + std::to_string(seq)).json();
    ASSERT_EQ(since.size(), 1u);
    EXPECT_EQ(since[0]["seq"].i(), seq + 1);
    EXPECT_EQ(control("DELETE", "/__sim/requests").status, 200);
    EXPECT_EQ(control("GET", "/__sim/requests").json().size(), 0u);
}

TEST_F(SimTest, StateCountsAndContactsDump) {
    long long contact = make_contact(R"({"name":"Ana","email":"ana@x.test"})");
    make_contact(R"({"name":"Only name"})");
    make_conversation(contact, R"(,"message":{"content":"oi"})");
    J s = control("GET", "/__sim/state").json();
    EXPECT_EQ(s["accounts"]["1"]["contacts"].i(), 2);
    EXPECT_EQ(s["accounts"]["1"]["conversations"].i(), 1);
    EXPECT_EQ(s["accounts"]["1"]["messages"].i(), 1);
    EXPECT_EQ(s["accounts"]["1"]["agents"].i(), 2);
    EXPECT_EQ(s["accounts"]["1"]["webhooks"].i(), 0);
    EXPECT_EQ(s["accounts"]["2"]["contacts"].i(), 0);
    J dump = control("GET", "/__sim/accounts/1/contacts").json();
    EXPECT_EQ(dump.size(), 2u);  // unpaged and unresolved included
    EXPECT_EQ(control("GET", "/__sim/accounts/99/contacts").status, 404);
}

TEST_F(SimTest, IncomingHookAddsCustomerMessage) {
    long long contact = make_contact(R"({"name":"Ana","email":"ana@x.test"})");
    long long id = make_conversation(contact);
    Resp r = control("POST", "/__sim/accounts/1/conversations/" + std::to_string(id) + "/incoming", R"({"content":"Bom dia"})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["message_type"].i(), 0);
    J msgs = call("GET", "/api/v1/accounts/1/conversations/" + std::to_string(id) + "/messages").json()["payload"];
    ASSERT_EQ(msgs.size(), 1u);
    EXPECT_EQ(msgs[0]["content"].str(), "Bom dia");
    EXPECT_EQ(msgs[0]["sender"]["id"].i(), contact);
    EXPECT_TRUE(call("GET", "/api/v1/accounts/1/contacts/" + std::to_string(contact)).json()["payload"].has("last_activity_at"));
    EXPECT_EQ(control("POST", "/__sim/accounts/1/conversations/99/incoming", R"({"content":"x"})").status, 404);
}

TEST_F(SimTest, ResetRestoresSeedAndClearsFaultsAndLogs) {
    make_contact(R"({"name":"Ana","email":"ana@x.test"})");
    call("POST", "/api/v1/accounts/1/webhooks", R"({"url":"http://127.0.0.1:1/x","subscriptions":["contact_created"]})");
    call("POST", "/api/v1/accounts/1/agents", R"({"name":"Bia","email":"bia@x.test"})");
    set_faults(R"({"down":true})");
    ASSERT_EQ(control("POST", "/__sim/reset").status, 200);
    EXPECT_EQ(call("GET", "/api/v1/profile").status, 200);  // listening again
    J s = control("GET", "/__sim/state").json();
    EXPECT_EQ(s["accounts"]["1"]["contacts"].i(), 0);
    EXPECT_EQ(s["accounts"]["1"]["webhooks"].i(), 0);
    EXPECT_EQ(s["accounts"]["1"]["agents"].i(), 2);
    EXPECT_FALSE(control("GET", "/__sim/faults").json()["down"].b());
    EXPECT_EQ(control("GET", "/__sim/requests").json().size(), 1u);  // only the profile call after reset
    EXPECT_EQ(control("GET", "/__sim/webhook_deliveries").json().size(), 0u);
    // Ids start over.
    EXPECT_EQ(make_contact(R"({"name":"Bruno","email":"b@x.test"})"), 1);
}

TEST_F(SimTest, RequestLogHeadersAndRawQueryWhenAsked) {
    call("GET", "/api/v1/profile?api_access_token=q-secret&x=1");
    J off = control("GET", "/__sim/requests").json();
    ASSERT_EQ(off.size(), 1u);
    EXPECT_FALSE(off[0].has("headers"));  // off by default
    EXPECT_FALSE(off[0].has("raw_query"));
    EXPECT_EQ(off[0]["query"].str(), "api_access_token=[FILTERED]&x=1");

    set_mode(R"({"log_headers":true})");
    control("DELETE", "/__sim/requests");
    http("GET", api("/api/v1/profile?api_access_token=q-secret&x=1"), "",
         {"api_access_token: sim-admin-token", "X-Probe: sonda", "Api-Access-Token: sim-admin-token"});
    http("GET", api("/api/v1/profile"), "", {"API_ACCESS_TOKEN: sim-admin-token"});
    J log = control("GET", "/__sim/requests").json();
    ASSERT_EQ(log.size(), 2u);
    J h = log[0]["headers"];
    ASSERT_TRUE(h.is_object()) << log.dump();
    EXPECT_EQ(h["api_access_token"].str(), "[FILTERED]");
    EXPECT_EQ(h["Api-Access-Token"].str(), "[FILTERED]");
    EXPECT_EQ(h["X-Probe"].str(), "sonda");
    EXPECT_EQ(log[0]["raw_query"].str(), "api_access_token=q-secret&x=1");  // not redacted: a key sent there is seen
    EXPECT_EQ(log[0]["query"].str(), "api_access_token=[FILTERED]&x=1");
    EXPECT_EQ(log[1]["headers"]["API_ACCESS_TOKEN"].str(), "[FILTERED]");
    EXPECT_EQ(log.dump().find("sim-admin-token"), std::string::npos);
}
