// Inboxes of other channels (control API) and ContactInboxBuilder's source ids.
#include "sim_fixture.hpp"

using namespace simtest;

namespace {
const char* kContacts = "/api/v1/accounts/1/contacts";
}  // namespace

class ChannelTest : public SimTest {
protected:
    long long inbox(const std::string& type, const std::string& extra = "") {
        Resp r = control("POST", "/__sim/accounts/1/inboxes",
                         "{\"name\":\"" + type + " inbox\",\"channel_type\":\"" + type + "\"" + extra + "}");
        EXPECT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.json()["channel_type"].str(), type);
        return r.json()["id"].i();
    }
    Resp create(long long inbox_id, const std::string& fields) {
        return call("POST", kContacts, "{\"name\":\"C\"," + fields + ",\"inbox_id\":" + std::to_string(inbox_id) + "}");
    }
    std::size_t contacts() { return control("GET", "/__sim/accounts/1/contacts").json().size(); }
};

TEST_F(ChannelTest, ControlCreatesInboxesShownWithTheirChannelType) {
    long long wa = inbox("Channel::Whatsapp");
    EXPECT_GT(wa, 2);
    J list = call("GET", "/api/v1/accounts/1/inboxes").json()["payload"];
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[1]["id"].i(), wa);
    EXPECT_EQ(list[1]["channel_type"].str(), "Channel::Whatsapp");
    EXPECT_FALSE(list[1].has("inbox_identifier"));  // API-channel attributes only on API inboxes
    EXPECT_FALSE(list[1].has("webhook_url"));
    EXPECT_TRUE(list[0].has("inbox_identifier"));
    J one = call("GET", "/api/v1/accounts/1/inboxes/" + std::to_string(wa)).json();
    EXPECT_EQ(one["channel_type"].str(), "Channel::Whatsapp");
    EXPECT_EQ(one["name"].str(), "Channel::Whatsapp inbox");
    EXPECT_EQ(inbox("Channel::TwilioSms"), wa + 1);
    EXPECT_EQ(control("POST", "/__sim/accounts/1/inboxes", R"({"name":"x","channel_type":"Whatsapp"})").status, 400);
    EXPECT_EQ(control("POST", "/__sim/accounts/1/inboxes", R"({"channel_type":"Channel::Sms"})").status, 400);
    EXPECT_EQ(control("POST", "/__sim/accounts/9/inboxes", R"({"name":"x","channel_type":"Channel::Sms"})").status, 404);
}

TEST_F(ChannelTest, SourceIdsFollowTheChannel) {
    long long wa = inbox("Channel::Whatsapp"), sms = inbox("Channel::Sms"), tw = inbox("Channel::TwilioSms"),
              tww = inbox("Channel::TwilioSms", R"(,"medium":"whatsapp")"), mail = inbox("Channel::Email"),
              web = inbox("Channel::WebWidget");
    auto sid = [&](long long in, const std::string& fields) {
        Resp r = create(in, fields);
        EXPECT_EQ(r.status, 200) << r.body;
        return r.json()["payload"]["contact_inbox"]["source_id"].str();
    };
    EXPECT_EQ(sid(wa, R"("phone_number":"+5511900000001")"), "5511900000001");
    EXPECT_EQ(sid(sms, R"("phone_number":"+5511900000002")"), "+5511900000002");
    EXPECT_EQ(sid(tw, R"("phone_number":"+5511900000003")"), "+5511900000003");
    EXPECT_EQ(sid(tww, R"("phone_number":"+5511900000004")"), "whatsapp:+5511900000004");
    EXPECT_EQ(sid(mail, R"("email":"Ana@X.test")"), "ana@x.test");
    EXPECT_TRUE(is_uuid(sid(web, R"("email":"web@x.test")")));
    EXPECT_TRUE(is_uuid(sid(1, R"("email":"api@x.test")")));
    // A given source_id is used as is.
    EXPECT_EQ(sid(wa, R"("phone_number":"+5511900000009","source_id":"custom-1")"), "custom-1");
    J c = call("GET", "/api/v1/accounts/1/contacts/1").json()["payload"]["contact_inboxes"][0];
    EXPECT_EQ(c["inbox"]["channel_type"].str(), "Channel::Whatsapp");
    EXPECT_EQ(c["source_id"].str(), "5511900000001");
}

