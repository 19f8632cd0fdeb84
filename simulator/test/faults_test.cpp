// Fault injection on the API port (control API /__sim/faults).
#include <curl/curl.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "sim_fixture.hpp"

using namespace simtest;

namespace {
// Fires n GETs at once with curl multi; returns per-request status codes and total wall time.
std::vector<long> concurrent_gets(const std::string& url, int n, double* wall_ms) {
    CURLM* multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(n));
    std::vector<CURL*> handles;
    curl_slist* h = curl_slist_append(nullptr, "api_access_token: sim-admin-token");
    for (int i = 0; i < n; ++i) {
        CURL* c = curl_easy_init();
        curl_easy_setopt(c, CURLOPT_URL, url.c_str());
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, +[](char*, size_t s, size_t m, void*) { return s * m; });
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
        curl_multi_add_handle(multi, c);
        handles.push_back(c);
    }
    auto t0 = std::chrono::steady_clock::now();
    int running = 0;
    do {
        curl_multi_perform(multi, &running);
        curl_multi_poll(multi, nullptr, 0, 20, nullptr);
    } while (running > 0);
    *wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::vector<long> codes;
    for (CURL* c : handles) {
        long code = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        codes.push_back(code);
        curl_multi_remove_handle(multi, c);
        curl_easy_cleanup(c);
    }
    curl_slist_free_all(h);
    curl_multi_cleanup(multi);
    return codes;
}
}  // namespace

TEST_F(SimTest, LatencyDoesNotSerialiseRequests) {
    set_faults(R"({"latency_ms":50})");
    Resp one = call("GET", "/api/v1/profile");
    EXPECT_EQ(one.status, 200);
    EXPECT_GE(one.elapsed_ms, 50.0);
    double wall = 0;
    std::vector<long> codes = concurrent_gets(api("/api/v1/profile"), 64, &wall);
    for (long c : codes) EXPECT_EQ(c, 200);
    EXPECT_GE(wall, 50.0);
    // Measured on the 2-core development machine: 74-77 ms idle, 77-85 ms with both cores
    // busy. 250 ms leaves room for a loaded machine; serialised it would be 3200 ms.
    EXPECT_LT(wall, 250.0) << "64 x 50 ms would be 3200 ms if serialised";
    set_faults(R"({"latency_ms":0})");
    EXPECT_LT(call("GET", "/api/v1/profile").elapsed_ms, 45.0);
}

TEST_F(SimTest, Error500RateAllAndShare) {
    set_faults(R"({"error_500_rate":1})");
    Resp r = call("GET", "/api/v1/profile");
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.json()["error"].str(), "Internal Server Error");
    set_faults(R"({"error_500_rate":0.5})");
    int errors = 0;
    for (int i = 0; i < 200; ++i) errors += call("GET", "/api/v1/profile").status == 500;
    EXPECT_GT(errors, 60);
    EXPECT_LT(errors, 140);
    // A 500 does not apply the write.
    set_faults(R"({"error_500_rate":1})");
    call("POST", "/api/v1/accounts/1/contacts", R"({"name":"x","email":"x@x.test"})");
    control("POST", "/__sim/faults/clear");
    EXPECT_EQ(control("GET", "/__sim/accounts/1/contacts").json().size(), 0u);
}

TEST_F(SimTest, ThrottleNextIsRackAttack429) {
    set_faults(R"({"throttle_next":3})");
    for (int i = 0; i < 3; ++i) {
        Resp r = call("GET", "/api/v1/profile");
        EXPECT_EQ(r.status, 429);
        EXPECT_EQ(r.body, "Retry later\n");
        EXPECT_EQ(r.headers["content-type"], "text/plain");
        EXPECT_EQ(r.headers.count("retry-after"), 0u);
    }
    EXPECT_EQ(call("GET", "/api/v1/profile").status, 200);
    EXPECT_EQ(control("GET", "/__sim/faults").json()["throttle_next"].i(), 0);
    set_faults(R"({"throttle_rate":1})");
    EXPECT_EQ(call("GET", "/api/v1/profile").status, 429);
}

TEST_F(SimTest, DropClosesWithoutResponse) {
    set_faults(R"({"drop_rate":1})");
    Resp r = call("GET", "/api/v1/profile");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.curl_code, CURLE_GOT_NOTHING);
    J log = control("GET", "/__sim/requests").json();
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0]["status"].i(), 0);
    EXPECT_EQ(log[0]["fault"].str(), "drop");
}

