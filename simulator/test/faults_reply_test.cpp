// The hostile `reply` fault (a streamed answer instead of the API) and
// `after_apply` (the write is applied, its answer lost).
#include <curl/curl.h>

#include "sim_fixture.hpp"

using namespace simtest;

TEST_F(SimTest, ReplyAnswersInsteadOfTheApiAndIsNotApplied) {
    set_faults(R"({"reply":{"status":422,"content_type":"application/json","body":"{\"x\":1}","repeat":3,)"
               R"("headers":{"Retry-After":"999999999","X-Hostile":"yes"},"path_regex":"/contacts","count":2}})");
    Resp r = call("POST", "/api/v1/accounts/1/contacts", R"({"name":"Ana","email":"ana@x.test"})");
    EXPECT_EQ(r.status, 422);
    EXPECT_EQ(r.body, R"({"x":1}{"x":1}{"x":1})");
    EXPECT_EQ(r.headers["content-type"], "application/json");
    EXPECT_EQ(r.headers["retry-after"], "999999999");
    EXPECT_EQ(r.headers["x-hostile"], "yes");
    EXPECT_EQ(call("GET", "/api/v1/profile").status, 200);  // path_regex does not match
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/contacts").status, 422);  // the second of count 2
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/contacts").status, 200);  // count used up: cleared
    EXPECT_TRUE(control("GET", "/__sim/faults").json()["reply"].is_null());
    EXPECT_EQ(control("GET", "/__sim/accounts/1/contacts").json().size(), 0u);
    J log = control("GET", "/__sim/requests").json();
    ASSERT_EQ(log.size(), 4u);
    EXPECT_EQ(log[0]["fault"].str(), "reply");
    EXPECT_EQ(log[0]["status"].i(), 422);
    EXPECT_TRUE(log[1]["fault"].is_null());
}

