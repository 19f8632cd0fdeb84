#include "core/contacts/contact_sync.hpp"
#include "core/json/json.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace chatwoot::core;

namespace {

ConnectionConfig config() {
    ConnectionConfig c;
    c.api_url = "http://chat.test";
    c.api_key = "k3y-k3y-k3y";
    c.webhook_secret = "whsec-Q7n2Lp9xK4";
    c.account_id = 1;
    return c;
}

PartySnapshot ana() {
    PartySnapshot p;
    p.tipo_entidade = "cliente";
    p.entidade_id = 7;
    p.tipo_pessoa = "pf";
    p.nome = "Ana Souza";
    p.emails_json = R"(["ana@example.com"])";
    p.phones = {{"11", "98765-4321"}};
    p.documento = "529.982.247-25";
    return p;
}

HttpResponse reply(long status, const std::string& body) {
    HttpResponse r;
    r.status = status;
    r.body = body;
    return r;
}

std::string contact_json(int id, const std::string& identifier, const std::string& email = "",
                         const std::string& phone = "", const std::string& name = "Ana Souza",
                         const std::string& document = "") {
    Json c = Json::object();
    c.set("id", std::int64_t{id});
    c.set("name", name);
    if (!document.empty()) {
        Json custom = Json::object();
        custom.set("documento", document);
        c.set("custom_attributes", custom);
    }
    c.set("identifier", identifier.empty() ? Json::null() : Json::string(identifier));
    c.set("email", email.empty() ? Json::null() : Json::string(email));
    c.set("phone_number", phone.empty() ? Json::null() : Json::string(phone));
    return c.dump();
}

std::string list(const std::string& items) { return R"({"meta":{"count":1},"payload":[)" + items + "]}"; }
std::string payload(const std::string& contact) { return R"({"payload":)" + contact + "}"; }

const std::string kEmpty = R"({"meta":{"count":0},"payload":[]})";
const std::string kCreated =
    R"({"payload":{"contact":{"id":55,"name":"Ana Souza","identifier":"zattar_cliente_7",)"
    R"("custom_attributes":{"ativo":true},"contact_inboxes":[{"source_id":"src-uuid","inbox":{"id":1}}]},)"
    R"("contact_inbox":{"inbox":{"id":1},"source_id":"src-uuid"}}})";

ContactLink mapped(std::int64_t contact_id, bool owner = true) {
    ContactLink link;
    link.contact_id = contact_id;
    link.owner = owner;
    link.has_contact_inbox = true;
    return link;
}

// Drives the machine, checking each request's method and path.
struct Driver {
    RequestFactory factory{config()};
    ContactSync sync;
    explicit Driver(ContactLink link = {}, std::optional<InboxTarget> inbox = std::nullopt, PartySnapshot party = ana(),
                    bool delete_contacts = false)
        : sync(factory, draft_contact(party), std::move(link), inbox, delete_contacts) {}
    HttpRequest expect(const std::string& method, const std::string& path_suffix) {
        auto r = sync.next_request();
        EXPECT_TRUE(r.has_value()) << "expected " << method << " " << path_suffix;
        if (!r) return {};
        EXPECT_EQ(r->method, method);
        EXPECT_NE(r->url.find(path_suffix), std::string::npos) << r->url;
        return *r;
    }
    void answer(long status, const std::string& body) { sync.on_response(reply(status, body)); }
};

}  // namespace

TEST(ContactSync, NewContactIsOneLookupAndOneCreate) {
    Driver d({}, InboxTarget{1, InboxChannel::api});
    HttpRequest lookup = d.expect("POST", "/api/v1/accounts/1/contacts/filter");
    EXPECT_NE(lookup.body.find("zattar_cliente_7"), std::string::npos);
    d.answer(200, kEmpty);
    HttpRequest create = d.expect("POST", "/api/v1/accounts/1/contacts");
    EXPECT_EQ(Json::parse(create.body)["inbox_id"].as_integer(), 1);
    d.answer(200, kCreated);
    ASSERT_TRUE(d.sync.finished());
    const auto& r = d.sync.result();
    EXPECT_EQ(r.outcome, Outcome::success);
    EXPECT_EQ(r.contact_id, 55);
    EXPECT_TRUE(r.owner);
    EXPECT_EQ(r.source_id, "src-uuid");
    EXPECT_EQ(r.inbox_id, 1);
    EXPECT_TRUE(r.created);
    EXPECT_EQ(r.requests, 2);
    EXPECT_EQ(d.sync.sent_body(), create.body);
    // The snapshot keeps the contact's own fields, not the nested inbox records.
    Json snapshot = Json::parse(r.snapshot_json);
    EXPECT_EQ(snapshot["id"].as_integer(), 55);
    EXPECT_EQ(snapshot["identifier"].as_string(), "zattar_cliente_7");
    EXPECT_FALSE(snapshot["contact_inboxes"]);
}

TEST(ContactSync, MappedOwnerUpdateIsOnePutOfItsWholeIdentity) {
    Driver d(mapped(99));
    HttpRequest put = d.expect("PUT", "/contacts/99");
    Json body = Json::parse(put.body);
    EXPECT_EQ(body["identifier"].as_string(), "zattar_cliente_7");
    EXPECT_EQ(body["custom_attributes"]["entidade_id"].as_integer(), 7);
    EXPECT_FALSE(body["inbox_id"]);
    d.answer(200, payload(contact_json(99, "zattar_cliente_7")));
    EXPECT_TRUE(d.sync.finished());
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_EQ(d.sync.result().contact_id, 99);
    EXPECT_TRUE(d.sync.result().owner);
    EXPECT_EQ(d.sync.result().requests, 1);
}