TEST_F(ChannelTest, MissingPhoneOrEmailIs422AndRollsTheContactBack) {
    long long wa = inbox("Channel::Whatsapp"), sms = inbox("Channel::Sms"), mail = inbox("Channel::Email");
    Resp r = create(wa, R"("email":"a@x.test")");
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.body, R"({"error":"param is missing or the value is empty: contact phone number"})");
    EXPECT_EQ(create(sms, R"("email":"a@x.test")").status, 422);
    Resp m = create(mail, R"("phone_number":"+5511900000001")");
    EXPECT_EQ(m.status, 422);
    EXPECT_EQ(m.body, R"({"error":"param is missing or the value is empty: contact email"})");
    EXPECT_EQ(contacts(), 0u);
    // Nothing half-created: the same e-mail is free afterwards.
    EXPECT_EQ(create(mail, R"("email":"a@x.test")").status, 200);
}

TEST_F(ChannelTest, UnsupportedChannelIs500AndRollsBack) {
    long long tg = inbox("Channel::Telegram");
    Resp r = create(tg, R"("email":"a@x.test","phone_number":"+5511900000001")");
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.body, R"({"status":500,"error":"Internal Server Error"})");
    EXPECT_EQ(contacts(), 0u);
    // With a source_id given, nothing needs generating and it works.
    EXPECT_EQ(create(tg, R"("email":"a@x.test","source_id":"tg-1")").status, 200);
}

TEST_F(ChannelTest, ContactInboxesEndpointUsesTheBuilder) {
    long long wa = inbox("Channel::Whatsapp"), tg = inbox("Channel::Telegram");
    long long with_phone = make_contact(R"({"name":"A","phone_number":"+5511900000001"})");
    long long without = make_contact(R"({"name":"B","email":"b@x.test"})");
    auto path = [](long long id) { return std::string(kContacts) + "/" + std::to_string(id) + "/contact_inboxes"; };
    Resp ok = call("POST", path(with_phone), "{\"inbox_id\":" + std::to_string(wa) + "}");
    ASSERT_EQ(ok.status, 200) << ok.body;
    EXPECT_EQ(ok.json()["source_id"].str(), "5511900000001");
    EXPECT_EQ(ok.json()["inbox"]["channel_type"].str(), "Channel::Whatsapp");
    EXPECT_EQ(call("POST", path(with_phone), "{\"inbox_id\":" + std::to_string(wa) + "}").status, 200);  // idempotent
    Resp missing = call("POST", path(without), "{\"inbox_id\":" + std::to_string(wa) + "}");
    EXPECT_EQ(missing.status, 422);
    EXPECT_EQ(missing.json()["error"].str(), "param is missing or the value is empty: contact phone number");
    EXPECT_EQ(call("POST", path(with_phone), "{\"inbox_id\":" + std::to_string(tg) + "}").status, 500);
    EXPECT_EQ(call("POST", path(with_phone), R"({"inbox_id":1,"source_id":""})").status, 500);  // nil contact_inbox
}

TEST_F(ChannelTest, TakenSourceIdMovesAwayOnWhatsappButIs500OnApi) {
    long long wa = inbox("Channel::Whatsapp");
    long long a = make_contact(R"({"name":"A","phone_number":"+5511900000001"})");
    long long b = make_contact(R"({"name":"B","email":"b@x.test"})");
    auto path = [](long long id) { return std::string(kContacts) + "/" + std::to_string(id) + "/contact_inboxes"; };
    ASSERT_EQ(call("POST", path(a), "{\"inbox_id\":" + std::to_string(wa) + "}").status, 200);
    Resp moved = call("POST", path(b), "{\"inbox_id\":" + std::to_string(wa) + ",\"source_id\":\"5511900000001\"}");
    ASSERT_EQ(moved.status, 200) << moved.body;
    EXPECT_EQ(moved.json()["source_id"].str(), "5511900000001");
    std::string old = call("GET", "/api/v1/accounts/1/contacts/" + std::to_string(a)).json()["payload"]["contact_inboxes"][0]["source_id"].str();
    EXPECT_EQ(old.rfind("whatsapp:5511900000001", 0), 0u) << old;  // update_old_contact_inbox
    ASSERT_EQ(call("POST", path(a), R"({"inbox_id":1,"source_id":"api-1"})").status, 200);
    EXPECT_EQ(call("POST", path(b), R"({"inbox_id":1,"source_id":"api-1"})").status, 500);
}