TEST_F(SimTest, ReplyBodyBase64ArrivesByteExact) {
    // ff fe 00 41 c3 28 0a e2 82: invalid UTF-8, a NUL, a truncated sequence.
    set_faults(R"({"reply":{"status":200,"content_type":"application/json; charset=utf-8","body_base64":"//4AQcMoCuKC"}})");
    Resp r = call("GET", "/api/v1/accounts/1/contacts");
    EXPECT_EQ(r.status, 200);
    const std::string want("\xff\xfe\x00\x41\xc3\x28\x0a\xe2\x82", 9);
    EXPECT_EQ(r.body, want);
    EXPECT_EQ(r.body.size(), 9u);
    set_faults(R"({"reply":null})");
    EXPECT_EQ(call("GET", "/api/v1/accounts/1/contacts").json()["meta"]["count"].i(), 0);
}

TEST_F(SimTest, ReplyEchoesARequestHeader) {
    set_faults(R"({"reply":{"status":502,"content_type":"text/html","body":"<html>bad gateway for ","echo_header":"api_access_token"}})");
    Resp r = call("GET", "/api/v1/profile");
    EXPECT_EQ(r.status, 502);
    EXPECT_EQ(r.body, "<html>bad gateway for sim-admin-token");
    // No such header: nothing appended.
    Resp none = call("GET", "/api/v1/profile", "", "");
    EXPECT_EQ(none.body, "<html>bad gateway for ");
}

TEST_F(SimTest, ReplyValidation) {
    for (const char* bad :
         {R"({"reply":{"status":99}})", R"({"reply":{"body":"a","body_base64":"YQ=="}})", R"({"reply":{"body_base64":"!!"}})",
          R"({"reply":{"repeat":-1}})", R"({"reply":{"path_regex":"("}})", R"({"reply":{"headers":{"Bad Name":"x"}}})",
          R"({"reply":{"headers":{"X":"a\r\nb"}}})", R"({"reply":{"count":0}})", R"({"reply":{"what":1}})",
          R"({"reply":{"body":"x","repeat":100000000000}})", R"({"reply":5})"}) {
        EXPECT_EQ(control("PUT", "/__sim/faults", bad).status, 400) << bad;
    }
    EXPECT_TRUE(control("GET", "/__sim/faults").json()["reply"].is_null());
}

TEST_F(SimTest, HundredMegabyteReplyIsStreamedWithFlatMemory) {
    // One 1 KiB unit repeated 102,400 times: 100 MiB that the simulator never holds.
    std::string unit(1024, 'x');
    set_faults("{\"reply\":{\"status\":200,\"content_type\":\"application/json\",\"body\":\"" + unit + "\",\"repeat\":102400}}");
    long before = proc_status_kb(sim->pid(), "VmHWM");
    ASSERT_GT(before, 0);
    Download d = download(api("/api/v1/accounts/1/contacts"), {"api_access_token: sim-admin-token"});
    EXPECT_EQ(d.curl_code, CURLE_OK);
    EXPECT_EQ(d.status, 200);
    EXPECT_EQ(d.bytes, 100ULL * 1024 * 1024);
    EXPECT_EQ(d.headers["content-length"], std::to_string(100ULL * 1024 * 1024));
    long after = proc_status_kb(sim->pid(), "VmHWM");
    EXPECT_LT(after - before, 8 * 1024) << "peak RSS grew by " << (after - before) << " KiB";
}

TEST_F(SimTest, AfterApplyDropLosesTheReplyOfAnAppliedCreate) {
    set_faults(R"({"after_apply":{"action":"drop","next":1}})");
    Resp r = call("POST", "/api/v1/accounts/1/contacts", R"({"name":"Ana","email":"ana@x.test"})");
    EXPECT_EQ(r.status, 0);
    EXPECT_EQ(r.curl_code, CURLE_GOT_NOTHING);
    J dump = control("GET", "/__sim/accounts/1/contacts").json();
    ASSERT_EQ(dump.size(), 1u);  // the client never saw its create succeed, but it did
    EXPECT_EQ(dump[0]["email"].str(), "ana@x.test");
    J log = control("GET", "/__sim/requests").json();
    ASSERT_EQ(log.size(), 1u);
    EXPECT_EQ(log[0]["fault"].str(), "after_apply_drop");
    EXPECT_EQ(log[0]["status"].i(), 0);
    EXPECT_EQ(log[0]["applied_status"].i(), 200);
    // The retry the client makes now meets the duplicate.
    Resp again = call("POST", "/api/v1/accounts/1/contacts", R"({"name":"Ana","email":"ana@x.test"})");
    EXPECT_EQ(again.status, 422);
    EXPECT_EQ(control("GET", "/__sim/faults").json()["after_apply"]["next"].i(), 0);
}

TEST_F(SimTest, AfterApply500KeepsTheUpdateAndSparesReadsAndRefusals) {
    long long id = make_contact(R"({"name":"Ana","email":"ana@x.test"})");
    std::string path = "/api/v1/accounts/1/contacts/" + std::to_string(id);
    set_faults(R"({"after_apply":{"action":"error_500","path_regex":"/contacts/[0-9]+$"}})");
    EXPECT_EQ(call("GET", path).status, 200);  // reads are not writes
    EXPECT_EQ(call("PUT", path, R"({"email":"bad"})").status, 422);  // nothing applied, nothing lost
    Resp r = call("PUT", path, R"({"name":"Ana Maria"})");
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(r.body, R"({"status":500,"error":"Internal Server Error"})");
    EXPECT_EQ(call("GET", path).json()["payload"]["name"].str(), "Ana Maria");
    EXPECT_EQ(call("POST", "/api/v1/accounts/1/contacts", R"({"name":"Bia","email":"bia@x.test"})").status, 200);  // no match
    J log = control("GET", "/__sim/requests").json();
    int lost = 0;
    for (std::size_t i = 0; i < log.size(); ++i)
        if (log[i]["fault"].str() == "after_apply_500") {
            ++lost;
            EXPECT_EQ(log[i]["status"].i(), 500);
            EXPECT_EQ(log[i]["applied_status"].i(), 200);
        }
    EXPECT_EQ(lost, 1);
    EXPECT_EQ(control("PUT", "/__sim/faults", R"({"after_apply":{"action":"explode"}})").status, 400);
    EXPECT_EQ(control("PUT", "/__sim/faults", R"({"after_apply":{"action":"drop","rate":2}})").status, 400);
    set_faults(R"({"after_apply":null})");
    EXPECT_EQ(call("PUT", path, R"({"name":"Ana"})").status, 200);
}