TEST(ContactSync, FieldsTheAppEmptiedAreClearedOnAnOwnedContactOnly) {
    PartySnapshot emptied = ana();
    emptied.emails_json = "[]";
    emptied.phones = {{"", ""}};
    emptied.documento = "";
    ContactLink link = mapped(99);
    link.last_sent = {true, true, true};
    Driver d(link, std::nullopt, emptied);
    Json body = Json::parse(d.expect("PUT", "/contacts/99").body);
    ASSERT_TRUE(body["email"]);
    EXPECT_TRUE(body["email"].is_null());
    ASSERT_TRUE(body["phone_number"]);
    EXPECT_TRUE(body["phone_number"].is_null());
    // N5: a null would stay as a key (custom_attributes are merged): the key is destroyed.
    EXPECT_FALSE(body["custom_attributes"]["documento"]);
    d.answer(200, payload(contact_json(99, "zattar_cliente_7")));
    HttpRequest destroy = d.expect("POST", "/contacts/99/destroy_custom_attributes");
    EXPECT_EQ(Json::parse(destroy.body)["custom_attributes"].at(0).as_string(), "documento");
    d.answer(200, payload(contact_json(99, "zattar_cliente_7")));
    ASSERT_TRUE(d.sync.finished());
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_EQ(d.sync.result().requests, 2);
    EXPECT_FALSE(Json::parse(d.sync.sent_body())["custom_attributes"]["documento"]);

    // Unusable is not empty: an invalid e-mail in the app leaves Chatwoot's as it is.
    PartySnapshot invalid = emptied;
    invalid.emails_json = R"(["sem arroba"])";
    Driver kept(link, std::nullopt, invalid);
    EXPECT_FALSE(Json::parse(kept.expect("PUT", "/contacts/99").body)["email"]);

    // Nothing sent before: nothing to clear.
    Driver fresh(mapped(99), std::nullopt, emptied);
    EXPECT_FALSE(Json::parse(fresh.expect("PUT", "/contacts/99").body)["email"]);
}

TEST(ContactSync, ASharerChecksTheContactAndWritesNothing) {
    Driver d(mapped(40, false));
    d.expect("GET", "/contacts/40");
    d.answer(200, payload(contact_json(40, "zattar_terceiro_3", "ana@example.com")));
    ASSERT_TRUE(d.sync.finished());
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_EQ(d.sync.result().contact_id, 40);
    EXPECT_FALSE(d.sync.result().owner);
    EXPECT_EQ(d.sync.result().requests, 1);
    EXPECT_TRUE(d.sync.sent_body().empty());
}

TEST(ContactSync, ASharerTakesOverAContactNobodyOwnsAnyMore) {
    for (const char* identifier : {"", "zattar_terceiro_3-removido-40"}) {
        Driver d(mapped(40, false));
        d.expect("GET", "/contacts/40");
        d.answer(200, payload(contact_json(40, identifier, "ana@example.com")));
        HttpRequest put = d.expect("PUT", "/contacts/40");
        EXPECT_EQ(Json::parse(put.body)["identifier"].as_string(), "zattar_cliente_7");
        d.answer(200, payload(contact_json(40, "zattar_cliente_7")));
        EXPECT_TRUE(d.sync.result().owner) << identifier;
    }
}

TEST(ContactSync, MappedContactDeletedInChatwootIsFoundAgainAndRemapped) {
    Driver d(mapped(99));
    d.expect("PUT", "/contacts/99");
    d.answer(404, R"({"error":"Resource could not be found"})");
    d.expect("POST", "/contacts/filter");
    d.answer(200, list(contact_json(120, "", "ana@example.com")));
    d.expect("PUT", "/contacts/120");
    d.answer(200, payload(contact_json(120, "zattar_cliente_7")));
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_EQ(d.sync.result().contact_id, 120);
    EXPECT_NE(d.sync.result().notes.find("remapeado"), std::string::npos);
}

TEST(ContactSync, LookupPrefersIdentifierThenEmailThenPhone) {
    Driver d;
    d.expect("POST", "/contacts/filter");
    d.answer(200, list(contact_json(1, "", "", "+551187654321") + "," + contact_json(2, "", "ana@example.com") + "," +
                       contact_json(3, "zattar_cliente_7")));
    d.expect("PUT", "/contacts/3");

    Driver no_identifier;
    no_identifier.expect("POST", "/contacts/filter");
    no_identifier.answer(200, list(contact_json(1, "", "", "+5511987654321") + "," + contact_json(2, "", "ana@example.com")));
    no_identifier.expect("PUT", "/contacts/2");
}

TEST(ContactSync, MatchesIdentifierAndEmailWithoutCaseAsChatwootDoes) {
    Driver d;
    d.expect("POST", "/contacts/filter");
    d.answer(200, list(contact_json(1, "", "", "+5511987654321") + "," + contact_json(2, "ZATTAR_Cliente_7")));
    d.expect("PUT", "/contacts/2");

    Driver email;
    email.expect("POST", "/contacts/filter");
    email.answer(200, list(contact_json(1, "", "", "+5511987654321") + "," + contact_json(2, "", "ANA@Example.com")));
    email.expect("PUT", "/contacts/2");
}

TEST(ContactSync, OldPhoneFormWithoutNinthDigitIsMatched) {
    Driver d;
    d.expect("POST", "/contacts/filter");
    d.answer(200, list(contact_json(8, "", "", "+551187654321")));
    d.expect("PUT", "/contacts/8");
}

TEST(ContactSync, SamePersonAsAnotherPartyIsSharedWithoutRewritingIt) {
    Driver d;
    d.expect("POST", "/contacts/filter");
    d.answer(200, list(contact_json(5, "zattar_terceiro_3", "ana@example.com")));
    ASSERT_TRUE(d.sync.finished());
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_EQ(d.sync.result().contact_id, 5);
    EXPECT_FALSE(d.sync.result().owner);
    EXPECT_NE(d.sync.result().notes.find("zattar_terceiro_3"), std::string::npos);
    EXPECT_EQ(d.sync.result().requests, 1);
}

TEST(ContactSync, AReleasedContactOfTheSamePersonIsAdoptedAsOwner) {
    Driver d;
    d.expect("POST", "/contacts/filter");
    d.answer(200, list(contact_json(5, "zattar_cliente_7-removido-5", "ana@example.com")));
    EXPECT_EQ(Json::parse(d.expect("PUT", "/contacts/5").body)["identifier"].as_string(), "zattar_cliente_7");
    d.answer(200, payload(contact_json(5, "zattar_cliente_7")));
    EXPECT_TRUE(d.sync.result().owner);
}

