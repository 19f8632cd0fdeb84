#include "core/contacts/document.hpp"

#include <gtest/gtest.h>

using namespace chatwoot::core;

TEST(Document, ValidCpfWithAndWithoutPunctuation) {
    EXPECT_EQ(normalize_document(DocumentKind::cpf, "529.982.247-25").digits, "52998224725");
    EXPECT_EQ(normalize_document(DocumentKind::cpf, "52998224725").digits, "52998224725");
    EXPECT_EQ(normalize_document(DocumentKind::cpf, "111.444.777-35").digits, "11144477735");
}

TEST(Document, CpfWithWrongCheckDigitOrRepeatedDigitsIsRejected) {
    for (const char* bad : {"529.982.247-26", "11111111111", "00000000000", "1234", "abc.def.ghi-jk"}) {
        DocumentResult r = normalize_document(DocumentKind::cpf, bad);
        EXPECT_FALSE(r.digits) << bad;
        EXPECT_NE(r.error.find("CPF inválido"), std::string::npos) << bad;
    }
}

TEST(Document, CpfThatLostItsLeadingZeroIsRestored) {
    // 012.345.678-90 is valid; stored as a number it became 1234567890.
    ASSERT_TRUE(cpf_check_digits_ok("01234567890"));
    EXPECT_EQ(normalize_document(DocumentKind::cpf, "1234567890").digits, "01234567890");
}

TEST(Document, ValidAndInvalidCnpj) {
    EXPECT_EQ(normalize_document(DocumentKind::cnpj, "11.222.333/0001-81").digits, "11222333000181");
    EXPECT_EQ(normalize_document(DocumentKind::cnpj, "33000167000101").digits, "33000167000101");
    EXPECT_FALSE(normalize_document(DocumentKind::cnpj, "11.222.333/0001-82").digits);
    EXPECT_FALSE(normalize_document(DocumentKind::cnpj, "52998224725").digits);
}

TEST(Document, BlankIsNotAnError) {
    DocumentResult r = normalize_document(DocumentKind::cpf, "  ");
    EXPECT_TRUE(r.blank);
    EXPECT_TRUE(r.error.empty());
}
