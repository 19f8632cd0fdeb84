#include "core/contacts/contact_draft.hpp"
#include "core/json/json.hpp"

#include <gtest/gtest.h>

using namespace chatwoot::core;

namespace {
PartySnapshot maria() {
    PartySnapshot p;
    p.tipo_entidade = "cliente";
    p.entidade_id = 42;
    p.tipo_pessoa = "pf";
    p.nome = "  MARIA   APARECIDA\tDOS SANTOS ";
    p.documento = "529.982.247-25";
    p.emails_json = R"(["  Maria.Santos@Example.COM ", "maria.santos@example.com"])";
    p.phones = {{"(11)", "98765-4321"}};
    return p;
}
std::size_t code_points(const std::string& s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}
}  // namespace

TEST(ContactDraft, CleanPartyBecomesAFullContact) {
    ContactDraft d = draft_contact(maria());
    EXPECT_EQ(d.identifier, "zattar_cliente_42");
    EXPECT_EQ(d.name, "MARIA APARECIDA DOS SANTOS");
    EXPECT_EQ(d.email, "maria.santos@example.com");
    EXPECT_EQ(d.phone_e164, "+5511987654321");
    EXPECT_EQ(d.document, "52998224725");
    EXPECT_TRUE(d.problems.empty()) << d.problems_text();

    Json body = Json::parse(d.request_body(BodyOptions{3}));
    EXPECT_EQ(body["name"].as_string(), "MARIA APARECIDA DOS SANTOS");
    EXPECT_EQ(body["identifier"].as_string(), "zattar_cliente_42");
    EXPECT_EQ(body["inbox_id"].as_integer(), 3);
    EXPECT_EQ(body["custom_attributes"]["tipo_entidade"].as_string(), "cliente");
    EXPECT_EQ(body["custom_attributes"]["entidade_id"].as_integer(), 42);
    EXPECT_EQ(body["custom_attributes"]["sistema_origem"].as_string(), "zattar");
    EXPECT_EQ(body["custom_attributes"]["ativo"].as_bool(), true);
    EXPECT_EQ(body["custom_attributes"]["documento"].as_string(), "52998224725");
}

TEST(ContactDraft, LookupFilterOrsIdentifierEmailAndBothPhoneForms) {
    Json filter = Json::parse(draft_contact(maria()).lookup_filter_body());
    Json payload = filter["payload"];
    ASSERT_EQ(payload.size(), 4u);
    EXPECT_EQ(payload.at(0)["attribute_key"].as_string(), "identifier");
    EXPECT_EQ(payload.at(0)["values"].at(0).as_string(), "zattar_cliente_42");
    EXPECT_EQ(payload.at(0)["query_operator"].as_string(), "OR");
    EXPECT_EQ(payload.at(1)["attribute_key"].as_string(), "email");
    EXPECT_EQ(payload.at(2)["values"].at(0).as_string(), "5511987654321");
    EXPECT_EQ(payload.at(3)["values"].at(0).as_string(), "551187654321");
    EXPECT_TRUE(payload.at(3)["query_operator"].is_null());
}

TEST(ContactDraft, BadFieldsAreDroppedWithReasonsAndTheRestStillSyncs) {
    PartySnapshot p = maria();
    p.documento = "123.456.789-00";
    p.emails_json = R"(["not an email", "also@bad@x"])";
    p.phones = {{"11", "123"}};
    ContactDraft d = draft_contact(p);
    EXPECT_FALSE(d.email);
    EXPECT_FALSE(d.phone_e164);
    EXPECT_FALSE(d.document);
    EXPECT_EQ(d.name, "MARIA APARECIDA DOS SANTOS");
    ASSERT_EQ(d.problems.size(), 3u) << d.problems_text();
    EXPECT_NE(d.problems_text().find("email inválido"), std::string::npos);
    EXPECT_NE(d.problems_text().find("telefone"), std::string::npos);
    EXPECT_NE(d.problems_text().find("CPF inválido"), std::string::npos);
    Json body = Json::parse(d.request_body());
    EXPECT_FALSE(body["email"]);
    EXPECT_FALSE(body["phone_number"]);
    EXPECT_FALSE(body["custom_attributes"]["documento"]);
}

TEST(ContactDraft, EmailsColumnShapes) {
    PartySnapshot p = maria();
    for (const char* nothing : {"", "null", "[]"}) {
        p.emails_json = nothing;
        ContactDraft d = draft_contact(p);
        EXPECT_FALSE(d.email) << nothing;
        EXPECT_TRUE(d.problems.empty()) << nothing;
    }
    p.emails_json = R"("solo@example.com")";
    EXPECT_EQ(draft_contact(p).email, "solo@example.com");
    p.emails_json = R"({"email":"x@y.z"})";
    ContactDraft d = draft_contact(p);
    EXPECT_FALSE(d.email);
    EXPECT_NE(d.problems_text().find("não é uma lista"), std::string::npos);
}

TEST(ContactDraft, LongNamesAreCutTo255CodePointsWithoutBreakingUtf8) {
    PartySnapshot p = maria();
    p.nome.clear();
    for (int i = 0; i < 300; ++i) p.nome += "ç";
    ContactDraft d = draft_contact(p);
    EXPECT_EQ(code_points(d.name), 255u);
    EXPECT_EQ(d.name.size(), 510u);
    EXPECT_NE(d.problems_text().find("cortado"), std::string::npos);
}

