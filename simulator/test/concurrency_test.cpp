// Contact writes under concurrency: the real mode validates, waits race_window_ms,
// then inserts, enforcing only the unique indexes Chatwoot's database has
// (e-mail and identifier per account); phone has none.
#include <algorithm>
#include <chrono>
#include <thread>

#include "sim_fixture.hpp"

using namespace simtest;

namespace {
const char* kContacts = "/api/v1/accounts/1/contacts";

std::vector<long> statuses(const std::vector<Resp>& rs) {
    std::vector<long> out;
    for (const auto& r : rs) out.push_back(r.status);
    std::sort(out.begin(), out.end());
    return out;
}
}  // namespace

TEST_F(SimTest, RacingCreatesWithSameEmailGive200And500) {
    set_mode(R"({"race_window_ms":300})");
    std::vector<Resp> rs = concurrent({spec("POST", kContacts, R"({"name":"A","email":"same@x.test"})"),
                                       spec("POST", kContacts, R"({"name":"B","email":"SAME@x.test"})")});
    EXPECT_EQ(statuses(rs), (std::vector<long>{200, 500}));
    for (const auto& r : rs)
        if (r.status == 500) {
            EXPECT_EQ(r.body, R"({"status":500,"error":"Internal Server Error"})");
        }
    J dump = control("GET", "/__sim/accounts/1/contacts").json();
    ASSERT_EQ(dump.size(), 1u);  // the loser wrote nothing
    EXPECT_EQ(dump[0]["email"].str(), "same@x.test");
}

TEST_F(SimTest, RacingCreatesWithSameIdentifierGive200And500) {
    set_mode(R"({"race_window_ms":300})");
    std::vector<Resp> rs = concurrent({spec("POST", kContacts, R"({"name":"A","identifier":"zattar:cliente:7"})"),
                                       spec("POST", kContacts, R"({"name":"B","identifier":"zattar:cliente:7","inbox_id":1})")});
    EXPECT_EQ(statuses(rs), (std::vector<long>{200, 500}));
    EXPECT_EQ(control("GET", "/__sim/accounts/1/contacts").json().size(), 1u);
    J s = control("GET", "/__sim/state").json();
    EXPECT_EQ(s["accounts"]["1"]["contacts"].i(), 1);
}

TEST_F(SimTest, RacingCreatesWithSamePhoneBothSucceed) {
    set_mode(R"({"race_window_ms":300})");
    std::vector<Resp> rs = concurrent({spec("POST", kContacts, R"({"name":"A","phone_number":"+5511987654321"})"),
                                       spec("POST", kContacts, R"({"name":"B","phone_number":"+5511987654321"})")});
    EXPECT_EQ(statuses(rs), (std::vector<long>{200, 200}));
    J dump = control("GET", "/__sim/accounts/1/contacts").json();
    ASSERT_EQ(dump.size(), 2u);
    EXPECT_EQ(dump[0]["phone_number"].str(), "+5511987654321");
    EXPECT_EQ(dump[1]["phone_number"].str(), "+5511987654321");
    // The lookup a sync client makes finds both (the phone index is not unique).
    Resp f = call("POST", std::string(kContacts) + "/filter",
                  R"({"payload":[{"attribute_key":"phone_number","filter_operator":"equal_to","values":["5511987654321"],"query_operator":"OR"},)"
                  R"({"attribute_key":"email","filter_operator":"equal_to","values":["nobody@x.test"]}]})");
    ASSERT_EQ(f.status, 200) << f.body;
    EXPECT_EQ(f.json()["meta"]["count"].i(), 2);
    EXPECT_EQ(f.json()["payload"].size(), 2u);
    // A third, sequential create is refused by the validation, as before.
    Resp third = call("POST", kContacts, R"({"name":"C","phone_number":"+5511987654321"})");
    EXPECT_EQ(third.status, 422);
    EXPECT_EQ(third.body, R"({"message":"Phone number has already been taken","attributes":["phone_number"]})");
}

TEST_F(SimTest, SequentialDuplicatesAre422) {
    ASSERT_EQ(call("POST", kContacts, R"({"name":"A","email":"a@x.test","identifier":"id-1"})").status, 200);
    Resp e = call("POST", kContacts, R"({"name":"B","email":"A@x.test"})");
    EXPECT_EQ(e.status, 422);
    EXPECT_EQ(e.body, R"({"message":"Email has already been taken","attributes":["email"]})");
    Resp i = call("POST", kContacts, R"({"name":"B","identifier":"id-1"})");
    EXPECT_EQ(i.status, 422);
    EXPECT_EQ(i.body, R"({"message":"Identifier has already been taken","attributes":["identifier"]})");
}