TEST(ContactSync, CreateRefusedAsTakenIsRecognisedByItsAttributesAndAdoptsTheWinner) {
    Driver d;
    d.expect("POST", "/contacts/filter");
    d.answer(200, kEmpty);
    d.expect("POST", "/contacts");
    // A localised message: only `attributes` says which field is taken.
    d.answer(422, R"({"message":"E-mail já está em uso","attributes":["email"]})");
    d.expect("POST", "/contacts/filter");
    d.answer(200, list(contact_json(77, "", "ana@example.com")));
    d.expect("PUT", "/contacts/77");
    d.answer(200, payload(contact_json(77, "zattar_cliente_7")));
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_EQ(d.sync.result().contact_id, 77);
    EXPECT_FALSE(d.sync.result().created);
}

TEST(ContactSync, AnIdentifierTakenButHiddenFromTheFilterIsFoundBySearch) {
    // crm_v2 filters only leads: a contact with nothing but our identifier is invisible.
    Driver d;
    d.expect("POST", "/contacts/filter");
    d.answer(200, kEmpty);
    d.expect("POST", "/contacts");
    d.answer(422, R"({"message":"Identifier has already been taken","attributes":["identifier"]})");
    d.expect("POST", "/contacts/filter");
    d.answer(200, kEmpty);
    HttpRequest search = d.expect("GET", "/contacts/search?q=zattar_cliente_7");
    EXPECT_TRUE(search.body.empty());
    d.answer(200, list(contact_json(3, "zattar_cliente_70") + "," + contact_json(4, "Zattar_Cliente_7")));
    d.expect("PUT", "/contacts/4");
    d.answer(200, payload(contact_json(4, "zattar_cliente_7")));
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_EQ(d.sync.result().contact_id, 4);
    EXPECT_EQ(d.sync.result().requests, 5);
}

TEST(ContactSync, TakenButFoundNowhereIsRetriedNotCreatedAgain) {
    Driver d;
    d.expect("POST", "/contacts/filter");
    d.answer(200, kEmpty);
    d.expect("POST", "/contacts");
    d.answer(422, R"({"message":"Identifier has already been taken","attributes":["identifier"]})");
    d.expect("POST", "/contacts/filter");
    d.answer(200, kEmpty);
    d.expect("GET", "/contacts/search");
    d.answer(200, kEmpty);
    ASSERT_TRUE(d.sync.finished());
    EXPECT_EQ(d.sync.result().outcome, Outcome::retry);
}

TEST(ContactSync, UpdateConflictLeavesTheFieldOutAndSaysSo) {
    Driver d(mapped(99));
    d.expect("PUT", "/contacts/99");
    d.answer(422, R"({"message":"Email has already been taken","attributes":["email"]})");
    HttpRequest again = d.expect("PUT", "/contacts/99");
    EXPECT_FALSE(Json::parse(again.body)["email"]);
    EXPECT_TRUE(Json::parse(again.body)["phone_number"]);
    d.answer(200, payload(contact_json(99, "zattar_cliente_7")));
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_NE(d.sync.result().notes.find("email já pertence"), std::string::npos);
    EXPECT_EQ(d.sync.sent_body(), again.body);
}

TEST(ContactSync, TransientFailuresEndTheAttemptAsRetry) {
    for (long status : {500L, 503L, 429L}) {
        Driver d;
        d.expect("POST", "/contacts/filter");
        d.answer(status, status == 429 ? "Retry later\n" : "{}");
        ASSERT_TRUE(d.sync.finished());
        EXPECT_EQ(d.sync.result().outcome, Outcome::retry) << status;
        EXPECT_EQ(d.sync.result().throttled, status == 429);
    }
    Driver d;
    HttpResponse timeout;
    timeout.error = TransportError::timed_out;
    d.sync.on_response(timeout);
    EXPECT_EQ(d.sync.result().outcome, Outcome::retry);
    EXPECT_FALSE(d.sync.result().aborted);
    Driver cut;
    HttpResponse aborted;
    aborted.error = TransportError::aborted;
    cut.sync.on_response(aborted);
    EXPECT_TRUE(cut.sync.result().aborted);
}

TEST(ContactSync, ARefusedConnectionEndsTheJobAsRefusedWithTheReason) {
    struct Case {
        long status;
        const char* body;
        const char* says;
    };
    for (const Case& c : {Case{401, R"({"error":"Invalid Access Token"})", "token de API inválido"},
                          Case{401, R"({"error":"Account is suspended"})", "suspensa"},
                          Case{401, R"({"errors":["You need to sign in or sign up before continuing."]})", "proxy"},
                          Case{403, "<html>Forbidden</html>", "HTTP 403"}}) {
        Driver d;
        d.expect("POST", "/contacts/filter");
        d.answer(c.status, c.body);
        ASSERT_TRUE(d.sync.finished());
        EXPECT_EQ(d.sync.result().outcome, Outcome::refused) << c.body;
        EXPECT_NE(d.sync.result().error.find(c.says), std::string::npos) << d.sync.result().error;
    }
}

TEST(ContactSync, ValidationErrorIsPermanentWithChatwootsMessage) {
    Driver d;
    d.expect("POST", "/contacts/filter");
    d.answer(200, kEmpty);
    d.expect("POST", "/contacts");
    d.answer(422, R"({"message":"Phone number should be in e164 format","attributes":["phone_number"]})");
    EXPECT_EQ(d.sync.result().outcome, Outcome::permanent);
    EXPECT_NE(d.sync.result().error.find("Phone number should be in e164 format"), std::string::npos);
}

TEST(ContactSync, AnInboxTakesOnlyThePartiesItsChannelCanReach) {
    PartySnapshot no_phone = ana();
    no_phone.phones = {};
    struct Case {
        InboxChannel channel;
        PartySnapshot party;
        bool with_inbox;
    };
    for (const Case& c : {Case{InboxChannel::api, no_phone, true}, Case{InboxChannel::needs_phone, ana(), true},
                          Case{InboxChannel::needs_phone, no_phone, false},
                          Case{InboxChannel::needs_email, no_phone, true}, Case{InboxChannel::unsupported, ana(), false}}) {
        Driver d({}, InboxTarget{3, c.channel}, c.party);
        d.expect("POST", "/contacts/filter");
        d.answer(200, kEmpty);
        EXPECT_EQ(static_cast<bool>(Json::parse(d.expect("POST", "/contacts").body)["inbox_id"]), c.with_inbox)
            << static_cast<int>(c.channel);
    }
    EXPECT_EQ(inbox_channel_of("Channel::Whatsapp"), InboxChannel::needs_phone);
    EXPECT_EQ(inbox_channel_of("Channel::TwilioSms"), InboxChannel::needs_phone);
    EXPECT_EQ(inbox_channel_of("Channel::Email"), InboxChannel::needs_email);
    EXPECT_EQ(inbox_channel_of("Channel::WebWidget"), InboxChannel::api);
    EXPECT_EQ(inbox_channel_of("Channel::Telegram"), InboxChannel::unsupported);
}

