#include "core/phone.hpp"

#include <gtest/gtest.h>

using namespace chatwoot::core;

namespace {
std::string e164(std::string_view ddd, std::string_view number) {
    PhoneResult r = normalize_brazilian_phone(ddd, number);
    EXPECT_TRUE(r.phone) << ddd << " " << number << ": " << r.error;
    return r.phone ? r.phone->e164 : "";
}
}  // namespace

TEST(Phone, PlainMobile) {
    PhoneResult r = normalize_brazilian_phone("11", "98765-4321");
    ASSERT_TRUE(r.phone) << r.error;
    EXPECT_EQ(r.phone->e164, "+5511987654321");
    EXPECT_EQ(r.phone->kind, PhoneKind::mobile);
    EXPECT_FALSE(r.phone->ninth_digit_added);
    EXPECT_EQ(r.phone->lookup_forms, (std::vector<std::string>{"+5511987654321", "+551187654321"}));
}

TEST(Phone, MessyInputsSeenInRealRows) {
    EXPECT_EQ(e164("(61)", "9 9123 4567"), "+5561991234567");
    EXPECT_EQ(e164("011", "987654321"), "+5511987654321");       // trunk zero
    EXPECT_EQ(e164("55 11", "98765-4321"), "+5511987654321");    // country code typed into the DDD
    EXPECT_EQ(e164("", "+55 (11) 98765-4321"), "+5511987654321"); // everything in the number
    EXPECT_EQ(e164("055 21", "98765 4321"), "+5521987654321");
}

TEST(Phone, OldEightDigitMobileGetsItsNinthDigit) {
    PhoneResult r = normalize_brazilian_phone("21", "8765-4321");
    ASSERT_TRUE(r.phone) << r.error;
    EXPECT_EQ(r.phone->e164, "+5521987654321");
    EXPECT_TRUE(r.phone->ninth_digit_added);
    EXPECT_EQ(r.phone->kind, PhoneKind::mobile);
}

TEST(Phone, LandlineNeverGetsANinthDigit) {
    PhoneResult r = normalize_brazilian_phone("31", "3222-1100");
    ASSERT_TRUE(r.phone) << r.error;
    EXPECT_EQ(r.phone->e164, "+553132221100");
    EXPECT_EQ(r.phone->kind, PhoneKind::landline);
    EXPECT_FALSE(r.phone->ninth_digit_added);
    EXPECT_EQ(r.phone->lookup_forms, (std::vector<std::string>{"+553132221100"}));
}

TEST(Phone, SantaMariaAreaCode55IsNotACountryCode) {
    EXPECT_EQ(e164("55", "99123-4567"), "+5555991234567");
}

TEST(Phone, BlankIsNotAnError) {
    PhoneResult r = normalize_brazilian_phone("  ", "");
    EXPECT_TRUE(r.blank);
    EXPECT_FALSE(r.phone);
    EXPECT_TRUE(r.error.empty());
}

TEST(Phone, ImpossibleNumbersAreExplained) {
    for (auto [ddd, number] : std::vector<std::pair<const char*, const char*>>{
             {"", "98765-4321"}, {"11", "123"}, {"11", "98765432101234"}, {"00", "00000000"}, {"11", "abc"},
             {"20", "98765-4321"}}) {
        PhoneResult r = normalize_brazilian_phone(ddd, number);
        EXPECT_FALSE(r.phone) << ddd << " " << number << " gave " << (r.phone ? r.phone->e164 : "");
        EXPECT_FALSE(r.error.empty()) << ddd << " " << number;
    }
}
