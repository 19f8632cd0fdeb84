#include "sim_fixture.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <thread>

namespace simtest {

// ---- J ----
J J::parse(const std::string& text) {
    json_error_t err;
    return J(json_loadb(text.data(), text.size(), JSON_DECODE_ANY, &err));
}
J J::operator[](const char* key) const {
    json_t* v = json_is_object(v_) ? json_object_get(v_, key) : nullptr;
    return J(v ? json_incref(v) : nullptr);
}
J J::operator[](std::size_t i) const {
    json_t* v = json_is_array(v_) ? json_array_get(v_, i) : nullptr;
    return J(v ? json_incref(v) : nullptr);
}
std::size_t J::size() const {
    if (json_is_array(v_)) return json_array_size(v_);
    if (json_is_object(v_)) return json_object_size(v_);
    return 0;
}
std::string J::str() const { return json_is_string(v_) ? json_string_value(v_) : ""; }
long long J::i() const { return json_is_integer(v_) ? json_integer_value(v_) : 0; }
double J::num() const { return json_is_number(v_) ? json_number_value(v_) : 0; }
std::string J::dump() const {
    if (!v_) return "<absent>";
    char* t = json_dumps(v_, JSON_COMPACT | JSON_ENCODE_ANY);
    std::string s = t ? t : "";
    free(t);
    return s;
}

// ---- http ----
static size_t collect_body(char* p, size_t s, size_t n, void* out) {
    static_cast<std::string*>(out)->append(p, s * n);
    return s * n;
}
static size_t collect_header(char* p, size_t s, size_t n, void* out) {
    std::string line(p, s * n);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
        std::string k = line.substr(0, colon);
        for (char& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string v = line.substr(colon + 1);
        while (!v.empty() && (v.front() == ' ')) v.erase(0, 1);
        while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.pop_back();
        (*static_cast<std::map<std::string, std::string>*>(out))[k] = v;
    }
    return s * n;
}

Resp http(const std::string& method, const std::string& url, const std::string& body,
          const std::vector<std::string>& headers, long timeout_ms) {
    Resp r;
    CURL* c = curl_easy_init();
    curl_slist* h = nullptr;
    for (const auto& x : headers) h = curl_slist_append(h, x.c_str());
    if (!body.empty()) h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &collect_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &collect_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
    auto t0 = std::chrono::steady_clock::now();
    r.curl_code = curl_easy_perform(c);
    r.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return r;
}

std::vector<Resp> concurrent(const std::vector<ReqSpec>& reqs) {
    struct One {
        Resp r;
        CURL* c = nullptr;
        curl_slist* h = nullptr;
        std::chrono::steady_clock::time_point t0;
    };
    std::vector<One> all(reqs.size());
    CURLM* multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, static_cast<long>(reqs.size() + 1));
    for (std::size_t i = 0; i < reqs.size(); ++i) {
        const ReqSpec& q = reqs[i];
        One& o = all[i];
        o.c = curl_easy_init();
        for (const auto& x : q.headers) o.h = curl_slist_append(o.h, x.c_str());
        if (!q.body.empty()) o.h = curl_slist_append(o.h, "Content-Type: application/json");
        o.h = curl_slist_append(o.h, "Expect:");
        curl_easy_setopt(o.c, CURLOPT_URL, q.url.c_str());
        curl_easy_setopt(o.c, CURLOPT_CUSTOMREQUEST, q.method.c_str());
        if (!q.body.empty() || q.method == "POST" || q.method == "PUT" || q.method == "PATCH") {
            curl_easy_setopt(o.c, CURLOPT_POSTFIELDS, q.body.c_str());
            curl_easy_setopt(o.c, CURLOPT_POSTFIELDSIZE, static_cast<long>(q.body.size()));
        }
        curl_easy_setopt(o.c, CURLOPT_HTTPHEADER, o.h);
        curl_easy_setopt(o.c, CURLOPT_TIMEOUT_MS, q.timeout_ms);
        curl_easy_setopt(o.c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(o.c, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(o.c, CURLOPT_WRITEFUNCTION, &collect_body);
        curl_easy_setopt(o.c, CURLOPT_WRITEDATA, &o.r.body);
        curl_easy_setopt(o.c, CURLOPT_HEADERFUNCTION, &collect_header);
        curl_easy_setopt(o.c, CURLOPT_HEADERDATA, &o.r.headers);
        curl_easy_setopt(o.c, CURLOPT_PRIVATE, &o);
        o.t0 = std::chrono::steady_clock::now();
        curl_multi_add_handle(multi, o.c);
    }
    int running = 0;
    do {
        curl_multi_perform(multi, &running);
        int left = 0;
        while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
            if (m->msg != CURLMSG_DONE) continue;
            One* o = nullptr;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&o));
            o->r.curl_code = m->data.result;
            o->r.elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - o->t0).count();
            curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &o->r.status);
        }
        if (running) curl_multi_poll(multi, nullptr, 0, 20, nullptr);
    } while (running > 0);
    std::vector<Resp> out;
    for (One& o : all) {
        curl_multi_remove_handle(multi, o.c);
        curl_easy_cleanup(o.c);
        curl_slist_free_all(o.h);
        out.push_back(std::move(o.r));
    }
    curl_multi_cleanup(multi);
    return out;
}

