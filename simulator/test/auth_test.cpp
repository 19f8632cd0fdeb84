// Authentication and account-access rules of the Application API.
#include "sim_fixture.hpp"

using namespace simtest;

TEST_F(SimTest, ProfileHasIdRoleTokenAndAccounts) {
    Resp r = call("GET", "/api/v1/profile");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.headers["content-type"].find("application/json"), std::string::npos);
    J p = r.json();
    EXPECT_EQ(p["id"].i(), 1);
    EXPECT_EQ(p["email"].str(), "admin@zattar.test");
    EXPECT_EQ(p["name"].str(), "Admin Zattar");
    EXPECT_EQ(p["role"].str(), "administrator");
    EXPECT_EQ(p["account_id"].i(), 1);
    EXPECT_FALSE(p["pubsub_token"].str().empty());
    ASSERT_EQ(p["accounts"].size(), 1u);  // member of account 1 only
    EXPECT_EQ(p["accounts"][0]["id"].i(), 1);
    EXPECT_EQ(p["accounts"][0]["name"].str(), "Zattar Advocacia");
    EXPECT_EQ(p["accounts"][0]["role"].str(), "administrator");
    EXPECT_EQ(p["accounts"][0]["availability"].str(), "online");
    EXPECT_EQ(p["accounts"][0]["availability_status"].str(), "offline");  // auto_offline without websocket
}

TEST_F(SimTest, UnknownTokenIsInvalidAccessToken) {
    Resp r = call("GET", "/api/v1/accounts/1/contacts", "", "nope");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body, R"({"error":"Invalid Access Token"})");
    EXPECT_EQ(call("GET", "/api/v1/profile", "", "nope").status, 401);
}

TEST_F(SimTest, MissingTokenFallsBackToDeviseAndIs401) {
    Resp r = call("GET", "/api/v1/accounts/1/contacts", "", "");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.json()["errors"][0].str(), "You need to sign in or sign up before continuing.");
}

TEST_F(SimTest, UnknownAccountIs404) {
    Resp r = call("GET", "/api/v1/accounts/999/contacts");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.body, R"({"error":"Resource could not be found"})");
}

TEST_F(SimTest, ForeignAccountIs401NotAuthorizedToAccess) {
    Resp r = call("GET", "/api/v1/accounts/2/contacts");
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(r.body, R"({"error":"You are not authorized to access this account"})");
}

TEST_F(SimTest, BadTokenBeatsUnknownAccount) {
    EXPECT_EQ(call("GET", "/api/v1/accounts/999/contacts", "", "nope").status, 401);
}

TEST_F(SimTest, AgentPolicyFailuresAre401) {
    long long id = make_contact(R"({"name":"A","email":"a@x.test"})");
    Resp del = call("DELETE", "/api/v1/accounts/1/contacts/" + std::to_string(id), "", "sim-agent-token");
    EXPECT_EQ(del.status, 401);
    EXPECT_EQ(del.body, R"({"error":"You are not authorized to do this action"})");
    Resp create = call("POST", "/api/v1/accounts/1/agents", R"({"name":"N","email":"n@x.test"})", "sim-agent-token");
    EXPECT_EQ(create.status, 401);
    EXPECT_EQ(create.json()["error"].str(), "You are not authorized to do this action");
    // The agent can still read.
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/contacts/" + std::to_string(id), "", "sim-agent-token").status, 200);
}

// InboxPolicy#show?: an agent sees only its inboxes; another is Pundit's 401, on the
// inbox and on a contact inbox there (D8: a refusal of one action, not of the token).
TEST_F(SimTest, AnAgentSeesOnlyTheInboxesItIsAMemberOf) {
    Resp made = call("POST", "/api/v1/accounts/1/inboxes", R"({"name":"Outra","channel":{"type":"api"}})");
    ASSERT_EQ(made.status, 200) << made.body;
    std::string other = std::to_string(made.json()["id"].i());
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/inboxes/1", "", "sim-agent-token").status, 200);
    Resp denied = call("GET", "/api/v1/accounts/1/inboxes/" + other, "", "sim-agent-token");
    EXPECT_EQ(denied.status, 401);
    EXPECT_EQ(denied.body, R"({"error":"You are not authorized to do this action"})");
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/inboxes", "", "sim-agent-token").json()["payload"].size(), 1u);
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/inboxes/" + other).status, 200);  // the administrator
    long long id = make_contact(R"({"name":"A","email":"a@x.test"})");
    std::string path = "/api/v1/accounts/1/contacts/" + std::to_string(id) + "/contact_inboxes";
    EXPECT_EQ(call("POST", path, "{\"inbox_id\":" + other + "}", "sim-agent-token").status, 401);
    EXPECT_EQ(call("POST", path, R"({"inbox_id":1})", "sim-agent-token").status, 200);
}

TEST_F(SimTest, UnknownRouteIs404Html) {
    Resp r = call("GET", "/api/v1/accounts/1/nothing_here");
    EXPECT_EQ(r.status, 404);
    EXPECT_NE(r.headers["content-type"].find("text/html"), std::string::npos);
}

TEST_F(SimTest, MalformedJsonBodyIs400) {
    Resp r = call("POST", "/api/v1/accounts/1/contacts", "{not json");
    EXPECT_EQ(r.status, 400);
}

TEST(SimProcessTest, CustomTokenAndAccountId) {
    SimProcess p({"--token", "tok-xyz", "--account-id", "7"});
    ASSERT_TRUE(p.ready());
    std::string base = "http://127.0.0.1:" + std::to_string(p.port());
    Resp r = http("GET", base + "/api/v1/profile", "", {"api_access_token: tok-xyz"});
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.json()["accounts"][0]["id"].i(), 7);
    EXPECT_EQ(http("GET", base + "/api/v1/accounts/7/inboxes", "", {"api_access_token: tok-xyz"}).json()["payload"][0]["name"].str(), "Zattar API");
    EXPECT_EQ(http("GET", base + "/api/v1/profile", "", {"api_access_token: sim-admin-token"}).status, 401);
}

TEST(SimProcessTest, SigtermExitsZeroWithinOneSecond) {
    SimProcess p;
    ASSERT_TRUE(p.ready());
    double ms = 0;
    EXPECT_EQ(p.terminate(&ms), 0);
    EXPECT_LT(ms, 1000.0);
}
