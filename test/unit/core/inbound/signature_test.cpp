#include "core/inbound/signature.hpp"

#include <gtest/gtest.h>

using namespace chatwoot::core;

TEST(Signature, HmacSha256MatchesRfc4231TestCase2) {
    EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// Known answers computed outside this code base, once, with OpenSSL 3.0.19:
//   printf '%s' '<ts>.<body>' | openssl dgst -sha256 -hmac '<secret>'
// (and checked against Python's hmac module). Chatwoot signs
// "sha256=" + OpenSSL::HMAC.hexdigest('SHA256', secret, "#{ts}.#{body}") over the
// body exactly as sent (lib/webhooks/trigger.rb:54-63, the signature at :60).
namespace {
struct KnownAnswer {
    const char* secret;
    std::int64_t timestamp;
    const char* body;
    const char* header;
};
// The second body is what Rails sends for "a <b> & c": ActiveSupport escapes <, > and &
// as \u003c, \u003e and \u0026, and the signature covers those six-byte escapes.
const KnownAnswer kKnownAnswers[] = {
    // printf '%s' '1700000000.{"event":"contact_created","id":1,"name":"Ana"}' | openssl dgst -sha256 -hmac 'zattar-webhook-secret'
    {"zattar-webhook-secret", 1700000000, R"({"event":"contact_created","id":1,"name":"Ana"})",
     "sha256=05dfefdfc47f3f44e9ceb1ac5671767c2b847fcb8284e7ff128dd53bf37ec8b6"},
    // printf '%s' '1700000000.{"event":"message_created","content":"a \u003cb\u003e \u0026 c"}' | openssl dgst -sha256 -hmac 'zattar-webhook-secret'
    {"zattar-webhook-secret", 1700000000, R"({"event":"message_created","content":"a \u003cb\u003e \u0026 c"})",
     "sha256=6711baabbc18a9fca0036b092d6a876765352b10d87627e1ba9d6eb07f9b4ddf"},
    // printf '%s' '1712345678.{"event":"conversation_created","id":42}' | openssl dgst -sha256 -hmac 'zattarApiInboxSecret'
    {"zattarApiInboxSecret", 1712345678, R"({"event":"conversation_created","id":42})",
     "sha256=e32d8bcb143833b2d5d58beeb83a8e1bc58e9dc4e6353721be8fa27edd36fc9e"},
};
}  // namespace

TEST(Signature, HeaderMatchesIndependentlyComputedKnownAnswers) {
    for (const KnownAnswer& k : kKnownAnswers)
        EXPECT_EQ(chatwoot_signature_header(k.secret, k.timestamp, k.body), k.header) << k.body;
}

TEST(Signature, VerifierAcceptsKnownAnswersAndRejectsTheUnescapedBody) {
    for (const KnownAnswer& k : kKnownAnswers) {
        EXPECT_EQ(verify_chatwoot_signature(k.secret, std::to_string(k.timestamp), k.header, k.body, k.timestamp + 10),
                  SignatureVerdict::valid)
            << k.body;
        EXPECT_EQ(verify_chatwoot_signature("other", std::to_string(k.timestamp), k.header, k.body, k.timestamp),
                  SignatureVerdict::mismatch);
        EXPECT_EQ(verify_chatwoot_signature(k.secret, std::to_string(k.timestamp + 1), k.header, k.body, k.timestamp),
                  SignatureVerdict::mismatch);
    }
    // Re-encoding the parsed payload (no \u003c escapes) is not the body Chatwoot signed.
    EXPECT_EQ(verify_chatwoot_signature("zattar-webhook-secret", "1700000000", kKnownAnswers[1].header,
                                        R"({"event":"message_created","content":"a <b> & c"})", 1700000000),
              SignatureVerdict::mismatch);
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