TEST_F(SimTest, RacingUpdatesToTheSameEmailGive200And500) {
    long long a = make_contact(R"({"name":"A","email":"a@x.test"})");
    long long b = make_contact(R"({"name":"B","email":"b@x.test"})");
    set_mode(R"({"race_window_ms":300})");
    std::vector<Resp> rs =
        concurrent({spec("PUT", std::string(kContacts) + "/" + std::to_string(a), R"({"email":"c@x.test"})"),
                    spec("PUT", std::string(kContacts) + "/" + std::to_string(b), R"({"email":"c@x.test"})")});
    EXPECT_EQ(statuses(rs), (std::vector<long>{200, 500}));
    J dump = control("GET", "/__sim/accounts/1/contacts").json();
    int with_c = 0;
    for (std::size_t i = 0; i < dump.size(); ++i) with_c += dump[i]["email"].str() == "c@x.test";
    EXPECT_EQ(with_c, 1);
}

TEST_F(SimTest, RacingUpdatesWriteOnlyTheirChangedColumns) {
    long long id = make_contact(R"({"name":"A","email":"a@x.test"})");
    set_mode(R"({"race_window_ms":300})");
    std::string path = std::string(kContacts) + "/" + std::to_string(id);
    std::vector<Resp> rs = concurrent({spec("PUT", path, R"({"name":"Renamed"})"),
                                       spec("PUT", path, R"({"phone_number":"+5511987654321"})")});
    EXPECT_EQ(statuses(rs), (std::vector<long>{200, 200}));
    J c = call("GET", path).json()["payload"];
    EXPECT_EQ(c["name"].str(), "Renamed");  // partial writes: neither UPDATE overwrote the other's column
    EXPECT_EQ(c["phone_number"].str(), "+5511987654321");
}

TEST_F(SimTest, SerializedModeTurnsTheRaceInto422) {
    set_mode(R"({"concurrency":"serialized","race_window_ms":300})");
    std::vector<Resp> rs = concurrent({spec("POST", kContacts, R"({"name":"A","email":"same@x.test"})"),
                                       spec("POST", kContacts, R"({"name":"B","email":"same@x.test"})")});
    EXPECT_EQ(statuses(rs), (std::vector<long>{200, 422}));
    rs = concurrent({spec("POST", kContacts, R"({"name":"A","phone_number":"+5511911112222"})"),
                     spec("POST", kContacts, R"({"name":"B","phone_number":"+5511911112222"})")});
    EXPECT_EQ(statuses(rs), (std::vector<long>{200, 422}));
}

TEST_F(SimTest, RaceWindowDoesNotSerialiseUnrelatedWrites) {
    set_mode(R"({"race_window_ms":300})");
    std::vector<ReqSpec> reqs;
    for (int i = 0; i < 8; ++i)
        reqs.push_back(spec("POST", kContacts, "{\"name\":\"P" + std::to_string(i) + "\",\"email\":\"p" + std::to_string(i) + "@x.test\"}"));
    auto t0 = std::chrono::steady_clock::now();
    std::vector<Resp> rs = concurrent(reqs);
    double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    for (const auto& r : rs) EXPECT_EQ(r.status, 200) << r.body;
    EXPECT_GE(wall, 300.0);
    EXPECT_LT(wall, 900.0) << "8 x 300 ms would be 2400 ms if the windows were serialised";
    // Reads are served while the writes wait in their window.
    set_mode(R"({"race_window_ms":1000})");
    std::vector<ReqSpec> mixed = {spec("POST", kContacts, R"({"name":"Q","email":"q@x.test"})"),
                                  spec("GET", "/api/v1/profile")};
    rs = concurrent(mixed);
    EXPECT_EQ(rs[0].status, 200);
    EXPECT_EQ(rs[1].status, 200);
    EXPECT_LT(rs[1].elapsed_ms, 500.0);
    EXPECT_GE(rs[0].elapsed_ms, 1000.0);
}

TEST_F(SimTest, WriteWaitingInItsWindowSurvivesAReset) {
    // A create waiting in its window when a reset runs authenticates again against
    // the new seed (no dangling user or account) and is applied there.
    set_mode(R"({"race_window_ms":400})");
    std::vector<Resp> rs;
    std::thread t([&] { rs = concurrent({spec("POST", kContacts, R"({"name":"A","email":"a@x.test"})")}); });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_EQ(control("POST", "/__sim/reset").status, 200);
    t.join();
    ASSERT_EQ(rs.size(), 1u);
    EXPECT_EQ(rs[0].status, 200);
    EXPECT_EQ(control("GET", "/__sim/accounts/1/contacts").json().size(), 1u);
}
