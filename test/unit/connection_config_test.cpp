#include "core/connection_config.hpp"

#include <gtest/gtest.h>

using namespace chatwoot::core;

TEST(ConnectionConfig, AcceptsHttpAndHttpsUrls) {
    EXPECT_EQ(check_api_url("https://chat.exemplo.com.br"), std::nullopt);
    EXPECT_EQ(check_api_url("http://127.0.0.1:3000"), std::nullopt);
    EXPECT_EQ(check_api_url("HTTPS://Chat.Example.com/"), std::nullopt);
}

TEST(ConnectionConfig, RejectsOtherSchemesAndJunk) {
    EXPECT_NE(check_api_url("ftp://chat.example.com"), std::nullopt);
    EXPECT_NE(check_api_url("chat.example.com"), std::nullopt);
    EXPECT_NE(check_api_url(""), std::nullopt);
    EXPECT_NE(check_api_url("https://"), std::nullopt);
    EXPECT_NE(check_api_url("https://exa mple.com"), std::nullopt);
    EXPECT_NE(check_api_url("https://user:pass@example.com"), std::nullopt);
    EXPECT_NE(check_api_url("https://example.com/?x=1"), std::nullopt);
}

TEST(ConnectionConfig, KeyAndAccountChecks) {
    EXPECT_EQ(check_api_key("abcDEF123"), std::nullopt);
    EXPECT_NE(check_api_key(""), std::nullopt);
    EXPECT_NE(check_api_key("abc def"), std::nullopt);
    EXPECT_NE(check_api_key("abc\n"), std::nullopt);
    EXPECT_EQ(check_account_id(1), std::nullopt);
    EXPECT_NE(check_account_id(0), std::nullopt);
    EXPECT_NE(check_account_id(-5), std::nullopt);
}

TEST(ConnectionConfig, NormalizesTrailingSlashes) {
    EXPECT_EQ(normalized_base_url("https://x.com///"), "https://x.com");
    EXPECT_EQ(normalized_base_url("https://x.com/chat"), "https://x.com/chat");
}

TEST(ConnectionConfig, RedactsEverySecretOccurrence) {
    EXPECT_EQ(redact("token abc123 and abc123 again", "abc123"), "token [redacted] and [redacted] again");
    EXPECT_EQ(redact("nothing here", "abc123"), "nothing here");
    EXPECT_EQ(redact("ab ab", "ab"), "ab ab");  // too short to be a real key: left alone
}