static size_t count_body(char*, size_t s, size_t n, void* out) {
    *static_cast<unsigned long long*>(out) += s * n;
    return s * n;
}

Download download(const std::string& url, const std::vector<std::string>& headers, long timeout_ms) {
    Download d;
    CURL* c = curl_easy_init();
    curl_slist* h = nullptr;
    for (const auto& x : headers) h = curl_slist_append(h, x.c_str());
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &count_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &d.bytes);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &collect_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &d.headers);
    d.curl_code = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &d.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return d;
}

long proc_status_kb(pid_t pid, const char* field) {
    FILE* f = std::fopen(("/proc/" + std::to_string(pid) + "/status").c_str(), "r");
    if (!f) return -1;
    char line[256];
    long kb = -1;
    std::size_t n = std::strlen(field);
    while (std::fgets(line, sizeof line, f))
        if (std::strncmp(line, field, n) == 0 && line[n] == ':') kb = std::strtol(line + n + 1, nullptr, 10);
    std::fclose(f);
    return kb;
}

// ---- SimProcess ----
SimProcess::SimProcess(const std::vector<std::string>& extra_args) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        std::vector<std::string> args = {CHATWOOT_SIM_BIN, "--port", "0", "--control-port", "0", "--bind", "127.0.0.1"};
        args.insert(args.end(), extra_args.begin(), extra_args.end());
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        execv(argv[0], argv.data());
        _exit(127);
    }
    close(fds[1]);
    std::string out;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline && out.find('\n') == std::string::npos) {
        pollfd p{fds[0], POLLIN, 0};
        if (poll(&p, 1, 100) > 0) {
            char buf[256];
            ssize_t n = read(fds[0], buf, sizeof buf);
            if (n <= 0) break;
            out.append(buf, static_cast<std::size_t>(n));
        }
    }
    close(fds[0]);
    std::smatch m;
    static const std::regex re(R"(^chatwoot-sim ready port=(\d+) control_port=(\d+)\n)");
    if (std::regex_search(out, m, re)) {
        port_ = std::stoi(m[1]);
        control_port_ = std::stoi(m[2]);
        ready_ = true;
    }
}

int SimProcess::terminate(double* elapsed_ms) {
    if (pid_ <= 0) return -1;
    auto t0 = std::chrono::steady_clock::now();
    kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 300; ++i) {  // up to 3 s, then SIGKILL
        pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            if (elapsed_ms)
                *elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
}

SimProcess::~SimProcess() { terminate(); }

