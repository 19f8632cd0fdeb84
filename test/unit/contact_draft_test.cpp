#include "core/contact_draft.hpp"
#include "core/json.hpp"

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

    Json body = Json::parse(d.request_body(3));
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
