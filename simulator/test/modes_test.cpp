// The modes API (/__sim/mode), its CLI flags, and the token header spellings and
// proxy mode of the authentication chain.
#include "sim_fixture.hpp"

using namespace simtest;

TEST_F(SimTest, ModesDefaultsPartialUpdateAndValidation) {
    J m = control("GET", "/__sim/mode").json();
    EXPECT_FALSE(m["proxy_drops_underscore_headers"].b());
    EXPECT_EQ(m["concurrency"].str(), "real");
    EXPECT_TRUE(m["rate_limit"].is_null());
    EXPECT_TRUE(m["search_rate_limit"].is_null());
    EXPECT_FALSE(m["crm_v2"].b());
    EXPECT_EQ(m["race_window_ms"].i(), 2);
    EXPECT_FALSE(m["log_headers"].b());

    Resp put = control("PUT", "/__sim/mode", R"({"rate_limit":{"limit":10,"period_s":60},"crm_v2":true})");
    ASSERT_EQ(put.status, 200) << put.body;
    EXPECT_EQ(put.json()["rate_limit"]["limit"].i(), 10);
    m = control("GET", "/__sim/mode").json();
    EXPECT_EQ(m["rate_limit"]["period_s"].i(), 60);
    EXPECT_TRUE(m["crm_v2"].b());
    EXPECT_EQ(m["concurrency"].str(), "real");  // untouched

    for (const char* bad : {R"({"concurrency":"parallel"})", R"({"rate_limit":{"limit":0,"period_s":60}})",
                            R"({"rate_limit":{"limit":5}})", R"({"race_window_ms":-1})", R"({"crm_v2":"yes"})",
                            R"({"bogus":true})", R"([1])", "{not json"}) {
        Resp r = control("PUT", "/__sim/mode", bad);
        EXPECT_EQ(r.status, 400) << bad;
        EXPECT_FALSE(r.json()["error"].str().empty()) << bad;
    }
    // A refused patch changes nothing, not even its valid keys.
    EXPECT_EQ(control("PUT", "/__sim/mode", R"({"log_headers":true,"concurrency":"x"})").status, 400);
    EXPECT_FALSE(control("GET", "/__sim/mode").json()["log_headers"].b());

    ASSERT_EQ(control("PUT", "/__sim/mode", R"({"rate_limit":null})").status, 200);
    EXPECT_TRUE(control("GET", "/__sim/mode").json()["rate_limit"].is_null());
    ASSERT_EQ(control("POST", "/__sim/reset").status, 200);
    EXPECT_FALSE(control("GET", "/__sim/mode").json()["crm_v2"].b());
}

TEST(SimProcessTest, CliFlagsSetModesAndResetRestoresThem) {
    SimProcess p({"--proxy", "--concurrency", "serialized", "--rate-limit", "60000/60", "--search-rate-limit",
                  "100/60", "--crm-v2", "--race-window-ms", "7", "--log-headers"});
    ASSERT_TRUE(p.ready());
    std::string ctl = "http://127.0.0.1:" + std::to_string(p.control_port());
    auto check = [&] {
        J m = http("GET", ctl + "/__sim/mode").json();
        EXPECT_TRUE(m["proxy_drops_underscore_headers"].b());
        EXPECT_EQ(m["concurrency"].str(), "serialized");
        EXPECT_EQ(m["rate_limit"]["limit"].i(), 60000);
        EXPECT_EQ(m["rate_limit"]["period_s"].i(), 60);
        EXPECT_EQ(m["search_rate_limit"]["limit"].i(), 100);
        EXPECT_TRUE(m["crm_v2"].b());
        EXPECT_EQ(m["race_window_ms"].i(), 7);
        EXPECT_TRUE(m["log_headers"].b());
    };
    check();
    ASSERT_EQ(http("PUT", ctl + "/__sim/mode", R"({"proxy_drops_underscore_headers":false,"concurrency":"real","rate_limit":null,"crm_v2":false})").status, 200);
    ASSERT_EQ(http("POST", ctl + "/__sim/reset").status, 200);
    check();  // the command line's modes, not the defaults
}

TEST(SimProcessTest, BadModeFlagsAreRefused) {
    for (std::vector<std::string> args : {std::vector<std::string>{"--rate-limit", "60"},
                                          std::vector<std::string>{"--rate-limit", "0/60"},
                                          std::vector<std::string>{"--concurrency", "fast"}}) {
        SimProcess p(args);
        EXPECT_FALSE(p.ready()) << args[0] << " " << args[1];
    }
}

TEST_F(SimTest, TokenWorksInBothHeaderSpellings) {
    std::string url = api("/api/v1/profile");
    EXPECT_EQ(http("GET", url, "", {"api_access_token: sim-admin-token"}).status, 200);
    EXPECT_EQ(http("GET", url, "", {"Api-Access-Token: sim-admin-token"}).status, 200);
    EXPECT_EQ(http("GET", url, "", {"API-ACCESS-TOKEN: sim-admin-token"}).status, 200);
    EXPECT_EQ(http("GET", url, "", {"Api-Access-Token: nope"}).body, R"({"error":"Invalid Access Token"})");
    // Both sent: the hyphen form is what arrives (Puma drops the underscore duplicate).
    EXPECT_EQ(http("GET", url, "", {"Api-Access-Token: nope", "api_access_token: sim-admin-token"}).status, 401);
}

TEST_F(SimTest, ProxyModeDropsUnderscoreTokenHeader) {
    set_mode(R"({"proxy_drops_underscore_headers":true})");
    std::string url = api("/api/v1/accounts/1/contacts");
    Resp under = http("GET", url, "", {"api_access_token: sim-admin-token"});
    EXPECT_EQ(under.status, 401);
    EXPECT_EQ(under.body, R"({"errors":["You need to sign in or sign up before continuing."]})");
    EXPECT_EQ(http("GET", url, "", {"Api-Access-Token: sim-admin-token"}).status, 200);
    // Writes too: nothing is created through the dropped header.
    EXPECT_EQ(http("POST", url, R"({"name":"Ana","email":"ana@x.test"})", {"api_access_token: sim-admin-token"}).status, 401);
    EXPECT_EQ(control("GET", "/__sim/accounts/1/contacts").json().size(), 0u);
    set_mode(R"({"proxy_drops_underscore_headers":false})");
    EXPECT_EQ(http("GET", url, "", {"api_access_token: sim-admin-token"}).status, 200);
}
