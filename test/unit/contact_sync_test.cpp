#include "core/contact_sync.hpp"
#include "core/json.hpp"

#include <gtest/gtest.h>

using namespace chatwoot::core;

namespace {

ConnectionConfig config() {
    ConnectionConfig c;
    c.api_url = "http://chat.test";
    c.api_key = "k3y-k3y-k3y";
    c.account_id = 1;
    return c;
}

ContactDraft draft() {
    PartySnapshot p;
    p.tipo_entidade = "cliente";
    p.entidade_id = 7;
    p.tipo_pessoa = "pf";
    p.nome = "Ana Souza";
    p.emails_json = R"(["ana@example.com"])";
    p.phones = {{"11", "98765-4321"}};
    return draft_contact(p);
}

HttpResponse reply(long status, const std::string& body) {
    HttpResponse r;
    r.status = status;
    r.body = body;
    return r;
}

std::string contact_json(int id, const std::string& identifier, const std::string& email = "",
                         const std::string& phone = "") {
    Json c = Json::object();
    c.set("id", std::int64_t{id});
    c.set("identifier", identifier.empty() ? Json::null() : Json::string(identifier));
    c.set("email", email.empty() ? Json::null() : Json::string(email));
    c.set("phone_number", phone.empty() ? Json::null() : Json::string(phone));
    return c.dump();
}

std::string list(const std::string& items) { return R"({"meta":{"count":1},"payload":[)" + items + "]}"; }

const std::string kEmpty = R"({"meta":{"count":0},"payload":[]})";
const std::string kCreated =
    R"({"payload":{"contact":{"id":55,"name":"Ana Souza","identifier":"zattar_cliente_7",)"
    R"("custom_attributes":{"ativo":true},"contact_inboxes":[{"source_id":"src-uuid","inbox":{"id":1}}]},)"
    R"("contact_inbox":{"inbox":{"id":1},"source_id":"src-uuid"}}})";

// Drives the machine, checking each request's method and path.
struct Driver {
    RequestFactory factory{config()};
    ContactSync sync;
    Driver(std::optional<std::int64_t> mapped, std::optional<std::int64_t> inbox = std::nullopt)
        : sync(factory, draft(), mapped, inbox) {}
    HttpRequest expect(const std::string& method, const std::string& path_suffix) {
        auto r = sync.next_request();
        EXPECT_TRUE(r.has_value());
        if (!r) return {};
        EXPECT_EQ(r->method, method);
        EXPECT_NE(r->url.find(path_suffix), std::string::npos) << r->url;
        return *r;
    }
};

}  // namespace

TEST(ContactSync, NewContactIsOneLookupAndOneCreate) {
    Driver d(std::nullopt, 1);
    HttpRequest lookup = d.expect("POST", "/api/v1/accounts/1/contacts/filter");
    EXPECT_NE(lookup.body.find("zattar_cliente_7"), std::string::npos);
    d.sync.on_response(reply(200, kEmpty));
    HttpRequest create = d.expect("POST", "/api/v1/accounts/1/contacts");
    EXPECT_EQ(Json::parse(create.body)["inbox_id"].as_integer(), 1);
    d.sync.on_response(reply(200, kCreated));
    ASSERT_TRUE(d.sync.finished());
    const auto& r = d.sync.result();
    EXPECT_EQ(r.outcome, Outcome::success);
    EXPECT_EQ(r.contact_id, 55);
    EXPECT_EQ(r.source_id, "src-uuid");
    EXPECT_TRUE(r.created);
    EXPECT_EQ(r.requests, 2);
    // The snapshot keeps the contact's own fields, not the nested inbox records.
    Json snapshot = Json::parse(r.snapshot_json);
    EXPECT_EQ(snapshot["id"].as_integer(), 55);
    EXPECT_EQ(snapshot["identifier"].as_string(), "zattar_cliente_7");
    EXPECT_EQ(snapshot["custom_attributes"]["ativo"].as_bool(), true);
    EXPECT_FALSE(snapshot["contact_inboxes"]);
}

TEST(ContactSync, MappedContactUpdateIsOneRequest) {
    Driver d(99);
    HttpRequest put = d.expect("PUT", "/contacts/99");
    EXPECT_EQ(Json::parse(put.body)["identifier"].as_string(), "zattar_cliente_7");
    d.sync.on_response(reply(200, R"({"payload":{"id":99}})"));
    EXPECT_TRUE(d.sync.finished());
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_EQ(d.sync.result().contact_id, 99);
    EXPECT_EQ(d.sync.result().requests, 1);
}

TEST(ContactSync, MappedContactDeletedInChatwootIsFoundAgainAndRemapped) {
    Driver d(99);
    d.expect("PUT", "/contacts/99");
    d.sync.on_response(reply(404, R"({"error":"Resource could not be found"})"));
    d.expect("POST", "/contacts/filter");
    d.sync.on_response(reply(200, list(contact_json(120, "", "ana@example.com"))));
    d.expect("PUT", "/contacts/120");
    d.sync.on_response(reply(200, R"({"payload":{"id":120}})"));
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_EQ(d.sync.result().contact_id, 120);
    EXPECT_NE(d.sync.result().notes.find("remapeado"), std::string::npos);
}

