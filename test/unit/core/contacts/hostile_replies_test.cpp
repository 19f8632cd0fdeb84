// ContactSync and testar_conexao over libcurl against a loopback "Chatwoot" that
// answers the contact lookup with what no Chatwoot sends (probe rows 5.1-5.3, 5.5):
// what reaches the wire after each, and that a redirect is never followed.
#include "core/chatwoot/chatwoot_api.hpp"
#include "core/contacts/contact_sync.hpp"
#include "core/http/blocking_runner.hpp"
#include "../http/loopback.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

using namespace chatwoot::core;

namespace {

// Answers each request with reply(method, path) on keep-alive connections and logs
// "METHOD path" (the path without its query).
class HostileServer {
public:
    using Reply = std::function<std::string(const std::string& method, const std::string& path)>;
    explicit HostileServer(Reply reply) : reply_(std::move(reply)) {
        fd_ = chatwoot::test::bind_loopback(16, port_);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~HostileServer() {
        ::shutdown(fd_, SHUT_RDWR);
        ::close(fd_);
        acceptor_.join();
        std::lock_guard<std::mutex> lock(mutex_);
        for (int c : clients_) ::shutdown(c, SHUT_RDWR);
        for (auto& t : workers_) t.join();
        for (int c : clients_) ::close(c);
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    std::vector<std::string> log() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return log_;
    }
    int count(const std::string& request) const {
        int n = 0;
        for (const auto& line : log()) n += line == request;
        return n;
    }

private:
    void accept_loop() {
        for (;;) {
            int client = ::accept(fd_, nullptr, nullptr);
            if (client < 0) return;
            std::lock_guard<std::mutex> lock(mutex_);
            clients_.push_back(client);
            workers_.emplace_back([this, client] { serve(client); });
        }
    }
    void serve(int client) {
        std::string buffer, path, method;
        while (chatwoot::test::read_request(client, buffer, path, &method)) {
            path = path.substr(0, path.find('?'));
            {
                std::lock_guard<std::mutex> lock(mutex_);
                log_.push_back(method + " " + path);
            }
            std::string reply = reply_(method, path);
            ::send(client, reply.data(), reply.size(), MSG_NOSIGNAL);
        }
    }
    Reply reply_;
    int fd_ = -1;
    int port_ = 0;
    mutable std::mutex mutex_;
    std::vector<std::string> log_;
    std::vector<int> clients_;
    std::vector<std::thread> workers_;
    std::thread acceptor_;
};

std::string http(int status, const std::string& body, const std::string& extra_headers = {}) {
    return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" + extra_headers +
           "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kKey = "Zx9kQ2mN7pL4vB8cR1tY6wHs";
const std::string kWebhook = "whsec-Q7n2Lp9xK4";

ConnectionConfig config_for(const HostileServer& server) {
    ConnectionConfig c;
    c.api_url = server.url();
    c.api_key = kKey;
    c.webhook_secret = kWebhook;
    c.account_id = 1;
    c.default_inbox_id = 1;
    c.timeout_ms = 3000;
    return c;
}

PartySnapshot bia() {
    PartySnapshot p;
    p.tipo_entidade = "cliente";
    p.entidade_id = 8;
    p.tipo_pessoa = "pf";
    p.nome = "Bia Hostil";
    p.emails_json = R"(["bia@example.com"])";
    return p;
}

ContactSyncResult sync_once(const HostileServer& server) {
    RequestFactory factory(config_for(server));
    ContactSync sync(factory, draft_contact(bia()), {}, std::nullopt);
    BlockingRunner runner(1);
    runner.run({&sync});
    EXPECT_TRUE(sync.finished());
    return sync.result();
}

const char* kCreated = R"({"payload":{"contact":{"id":1001,"identifier":"zattar_cliente_8"},"contact_inbox":null}})";

}  // namespace

// T3-11 (a): for each unreadable 2xx lookup reply, over the wire: one filter, no
// POST /contacts, a retry that says the lookup could not be read.
TEST(HostileReplies, AnUnreadableLookupSendsNoCreate) {
    const std::vector<std::pair<const char*, std::string>> modes = {
        {"unparse200", "<html><body>Please wait...</body></html>"},
        {"deep", std::string(100000, '[') + std::string(100000, ']')},
        {"bigid", R"({"meta":{"count":1},"payload":[{"id":99999999999999999999999}]})"},
        {"strid", R"({"meta":{"count":1},"payload":[{"id":"1001"}]})"},
        {"negid", R"({"meta":{"count":1},"payload":[{"id":-1001}]})"},
        {"floatid", R"({"meta":{"count":1},"payload":[{"id":1001.5}]})"},
        {"dupkeys", R"({"payload":[{"id":1}],"payload":[]})"},
        {"nopayload", R"({"meta":{"count":0}})"}};
    for (const auto& [mode, body] : modes) {
        HostileServer server([&body = body](const std::string& method, const std::string& path) {
            if (path.find("/contacts/filter") != std::string::npos) return http(200, body);
            if (method == "POST" && path.size() >= 9 && path.compare(path.size() - 9, 9, "/contacts") == 0)
                return http(200, kCreated);
            return http(404, R"({"error":"not found"})");
        });
        ContactSyncResult r = sync_once(server);
        EXPECT_EQ(server.count("POST /api/v1/accounts/1/contacts/filter"), 1) << mode;
        EXPECT_EQ(server.count("POST /api/v1/accounts/1/contacts"), 0) << mode;
        EXPECT_EQ(r.outcome, Outcome::retry) << mode;
        EXPECT_EQ(r.contact_id, 0) << mode;
        EXPECT_NE(r.error.find("resposta ilegível da busca de contato"), std::string::npos) << mode << ": " << r.error;
    }
}

// T3-11 (c): a 302 to another loopback listener is not followed; the job is a retry
// whose error names the Location with the key redacted; testar_conexao names it too.
TEST(HostileReplies, ARedirectIsNotFollowedAndItsLocationIsNamed) {
    HostileServer elsewhere([](const std::string&, const std::string&) { return http(200, "{}"); });
    std::string location = elsewhere.url() + "/login?token=" + kKey;
    HostileServer server([&](const std::string&, const std::string& path) {
        return http(302, "{}", "Location: " + location + path + "\r\n");
    });
    ContactSyncResult r = sync_once(server);
    EXPECT_EQ(server.log().size(), 1u);
    EXPECT_TRUE(elsewhere.log().empty()) << "the redirect was followed";
    EXPECT_EQ(r.outcome, Outcome::retry);
    std::string named = "redirecionamento para '" + elsewhere.url() + "/login?token=[redacted]/api/v1/accounts/1/contacts/filter'";
    EXPECT_NE(r.error.find(named), std::string::npos) << r.error;
    EXPECT_EQ(r.error.find(kKey.substr(0, 8)), std::string::npos) << r.error;

    CurlTransport transport;
    ChatwootApi api(config_for(server), transport);
    ConnectionReport report = api.test_connection();
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.status, 302);
    EXPECT_NE(report.erro.find("HTTP 302: redirecionamento para '" + elsewhere.url() + "/login?token=[redacted]/api/v1/profile'"),
              std::string::npos)
        << report.erro;
    EXPECT_TRUE(elsewhere.log().empty());
}

// T3-7 over the wire: a 422 message > 300 bytes and a 401 error > 200 bytes that echo
// the key header across the cut; neither the job's error nor testar_conexao's keeps
// 8 or more of its first characters.
TEST(HostileReplies, AnEchoedKeyAcrossTheCutLeavesNoPieceOfIt) {
    for (int status : {422, 401}) {
        std::size_t cut = status == 422 ? 300 : 200;
        for (std::size_t pad : {cut - 3 - kKey.size() + 1, cut - 3 - 8, cut - 3 - 12}) {
            std::string field = status == 422 ? "message" : "error";
            std::string body = "{\"" + field + "\":\"" + std::string(pad, 'x') + kKey + " (header echoed)\"}";
            HostileServer server([&](const std::string& method, const std::string& path) {
                if (path.find("/contacts/filter") != std::string::npos) return http(200, R"({"payload":[]})");
                if (method == "POST") return http(status, body);
                return http(status, body);
            });
            ContactSyncResult r = sync_once(server);
            EXPECT_EQ(r.outcome, status == 422 ? Outcome::permanent : Outcome::refused);
            EXPECT_NE(r.error.find("HTTP " + std::to_string(status)), std::string::npos) << r.error;
            EXPECT_EQ(r.error.find(kKey.substr(0, 8)), std::string::npos) << pad << ": " << r.error;
            CurlTransport transport;
            ConnectionReport report = ChatwootApi(config_for(server), transport).test_connection();
            EXPECT_EQ(report.erro.find(kKey.substr(0, 8)), std::string::npos) << pad << ": " << report.erro;
        }
    }
}