TEST(ContactSync, AChannelRefusingAMissingFieldGetsTheContactWithoutInbox) {
    Driver d({}, InboxTarget{3, InboxChannel::api});
    d.expect("POST", "/contacts/filter");
    d.answer(200, kEmpty);
    d.expect("POST", "/contacts");
    d.answer(422, R"({"error":"param is missing or the value is empty: contact phone number"})");
    EXPECT_FALSE(Json::parse(d.expect("POST", "/contacts").body)["inbox_id"]);
    d.answer(200, R"({"payload":{"contact":{"id":60},"contact_inbox":{"inbox":null,"source_id":null}}})");
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_FALSE(d.sync.result().source_id);
    EXPECT_NE(d.sync.result().notes.find("sem inbox"), std::string::npos);
}

TEST(ContactSync, AContactGetsItsContactInboxOnceThePartyHasWhatTheChannelNeeds) {
    ContactLink link = mapped(99);
    link.has_contact_inbox = false;
    Driver d(link, InboxTarget{3, InboxChannel::needs_phone});
    d.expect("PUT", "/contacts/99");
    d.answer(200, payload(contact_json(99, "zattar_cliente_7")));  // no contact inbox for inbox 3 listed
    HttpRequest add = d.expect("POST", "/contacts/99/contact_inboxes");
    EXPECT_EQ(Json::parse(add.body)["inbox_id"].as_integer(), 3);
    d.answer(200, R"({"source_id":"5511987654321","inbox":{"id":3}})");
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_EQ(d.sync.result().source_id, "5511987654321");
    EXPECT_EQ(d.sync.result().inbox_id, 3);
    EXPECT_EQ(d.sync.result().requests, 2);

    // Listed in the PUT reply: recorded, nothing added.
    Driver listed(link, InboxTarget{3, InboxChannel::needs_phone});
    listed.expect("PUT", "/contacts/99");
    listed.answer(200, R"({"payload":{"id":99,"contact_inboxes":[{"source_id":"s-1","inbox":{"id":3}}]}})");
    EXPECT_TRUE(listed.sync.finished());
    EXPECT_EQ(listed.sync.result().source_id, "s-1");
}

TEST(ContactSync, ARemovedPartysContactIsReleasedBeforeTheNewPartyIsSynced) {
    ContactLink link = mapped(4);
    link.removed = true;
    Driver d(link, InboxTarget{1, InboxChannel::api});
    HttpRequest release = d.expect("PUT", "/contacts/4");
    Json body = Json::parse(release.body);
    EXPECT_EQ(body["identifier"].as_string(), "zattar_cliente_7-removido-4");
    EXPECT_EQ(body["custom_attributes"]["ativo"].as_bool(), false);
    EXPECT_FALSE(body["name"]);  // nothing of the new party goes onto the old contact
    d.answer(200, payload(contact_json(4, "zattar_cliente_7-removido-4")));
    d.expect("POST", "/contacts/filter");
    d.answer(200, kEmpty);
    d.expect("POST", "/contacts");
    d.answer(200, kCreated);
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_EQ(d.sync.result().released_contact, 4);
    EXPECT_EQ(d.sync.result().contact_id, 55);
}

TEST(ContactSync, ExclusiveKeysNameThePersonAndItsContact) {
    RequestFactory factory(config());
    ContactSync sync(factory, draft_contact(ana()), mapped(99), std::nullopt);
    auto keys = sync.exclusive_keys();
    for (const char* key : {"identifier:zattar_cliente_7", "email:ana@example.com", "phone:+5511987654321",
                            "phone:+551187654321", "contact:99"})
        EXPECT_NE(std::find(keys.begin(), keys.end(), key), keys.end()) << key;
}

TEST(ContactRelease, ANoLongerSharedOwnedContactIsDeactivatedUnderAnotherIdentifier) {
    RequestFactory factory(config());
    PartyRef party{"cliente", 7};
    ContactRelease soft(factory, party, mapped(12), false);
    auto r = soft.next_request();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->method, "PUT");
    EXPECT_NE(r->url.find("/contacts/12"), std::string::npos);
    Json body = Json::parse(r->body);
    EXPECT_EQ(body["custom_attributes"]["ativo"].as_bool(), false);
    EXPECT_EQ(body["identifier"].as_string(), "zattar_cliente_7-removido-12");
    EXPECT_TRUE(is_released_identifier(*body["identifier"].as_string()));
    soft.on_response(reply(200, payload(contact_json(12, "x"))));
    EXPECT_FALSE(soft.next_request());
    EXPECT_EQ(soft.result().outcome, Outcome::success);
    EXPECT_EQ(soft.result().released_contact, 12);

    ContactRelease erased(factory, party, mapped(12), true);
    EXPECT_EQ(erased.next_request()->method, "DELETE");
    erased.on_response(reply(200, ""));  // a 404: A404AfterAMergeActsOnTheSurvivorThatCarriesTheIdentifier
    EXPECT_EQ(erased.result().outcome, Outcome::success);

    ContactRelease failing(factory, party, mapped(12), false);
    failing.on_response(reply(503, ""));
    EXPECT_EQ(failing.result().outcome, Outcome::retry);
}

