#include "core/signature.hpp"

#include <gtest/gtest.h>

using namespace chatwoot::core;

TEST(Signature, HmacSha256MatchesRfc4231TestCase2) {
    EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Signature, HeaderSignsTimestampDotBody) {
    const std::string body = R"({"event":"message_created","id":1})";
    EXPECT_EQ(chatwoot_signature_header("segredo", 1700000000, body),
              "sha256=" + hmac_sha256_hex("segredo", "1700000000." + body));
}

TEST(Signature, VerifiesAValidDelivery) {
    const std::string body = R"({"event":"conversation_created"})";
    auto header = chatwoot_signature_header("s3cr3t", 1700000000, body);
    EXPECT_EQ(verify_chatwoot_signature("s3cr3t", "1700000000", header, body, 1700000100), SignatureVerdict::valid);
}

TEST(Signature, AcceptsUpperCaseHex) {
    const std::string body = "{}";
    auto header = chatwoot_signature_header("k", 1700000000, body);
    std::string upper = "sha256=";
    for (char c : header.substr(7)) upper.push_back(static_cast<char>(std::toupper(c)));
    EXPECT_EQ(verify_chatwoot_signature("k", "1700000000", upper, body, 1700000000), SignatureVerdict::valid);
}

TEST(Signature, RejectsATamperedBody) {
    auto header = chatwoot_signature_header("s3cr3t", 1700000000, R"({"id":1})");
    EXPECT_EQ(verify_chatwoot_signature("s3cr3t", "1700000000", header, R"({"id":2})", 1700000000),
              SignatureVerdict::mismatch);
}

TEST(Signature, RejectsTheWrongSecret) {
    auto header = chatwoot_signature_header("certo", 1700000000, "{}");
    EXPECT_EQ(verify_chatwoot_signature("errado", "1700000000", header, "{}", 1700000000), SignatureVerdict::mismatch);
}

TEST(Signature, RejectsAReplayOutsideTheWindow) {
    auto header = chatwoot_signature_header("k", 1700000000, "{}");
    EXPECT_EQ(verify_chatwoot_signature("k", "1700000000", header, "{}", 1700000000 + 301), SignatureVerdict::stale);
    EXPECT_EQ(verify_chatwoot_signature("k", "1700000000", header, "{}", 1700000000 - 301), SignatureVerdict::stale);
    EXPECT_EQ(verify_chatwoot_signature("k", "1700000000", header, "{}", 1700000000 + 300), SignatureVerdict::valid);
}

TEST(Signature, ClassifiesMissingAndMalformedHeaders) {
    EXPECT_EQ(verify_chatwoot_signature("k", "", "sha256=00", "{}", 0), SignatureVerdict::missing);
    EXPECT_EQ(verify_chatwoot_signature("k", "1700000000", "", "{}", 0), SignatureVerdict::missing);
    EXPECT_EQ(verify_chatwoot_signature("k", "17000x", "sha256=" + std::string(64, 'a'), "{}", 0),
              SignatureVerdict::malformed);
    EXPECT_EQ(verify_chatwoot_signature("k", "1700000000", "md5=abc", "{}", 0), SignatureVerdict::malformed);
    EXPECT_EQ(verify_chatwoot_signature("k", "1700000000", "sha256=abc", "{}", 0), SignatureVerdict::malformed);
}

TEST(Signature, ConstantTimeEqualsComparesWholeStrings) {
    EXPECT_TRUE(constant_time_equals("abc", "abc"));
    EXPECT_FALSE(constant_time_equals("abc", "abd"));
    EXPECT_FALSE(constant_time_equals("abc", "abcd"));
    EXPECT_TRUE(constant_time_equals("", ""));
}
