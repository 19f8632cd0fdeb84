// Contact CRUD shapes (facts §2).
#include "sim_fixture.hpp"

using namespace simtest;

TEST_F(SimTest, CreateContactWithoutInboxShape) {
    Resp r = call("POST", "/api/v1/accounts/1/contacts",
                  R"({"name":"Maria","email":"Maria@Example.COM","phone_number":"+5511987654321","identifier":"zattar:cliente:1","custom_attributes":{"cpf":"123"}})");
    ASSERT_EQ(r.status, 200) << r.body;
    J c = r.json()["payload"]["contact"];
    EXPECT_TRUE(c["id"].is_int());
    EXPECT_EQ(c["name"].str(), "Maria");
    EXPECT_EQ(c["email"].str(), "maria@example.com");  // lower-cased before save
    EXPECT_EQ(c["phone_number"].str(), "+5511987654321");
    EXPECT_EQ(c["identifier"].str(), "zattar:cliente:1");
    EXPECT_EQ(c["custom_attributes"]["cpf"].str(), "123");
    EXPECT_TRUE(c["additional_attributes"].is_object());
    EXPECT_EQ(c["availability_status"].str(), "offline");
    EXPECT_FALSE(c["blocked"].b());
    EXPECT_TRUE(c["thumbnail"].is_string());
    EXPECT_TRUE(c["created_at"].is_int());
    EXPECT_FALSE(c.has("last_activity_at"));  // omitted when null
    EXPECT_TRUE(c["contact_inboxes"].is_array());
    EXPECT_EQ(c["contact_inboxes"].size(), 0u);
    J ci = r.json()["payload"]["contact_inbox"];
    EXPECT_TRUE(ci.has("inbox") && ci["inbox"].is_null());
    EXPECT_TRUE(ci.has("source_id") && ci["source_id"].is_null());
}

TEST_F(SimTest, CreateContactWithInboxMakesContactInbox) {
    Resp r = call("POST", "/api/v1/accounts/1/contacts", R"({"name":"Ana","email":"ana@x.test","inbox_id":1})");
    ASSERT_EQ(r.status, 200) << r.body;
    J p = r.json()["payload"];
    std::string sid = p["contact_inbox"]["source_id"].str();
    EXPECT_TRUE(is_uuid(sid)) << sid;
    EXPECT_EQ(p["contact_inbox"]["inbox"]["id"].i(), 1);
    EXPECT_EQ(p["contact_inbox"]["inbox"]["account_id"].i(), 1);  // raw record
    ASSERT_EQ(p["contact"]["contact_inboxes"].size(), 1u);
    EXPECT_EQ(p["contact"]["contact_inboxes"][0]["source_id"].str(), sid);
    J inbox = p["contact"]["contact_inboxes"][0]["inbox"];
    EXPECT_EQ(inbox["id"].i(), 1);
    EXPECT_EQ(inbox["channel_type"].str(), "Channel::Api");
    EXPECT_EQ(inbox["name"].str(), "Zattar API");
    EXPECT_TRUE(inbox.has("provider") && inbox.has("avatar_url") && inbox.has("channel_id"));
}

TEST_F(SimTest, CreateContactWithUnknownInboxIs404AndRollsBack) {
    Resp r = call("POST", "/api/v1/accounts/1/contacts", R"({"name":"Ana","email":"ana@x.test","inbox_id":99})");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(control("GET", "/__sim/accounts/1/contacts").json().size(), 0u);
}

TEST_F(SimTest, ShowAndUpdateMergeAttributes) {
    long long id = make_contact(
        R"({"name":"Jo","email":"jo@x.test","custom_attributes":{"a":"1","b":"2"},"additional_attributes":{"city":"SP"}})");
    std::string path = "/api/v1/accounts/1/contacts/" + std::to_string(id);
    Resp u = call("PATCH", path, R"({"name":"Joana","custom_attributes":{"b":"3","c":"4"},"additional_attributes":{"company_name":"Z"}})");
    ASSERT_EQ(u.status, 200) << u.body;
    J c = u.json()["payload"];
    EXPECT_FALSE(c.has("contact"));  // no contact sub-key on update
    EXPECT_EQ(c["name"].str(), "Joana");
    EXPECT_EQ(c["custom_attributes"]["a"].str(), "1");
    EXPECT_EQ(c["custom_attributes"]["b"].str(), "3");
    EXPECT_EQ(c["custom_attributes"]["c"].str(), "4");
    EXPECT_EQ(c["additional_attributes"]["city"].str(), "SP");
    EXPECT_EQ(c["additional_attributes"]["company_name"].str(), "Z");
    EXPECT_EQ(c["email"].str(), "jo@x.test");  // untouched
    Resp s = call("GET", path);
    ASSERT_EQ(s.status, 200);
    EXPECT_EQ(s.json()["payload"]["custom_attributes"].size(), 3u);
    EXPECT_EQ(call("PUT", path, R"({"email":""})").json()["payload"]["email"].is_null(), true);  // blank -> null
}

