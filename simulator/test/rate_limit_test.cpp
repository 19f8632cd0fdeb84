// rack-attack throttles (rate_limit and search_rate_limit modes): fixed windows
// aligned to the Unix epoch, every request counted, 429 "Retry later\n" without
// Retry-After.
#include <chrono>
#include <thread>

#include "sim_fixture.hpp"

using namespace simtest;

namespace {
std::int64_t epoch_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}
// Sleeps until `offset_ms` after the next multiple of `period_ms` since the epoch; returns that multiple.
std::int64_t wait_for_window(std::int64_t period_ms, std::int64_t offset_ms) {
    std::int64_t start = (epoch_ms() / period_ms + 1) * period_ms;
    std::this_thread::sleep_for(std::chrono::milliseconds(start + offset_ms - epoch_ms()));
    return start;
}
void sleep_until_epoch_ms(std::int64_t t) {
    std::int64_t now = epoch_ms();
    if (t > now) std::this_thread::sleep_for(std::chrono::milliseconds(t - now));
}
}  // namespace

TEST_F(SimTest, RateLimitWindowsAreEpochAlignedAndCountEveryRequest) {
    set_mode(R"({"rate_limit":{"limit":5,"period_s":2}})");
    // Start 1.3 s into a window [T0, T0+2 s).
    std::int64_t t0 = wait_for_window(2000, 1300);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(call("GET", "/api/v1/profile").status, 200) << i;
    Resp sixth = call("GET", "/api/v1/accounts/1/contacts");
    EXPECT_EQ(sixth.status, 429);
    EXPECT_EQ(sixth.body, "Retry later\n");
    EXPECT_EQ(sixth.headers["content-type"], "text/plain");
    EXPECT_EQ(sixth.headers.count("retry-after"), 0u);
    EXPECT_EQ(call("GET", "/api/v1/nowhere").status, 429);          // all paths count
    EXPECT_EQ(call("GET", "/api/v1/profile", "", "").status, 429);  // unauthenticated ones too
    ASSERT_LT(epoch_ms(), t0 + 1950) << "the first window ran out before its checks";

    // The next window starts at T0+2 s, 0.7 s after the first requests: a window
    // anchored at the first request would still be closed.
    sleep_until_epoch_ms(t0 + 2050);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(call("GET", "/api/v1/profile").status, 200) << i;
    EXPECT_EQ(call("GET", "/api/v1/profile").status, 429);

    J log = control("GET", "/__sim/requests").json();
    int limited = 0;
    for (std::size_t i = 0; i < log.size(); ++i)
        if (log[i]["fault"].str() == "rate_limit") {
            ++limited;
            EXPECT_EQ(log[i]["status"].i(), 429);
        }
    EXPECT_EQ(limited, 4);
    EXPECT_EQ(control("GET", "/__sim/health").status, 200);  // the control port is never limited
}

TEST_F(SimTest, ThrottledRequestsAreNotApplied) {
    set_mode(R"({"rate_limit":{"limit":1,"period_s":3600}})");
    EXPECT_EQ(call("GET", "/api/v1/profile").status, 200);
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/contacts", R"({"name":"Ana","email":"ana@x.test"})").status, 429);
    EXPECT_EQ(control("GET", "/__sim/accounts/1/contacts").json().size(), 0u);
    ASSERT_EQ(control("POST", "/__sim/reset").status, 200);  // counters go with the reset
    set_mode(R"({"rate_limit":{"limit":1,"period_s":3600}})");
    EXPECT_EQ(call("GET", "/api/v1/profile").status, 200);
}

TEST_F(SimTest, SearchRateLimitIsPerAccountAndSearchOnly) {
    set_mode(R"({"search_rate_limit":{"limit":3,"period_s":3600}})");
    const std::string search = "/api/v1/accounts/1/contacts/search?q=ana";
    for (int i = 0; i < 3; ++i) EXPECT_EQ(call("GET", search).status, 200) << i;
    Resp r = call("GET", search);
    EXPECT_EQ(r.status, 429);
    EXPECT_EQ(r.body, "Retry later\n");
    EXPECT_EQ(r.headers.count("retry-after"), 0u);
    // Another user of the same account shares the account's count.
    EXPECT_EQ(call("GET", search, "", "sim-agent-token").status, 429);
    // Other endpoints and other accounts are not limited by it.
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/contacts").status, 200);
    EXPECT_EQ(call("GET", "/api/v1/accounts/2/contacts/search?q=x", "", "sim-other-admin-token").status, 200);
    J log = control("GET", "/__sim/requests").json();
    int limited = 0;
    for (std::size_t i = 0; i < log.size(); ++i) limited += log[i]["fault"].str() == "search_rate_limit";
    EXPECT_EQ(limited, 2);
}

TEST_F(SimTest, RequestThrottledPerIpIsNotCountedBySearchLimit) {
    // rack-attack stops at the first throttle that matches (req/ip comes first).
    set_mode(R"({"rate_limit":{"limit":2,"period_s":3600},"search_rate_limit":{"limit":3,"period_s":3600}})");
    const std::string search = "/api/v1/accounts/1/contacts/search?q=ana";
    EXPECT_EQ(call("GET", search).status, 200);
    EXPECT_EQ(call("GET", search).status, 200);
    EXPECT_EQ(call("GET", search).status, 429);
    J log = control("GET", "/__sim/requests").json();
    ASSERT_EQ(log.size(), 3u);
    EXPECT_EQ(log[2]["fault"].str(), "rate_limit");
    // Lift req/ip: the search count holds the two admitted searches only, so one more fits.
    set_mode(R"({"rate_limit":null})");
    EXPECT_EQ(call("GET", search).status, 200);
    EXPECT_EQ(call("GET", search).status, 429);
    EXPECT_EQ(control("GET", "/__sim/requests").json()[4]["fault"].str(), "search_rate_limit");
}