TEST(ContactRelease, AContactAnotherActivePartyMapsToIsNeverDeactivatedOrDeleted) {
    RequestFactory factory(config());
    ContactLink shared = mapped(12);
    shared.others_active = true;
    shared.successor = PartyRef{"terceiro", 3};
    for (bool erase : {false, true}) {
        ContactRelease owner(factory, PartyRef{"cliente", 7}, shared, erase);
        auto r = owner.next_request();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->method, "PUT");  // the identity goes to the other party
        Json body = Json::parse(r->body);
        EXPECT_EQ(body["identifier"].as_string(), "zattar_terceiro_3");
        EXPECT_EQ(body["custom_attributes"]["entidade_id"].as_integer(), 3);
        EXPECT_EQ(body["custom_attributes"]["ativo"].as_bool(), true);
        owner.on_response(reply(200, payload(contact_json(12, "zattar_terceiro_3"))));
        ASSERT_TRUE(owner.result().new_owner);
        EXPECT_EQ(owner.result().new_owner->entidade_id, 3);
    }
    // A sharer only lets go: it never wrote to the contact.
    ContactRelease sharer(factory, PartyRef{"terceiro", 3}, mapped(12, false), true);
    EXPECT_FALSE(sharer.next_request());
    EXPECT_TRUE(sharer.finished());
    EXPECT_EQ(sharer.result().outcome, Outcome::success);
    EXPECT_EQ(sharer.result().released_contact, 12);
}

TEST(ContactDeactivation, PushesAtivoFalseUnlessAnotherActivePartySharesTheContact) {
    RequestFactory factory(config());
    ContactDeactivation soft(factory, PartyRef{"cliente", 7}, 12, false);
    auto r = soft.next_request();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->method, "PUT");
    EXPECT_EQ(Json::parse(r->body)["custom_attributes"]["ativo"].as_bool(), false);
    EXPECT_FALSE(Json::parse(r->body)["identifier"]);
    soft.on_response(reply(200, payload(contact_json(12, "x"))));
    EXPECT_EQ(soft.result().outcome, Outcome::success);

    ContactDeactivation kept(factory, PartyRef{"cliente", 7}, 12, true);
    EXPECT_FALSE(kept.next_request());
    EXPECT_EQ(kept.result().outcome, Outcome::success);
    EXPECT_NE(kept.result().notes.find("outra parte"), std::string::npos);

    ContactDeactivation failing(factory, PartyRef{"cliente", 7}, 12, false);
    failing.on_response(reply(503, ""));
    EXPECT_EQ(failing.result().outcome, Outcome::retry);
}

namespace {
// Replies to a lookup that cannot be read (probe rows 5.1-5.3): none of them is "no contact".
std::vector<std::pair<std::string, std::string>> unreadable_lookups() {
    return {{"html", "<html><body>Please wait...</body></html>"},
            {"deep", std::string(100000, '[') + std::string(100000, ']')},
            {"bigid", R"({"payload":[{"id":99999999999999999999999,"identifier":"zattar_cliente_7"}]})"},
            {"strid", R"({"payload":[{"id":"1001","identifier":"zattar_cliente_7"}]})"},
            {"negid", R"({"payload":[{"id":-1001,"identifier":"zattar_cliente_7"}]})"},
            {"floatid", R"({"payload":[{"id":1001.5,"identifier":"zattar_cliente_7"}]})"},
            {"noid", R"({"payload":[{"identifier":"zattar_cliente_7"}]})"},
            {"notobject", R"({"payload":[7]})"},
            {"nopayload", R"({"meta":{"count":0}})"},
            {"payloadobject", R"({"payload":{"id":7}})"},
            {"dupkeys", R"({"payload":[{"id":1,"identifier":"zattar_cliente_7"}],"payload":[]})"},
            {"empty", ""},
            {"scalar", "null"}};
}
}  // namespace

// T3-11 (a): a lookup answered 2xx with a body that cannot be read is a retry that
// says so, never "no contact found": no create follows.
TEST(ContactSync, AnUnreadableLookupIsRetriedNeverReadAsNoContact) {
    for (const auto& [mode, body] : unreadable_lookups()) {
        Driver d;
        d.expect("POST", "/contacts/filter");
        d.answer(200, body);
        ASSERT_TRUE(d.sync.finished()) << mode;
        EXPECT_FALSE(d.sync.next_request()) << mode << ": no POST /contacts after an unread lookup";
        EXPECT_EQ(d.sync.result().outcome, Outcome::retry) << mode;
        EXPECT_EQ(d.sync.result().contact_id, 0) << mode;
        EXPECT_EQ(d.sync.result().error.rfind("resposta ilegível da busca de contato", 0), 0u)
            << mode << ": " << d.sync.result().error;
        EXPECT_LT(d.sync.result().error.size(), 500u) << mode;
    }
    // The same reply as the search after a create refused as taken.
    for (const auto& [mode, body] : unreadable_lookups()) {
        Driver d;
        d.expect("POST", "/contacts/filter");
        d.answer(200, kEmpty);
        d.expect("POST", "/contacts");
        d.answer(422, R"({"message":"Identifier has already been taken","attributes":["identifier"]})");
        d.expect("POST", "/contacts/filter");
        d.answer(200, kEmpty);
        d.expect("GET", "/contacts/search");
        d.answer(200, body);
        ASSERT_TRUE(d.sync.finished()) << mode;
        EXPECT_FALSE(d.sync.next_request()) << mode;
        EXPECT_EQ(d.sync.result().outcome, Outcome::retry) << mode;
        EXPECT_NE(d.sync.result().error.find("resposta ilegível da pesquisa de contato"), std::string::npos)
            << mode << ": " << d.sync.result().error;
    }
    // A readable empty reply is still "none": the create follows.
    Driver none;
    none.expect("POST", "/contacts/filter");
    none.answer(200, R"({"meta":{"count":0},"payload":[]})");
    none.expect("POST", "/contacts");
}

// A sharer's GET that cannot be read would look like a contact nobody owns (no
// identifier) and be taken over: a retry instead, nothing written.
TEST(ContactSync, AnUnreadableSharedContactIsRetriedNotTakenOver) {
    for (const char* body : {"<html>proxy</html>", R"({"payload":null})", R"({"payload":{"id":"99"}})", "{}"}) {
        Driver d(mapped(99, false));
        d.expect("GET", "/contacts/99");
        d.answer(200, body);
        ASSERT_TRUE(d.sync.finished()) << body;
        EXPECT_FALSE(d.sync.next_request()) << body;
        EXPECT_EQ(d.sync.result().outcome, Outcome::retry) << body;
        EXPECT_NE(d.sync.result().error.find("resposta ilegível do contato compartilhado 99"), std::string::npos);
    }
}

