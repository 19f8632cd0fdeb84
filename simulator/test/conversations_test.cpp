// Conversations, assignments and status (facts §4).
#include "sim_fixture.hpp"

using namespace simtest;

TEST_F(SimTest, CreateConversationShapeAndPerAccountDisplayIds) {
    long long contact = make_contact(R"({"name":"Ana","email":"ana@x.test"})");
    Resp r = call("POST", "/api/v1/accounts/1/conversations",
                  "{\"inbox_id\":1,\"contact_id\":" + std::to_string(contact) + ",\"message\":{\"content\":\"Olá\"},\"custom_attributes\":{\"processo\":\"123\"}}");
    ASSERT_EQ(r.status, 200) << r.body;
    J c = r.json();
    EXPECT_EQ(c["id"].i(), 1);
    EXPECT_EQ(c["account_id"].i(), 1);
    EXPECT_EQ(c["inbox_id"].i(), 1);
    EXPECT_EQ(c["status"].str(), "open");
    EXPECT_EQ(c["meta"]["sender"]["id"].i(), contact);
    EXPECT_FALSE(c["meta"]["sender"].has("contact_inboxes"));
    EXPECT_EQ(c["meta"]["channel"].str(), "Channel::Api");
    EXPECT_FALSE(c["meta"].has("assignee"));  // absent when unassigned
    EXPECT_TRUE(c["updated_at"].is_real());
    EXPECT_TRUE(c["created_at"].is_int());
    EXPECT_TRUE(c["timestamp"].is_int());
    EXPECT_TRUE(c["priority"].is_null());
    EXPECT_EQ(c["custom_attributes"]["processo"].str(), "123");
    ASSERT_EQ(c["messages"].size(), 1u);
    EXPECT_EQ(c["messages"][0]["content"].str(), "Olá");
    EXPECT_EQ(c["messages"][0]["message_type"].i(), 1);
    EXPECT_TRUE(is_uuid(c["uuid"].str()));
    EXPECT_EQ(make_conversation(contact), 2);
    // Account 2 numbers its own conversations from 1.
    Resp oc = call("POST", "/api/v1/accounts/2/contacts", R"({"name":"O","email":"o@x.test"})", "sim-other-admin-token");
    long long ocid = oc.json()["payload"]["contact"]["id"].i();
    Resp o = call("POST", "/api/v1/accounts/2/conversations", "{\"inbox_id\":2,\"contact_id\":" + std::to_string(ocid) + "}",
                  "sim-other-admin-token");
    ASSERT_EQ(o.status, 200) << o.body;
    EXPECT_EQ(o.json()["id"].i(), 1);
}

TEST_F(SimTest, CreateConversationBySourceIdAndErrors) {
    Resp c = call("POST", "/api/v1/accounts/1/contacts", R"({"name":"Ana","email":"ana@x.test","inbox_id":1,"source_id":"my-src"})");
    ASSERT_EQ(c.status, 200);
    Resp r = call("POST", "/api/v1/accounts/1/conversations", R"({"source_id":"my-src","status":"pending"})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json()["status"].str(), "pending");
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/conversations", R"({"source_id":"nope"})").status, 404);
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/conversations", R"({"inbox_id":1,"contact_id":999})").status, 404);
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/conversations", R"({"source_id":"my-src","status":"bogus"})").status, 500);
}

TEST_F(SimTest, ListHasDataWrapperPagesBy25AndFiltersStatus) {
    long long contact = make_contact(R"({"name":"Ana","email":"ana@x.test"})");
    for (int i = 0; i < 27; ++i) make_conversation(contact);
    make_conversation(contact, R"(,"status":"resolved")");
    make_conversation(contact, ",\"assignee_id\":1");
    Resp r = call("GET", "/api/v1/accounts/1/conversations");
    ASSERT_EQ(r.status, 200);
    J data = r.json()["data"];
    ASSERT_TRUE(data.is_object());
    EXPECT_EQ(data["payload"].size(), 25u);
    EXPECT_EQ(data["meta"]["all_count"].i(), 28);  // open only by default
    EXPECT_EQ(data["meta"]["mine_count"].i(), 1);
    EXPECT_EQ(data["meta"]["assigned_count"].i(), 1);
    EXPECT_EQ(data["meta"]["unassigned_count"].i(), 27);
    EXPECT_EQ(data["payload"][0]["id"].i(), 29);  // most recent activity first
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/conversations?page=2").json()["data"]["payload"].size(), 3u);
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/conversations?status=all").json()["data"]["meta"]["all_count"].i(), 29);
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/conversations?status=resolved").json()["data"]["payload"].size(), 1u);
    J mine = call("GET", "/api/v1/accounts/1/conversations?assignee_type=me").json()["data"];
    EXPECT_EQ(mine["payload"].size(), 1u);
    EXPECT_EQ(mine["meta"]["all_count"].i(), 28);  // counts are taken before assignee_type
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/conversations?updated_within=3600").json()["data"]["payload"].size(), 28u);  // unpaginated
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/conversations?inbox_id=99").json()["data"]["payload"].size(), 0u);
}

TEST_F(SimTest, ToggleStatusShapeAndToggling) {
    long long id = make_conversation(make_contact(R"({"name":"Ana","email":"ana@x.test"})"));
    std::string path = "/api/v1/accounts/1/conversations/" + std::to_string(id) + "/toggle_status";
    Resp r = call("POST", path, R"({"status":"resolved"})");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "{\"meta\":{},\"payload\":{\"success\":true,\"conversation_id\":" + std::to_string(id) +
                          ",\"current_status\":\"resolved\",\"snoozed_until\":null}}");
    EXPECT_EQ(call("POST", path).json()["payload"]["current_status"].str(), "open");      // no status: toggle
    EXPECT_EQ(call("POST", path).json()["payload"]["current_status"].str(), "resolved");
    Resp snooze = call("POST", path, R"({"status":"snoozed","snoozed_until":1900000000})");
    EXPECT_EQ(snooze.json()["payload"]["current_status"].str(), "snoozed");
    EXPECT_EQ(snooze.json()["payload"]["snoozed_until"].str().rfind("2030-03-17T", 0), 0u) << snooze.body;
    EXPECT_EQ(call("POST", path).json()["payload"]["current_status"].str(), "open");
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/conversations/999/toggle_status").status, 404);
    // An agent reopening an unassigned conversation takes it.
    call("POST", path, R"({"status":"resolved"})");
    call("POST", path, R"({"status":"open"})", "sim-agent-token");
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/conversations/" + std::to_string(id)).json()["meta"]["assignee"]["id"].i(), 2);
}