TEST(ContactSync, LookupPrefersIdentifierThenEmailThenPhone) {
    Driver d(std::nullopt);
    d.expect("POST", "/contacts/filter");
    d.sync.on_response(reply(200, list(contact_json(1, "", "", "+551187654321") + "," +
                                      contact_json(2, "", "ana@example.com") + "," +
                                      contact_json(3, "zattar_cliente_7"))));
    d.expect("PUT", "/contacts/3");
    d.sync.on_response(reply(200, R"({"payload":{"id":3}})"));
    EXPECT_EQ(d.sync.result().contact_id, 3);
}

TEST(ContactSync, OldPhoneFormWithoutNinthDigitIsMatched) {
    Driver d(std::nullopt);
    d.expect("POST", "/contacts/filter");
    d.sync.on_response(reply(200, list(contact_json(8, "", "", "+551187654321"))));
    d.expect("PUT", "/contacts/8");
}

TEST(ContactSync, SamePersonAsAnotherPartyIsSharedWithoutRewritingIt) {
    Driver d(std::nullopt);
    d.expect("POST", "/contacts/filter");
    d.sync.on_response(reply(200, list(contact_json(5, "zattar_terceiro_3", "ana@example.com"))));
    ASSERT_TRUE(d.sync.finished());
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_EQ(d.sync.result().contact_id, 5);
    EXPECT_TRUE(d.sync.result().shared);
    EXPECT_EQ(d.sync.result().shared_with, "zattar_terceiro_3");
    EXPECT_EQ(d.sync.result().requests, 1);
}

TEST(ContactSync, CreateThatLostARaceAdoptsTheWinner) {
    Driver d(std::nullopt);
    d.expect("POST", "/contacts/filter");
    d.sync.on_response(reply(200, kEmpty));
    d.expect("POST", "/contacts");
    d.sync.on_response(reply(422, R"({"message":"Email has already been taken","attributes":["email"]})"));
    d.expect("POST", "/contacts/filter");
    d.sync.on_response(reply(200, list(contact_json(77, "", "ana@example.com"))));
    d.expect("PUT", "/contacts/77");
    d.sync.on_response(reply(200, R"({"payload":{"id":77}})"));
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_EQ(d.sync.result().contact_id, 77);
    EXPECT_FALSE(d.sync.result().created);
}

TEST(ContactSync, UpdateConflictLeavesTheFieldOutAndSaysSo) {
    Driver d(99);
    d.expect("PUT", "/contacts/99");
    d.sync.on_response(reply(422, R"({"message":"Email has already been taken","attributes":["email"]})"));
    HttpRequest again = d.expect("PUT", "/contacts/99");
    EXPECT_FALSE(Json::parse(again.body)["email"]);
    EXPECT_TRUE(Json::parse(again.body)["phone_number"]);
    d.sync.on_response(reply(200, R"({"payload":{"id":99}})"));
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_NE(d.sync.result().notes.find("email já pertence"), std::string::npos);
}

TEST(ContactSync, TransientFailuresEndTheAttemptAsRetry) {
    for (long status : {500L, 503L, 429L}) {
        Driver d(std::nullopt);
        d.expect("POST", "/contacts/filter");
        d.sync.on_response(reply(status, status == 429 ? "Retry later\n" : "{}"));
        ASSERT_TRUE(d.sync.finished());
        EXPECT_EQ(d.sync.result().outcome, Outcome::retry) << status;
        EXPECT_EQ(d.sync.result().throttled, status == 429);
    }
    Driver d(std::nullopt);
    HttpResponse timeout;
    timeout.error = TransportError::timed_out;
    d.sync.on_response(timeout);
    EXPECT_EQ(d.sync.result().outcome, Outcome::retry);
}

TEST(ContactSync, ValidationErrorIsPermanentWithChatwootsMessage) {
    Driver d(std::nullopt);
    d.expect("POST", "/contacts/filter");
    d.sync.on_response(reply(200, kEmpty));
    d.expect("POST", "/contacts");
    d.sync.on_response(reply(422, R"({"message":"Phone number should be in e164 format","attributes":["phone_number"]})"));
    EXPECT_EQ(d.sync.result().outcome, Outcome::permanent);
    EXPECT_NE(d.sync.result().error.find("Phone number should be in e164 format"), std::string::npos);
}

TEST(ContactDeactivation, PushesAtivoFalseOrDeletesWhenOptedIn) {
    RequestFactory factory(config());
    ContactDeactivation soft(factory, 12, false);
    auto r = soft.next_request();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->method, "PUT");
    EXPECT_NE(r->url.find("/contacts/12"), std::string::npos);
    EXPECT_EQ(Json::parse(r->body)["custom_attributes"]["ativo"].as_bool(), false);
    soft.on_response(reply(200, R"({"payload":{"id":12}})"));
    EXPECT_FALSE(soft.next_request());
    EXPECT_EQ(soft.result().outcome, Outcome::success);

    ContactDeactivation hard(factory, 12, true);
    EXPECT_EQ(hard.next_request()->method, "DELETE");
    hard.on_response(reply(404, R"({"error":"Resource could not be found"})"));
    EXPECT_EQ(hard.result().outcome, Outcome::success);

    ContactDeactivation failing(factory, 12, false);
    failing.on_response(reply(503, ""));
    EXPECT_EQ(failing.result().outcome, Outcome::retry);
}
