#include "core/contacts/phone.hpp"

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
// The oracle is told nothing of the ninth-digit rule: each raw number comes with the
// subscriber number a person would dial today, written out by hand (an old 8-digit
// mobile, 6-9 first, gets a leading 9; a landline, 2-5 first, never does; 9-digit
// numbers stay), and Parse judges that.
TEST(Phone, SameVerdictAsLibphonenumbersParser) {
    using i18n::phonenumbers::PhoneNumber;
    using i18n::phonenumbers::PhoneNumberUtil;
    struct Case {
        const char* raw;
        const char* dialled_today;
    };
    const Case cases[] = {
        {"987654321", "987654321"}, {"912345678", "912345678"}, {"999999999", "999999999"},
        {"112345678", "112345678"}, {"300123456", "300123456"},  // 9 digits: as typed
        {"32221100", "32221100"},   {"23456789", "23456789"},   {"40041234", "40041234"},
        {"55123456", "55123456"},   {"51234567", "51234567"},   // 8-digit landlines: as typed
        {"87654321", "987654321"},  {"61234567", "961234567"},  {"71234567", "971234567"},
        {"91234567", "991234567"},  // 8-digit mobiles: a 9 in front
    };
    const PhoneNumberUtil* util = PhoneNumberUtil::GetInstance();
    int accepted = 0, rejected = 0, reinterpreted = 0, ninth_added = 0;
    for (int ddd = 10; ddd <= 99; ++ddd) {
        for (const Case& c : cases) {
            std::string area = std::to_string(ddd);
            PhoneResult r = normalize_brazilian_phone(area, c.raw);
            std::string national = area + c.dialled_today;
            PhoneNumber parsed;
            PhoneNumberUtil::PhoneNumberType type = PhoneNumberUtil::UNKNOWN;
            if (util->Parse(national, "BR", &parsed) == PhoneNumberUtil::NO_PARSING_ERROR)
                type = util->GetNumberType(parsed);
            if (type != PhoneNumberUtil::UNKNOWN && parsed.national_number() != std::stoull(national)) {
                // Parse read the DDD as a dialling prefix (90 is Brazil's collect-call
                // prefix) and dropped it: "90 4004-1234" became the national 4004-1234.
                // The fields say DDD 90, which does not exist; we never drop a DDD.
                ++reinterpreted;
                EXPECT_TRUE(!r.phone || r.phone->e164 == "+55" + national) << area << " " << c.raw;
                continue;
            }
            std::string region;
            if (type != PhoneNumberUtil::UNKNOWN) util->GetRegionCodeForNumber(parsed, &region);
            bool valid = type != PhoneNumberUtil::UNKNOWN && region == "BR";
            ASSERT_EQ(static_cast<bool>(r.phone), valid) << area << " " << c.raw << ": " << r.error;
            if (!valid) {
                ++rejected;
                continue;
            }
            ++accepted;
            std::string e164;
            util->Format(parsed, PhoneNumberUtil::E164, &e164);
            EXPECT_EQ(r.phone->e164, e164) << area << " " << c.raw;
            EXPECT_EQ(r.phone->ninth_digit_added, std::string(c.raw) != c.dialled_today) << area << " " << c.raw;
            ninth_added += r.phone->ninth_digit_added;
            EXPECT_EQ(r.phone->kind == PhoneKind::mobile, type == PhoneNumberUtil::MOBILE) << area << " " << c.raw;
            EXPECT_EQ(r.phone->kind == PhoneKind::landline, type == PhoneNumberUtil::FIXED_LINE) << area << " " << c.raw;
        }
    }
    // The sweep must exercise both sides, and the ninth digit (a broken oracle would
    // pass vacuously).
    EXPECT_GT(accepted, 700);
    EXPECT_GT(rejected, 350);
    EXPECT_GT(ninth_added, 220);
    EXPECT_LT(reinterpreted, 10);
}