// T3-11 (b): an unusable create reply is retried within no second create; the retry
// (a new sync of the same unmapped party) looks up before it creates, and adopts the
// contact the first create made.
TEST(ContactSync, AnUnusableCreateReplyIsRetriedAndTheRetryLooksUpFirst) {
    for (const char* body : {"<html>ok</html>", R"({"payload":{"contact":{"id":"1001"}}})",
                             R"({"payload":{"contact":{"id":-1}}})", R"({"payload":{"contact":{"id":1001.5}}})",
                             R"({"payload":{"contact":{"id":99999999999999999999999}}})", R"({"payload":{}})"}) {
        Driver d;
        d.expect("POST", "/contacts/filter");
        d.answer(200, kEmpty);
        d.expect("POST", "/contacts");
        d.answer(200, body);
        ASSERT_TRUE(d.sync.finished()) << body;
        EXPECT_FALSE(d.sync.next_request()) << body << ": no second create in the same attempt";
        EXPECT_EQ(d.sync.result().outcome, Outcome::retry) << body;
        EXPECT_EQ(d.sync.result().contact_id, 0) << body;
        EXPECT_NE(d.sync.result().error.find("resposta ilegível da criação"), std::string::npos)
            << d.sync.result().error;
        Driver retry;  // nothing was mapped: the retry starts from the lookup
        retry.expect("POST", "/contacts/filter");
        retry.answer(200, list(contact_json(1001, "zattar_cliente_7")));
        retry.expect("PUT", "/contacts/1001");
        retry.answer(200, payload(contact_json(1001, "zattar_cliente_7")));
        EXPECT_EQ(retry.sync.result().outcome, Outcome::success);
        EXPECT_FALSE(retry.sync.result().created);
        EXPECT_EQ(retry.sync.result().contact_id, 1001);
    }
}

// T3-11 (c): a redirect on any step is a retry naming the Location, not a dead letter.
TEST(ContactSync, ARedirectIsARetryThatNamesTheLocation) {
    HttpResponse moved;
    moved.status = 301;
    moved.body = "<html>Moved</html>";
    moved.location = "https://chat.test/api/v1/accounts/1/contacts/filter";
    Driver lookup;
    lookup.expect("POST", "/contacts/filter");
    lookup.sync.on_response(moved);
    ASSERT_TRUE(lookup.sync.finished());
    EXPECT_FALSE(lookup.sync.next_request());
    EXPECT_EQ(lookup.sync.result().outcome, Outcome::retry);
    EXPECT_NE(lookup.sync.result().error.find("HTTP 301: redirecionamento para 'https://chat.test/api/v1/accounts/1/"
                                              "contacts/filter'"),
              std::string::npos)
        << lookup.sync.result().error;
    Driver update(mapped(99));
    update.expect("PUT", "/contacts/99");
    moved.status = 302;
    moved.location = "https://login.test/?k=" + config().api_key;
    update.sync.on_response(moved);
    EXPECT_EQ(update.sync.result().outcome, Outcome::retry);
    EXPECT_NE(update.sync.result().error.find("'https://login.test/?k=[redacted]'"), std::string::npos)
        << update.sync.result().error;
}

// T3-7: Chatwoot's message echoing the key or the webhook secret across the 300-byte
// cut, at every offset: nothing of either is in the job's error.
TEST(ContactSync, AMessageEchoingASecretAcrossTheCutKeepsNothingOfIt) {
    const ConnectionConfig c = config();
    for (const std::string& secret : {c.api_key, c.webhook_secret}) {
        for (std::size_t pad = 260; pad <= 305; ++pad) {
            Driver d;
            d.expect("POST", "/contacts/filter");
            d.answer(200, kEmpty);
            d.expect("POST", "/contacts");
            d.answer(422, "{\"message\":\"" + std::string(pad, 'x') + secret + " (echoed)\"}");
            const std::string& error = d.sync.result().error;
            EXPECT_EQ(d.sync.result().outcome, Outcome::permanent);
            EXPECT_EQ(error.find(c.api_key.substr(0, 8)), std::string::npos) << pad << ": " << error;
            EXPECT_EQ(error.find(c.webhook_secret.substr(0, 8)), std::string::npos) << pad << ": " << error;
            if (pad + 10 + 9 <= 297)  // redacted first: the words after the secret still fit
                EXPECT_NE(error.find("[redacted] (echoed)"), std::string::npos) << pad << ": " << error;
        }
    }
}

// --- issue 18: what the third reading of Chatwoot found ------------------------------

// D8: Pundit's denial of one action is not a refusal of the token: that job fails with
// the reason (a dead letter), the integration is not paused.
TEST(ContactSync, AnActionDeniedToTheTokensUserFailsOnlyThatJob) {
    const std::string denied = R"({"error":"You are not authorized to do this action"})";
    Driver d;
    d.expect("POST", "/contacts/filter");
    d.answer(401, denied);
    ASSERT_TRUE(d.sync.finished());
    EXPECT_EQ(d.sync.result().outcome, Outcome::permanent);
    EXPECT_NE(d.sync.result().error.find("só este trabalho falha"), std::string::npos) << d.sync.result().error;

    RequestFactory factory(config());
    ContactRelease erase(factory, PartyRef{"cliente", 7}, mapped(12), true);
    EXPECT_EQ(erase.next_request()->method, "DELETE");
    erase.on_response(reply(401, denied));
    EXPECT_EQ(erase.result().outcome, Outcome::permanent);

    // A contact inbox on an inbox the agent is not a member of: noted, the contact synced.
    Driver inbox({}, InboxTarget{3, InboxChannel::api});
    inbox.expect("POST", "/contacts/filter");
    inbox.answer(200, list(contact_json(20, "zattar_cliente_7")));
    inbox.expect("PUT", "/contacts/20");
    inbox.answer(200, payload(contact_json(20, "zattar_cliente_7")));
    inbox.expect("POST", "/contacts/20/contact_inboxes");
    inbox.answer(401, denied);
    ASSERT_TRUE(inbox.sync.finished());
    EXPECT_EQ(inbox.sync.result().outcome, Outcome::success);
    EXPECT_NE(inbox.sync.result().notes.find("inbox 3 não adicionado"), std::string::npos);

    // The token itself refused still pauses (refused).
    for (const char* body : {R"({"error":"Invalid Access Token"})", R"({"error":"You are not authorized to access this account"})"}) {
        Driver t;
        t.expect("POST", "/contacts/filter");
        t.answer(401, body);
        EXPECT_EQ(t.sync.result().outcome, Outcome::refused) << body;
    }
}

