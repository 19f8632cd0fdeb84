// Test harness: runs the real chatwoot-sim binary on free loopback ports,
// talks to it with libcurl, and receives its webhooks on a local
// libmicrohttpd daemon.
#pragma once
#include <gtest/gtest.h>
#include <jansson.h>
#include <sys/types.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct MHD_Daemon;

namespace simtest {

// Owning jansson handle with terse accessors for assertions.
class J {
public:
    J() = default;
    explicit J(json_t* v) : v_(v) {}  // takes ownership
    static J parse(const std::string& text);
    J(const J& o) : v_(o.v_ ? json_incref(o.v_) : nullptr) {}
    J& operator=(J o) { std::swap(v_, o.v_); return *this; }
    ~J() { json_decref(v_); }

    bool ok() const { return v_ != nullptr; }
    json_t* get() const { return v_; }
    J operator[](const char* key) const;
    J operator[](std::size_t i) const;
    J operator[](int i) const { return (*this)[static_cast<std::size_t>(i)]; }
    bool has(const char* key) const { return json_is_object(v_) && json_object_get(v_, key) != nullptr; }
    std::size_t size() const;
    std::string str() const;  // "" when not a string
    long long i() const;      // 0 when not an integer
    double num() const;
    bool b() const { return json_is_true(v_); }
    bool is_null() const { return json_is_null(v_); }
    bool is_string() const { return json_is_string(v_); }
    bool is_int() const { return json_is_integer(v_); }
    bool is_real() const { return json_is_real(v_); }
    bool is_array() const { return json_is_array(v_); }
    bool is_object() const { return json_is_object(v_); }
    std::string dump() const;

private:
    json_t* v_ = nullptr;
};

struct Resp {
    long status = 0;
    int curl_code = 0;  // CURLcode
    std::string body;
    std::map<std::string, std::string> headers;  // lower-cased names
    double elapsed_ms = 0;
    J json() const { return J::parse(body); }
};

Resp http(const std::string& method, const std::string& url, const std::string& body = "",
          const std::vector<std::string>& headers = {}, long timeout_ms = 5000);

struct ReqSpec {
    std::string method, url, body;
    std::vector<std::string> headers;
    long timeout_ms = 5000;
};
// Sends all requests at once (curl multi, one connection each) and returns their
// answers in the same order.
std::vector<Resp> concurrent(const std::vector<ReqSpec>& reqs);
// Downloads `url`, counting the body bytes without keeping them.
struct Download {
    long status = 0;
    int curl_code = 0;
    unsigned long long bytes = 0;
    std::map<std::string, std::string> headers;
};
Download download(const std::string& url, const std::vector<std::string>& headers, long timeout_ms = 60000);
// A process's peak resident set (VmHWM) and current one (VmRSS), in KiB; -1 when unknown.
long proc_status_kb(pid_t pid, const char* field);

// A running simulator process.
class SimProcess {
public:
    explicit SimProcess(const std::vector<std::string>& extra_args = {});
    ~SimProcess();
    bool ready() const { return ready_; }
    int port() const { return port_; }
    int control_port() const { return control_port_; }
    pid_t pid() const { return pid_; }
    // Sends SIGTERM and waits; returns the exit status (or -1) and the time taken.
    int terminate(double* elapsed_ms = nullptr);

private:
    pid_t pid_ = -1;
    int port_ = 0, control_port_ = 0;
    bool ready_ = false;
};

struct Received {
    std::string method, url, body;
    std::map<std::string, std::string> headers;  // lower-cased names
};

// Collects webhook POSTs; answers `status` (200 by default).
class WebhookReceiver {
public:
    WebhookReceiver();
    ~WebhookReceiver();
    int port() const { return port_; }
    std::string url(const std::string& path = "/hook") const;
    // Waits until at least n requests arrived; returns them all.
    std::vector<Received> wait_for(std::size_t n, int timeout_ms = 3000);
    std::vector<Received> all();
    void set_status(unsigned status) { status_ = status; }

    // Called from the MHD thread.
    void record(Received r);
    unsigned status_ = 200;

private:
    MHD_Daemon* daemon_ = nullptr;
    int port_ = 0;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<Received> got_;
};

class SimTest : public ::testing::Test {
protected:
    void SetUp() override;
    void TearDown() override;

    std::string api(const std::string& path) const;
    std::string ctl(const std::string& path) const;
    // Application API call with the admin token (or `token`; empty = no header).
    Resp call(const std::string& method, const std::string& path, const std::string& body = "",
              const std::string& token = "sim-admin-token", long timeout_ms = 5000);
    Resp control(const std::string& method, const std::string& path, const std::string& body = "");
    // An Application API request for concurrent(), with the admin token.
    ReqSpec spec(const std::string& method, const std::string& path, const std::string& body = "",
                 const std::string& token = "sim-admin-token") const;
    // Creates a contact and returns its id (asserts 200).
    long long make_contact(const std::string& body);
    long long make_conversation(long long contact_id, const std::string& extra = "");
    void set_faults(const std::string& json);
    void set_mode(const std::string& json);
    // Polls /__sim/webhook_deliveries until it holds at least n records (deliveries are async).
    J deliveries(std::size_t n, int timeout_ms = 3000);

    std::unique_ptr<SimProcess> sim;
};

bool is_uuid(const std::string& s);

}  // namespace simtest
