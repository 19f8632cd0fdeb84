// Contact validation and duplicate rules (facts §3).
#include "sim_fixture.hpp"

using namespace simtest;

namespace {
std::string repeat(const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}
}  // namespace

TEST_F(SimTest, PhoneRegexHasNoStartAnchor) {
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/contacts", R"({"name":"a","phone_number":"+5511987654321"})").status, 200);
    Resp loose = call("POST", "/api/v1/accounts/1/contacts", R"({"name":"b","phone_number":"foo+5511987654322"})");
    EXPECT_EQ(loose.status, 200) << loose.body;
    EXPECT_EQ(loose.json()["payload"]["contact"]["phone_number"].str(), "foo+5511987654322");  // stored as sent
    for (const char* bad : {"11987654321", "+55 11 98765-4321", "+0551198765", "+5", "+1234567890123456", "5511987654321+"}) {
        Resp r = call("POST", "/api/v1/accounts/1/contacts", std::string(R"({"name":"c","phone_number":")") + bad + "\"}");
        EXPECT_EQ(r.status, 422) << bad;
        EXPECT_EQ(r.body, R"({"message":"Phone number should be in e164 format","attributes":["phone_number"]})") << bad;
    }
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/contacts", R"({"name":"d","phone_number":"+123456789012345"})").status, 200);
}

TEST_F(SimTest, EmailRegexIsDevise) {
    for (const char* bad : {"no-at-sign", "two@@x.test", "a b@x.test", "@x.test", "a@"}) {
        Resp r = call("POST", "/api/v1/accounts/1/contacts", std::string(R"({"name":"e","email":")") + bad + "\"}");
        EXPECT_EQ(r.status, 422) << bad;
        EXPECT_EQ(r.body, R"({"message":"Email Invalid email","attributes":["email"]})") << bad;
    }
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/contacts", R"({"name":"e","email":"x@y"})").status, 200);
}

TEST_F(SimTest, LengthLimitCountsCodePointsNotBytes) {
    std::string name255 = repeat("\xC3\xA7", 255);  // 255 x 'ç' = 510 bytes
    Resp ok = call("POST", "/api/v1/accounts/1/contacts", "{\"name\":\"" + name255 + "\"}");
    EXPECT_EQ(ok.status, 200) << ok.body;
    Resp bad = call("POST", "/api/v1/accounts/1/contacts", "{\"name\":\"" + name255 + "a\"}");
    EXPECT_EQ(bad.status, 422);
    EXPECT_EQ(bad.body, R"x({"message":"Name is too long (maximum is 255 characters)","attributes":["name"]})x");
    Resp ident = call("POST", "/api/v1/accounts/1/contacts", "{\"name\":\"x\",\"identifier\":\"" + repeat("i", 256) + "\"}");
    EXPECT_EQ(ident.json()["message"].str(), "Identifier is too long (maximum is 255 characters)");
}

TEST_F(SimTest, EmailUniquenessIsCaseInsensitive) {
    make_contact(R"({"name":"a","email":"Dup@X.test"})");
    Resp r = call("POST", "/api/v1/accounts/1/contacts", R"({"name":"b","email":"dup@x.TEST"})");
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.body, R"({"message":"Email has already been taken","attributes":["email"]})");
    // Another account may reuse it.
    EXPECT_EQ(call("POST", "/api/v1/accounts/2/contacts", R"({"name":"b","email":"dup@x.test"})", "sim-other-admin-token").status, 200);
}

TEST_F(SimTest, IdentifierUniquenessIsExact) {
    make_contact(R"({"name":"a","identifier":"zattar:cliente:1"})");
    Resp r = call("POST", "/api/v1/accounts/1/contacts", R"({"name":"b","identifier":"zattar:cliente:1"})");
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.body, R"({"message":"Identifier has already been taken","attributes":["identifier"]})");
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/contacts", R"({"name":"c","identifier":"ZATTAR:cliente:1"})").status, 200);
}

TEST_F(SimTest, PhoneUniquenessIsExactString) {
    make_contact(R"({"name":"a","phone_number":"+5511987654321"})");
    Resp r = call("POST", "/api/v1/accounts/1/contacts", R"({"name":"b","phone_number":"+5511987654321"})");
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.body, R"({"message":"Phone number has already been taken","attributes":["phone_number"]})");
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/contacts", R"({"name":"c","phone_number":"x+5511987654321"})").status, 200);
}

TEST_F(SimTest, SeveralErrorsAreJoinedAndAllAttributesListed) {
    make_contact(R"({"name":"a","email":"e@x.test","identifier":"id-1","phone_number":"+5511911111111"})");
    Resp r = call("POST", "/api/v1/accounts/1/contacts",
                  R"({"name":"b","email":"E@x.test","identifier":"id-1","phone_number":"+5511911111111"})");
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.json()["message"].str(),
              "Email has already been taken, Identifier has already been taken, Phone number has already been taken");
    J attrs = r.json()["attributes"];
    ASSERT_EQ(attrs.size(), 3u);
    EXPECT_EQ(attrs[0].str(), "email");
    EXPECT_EQ(attrs[1].str(), "identifier");
    EXPECT_EQ(attrs[2].str(), "phone_number");
    Resp mixed = call("POST", "/api/v1/accounts/1/contacts", "{\"name\":\"" + repeat("n", 256) + "\",\"email\":\"bad\",\"phone_number\":\"123\"}");
    EXPECT_EQ(mixed.json()["message"].str(),
              "Name is too long (maximum is 255 characters), Email Invalid email, Phone number should be in e164 format");
    EXPECT_EQ(mixed.json()["attributes"].size(), 3u);
}

TEST_F(SimTest, UpdateChecksUniquenessAgainstOthersOnly) {
    long long a = make_contact(R"({"name":"a","email":"a@x.test"})");
    long long b = make_contact(R"({"name":"b","email":"b@x.test"})");
    EXPECT_EQ(call("PUT", "/api/v1/accounts/1/contacts/" + std::to_string(a), R"({"email":"A@x.test"})").status, 200);
    Resp r = call("PUT", "/api/v1/accounts/1/contacts/" + std::to_string(b), R"({"email":"a@x.test"})");
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.json()["message"].str(), "Email has already been taken");
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/contacts/" + std::to_string(b)).json()["payload"]["email"].str(), "b@x.test");
}
