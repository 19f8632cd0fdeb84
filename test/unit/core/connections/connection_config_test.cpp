#include "core/connections/connection_config.hpp"

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

TEST(ConnectionConfig, UrlChecksCoverWhatResolversAndCurlWouldAccept) {
    EXPECT_NE(check_api_url("http://127.0.0.1\x01:25480"), std::nullopt);   // control character in the host
    EXPECT_NE(check_api_url("https://chat.example.com/a\x7f"), std::nullopt);
    EXPECT_NE(check_api_url("http://127.0.0.1:99999"), std::nullopt);
    EXPECT_NE(check_api_url("http://127.0.0.1:0"), std::nullopt);
    EXPECT_NE(check_api_url("http://127.0.0.1:"), std::nullopt);
    EXPECT_NE(check_api_url("http://127.0.0.1:80a"), std::nullopt);
    EXPECT_EQ(check_api_url("http://127.0.0.1:65535"), std::nullopt);
    EXPECT_NE(check_api_url("https://" + std::string(3000, 'a') + ".com"), std::nullopt);
    EXPECT_NE(check_api_url("http://0x7f000001"), std::nullopt);
    EXPECT_NE(check_api_url("http://2130706433"), std::nullopt);
    EXPECT_NE(check_api_url("http://0177.0.0.1"), std::nullopt);
    EXPECT_NE(check_api_url("http://127.1"), std::nullopt);
    EXPECT_NE(check_api_url("http://chat.example.com\\@evil"), std::nullopt);
    EXPECT_EQ(check_api_url("http://[::1]:3000"), std::nullopt);
    EXPECT_NE(check_api_url("http://[::1"), std::nullopt);
    EXPECT_EQ(check_api_url("https://1password-chat.example.com"), std::nullopt);
}

TEST(ConnectionConfig, LinkLocalAndMetadataAddressesAreRefusedUnlessAllowed) {
    for (const char* url : {"http://169.254.169.254/latest/meta-data", "http://169.254.0.1", "http://[fe80::1]",
                            "http://[fd00:ec2::254]", "http://100.100.100.200", "http://metadata.google.internal",
                            "http://[::ffff:169.254.169.254]"}) {
        EXPECT_NE(check_api_url(url), std::nullopt) << url;
        EXPECT_EQ(check_api_url(url, true), std::nullopt) << url;
    }
    EXPECT_TRUE(is_forbidden_address("169.254.169.254"));
    EXPECT_TRUE(is_forbidden_address("fe80::1"));
    EXPECT_TRUE(is_forbidden_address("::ffff:169.254.1.1"));
    EXPECT_FALSE(is_forbidden_address("127.0.0.1"));
    EXPECT_FALSE(is_forbidden_address("10.0.0.1"));
    EXPECT_FALSE(is_forbidden_address("::1"));
    EXPECT_FALSE(is_forbidden_address("not an address"));
}