TEST(ContactSync, SamePersonIsTheSameDocumentOrWithoutOneTheSameName) {
    ContactDraft with_document = draft_contact(ana());  // CPF 52998224725
    EXPECT_TRUE(same_person(with_document, "Outro Nome", "529.982.247-25"));
    EXPECT_FALSE(same_person(with_document, "Ana Souza", "111.444.777-35"));
    EXPECT_TRUE(same_person(with_document, "  ana   SOUZA ", ""));
    EXPECT_FALSE(same_person(with_document, "Escritório Souza", ""));
    EXPECT_FALSE(same_person(with_document, "", ""));
    PartySnapshot accented = ana();
    accented.nome = "ÉLIDA ÇÃO";
    accented.documento = "";
    EXPECT_TRUE(same_person(draft_contact(accented), "élida ção", "529.982.247-25"));
}

// A shared office e-mail or phone: another person's contact holds it. This party gets
// its own contact without the field; the other contact is not touched.
TEST(ContactSync, AnotherPersonsSharedEmailOrPhoneIsLeftOffThisPartysOwnContact) {
    Driver d({}, InboxTarget{1, InboxChannel::api});
    d.expect("POST", "/contacts/filter");
    d.answer(200, list(contact_json(5, "zattar_cliente_3", "ana@example.com", "", "Bruno Lima") + "," +
                       contact_json(6, "zattar_terceiro_9", "", "+5511987654321", "Carla Reis")));
    HttpRequest create = d.expect("POST", "/contacts");
    Json body = Json::parse(create.body);
    EXPECT_FALSE(body["email"]);
    EXPECT_FALSE(body["phone_number"]);
    EXPECT_EQ(body["identifier"].as_string(), "zattar_cliente_7");
    d.answer(200, kCreated);
    ASSERT_TRUE(d.sync.finished());
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_TRUE(d.sync.result().owner);
    EXPECT_TRUE(d.sync.result().created);
    EXPECT_NE(d.sync.result().notes.find("outra pessoa"), std::string::npos) << d.sync.result().notes;

    // The same person under another role still shares (document equal, another name).
    Driver same;
    same.expect("POST", "/contacts/filter");
    same.answer(200, list(contact_json(5, "zattar_terceiro_3", "ana@example.com", "", "A. Souza", "52998224725")));
    ASSERT_TRUE(same.sync.finished());
    EXPECT_EQ(same.sync.result().contact_id, 5);
    EXPECT_FALSE(same.sync.result().owner);

    // A WhatsApp inbox needs the phone another person holds: the contact goes without the inbox.
    Driver whatsapp({}, InboxTarget{4, InboxChannel::needs_phone});
    whatsapp.expect("POST", "/contacts/filter");
    whatsapp.answer(200, list(contact_json(6, "zattar_terceiro_9", "", "+5511987654321", "Carla Reis")));
    Json wbody = Json::parse(whatsapp.expect("POST", "/contacts").body);
    EXPECT_FALSE(wbody["phone_number"]);
    EXPECT_FALSE(wbody["inbox_id"]);
    EXPECT_EQ(wbody["email"].as_string(), "ana@example.com");
}

// N3: a 404 after a Chatwoot merge. The survivor inherited the identifier: the release
// (LGPD erasure or deactivation) acts on it.
TEST(ContactRelease, A404AfterAMergeActsOnTheSurvivorThatCarriesTheIdentifier) {
    RequestFactory factory(config());
    PartyRef party{"cliente", 7};
    ContactRelease erase(factory, party, mapped(12), true);
    EXPECT_EQ(erase.next_request()->method, "DELETE");
    erase.on_response(reply(404, R"({"error":"Resource could not be found"})"));
    auto lookup = erase.next_request();
    ASSERT_TRUE(lookup);
    EXPECT_NE(lookup->url.find("/contacts/filter"), std::string::npos);
    EXPECT_NE(lookup->body.find("zattar_cliente_7"), std::string::npos);
    erase.on_response(reply(200, list(contact_json(30, "ZATTAR_CLIENTE_7", "ana@example.com"))));
    auto again = erase.next_request();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->method, "DELETE");
    EXPECT_NE(again->url.find("/contacts/30"), std::string::npos);
    erase.on_response(reply(200, ""));
    EXPECT_EQ(erase.result().outcome, Outcome::success);
    EXPECT_NE(erase.result().notes.find("mesclado no 30"), std::string::npos);

    ContactRelease soft(factory, party, mapped(12), false);
    soft.next_request();
    soft.on_response(reply(404, R"({"error":"Resource could not be found"})"));
    soft.next_request();
    soft.on_response(reply(200, kEmpty));  // crm_v2: the filter may list only leads
    auto search = soft.next_request();
    ASSERT_TRUE(search);
    EXPECT_NE(search->url.find("/contacts/search?q=zattar_cliente_7&page=1"), std::string::npos) << search->url;
    soft.on_response(reply(200, list(contact_json(31, "zattar_cliente_7"))));
    auto put = soft.next_request();
    ASSERT_TRUE(put);
    EXPECT_EQ(put->method, "PUT");
    EXPECT_NE(put->url.find("/contacts/31"), std::string::npos);
    EXPECT_EQ(Json::parse(put->body)["identifier"].as_string(), "zattar_cliente_7-removido-31");
    EXPECT_EQ(Json::parse(put->body)["custom_attributes"]["ativo"].as_bool(), false);
    soft.on_response(reply(200, payload(contact_json(31, "x"))));
    EXPECT_EQ(soft.result().outcome, Outcome::success);

    // Really gone: the filter and the search find nothing; done.
    ContactRelease gone(factory, party, mapped(12), true);
    gone.next_request();
    gone.on_response(reply(404, R"({"error":"Resource could not be found"})"));
    gone.next_request();
    gone.on_response(reply(200, kEmpty));
    gone.next_request();
    gone.on_response(reply(200, R"({"meta":{"count":0,"has_more":false},"payload":[]})"));
    EXPECT_TRUE(gone.finished());
    EXPECT_EQ(gone.result().outcome, Outcome::success);
    EXPECT_EQ(gone.result().requests, 3);
}

