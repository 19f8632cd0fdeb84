#include "core/phone.hpp"

#include <gtest/gtest.h>
#include <phonenumbers/phonenumberutil.h>

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

// normalize_brazilian_phone builds the number from the digits instead of calling
// libphonenumber's free-text Parse: over every DDD and a spread of subscriber
// numbers it must accept, classify and format exactly what Parse + GetNumberType do.
TEST(Phone, SameVerdictAsLibphonenumbersParser) {
    using i18n::phonenumbers::PhoneNumber;
    using i18n::phonenumbers::PhoneNumberUtil;
    const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
    int accepted = 0, rejected = 0, reinterpreted = 0;
    for (int ddd = 10; ddd <= 99; ++ddd) {
        for (const char* number : {"987654321", "912345678", "32221100", "23456789", "40041234", "55123456",
                                   "87654321", "999999999", "112345678", "300123456"}) {
            std::string area = std::to_string(ddd);
            PhoneResult r = normalize_brazilian_phone(area, number);
            // The oracle: what the ninth-digit rule hands to libphonenumber, parsed as text.
            std::string national = area + number;
            if (national.size() == 10 && national[2] >= '6' && national[2] <= '9') national.insert(2, "9");
            PhoneNumber parsed;
            PhoneNumberUtil::PhoneNumberType type = PhoneNumberUtil::UNKNOWN;
            if (util->Parse(national, "BR", &parsed) == PhoneNumberUtil::NO_PARSING_ERROR)
                type = util->GetNumberType(parsed);
            if (type != PhoneNumberUtil::UNKNOWN && parsed.national_number() != std::stoull(national)) {
                // Parse read the DDD as a dialling prefix (90 is Brazil's collect-call
                // prefix) and dropped it: "90 4004-1234" became the national 4004-1234.
                // The fields say DDD 90, which does not exist; we never drop a DDD.
                ++reinterpreted;
                EXPECT_TRUE(!r.phone || r.phone->e164 == "+55" + national) << area << " " << number;
                continue;
            }
            std::string region;
            if (type != PhoneNumberUtil::UNKNOWN) util->GetRegionCodeForNumber(parsed, &region);
            bool valid = type != PhoneNumberUtil::UNKNOWN && region == "BR";
            ASSERT_EQ(static_cast<bool>(r.phone), valid) << area << " " << number << ": " << r.error;
            if (!valid) {
                ++rejected;
                continue;
            }
            ++accepted;
            std::string e164;
            util->Format(parsed, PhoneNumberUtil::E164, &e164);
            EXPECT_EQ(r.phone->e164, e164) << area << " " << number;
            EXPECT_EQ(r.phone->kind == PhoneKind::mobile, type == PhoneNumberUtil::MOBILE) << area << " " << number;
            EXPECT_EQ(r.phone->kind == PhoneKind::landline, type == PhoneNumberUtil::FIXED_LINE) << area << " " << number;
        }
    }
    // The sweep must exercise both sides (a broken oracle would pass vacuously).
    EXPECT_GT(accepted, 300);
    EXPECT_GT(rejected, 100);
    EXPECT_LT(reinterpreted, 20);
}