TEST_F(SimTest, IncludeContactInboxesFalseDropsKey) {
    long long id = make_contact(R"({"name":"Jo","email":"jo@x.test","inbox_id":1})");
    std::string path = "/api/v1/accounts/1/contacts/" + std::to_string(id);
    EXPECT_TRUE(call("GET", path).json()["payload"].has("contact_inboxes"));
    EXPECT_FALSE(call("GET", path + "?include_contact_inboxes=false").json()["payload"].has("contact_inboxes"));
    EXPECT_FALSE(call("GET", "/api/v1/accounts/1/contacts?include_contact_inboxes=false").json()["payload"][0].has("contact_inboxes"));
}

TEST_F(SimTest, DeleteContactReturnsEmpty200ThenGone) {
    long long id = make_contact(R"({"name":"Jo","email":"jo@x.test"})");
    long long conv = make_conversation(id);
    ASSERT_GT(conv, 0);
    std::string path = "/api/v1/accounts/1/contacts/" + std::to_string(id);
    Resp d = call("DELETE", path);
    EXPECT_EQ(d.status, 200);
    EXPECT_EQ(d.body, "");
    EXPECT_EQ(call("GET", path).status, 404);
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/conversations/" + std::to_string(conv)).status, 404);
    EXPECT_EQ(call("DELETE", path).status, 404);
}

TEST_F(SimTest, UnknownOrForeignContactIs404) {
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/contacts/12345").status, 404);
    Resp other = call("POST", "/api/v1/accounts/2/contacts", R"({"name":"O","email":"o@x.test"})", "sim-other-admin-token");
    ASSERT_EQ(other.status, 200);
    long long oid = other.json()["payload"]["contact"]["id"].i();
    Resp r = call("GET", "/api/v1/accounts/1/contacts/" + std::to_string(oid));
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.body, R"({"error":"Resource could not be found"})");
}

TEST_F(SimTest, ContactInboxesCreateIsIdempotentForSameSource) {
    long long id = make_contact(R"({"name":"Jo","email":"jo@x.test"})");
    std::string path = "/api/v1/accounts/1/contacts/" + std::to_string(id) + "/contact_inboxes";
    Resp a = call("POST", path, R"({"inbox_id":1,"source_id":"src-1"})");
    ASSERT_EQ(a.status, 200) << a.body;
    EXPECT_EQ(a.json()["source_id"].str(), "src-1");
    EXPECT_EQ(a.json()["inbox"]["id"].i(), 1);
    EXPECT_FALSE(a.json().has("payload"));
    EXPECT_EQ(call("POST", path, R"({"inbox_id":1,"source_id":"src-1"})").status, 200);
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/contacts/" + std::to_string(id)).json()["payload"]["contact_inboxes"].size(), 1u);
    EXPECT_EQ(call("POST", path, R"({"inbox_id":42})").status, 404);
}

TEST_F(SimTest, ContactableInboxesGivesUnsavedSourceId) {
    long long id = make_contact(R"({"name":"Jo","email":"jo@x.test"})");
    Resp r = call("GET", "/api/v1/accounts/1/contacts/" + std::to_string(id) + "/contactable_inboxes");
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.json()["payload"].size(), 1u);
    EXPECT_EQ(r.json()["payload"][0]["inbox"]["id"].i(), 1);
    EXPECT_TRUE(is_uuid(r.json()["payload"][0]["source_id"].str()));
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/contacts/" + std::to_string(id)).json()["payload"]["contact_inboxes"].size(), 0u);
}

// ContactMergeAction: the mergee's contact inboxes move, the mergee is destroyed, and the
// base inherits identifier, e-mail and custom attributes where its own are blank.
TEST_F(SimTest, AMergeDestroysTheMergeeAndTheBaseInheritsItsBlankFields) {
    long long mergee = make_contact(
        R"({"name":"Eva","email":"eva@x.test","identifier":"zattar_cliente_3","inbox_id":1,"custom_attributes":{"ativo":true,"documento":"1"}})");
    long long base = make_contact(R"({"name":"Eva WhatsApp","phone_number":"+5511933334444","custom_attributes":{"documento":"2"}})");
    Resp merged = call("POST", "/api/v1/accounts/1/actions/contact_merge",
                       "{\"base_contact_id\":" + std::to_string(base) + ",\"mergee_contact_id\":" + std::to_string(mergee) + "}");
    ASSERT_EQ(merged.status, 200) << merged.body;
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/contacts/" + std::to_string(mergee)).status, 404);
    J c = call("GET", "/api/v1/accounts/1/contacts/" + std::to_string(base)).json()["payload"];
    EXPECT_EQ(c["identifier"].str(), "zattar_cliente_3");
    EXPECT_EQ(c["email"].str(), "eva@x.test");
    EXPECT_EQ(c["phone_number"].str(), "+5511933334444");
    EXPECT_EQ(c["name"].str(), "Eva WhatsApp");                     // the base's own wins
    EXPECT_EQ(c["custom_attributes"]["documento"].str(), "2");
    EXPECT_TRUE(c["custom_attributes"]["ativo"].b());                // the mergee's others added
    EXPECT_EQ(c["contact_inboxes"].size(), 1u);                     // moved to the base
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/actions/contact_merge",
                   "{\"base_contact_id\":" + std::to_string(base) + ",\"mergee_contact_id\":" + std::to_string(mergee) + "}")
                  .status, 404);
}
