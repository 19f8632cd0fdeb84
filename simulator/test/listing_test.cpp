// Contact list, search and filter semantics (facts §2).
#include "sim_fixture.hpp"

using namespace simtest;

TEST_F(SimTest, ListPagesBy15ResolvedOnlyWithMeta) {
    for (int i = 0; i < 20; ++i) make_contact("{\"name\":\"c" + std::to_string(i) + "\",\"email\":\"c" + std::to_string(i) + "@x.test\"}");
    make_contact(R"({"name":"only name"})");                       // not resolved
    make_contact(R"({"name":"by phone","phone_number":"+5511900000001"})");
    make_contact(R"({"name":"by identifier","identifier":"id-9"})");
    Resp p1 = call("GET", "/api/v1/accounts/1/contacts");
    ASSERT_EQ(p1.status, 200);
    EXPECT_EQ(p1.json()["payload"].size(), 15u);
    EXPECT_EQ(p1.json()["meta"]["count"].i(), 22);
    EXPECT_TRUE(p1.json()["meta"]["current_page"].is_int());
    EXPECT_EQ(p1.json()["meta"]["current_page"].i(), 1);
    Resp p2 = call("GET", "/api/v1/accounts/1/contacts?page=2");
    EXPECT_EQ(p2.json()["payload"].size(), 7u);
    EXPECT_EQ(p2.json()["meta"]["current_page"].str(), "2");  // echoed as sent
    for (std::size_t i = 0; i < p2.json()["payload"].size(); ++i)
        EXPECT_NE(p2.json()["payload"][i]["name"].str(), "only name");
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/contacts?page=3").json()["payload"].size(), 0u);
    Resp sorted = call("GET", "/api/v1/accounts/1/contacts?sort=-name");
    EXPECT_EQ(sorted.json()["payload"][0]["name"].str(), "c9");
}

TEST_F(SimTest, SearchMatchesSubstringsWithChatwootCaseRules) {
    make_contact(R"({"name":"João Silva","email":"joao@zattar.test","identifier":"Zattar:Cliente:1"})");
    make_contact(R"({"name":"Maria","phone_number":"+5511987650000"})");
    make_contact(R"({"name":"Only Name Pedro"})");  // search is not limited to resolved contacts
    auto names = [&](const std::string& q) {
        J p = call("GET", "/api/v1/accounts/1/contacts/search?q=" + q).json()["payload"];
        std::vector<std::string> out;
        for (std::size_t i = 0; i < p.size(); ++i) out.push_back(p[i]["name"].str());
        return out;
    };
    EXPECT_EQ(names("SILVA"), std::vector<std::string>{"João Silva"});           // ILIKE name
    EXPECT_EQ(names("ZATTAR.TEST"), std::vector<std::string>{"João Silva"});     // ILIKE email
    EXPECT_EQ(names("98765"), std::vector<std::string>{"Maria"});                // phone substring
    EXPECT_EQ(names("Cliente%3A1"), std::vector<std::string>{"João Silva"});     // identifier LIKE
    EXPECT_TRUE(names("cliente%3A1").empty());                                   // ... case-sensitive
    EXPECT_EQ(names("pedro"), std::vector<std::string>{"Only Name Pedro"});
    EXPECT_TRUE(names("3").empty());  // no match on the id in released Chatwoot (v4.15.1; S1)
    Resp empty = call("GET", "/api/v1/accounts/1/contacts/search?q=");
    EXPECT_EQ(empty.status, 422);
    EXPECT_EQ(empty.body, R"({"error":"Specify search string with parameter q"})");
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/contacts/search").status, 422);
}

// '_' in q is LIKE's any-character, and results come in heap order (the last write
// last), not id order (SN1): the exact identifier, updated after its look-alikes, is last.
TEST_F(SimTest, SearchIdentifierIsALikeInHeapOrder) {
    long long exact = make_contact(R"({"name":"Exact","identifier":"zattar_cliente_1"})");
    make_contact(R"({"name":"Ten","identifier":"zattar_cliente_10"})");
    make_contact(R"({"name":"X","identifier":"zattarXcliente-1"})");
    make_contact(R"({"name":"Other","identifier":"zattar_cliente_2"})");
    auto names = [&] {
        J p = call("GET", "/api/v1/accounts/1/contacts/search?q=zattar_cliente_1").json()["payload"];
        std::string out;
        for (std::size_t i = 0; i < p.size(); ++i) out += (i ? "," : "") + p[i]["name"].str();
        return out;
    };
    EXPECT_EQ(names(), "Exact,Ten,X");
    ASSERT_EQ(call("PUT", "/api/v1/accounts/1/contacts/" + std::to_string(exact), R"({"name":"Exact 2"})").status, 200);
    EXPECT_EQ(names(), "Ten,X,Exact 2");
}