TEST_F(SimTest, AssignmentsReturnAgentOrNull) {
    long long id = make_conversation(make_contact(R"({"name":"Ana","email":"ana@x.test"})"));
    std::string path = "/api/v1/accounts/1/conversations/" + std::to_string(id);
    Resp a = call("POST", path + "/assignments", R"({"assignee_id":2})");
    ASSERT_EQ(a.status, 200);
    EXPECT_EQ(a.json()["id"].i(), 2);
    EXPECT_EQ(a.json()["role"].str(), "agent");
    EXPECT_EQ(a.json()["account_id"].i(), 1);
    EXPECT_EQ(a.json()["availability_status"].str(), "offline");
    J conv = call("GET", path).json();
    EXPECT_EQ(conv["meta"]["assignee"]["id"].i(), 2);
    EXPECT_EQ(conv["meta"]["assignee_type"].str(), "User");
    Resp unknown = call("POST", path + "/assignments", R"({"assignee_id":3})");  // user 3 is not in account 1
    EXPECT_EQ(unknown.status, 200);
    EXPECT_EQ(unknown.body, "null");
    EXPECT_FALSE(call("GET", path).json()["meta"].has("assignee"));
    call("POST", path + "/assignments", R"({"assignee_id":1})");
    EXPECT_EQ(call("POST", path + "/assignments", R"({"assignee_id":null})").body, "null");
    EXPECT_FALSE(call("GET", path).json()["meta"].has("assignee"));
}

TEST_F(SimTest, UpdateHonoursOnlyPriority) {
    long long id = make_conversation(make_contact(R"({"name":"Ana","email":"ana@x.test"})"));
    std::string path = "/api/v1/accounts/1/conversations/" + std::to_string(id);
    Resp r = call("PATCH", path, R"({"assignee_id":1,"status":"resolved","priority":"high"})");
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.json()["priority"].str(), "high");
    EXPECT_EQ(r.json()["status"].str(), "open");
    EXPECT_FALSE(r.json()["meta"].has("assignee"));
    EXPECT_EQ(call("PUT", path, R"({"assignee_id":1})").json()["priority"].str(), "high");
    EXPECT_TRUE(call("PUT", path, R"({"priority":null})").json()["priority"].is_null());
    EXPECT_EQ(call("PUT", path, R"({"priority":"extreme"})").status, 500);
}

TEST_F(SimTest, ContactConversationsMostRecentFirstMax20) {
    long long contact = make_contact(R"({"name":"Ana","email":"ana@x.test"})");
    for (int i = 0; i < 22; ++i) make_conversation(contact);
    call("POST", "/api/v1/accounts/1/conversations/3/messages", R"({"content":"bump"})");
    J p = call("GET", "/api/v1/accounts/1/contacts/" + std::to_string(contact) + "/conversations").json()["payload"];
    EXPECT_EQ(p.size(), 20u);
    EXPECT_EQ(p[0]["id"].i(), 3);
}
