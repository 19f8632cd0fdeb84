#include "core/text/text.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

using namespace chatwoot::core;

namespace {
// True when `s` is well-formed UTF-8 without NUL (what PostgreSQL's text accepts).
bool well_formed(const std::string& s) { return valid_utf8(s) == s && s.find('\0') == std::string::npos; }
}  // namespace

TEST(Text, InvalidBytesAndNulBecomeTheReplacementCharacter) {
    EXPECT_EQ(valid_utf8("ok"), "ok");
    EXPECT_EQ(valid_utf8("a\xff" "b"), "a\xEF\xBF\xBD" "b");
    EXPECT_EQ(valid_utf8(std::string("a\0b", 3)), "a\xEF\xBF\xBD" "b");
    EXPECT_EQ(valid_utf8("\xC3\x28"), "\xEF\xBF\xBD(");           // a lead byte without its continuation
    EXPECT_EQ(valid_utf8("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
    EXPECT_EQ(valid_utf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
    EXPECT_EQ(valid_utf8("\xF4\x90\x80\x80").find("\xF4"), std::string::npos);      // above U+10FFFF
    EXPECT_EQ(valid_utf8("ç😀"), "ç😀");
}

TEST(Text, CutsNeverSplitACharacter) {
    std::string cedillas;
    for (int i = 0; i < 200; ++i) cedillas += "ç";  // 2 bytes each
    for (std::size_t limit : {1u, 3u, 4u, 5u, 300u, 301u}) {
        std::string cut = cut_utf8(cedillas, limit);
        EXPECT_LE(cut.size(), limit) << limit;
        EXPECT_TRUE(well_formed(cut)) << limit;
    }
    EXPECT_EQ(cut_utf8("curto", 300), "curto");
    // A body cut at byte 300 in the middle of a 'ç' (the probe's 500 reply).
    std::string body = std::string(299, 'a') + "ç" + std::string(50, 'b');
    EXPECT_TRUE(well_formed(cut_utf8(body, 300)));
    EXPECT_TRUE(well_formed(cut_utf8(std::string("x\xff\0y", 4), 3)));
}

// worker_status()'s fixed buffers in shared memory (256 bytes) hold pause reasons and
// warnings in Portuguese: a copy must not end inside a character either.
TEST(Text, CopiesIntoFixedBuffersNeverSplitACharacter) {
    std::string reasons;
    for (int i = 0; i < 40; ++i) reasons += "pausa ç😀 ";  // 1-, 2- and 4-byte characters
    for (std::size_t size : {1u, 2u, 7u, 8u, 9u, 10u, 11u, 12u, 255u, 256u, 257u}) {
        char buffer[300];
        std::memset(buffer, 'X', sizeof buffer);
        copy_utf8(buffer, size, reasons);
        std::string copied(buffer);
        EXPECT_LT(copied.size(), size) << size;
        EXPECT_TRUE(well_formed(copied)) << size;
        EXPECT_EQ(reasons.compare(0, copied.size(), copied), 0) << size;      // a prefix
        EXPECT_GE(copied.size() + 4, std::min<std::size_t>(size - 1, reasons.size())) << size;  // the longest
    }
    char small[16];
    copy_utf8(small, sizeof small, "curto");
    EXPECT_STREQ(small, "curto");
    EXPECT_EQ(utf8_prefix("ç", 1), 0u);
    EXPECT_EQ(utf8_prefix("aç", 2), 1u);
    EXPECT_EQ(utf8_prefix("aç", 3), 3u);
}

TEST(Text, ExcerptsQuoteAFewCharactersOfAnyInput) {
    std::string megabyte(1 << 20, '9');
    std::string e = excerpt(megabyte);
    EXPECT_LE(e.size(), 40u + 3u);
    EXPECT_EQ(excerpt("12345", 40), "12345");
    EXPECT_TRUE(well_formed(excerpt(std::string(50, '\xc3'))));
    std::string accents;
    for (int i = 0; i < 60; ++i) accents += "é";
    EXPECT_EQ(excerpt(accents, 10), std::string(accents, 0, 20) + "\xE2\x80\xA6");
}

TEST(Text, RecordedTextHasNoSecretIsValidAndBounded) {
    std::string echoed = "HTTP 422: invalid request, header api_access_token=ECHOKEY_SECRET_789 and "
                         "X-Chatwoot-Signature secret WEBHOOK_SECRET_1 \xff";
    std::string r = recorded_text(echoed, {"ECHOKEY_SECRET_789", "WEBHOOK_SECRET_1"});
    EXPECT_EQ(r.find("ECHOKEY"), std::string::npos);
    EXPECT_EQ(r.find("WEBHOOK_SECRET"), std::string::npos);
    EXPECT_NE(r.find("[redacted]"), std::string::npos);
    EXPECT_TRUE(well_formed(r));
    EXPECT_LE(recorded_text(std::string(100000, 'x'), {}).size(), kRecordedTextLimit);
    // An empty secret (no webhook secret configured) redacts nothing.
    EXPECT_EQ(recorded_text("abc", {""}), "abc");
}

namespace {
const std::string kKey = "Zx9kQ2mN7pL4vB8cR1tY6wHs";  // the probe's 24-character key
const std::string kWebhook = "whsec-Q7n2Lp9xK4";
// The first piece of 8+ characters of `secret` found in `text` (empty when none).
std::string secret_piece(const std::string& text, const std::string& secret) {
    for (std::size_t n = secret.size(); n >= 8; --n)
        if (text.find(secret.substr(0, n)) != std::string::npos) return secret.substr(0, n);
    return {};
}
}  // namespace

// T3-7: a reply that echoes the key so that the 300-byte cut falls inside it. Each
// secret is redacted from the whole text before the cut, so nothing of it is kept, and
// the text after it still fits where it would have been cut.
TEST(Text, RecordedTextRedactsTheWholeTextBeforeItCuts) {
    for (const std::string* secret : {&kKey, &kWebhook}) {
        for (std::size_t pad = 300 - 3 - secret->size() - 8; pad <= 300 + 2; ++pad) {
            std::string echoed = std::string(pad, 'x') + *secret + " (echoed)" + std::string(400, 'y');
            std::string r = recorded_text(echoed, {kKey, kWebhook}, 300);
            EXPECT_LE(r.size(), 300u) << pad;
            EXPECT_EQ(secret_piece(r, kKey), "") << pad << ": " << r.substr(pad > 20 ? pad - 20 : 0);
            EXPECT_EQ(secret_piece(r, kWebhook), "") << pad << ": " << r.substr(pad > 20 ? pad - 20 : 0);
            // Redacted first, "[redacted]" takes the secret's place inside the cut, and
            // what followed it is still quoted (a cut first would stop at the secret).
            if (pad + 10 + 9 <= 297) {
                EXPECT_NE(r.find(std::string(pad, 'x') + "[redacted] (echoed)"), std::string::npos) << pad;
            }
        }
    }
}

// Defence in depth: what a cut elsewhere (a proxy's log line, a reply that quotes a
// header cut short) left of a secret, 8 or more of its first characters, is masked
// too; fewer than 8 say nothing useful and stay.
TEST(Text, RecordedTextMasksAPieceOfASecretsFirstCharacters) {
    for (std::size_t n = 8; n < kKey.size(); ++n) {
        std::string r = recorded_text("token " + kKey.substr(0, n) + "… truncado", {kKey, kWebhook});
        EXPECT_EQ(r, "token [redacted]… truncado") << n;
        std::string at_end = recorded_text(std::string(50, 'x') + kWebhook.substr(0, n < kWebhook.size() ? n : 8),
                                           {kKey, kWebhook});
        EXPECT_EQ(secret_piece(at_end, kWebhook), "") << n;
    }
    EXPECT_EQ(recorded_text("token " + kKey.substr(0, 7) + "!", {kKey}), "token " + kKey.substr(0, 7) + "!");
    // Cutting a masked text cannot make a piece appear: every cut of it is a prefix.
    std::string text = std::string(290, 'a') + kKey.substr(0, 20) + std::string(30, 'b');
    for (std::size_t max = 280; max <= 320; ++max)
        EXPECT_EQ(secret_piece(recorded_text(text, {kKey}, max), kKey), "") << max;
}