TEST(ContactDeactivation, A404AfterAMergeDeactivatesTheSurvivorAndFollowsIt) {
    RequestFactory factory(config());
    ContactDeactivation d(factory, PartyRef{"cliente", 7}, 12, false);
    d.next_request();
    d.on_response(reply(404, R"({"error":"Resource could not be found"})"));
    d.next_request();
    d.on_response(reply(200, list(contact_json(30, "zattar_cliente_7"))));
    auto put = d.next_request();
    ASSERT_TRUE(put);
    EXPECT_NE(put->url.find("/contacts/30"), std::string::npos);
    EXPECT_EQ(Json::parse(put->body)["custom_attributes"]["ativo"].as_bool(), false);
    d.on_response(reply(200, payload(contact_json(30, "zattar_cliente_7"))));
    EXPECT_EQ(d.result().outcome, Outcome::success);
    EXPECT_EQ(d.result().contact_id, 30);
}

// N4: Chatwoot refuses to delete a contact that is online; it will not be for long.
TEST(ContactRelease, DeletingAnOnlineContactIsRetried) {
    RequestFactory factory(config());
    ContactRelease erase(factory, PartyRef{"cliente", 7}, mapped(12), true);
    erase.next_request();
    erase.on_response(reply(422, R"({"message":"Ana souza is Online, please try again later"})"));
    EXPECT_EQ(erase.result().outcome, Outcome::retry);
}

// N1: the search is a LIKE in which '_' matches anything, 15 a page in no set order:
// the exact identifier may be on a later page.
TEST(ContactSync, TheSearchPagesUntilTheExactIdentifier) {
    Driver d;
    d.expect("POST", "/contacts/filter");
    d.answer(200, kEmpty);
    d.expect("POST", "/contacts");
    d.answer(422, R"({"message":"Identifier has already been taken","attributes":["identifier"]})");
    d.expect("POST", "/contacts/filter");
    d.answer(200, kEmpty);
    d.expect("GET", "/contacts/search?q=zattar_cliente_7&page=1");
    std::string siblings;
    for (int i = 0; i < 15; ++i) siblings += (i ? "," : "") + contact_json(100 + i, "zattarXcliente_7" + std::to_string(i));
    d.answer(200, R"({"meta":{"count":15,"has_more":true},"payload":[)" + siblings + "]}");
    d.expect("GET", "/contacts/search?q=zattar_cliente_7&page=2");
    d.answer(200, R"({"meta":{"count":2,"has_more":false},"payload":[)" + contact_json(200, "zattar_cliente_77") + "," +
                      contact_json(201, "zattar_cliente_7") + "]}");
    d.expect("PUT", "/contacts/201");
}

// N2: a search 429 (its own 100/min per account, no Retry-After) waits for the window.
TEST(ContactSync, ASearch429WaitsForTheNextWindow) {
    EXPECT_EQ(wait_for_next_window(120).count(), 62);
    EXPECT_EQ(wait_for_next_window(179).count(), 3);
    Driver d;
    d.expect("POST", "/contacts/filter");
    d.answer(200, kEmpty);
    d.expect("POST", "/contacts");
    d.answer(422, R"({"message":"Identifier has already been taken","attributes":["identifier"]})");
    d.expect("POST", "/contacts/filter");
    d.answer(200, kEmpty);
    d.expect("GET", "/contacts/search");
    d.answer(429, "Retry later\n");
    ASSERT_TRUE(d.sync.finished());
    EXPECT_EQ(d.sync.result().outcome, Outcome::retry);
    EXPECT_TRUE(d.sync.result().throttled);
    ASSERT_TRUE(d.sync.result().retry_after);
    EXPECT_GE(d.sync.result().retry_after->count(), 2);
    EXPECT_LE(d.sync.result().retry_after->count(), 62);
}

// D9: Chatwoot lower-cases with Ruby and LOWER(): beyond ASCII.
TEST(ContactSync, CaseIsFoldedBeyondAscii) {
    PartySnapshot p = ana();
    p.emails_json = R"(["ÉLIDA@EXAMPLE.COM"])";
    ContactDraft draft = draft_contact(p);
    EXPECT_EQ(draft.email, "élida@example.com");
    Driver d({}, std::nullopt, p);
    d.expect("POST", "/contacts/filter");
    d.answer(200, list(contact_json(2, "", "Élida@Example.com")));
    d.expect("PUT", "/contacts/2");
}

// N3 on a reused id: the removed party's contact was merged away. The survivor carries
// the identifier the new party would otherwise adopt as its own: it is released first.
TEST(ContactSync, AReleaseMetWithA404ReleasesTheMergeSurvivorBeforeTheNewPartyLooksUp) {
    ContactLink link = mapped(4);
    link.removed = true;
    Driver d(link);
    d.expect("PUT", "/contacts/4");
    d.answer(404, R"({"error":"Resource could not be found"})");
    HttpRequest find = d.expect("POST", "/contacts/filter");
    EXPECT_NE(find.body.find("zattar_cliente_7"), std::string::npos);
    d.answer(200, list(contact_json(9, "zattar_cliente_7", "old@example.com")));
    HttpRequest release = d.expect("PUT", "/contacts/9");
    EXPECT_EQ(Json::parse(release.body)["identifier"].as_string(), "zattar_cliente_7-removido-9");
    d.answer(200, payload(contact_json(9, "zattar_cliente_7-removido-9")));
    d.expect("POST", "/contacts/filter");
    d.answer(200, kEmpty);
    d.expect("POST", "/contacts");
    d.answer(200, kCreated);
    EXPECT_EQ(d.sync.result().outcome, Outcome::success);
    EXPECT_EQ(d.sync.result().contact_id, 55);
    EXPECT_NE(d.sync.result().notes.find("mesclado no 9"), std::string::npos) << d.sync.result().notes;
}