// ---- WebhookReceiver ----
namespace {
struct Upload {
    std::string body;
    bool started = false;
};
MHD_Result collect_header_kv(void* cls, MHD_ValueKind, const char* k, const char* v) {
    std::string key = k;
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    (*static_cast<std::map<std::string, std::string>*>(cls))[key] = v ? v : "";
    return MHD_YES;
}
MHD_Result receiver_access(void* cls, MHD_Connection* conn, const char* url, const char* method, const char*,
                           const char* data, size_t* size, void** con_cls) {
    auto* self = static_cast<WebhookReceiver*>(cls);
    auto* up = static_cast<Upload*>(*con_cls);
    if (!up) {
        *con_cls = new Upload();
        return MHD_YES;
    }
    if (*size) {
        up->body.append(data, *size);
        *size = 0;
        return MHD_YES;
    }
    Received r;
    r.method = method;
    r.url = url;
    r.body = up->body;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, &collect_header_kv, &r.headers);
    self->record(std::move(r));
    MHD_Response* resp = MHD_create_response_from_buffer(2, const_cast<char*>("{}"), MHD_RESPMEM_PERSISTENT);
    MHD_Result ret = MHD_queue_response(conn, self->status_, resp);
    MHD_destroy_response(resp);
    return ret;
}
void receiver_done(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
    delete static_cast<Upload*>(*con_cls);
    *con_cls = nullptr;
}
}  // namespace

WebhookReceiver::WebhookReceiver() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    daemon_ = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, nullptr, nullptr,
                               &receiver_access, this, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED,
                               &receiver_done, nullptr, MHD_OPTION_END);
    if (daemon_) port_ = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
}
WebhookReceiver::~WebhookReceiver() {
    if (daemon_) MHD_stop_daemon(daemon_);
}
std::string WebhookReceiver::url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
}
void WebhookReceiver::record(Received r) {
    {
        std::lock_guard<std::mutex> lk(mu_);
        got_.push_back(std::move(r));
    }
    cv_.notify_all();
}
std::vector<Received> WebhookReceiver::wait_for(std::size_t n, int timeout_ms) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, std::chrono::milliseconds(timeout_ms), [&] { return got_.size() >= n; });
    return got_;
}
std::vector<Received> WebhookReceiver::all() {
    std::lock_guard<std::mutex> lk(mu_);
    return got_;
}

// ---- SimTest ----
void SimTest::SetUp() {
    sim = std::make_unique<SimProcess>();
    ASSERT_TRUE(sim->ready()) << "simulator did not print its ready line";
}
void SimTest::TearDown() { sim.reset(); }

std::string SimTest::api(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(sim->port()) + path;
}
std::string SimTest::ctl(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(sim->control_port()) + path;
}
Resp SimTest::call(const std::string& method, const std::string& path, const std::string& body,
                   const std::string& token, long timeout_ms) {
    std::vector<std::string> h;
    if (!token.empty()) h.push_back("api_access_token: " + token);
    return http(method, api(path), body, h, timeout_ms);
}
Resp SimTest::control(const std::string& method, const std::string& path, const std::string& body) {
    return http(method, ctl(path), body);
}
long long SimTest::make_contact(const std::string& body) {
    Resp r = call("POST", "/api/v1/accounts/1/contacts", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["payload"]["contact"]["id"].i();
}
long long SimTest::make_conversation(long long contact_id, const std::string& extra) {
    std::string body = "{\"inbox_id\":1,\"contact_id\":" + std::to_string(contact_id) + extra + "}";
    Resp r = call("POST", "/api/v1/accounts/1/conversations", body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json()["id"].i();
}
void SimTest::set_faults(const std::string& json) {
    Resp r = control("PUT", "/__sim/faults", json);
    ASSERT_EQ(r.status, 200) << r.body;
}
void SimTest::set_mode(const std::string& json) {
    Resp r = control("PUT", "/__sim/mode", json);
    ASSERT_EQ(r.status, 200) << r.body;
}
ReqSpec SimTest::spec(const std::string& method, const std::string& path, const std::string& body,
                      const std::string& token) const {
    ReqSpec q;
    q.method = method;
    q.url = api(path);
    q.body = body;
    if (!token.empty()) q.headers.push_back("api_access_token: " + token);
    return q;
}

J SimTest::deliveries(std::size_t n, int timeout_ms) {
    J log;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    do {
        log = control("GET", "/__sim/webhook_deliveries").json();
        if (log.size() >= n) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < deadline);
    return log;
}

bool is_uuid(const std::string& s) {
    static const std::regex re("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
    return std::regex_match(s, re);
}

}  // namespace simtest