TEST_F(SimTest, HangOutlastsClientTimeoutWithoutBlockingOthers) {
    set_faults(R"({"hang_ms":3000})");
    Resp r = call("POST", "/api/v1/accounts/1/contacts", R"({"name":"x","email":"x@x.test"})", "sim-admin-token", 300);
    EXPECT_EQ(r.curl_code, CURLE_OPERATION_TIMEDOUT);
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(control("GET", "/__sim/accounts/1/contacts").json().size(), 0u);  // a hung request is not applied
    // Eight requests hang at once while others are served.
    set_faults(R"({"hang_ms":1500})");
    double wall = 0;
    std::vector<long> codes;
    std::thread hung([&] { codes = concurrent_gets(api("/api/v1/profile"), 8, &wall); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // all eight are parked by now
    Resp health = control("GET", "/__sim/health");
    EXPECT_EQ(health.status, 200);
    EXPECT_LT(health.elapsed_ms, 200.0);
    control("POST", "/__sim/faults/clear");  // the parked eight keep their deadline
    Resp ok = call("GET", "/api/v1/profile", "", "sim-admin-token", 1000);
    EXPECT_EQ(ok.status, 200);
    EXPECT_LT(ok.elapsed_ms, 200.0) << "an un-hung request waited for the hung ones";
    hung.join();
    ASSERT_EQ(codes.size(), 8u);
    for (long c : codes) EXPECT_EQ(c, 0) << "a hung request got an answer";
    EXPECT_GE(wall, 1400.0);
    EXPECT_LT(wall, 2500.0) << "the eight hung one after another, not together";
    J log = control("GET", "/__sim/requests").json();
    int hangs = 0;
    for (std::size_t i = 0; i < log.size(); ++i) hangs += log[i]["fault"].str() == "hang";
    EXPECT_GE(hangs, 8);  // the first one (3 s) may still be parked
}

TEST_F(SimTest, NonJsonAnswersHtml200) {
    set_faults(R"({"non_json":true})");
    Resp r = call("GET", "/api/v1/accounts/1/contacts");
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.headers["content-type"].find("text/html"), std::string::npos);
    EXPECT_EQ(r.body.rfind("<html>", 0), 0u);
    EXPECT_FALSE(r.json().ok());
}

TEST_F(SimTest, DownRefusesConnectionsThenUpAgain) {
    set_faults(R"({"down":true})");
    Resp r = call("GET", "/api/v1/profile", "", "sim-admin-token", 1000);
    EXPECT_EQ(r.curl_code, CURLE_COULDNT_CONNECT);
    EXPECT_EQ(control("GET", "/__sim/health").status, 200);  // the control port stays up
    set_faults(R"({"down":false})");
    EXPECT_EQ(call("GET", "/api/v1/profile").status, 200);
    set_faults(R"({"down_for_s":0.5})");
    EXPECT_EQ(call("GET", "/api/v1/profile", "", "sim-admin-token", 1000).curl_code, CURLE_COULDNT_CONNECT);
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    EXPECT_EQ(call("GET", "/api/v1/profile").status, 200);
    EXPECT_FALSE(control("GET", "/__sim/faults").json()["down"].b());
}

TEST_F(SimTest, FaultsAffectOnlyApiPortAndValidateInput) {
    set_faults(R"({"error_500_rate":1,"latency_ms":20})");
    EXPECT_EQ(control("GET", "/__sim/health").body, R"({"ok":true})");
    J f = control("GET", "/__sim/faults").json();
    EXPECT_EQ(f["latency_ms"].i(), 20);
    EXPECT_EQ(f["error_500_rate"].num(), 1.0);
    EXPECT_EQ(control("PUT", "/__sim/faults", R"({"error_500_rate":2})").status, 400);
    EXPECT_EQ(control("PUT", "/__sim/faults", R"({"bogus":1})").status, 400);
    EXPECT_EQ(control("GET", "/__sim/faults").json()["latency_ms"].i(), 20);  // partial update kept the rest
    control("POST", "/__sim/faults/clear");
    EXPECT_EQ(control("GET", "/__sim/faults").json()["error_500_rate"].num(), 0.0);
    EXPECT_EQ(call("GET", "/api/v1/profile").status, 200);
}