TEST_F(SimTest, SearchMetaCountsThisPageAndHasMore) {
    for (int i = 0; i < 17; ++i) make_contact("{\"name\":\"Silva " + std::to_string(i) + "\"}");
    J p1 = call("GET", "/api/v1/accounts/1/contacts/search?q=silva").json();
    EXPECT_EQ(p1["payload"].size(), 15u);
    EXPECT_EQ(p1["meta"]["count"].i(), 15);
    EXPECT_TRUE(p1["meta"]["has_more"].b());
    J p2 = call("GET", "/api/v1/accounts/1/contacts/search?q=silva&page=2").json();
    EXPECT_EQ(p2["meta"]["count"].i(), 2);
    EXPECT_FALSE(p2["meta"]["has_more"].b());
    EXPECT_EQ(p2["meta"]["current_page"].str(), "2");
}

TEST_F(SimTest, FilterSemantics) {
    make_contact(R"({"name":"Ana","email":"ana@x.test","identifier":"Zattar:1","phone_number":"+5511911110001","custom_attributes":{"tipo":"Cliente"}})");
    make_contact(R"({"name":"Bruno","email":"bruno@y.test","identifier":"zattar:2","phone_number":"+5521922220002","custom_attributes":{"tipo":"parte"}})");
    make_contact(R"({"name":"Ana Only"})");  // unresolved: never in filter results
    auto filter = [&](const std::string& payload) { return call("POST", "/api/v1/accounts/1/contacts/filter", "{\"payload\":" + payload + "}"); };
    auto first_name = [](const Resp& r) { return r.json()["payload"][0]["name"].str(); };

    Resp ident = filter(R"([{"attribute_key":"identifier","filter_operator":"equal_to","values":["zattar:1"],"query_operator":null}])");
    ASSERT_EQ(ident.status, 200) << ident.body;
    EXPECT_EQ(ident.json()["meta"]["count"].i(), 1);
    EXPECT_EQ(first_name(ident), "Ana");  // lower-cased comparison

    Resp phone = filter(R"([{"attribute_key":"phone_number","filter_operator":"equal_to","values":["5521922220002"]}])");
    EXPECT_EQ(phone.json()["meta"]["count"].i(), 1);
    EXPECT_EQ(first_name(phone), "Bruno");  // '+' prepended by the service
    EXPECT_EQ(filter(R"([{"attribute_key":"phone_number","filter_operator":"equal_to","values":["+5521922220002"]}])").json()["meta"]["count"].i(), 0);

    Resp email = filter(R"([{"attribute_key":"email","filter_operator":"contains","values":["X.TEST"]}])");
    EXPECT_EQ(email.json()["meta"]["count"].i(), 1);
    EXPECT_EQ(first_name(email), "Ana");

    Resp name = filter(R"([{"attribute_key":"name","filter_operator":"equal_to","values":["ana"]}])");
    EXPECT_EQ(name.json()["meta"]["count"].i(), 1);

    Resp custom = filter(R"([{"attribute_key":"tipo","filter_operator":"equal_to","values":["cliente"]}])");
    EXPECT_EQ(custom.json()["meta"]["count"].i(), 1);
    EXPECT_EQ(first_name(custom), "Ana");

    Resp either = filter(R"([{"attribute_key":"name","filter_operator":"equal_to","values":["ana"],"query_operator":"OR"},
                              {"attribute_key":"name","filter_operator":"equal_to","values":["bruno"],"query_operator":null}])");
    EXPECT_EQ(either.json()["meta"]["count"].i(), 2);
    Resp both = filter(R"([{"attribute_key":"name","filter_operator":"equal_to","values":["ana"],"query_operator":"and"},
                            {"attribute_key":"email","filter_operator":"contains","values":["y.test"]}])");
    EXPECT_EQ(both.json()["meta"]["count"].i(), 0);

    Resp bad = filter(R"([{"attribute_key":"identifier","filter_operator":"contains","values":["z"]}])");
    EXPECT_EQ(bad.status, 422);
    EXPECT_EQ(bad.json()["error"].str(), "Invalid operator. The allowed operators for identifier are [equal_to,not_equal_to].");
    EXPECT_EQ(filter(R"([{"attribute_key":"name","filter_operator":"equal_to","values":[]}])").status, 422);
    EXPECT_EQ(filter(R"([{"attribute_key":"name","filter_operator":"equal_to","values":["a"],"query_operator":"XOR"},{"attribute_key":"name","filter_operator":"equal_to","values":["b"]}])").status, 422);
}

