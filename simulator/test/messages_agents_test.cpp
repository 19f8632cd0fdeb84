// Messages (facts §5) and agents (facts §6).
#include "sim_fixture.hpp"

using namespace simtest;

TEST_F(SimTest, CreateOutgoingMessageShape) {
    long long id = make_conversation(make_contact(R"({"name":"Ana","email":"ana@x.test"})"));
    std::string path = "/api/v1/accounts/1/conversations/" + std::to_string(id) + "/messages";
    Resp r = call("POST", path, R"({"content":"Prezada Ana","source_id":"zattar:msg:1","echo_id":"e1"})");
    ASSERT_EQ(r.status, 200) << r.body;
    J m = r.json();
    EXPECT_TRUE(m["id"].is_int());
    EXPECT_EQ(m["content"].str(), "Prezada Ana");
    EXPECT_TRUE(m["message_type"].is_int());
    EXPECT_EQ(m["message_type"].i(), 1);
    EXPECT_EQ(m["conversation_id"].i(), id);
    EXPECT_EQ(m["inbox_id"].i(), 1);
    EXPECT_EQ(m["source_id"].str(), "zattar:msg:1");
    EXPECT_EQ(m["echo_id"].str(), "e1");
    EXPECT_EQ(m["status"].str(), "sent");
    EXPECT_EQ(m["content_type"].str(), "text");
    EXPECT_FALSE(m["private"].b());
    EXPECT_TRUE(m["created_at"].is_int());
    EXPECT_EQ(m["sender"]["id"].i(), 1);
    EXPECT_EQ(m["sender"]["type"].str(), "user");
    Resp note = call("POST", path, R"({"content":"interno","private":true})");
    EXPECT_TRUE(note.json()["private"].b());
}