TEST(ContactDraft, ControlCharactersEmojiAndQuotesSurvive) {
    PartySnapshot p = maria();
    p.nome = std::string("Jo\x01\x7f") + "ão \"Zé\" O'Brien 😀; DROP TABLE clientes;--";
    ContactDraft d = draft_contact(p);
    EXPECT_EQ(d.name, "João \"Zé\" O'Brien 😀; DROP TABLE clientes;--");
    Json body = Json::parse(d.request_body());
    EXPECT_EQ(body["name"].as_string(), d.name);
}

TEST(ContactDraft, EmptyNameFallsBackToTheIdentifier) {
    PartySnapshot p = maria();
    p.nome = " \t ";
    ContactDraft d = draft_contact(p);
    EXPECT_EQ(d.name, "zattar_cliente_42");
    EXPECT_NE(d.problems_text().find("nome vazio"), std::string::npos);
}

TEST(ContactDraft, CompanyUsesCnpjAndFirstUsablePhone) {
    PartySnapshot p;
    p.tipo_entidade = "parte_contraria";
    p.entidade_id = 7;
    p.tipo_pessoa = "pj";
    p.nome = "BANCO EXEMPLO S.A.";
    p.documento = "33.000.167/0001-01";
    p.phones = {{"", ""}, {"31", "3222-1100"}};
    ContactDraft d = draft_contact(p);
    EXPECT_EQ(d.document, "33000167000101");
    EXPECT_EQ(d.phone_e164, "+553132221100");
    EXPECT_EQ(d.phone_lookup_forms.size(), 1u);
    EXPECT_TRUE(d.problems.empty()) << d.problems_text();
}

namespace {
// The two bodies as a jansson tree of the same fields dumps them: what the composed
// text must equal byte for byte.
std::string tree_request_body(const ContactDraft& d, const BodyOptions& o) {
    Json body = Json::object();
    body.set("name", d.name);
    if (d.email && !o.leave_out_email) body.set("email", *d.email);
    else if (!d.email && o.clear_email && !o.leave_out_email) body.set("email", Json::null());
    if (d.phone_e164 && !o.leave_out_phone) body.set("phone_number", *d.phone_e164);
    else if (!d.phone_e164 && o.clear_phone && !o.leave_out_phone) body.set("phone_number", Json::null());
    body.set("identifier", d.identifier);
    if (o.inbox_id) body.set("inbox_id", *o.inbox_id);
    Json custom = Json::object();
    custom.set("tipo_entidade", d.tipo_entidade);
    custom.set("entidade_id", Json::integer(d.entidade_id));
    custom.set("sistema_origem", "zattar");
    custom.set("ativo", Json::boolean(o.ativo.value_or(d.ativo)));
    if (d.document) custom.set("documento", *d.document);  // never null (N5: a key that stays)
    body.set("custom_attributes", custom);
    return body.dump();
}
std::string tree_filter_body(const ContactDraft& d) {
    std::vector<std::pair<const char*, std::string>> conditions{{"identifier", d.identifier}};
    if (d.email) conditions.push_back({"email", *d.email});
    for (const auto& form : d.phone_lookup_forms) conditions.push_back({"phone_number", form.substr(1)});
    Json payload = Json::array();
    for (std::size_t i = 0; i < conditions.size(); ++i) {
        Json condition = Json::object();
        condition.set("attribute_key", conditions[i].first);
        condition.set("filter_operator", "equal_to");
        condition.set("values", Json::array().append(Json::string(conditions[i].second)));
        condition.set("query_operator", i + 1 < conditions.size() ? Json::string("OR") : Json::null());
        payload.append(condition);
    }
    Json body = Json::object();
    body.set("payload", payload);
    return body.dump();
}
}  // namespace

TEST(ContactDraft, BodiesAreExactlyWhatAJanssonTreeOfTheSameFieldsDumps) {
    std::vector<ContactDraft> drafts;
    drafts.push_back(draft_contact(maria()));
    PartySnapshot bad = maria();
    bad.documento = "123";
    bad.emails_json = "[]";
    bad.phones = {{"11", "3222-1100"}};  // a landline: one lookup form
    drafts.push_back(draft_contact(bad));
    PartySnapshot odd = maria();
    odd.nome = std::string("Jo\x01") + "ão \"Zé\" \\ O'Brien 😀 </script> \u2028 ;--";
    odd.ativo = false;
    drafts.push_back(draft_contact(odd));
    ContactDraft raw;  // fields as a caller may set them, not through draft_contact
    raw.tipo_entidade = "terceiro";
    raw.entidade_id = -9223372036854775807LL;
    raw.identifier = "zattar_terceiro_x";
    raw.name = "bad utf-8 \xC3\x28";  // jansson refuses it: both ways give null
    raw.email = "a\"b@example.com";
    raw.phone_lookup_forms = {"+5511987654321", "+551187654321", "+5521987654321"};
    drafts.push_back(raw);
    std::vector<BodyOptions> options{{}, BodyOptions{7}};
    BodyOptions clearing;
    clearing.clear_email = clearing.clear_phone = true;
    clearing.ativo = true;
    options.push_back(clearing);
    BodyOptions leaving_out;
    leaving_out.leave_out_email = leaving_out.leave_out_phone = leaving_out.clear_email = true;
    options.push_back(leaving_out);
    for (const ContactDraft& d : drafts) {
        for (const BodyOptions& o : options) EXPECT_EQ(d.request_body(o), tree_request_body(d, o)) << d.name;
        EXPECT_EQ(d.lookup_filter_body(), tree_filter_body(d)) << d.name;
    }
    EXPECT_NE(drafts[3].request_body().find("\"name\":null"), std::string::npos);
}