TEST_F(SimTest, FilterPagesBy15WithTotalCount) {
    for (int i = 0; i < 18; ++i) make_contact("{\"name\":\"p" + std::to_string(i) + "\",\"email\":\"p" + std::to_string(i) + "@x.test\"}");
    std::string body = R"({"payload":[{"attribute_key":"email","filter_operator":"contains","values":["x.test"]}]})";
    J p1 = call("POST", "/api/v1/accounts/1/contacts/filter", body).json();
    EXPECT_EQ(p1["payload"].size(), 15u);
    EXPECT_EQ(p1["meta"]["count"].i(), 18);
    J p2 = call("POST", "/api/v1/accounts/1/contacts/filter?page=2", body).json();
    EXPECT_EQ(p2["payload"].size(), 3u);
    EXPECT_EQ(p2["meta"]["count"].i(), 18);
}

TEST_F(SimTest, CrmV2ListsAndFiltersLeadsOnly) {
    make_contact(R"({"name":"Only id","identifier":"zattar:cliente:9"})");
    make_contact(R"({"name":"Mail","email":"mail@x.test"})");
    make_contact(R"({"name":"Social","additional_attributes":{"social_telegram_user_name":"tg"}})");
    make_contact(R"({"name":"Only name"})");
    const std::string filter =
        R"({"payload":[{"attribute_key":"identifier","filter_operator":"equal_to","values":["zattar:cliente:9"]}]})";
    // Without crm_v2 the identifier makes it a resolved contact.
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/contacts/filter", filter).json()["meta"]["count"].i(), 1);
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/contacts").json()["meta"]["count"].i(), 2);

    set_mode(R"({"crm_v2":true})");
    J list = call("GET", "/api/v1/accounts/1/contacts").json();
    EXPECT_EQ(list["meta"]["count"].i(), 2);
    EXPECT_EQ(list["payload"][0]["name"].str(), "Mail");
    EXPECT_EQ(list["payload"][1]["name"].str(), "Social");
    Resp f = call("POST", "/api/v1/accounts/1/contacts/filter", filter);
    ASSERT_EQ(f.status, 200) << f.body;
    EXPECT_EQ(f.json()["meta"]["count"].i(), 0);  // a contact with only an identifier is no lead
    Resp scan = call("POST", "/api/v1/accounts/1/contacts/filter",
                     R"({"payload":[{"attribute_key":"name","filter_operator":"contains","values":["Only"]}]})");
    EXPECT_EQ(scan.json()["meta"]["count"].i(), 0);
    J found = call("GET", "/api/v1/accounts/1/contacts/search?q=zattar:cliente").json();
    ASSERT_EQ(found["payload"].size(), 1u);  // search starts from every contact
    EXPECT_EQ(found["payload"][0]["identifier"].str(), "zattar:cliente:9");
    // Adding a phone makes it a lead, and it stays one.
    long long id = found["payload"][0]["id"].i();
    std::string path = "/api/v1/accounts/1/contacts/" + std::to_string(id);
    ASSERT_EQ(call("PUT", path, R"({"phone_number":"+5511987654321"})").status, 200);
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/contacts/filter", filter).json()["meta"]["count"].i(), 1);
    ASSERT_EQ(call("PUT", path, R"({"phone_number":null})").status, 200);
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/contacts/filter", filter).json()["meta"]["count"].i(), 1);
}