TEST_F(SimTest, IncomingMessageIsFromTheContact) {
    long long contact = make_contact(R"({"name":"Ana","email":"ana@x.test"})");
    long long id = make_conversation(contact);
    Resp r = call("POST", "/api/v1/accounts/1/conversations/" + std::to_string(id) + "/messages",
                  R"({"content":"oi","message_type":"incoming"})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["message_type"].i(), 0);
    EXPECT_EQ(r.json()["sender"]["id"].i(), contact);
    EXPECT_EQ(r.json()["sender"]["type"].str(), "contact");
    Resp bad = call("POST", "/api/v1/accounts/1/conversations/" + std::to_string(id) + "/messages",
                    R"({"content":"x","message_type":"sideways"})");
    EXPECT_EQ(bad.status, 422);
    EXPECT_TRUE(bad.json().has("error"));
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/conversations/999/messages", R"({"content":"x"})").status, 404);
}

TEST_F(SimTest, IncomingMessageReopensResolvedConversation) {
    long long id = make_conversation(make_contact(R"({"name":"Ana","email":"ana@x.test"})"), R"(,"status":"resolved")");
    call("POST", "/api/v1/accounts/1/conversations/" + std::to_string(id) + "/messages", R"({"content":"oi","message_type":"incoming"})");
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/conversations/" + std::to_string(id)).json()["status"].str(), "open");
}

TEST_F(SimTest, ListMessagesLatest20AscendingWithBeforeAfter) {
    long long id = make_conversation(make_contact(R"({"name":"Ana","email":"ana@x.test"})"));
    std::string path = "/api/v1/accounts/1/conversations/" + std::to_string(id) + "/messages";
    std::vector<long long> ids;
    for (int i = 0; i < 25; ++i) ids.push_back(call("POST", path, "{\"content\":\"m" + std::to_string(i) + "\"}").json()["id"].i());
    J latest = call("GET", path).json();
    ASSERT_EQ(latest["payload"].size(), 20u);
    EXPECT_EQ(latest["payload"][0]["id"].i(), ids[5]);
    EXPECT_EQ(latest["payload"][19]["id"].i(), ids[24]);
    EXPECT_EQ(latest["payload"][0]["message_type"].i(), 1);
    EXPECT_TRUE(latest["meta"].is_object());
    EXPECT_EQ(latest["meta"]["contact"]["type"].str(), "contact");
    J before = call("GET", path + "?before=" + std::to_string(ids[5])).json()["payload"];
    ASSERT_EQ(before.size(), 5u);
    EXPECT_EQ(before[0]["id"].i(), ids[0]);
    J after = call("GET", path + "?after=" + std::to_string(ids[22])).json()["payload"];
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(after[0]["id"].i(), ids[23]);
}

TEST_F(SimTest, AgentsListCreateUpdateDelete) {
    Resp list = call("GET", "/api/v1/accounts/1/agents");
    ASSERT_EQ(list.status, 200);
    ASSERT_TRUE(list.json().is_array());
    ASSERT_EQ(list.json().size(), 2u);
    EXPECT_EQ(list.json()[0]["name"].str(), "Admin Zattar");  // sorted by name
    EXPECT_EQ(list.json()[1]["name"].str(), "Agente Zattar");
    EXPECT_EQ(list.json()[0]["role"].str(), "administrator");
    EXPECT_EQ(list.json()[1]["email"].str(), "agente@zattar.test");
    Resp created = call("POST", "/api/v1/accounts/1/agents", R"({"name":"Bia","email":"bia@zattar.test","role":"agent","auto_offline":false,"availability":"busy"})");
    ASSERT_EQ(created.status, 200) << created.body;
    long long id = created.json()["id"].i();
    EXPECT_EQ(created.json()["availability_status"].str(), "busy");
    EXPECT_EQ(created.json()["account_id"].i(), 1);
    Resp dup = call("POST", "/api/v1/accounts/1/agents", R"({"name":"Bia","email":"bia@zattar.test"})");
    EXPECT_EQ(dup.status, 422);
    EXPECT_EQ(dup.body, R"({"message":"User has already been taken","attributes":["user_id"]})");
    Resp upd = call("PATCH", "/api/v1/accounts/1/agents/" + std::to_string(id), R"({"role":"administrator","name":"Beatriz"})");
    EXPECT_EQ(upd.json()["role"].str(), "administrator");
    EXPECT_EQ(upd.json()["name"].str(), "Beatriz");
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/agents").json()[0]["name"].str(), "Admin Zattar");
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/agents").json()[2]["name"].str(), "Beatriz");
    EXPECT_EQ(call("DELETE", "/api/v1/accounts/1/agents/" + std::to_string(id), "", "sim-agent-token").status, 401);
    EXPECT_EQ(call("DELETE", "/api/v1/accounts/1/agents/" + std::to_string(id)).status, 200);
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/agents").json().size(), 2u);
    // Linking an existing user from another account.
    Resp linked = call("POST", "/api/v1/accounts/1/agents", R"({"email":"admin@outra.test"})");
    EXPECT_EQ(linked.json()["id"].i(), 3);
}

TEST_F(SimTest, InboxesListShowCreate) {
    Resp list = call("GET", "/api/v1/accounts/1/inboxes");
    ASSERT_EQ(list.status, 200);
    J in = list.json()["payload"][0];
    EXPECT_EQ(in["id"].i(), 1);
    EXPECT_EQ(in["name"].str(), "Zattar API");
    EXPECT_EQ(in["channel_type"].str(), "Channel::Api");
    EXPECT_EQ(in["inbox_identifier"].str(), "zattarApiInboxIdentifier");
    EXPECT_EQ(in["secret"].str(), "zattarApiInboxSecret");  // administrators only
    EXPECT_FALSE(call("GET", "/api/v1/accounts/1/inboxes/1", "", "sim-agent-token").json().has("secret"));
    Resp created = call("POST", "/api/v1/accounts/1/inboxes", R"({"name":"Nova","channel":{"type":"api","webhook_url":"http://127.0.0.1:9/x"}})");
    ASSERT_EQ(created.status, 200) << created.body;
    EXPECT_EQ(created.json()["webhook_url"].str(), "http://127.0.0.1:9/x");
    EXPECT_FALSE(created.json()["inbox_identifier"].str().empty());
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/inboxes/" + std::to_string(created.json()["id"].i())).json()["name"].str(), "Nova");
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/inboxes/2").status, 404);  // inbox 2 belongs to account 2
}
