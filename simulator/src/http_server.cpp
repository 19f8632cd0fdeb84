#include "http_server.hpp"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "util.hpp"

namespace sim {

namespace {
constexpr std::size_t kMaxBody = 16 * 1024 * 1024;

std::int64_t steady_us() {
    using namespace std::chrono;
    return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}
}  // namespace

std::optional<std::string> HttpRequest::header(const char* name) const {
    if (!connection) return std::nullopt;
    const char* v = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
    if (!v) return std::nullopt;
    return std::string(v);
}

std::vector<std::pair<std::string, std::string>> HttpRequest::headers() const {
    std::vector<std::pair<std::string, std::string>> out;
    if (!connection) return out;
    MHD_get_connection_values(
        connection, MHD_HEADER_KIND,
        +[](void* cls, MHD_ValueKind, const char* k, const char* v) -> MHD_Result {
            static_cast<std::vector<std::pair<std::string, std::string>>*>(cls)->emplace_back(k ? k : "", v ? v : "");
            return MHD_YES;
        },
        &out);
    return out;
}

namespace {
std::string peer_address(MHD_Connection* connection) {
    const MHD_ConnectionInfo* info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr) return "";
    char buf[INET6_ADDRSTRLEN] = {0};
    if (info->client_addr->sa_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(info->client_addr)->sin_addr, buf, sizeof buf);
    } else if (info->client_addr->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(info->client_addr)->sin6_addr, buf, sizeof buf);
    }
    return buf;
}

// Reader state of a streamed body: the position in unit*repeat + tail.
struct StreamReader {
    std::shared_ptr<StreamBody> body;
    static ssize_t read(void* cls, uint64_t pos, char* buf, size_t max) {
        auto* self = static_cast<StreamReader*>(cls);
        const StreamBody& b = *self->body;
        const std::uint64_t unit = b.unit ? b.unit->size() : 0;
        const std::uint64_t units_total = unit * b.repeat;
        std::size_t n = 0;
        while (n < max && pos < units_total) {
            std::uint64_t off = pos % unit;
            std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(unit - off, max - n));
            std::memcpy(buf + n, b.unit->data() + off, take);
            n += take;
            pos += take;
        }
        while (n < max && pos >= units_total && pos - units_total < b.tail.size()) {
            std::size_t off = static_cast<std::size_t>(pos - units_total);
            std::size_t take = std::min(b.tail.size() - off, max - n);
            std::memcpy(buf + n, b.tail.data() + off, take);
            n += take;
            pos += take;
        }
        if (n == 0) return MHD_CONTENT_READER_END_OF_STREAM;
        return static_cast<ssize_t>(n);
    }
    static void free(void* cls) { delete static_cast<StreamReader*>(cls); }
};
}  // namespace

struct HttpServer::RequestContext {
    std::string uri;
    HttpRequest request;
    bool headers_seen = false;
    bool too_large = false;
    bool parked = false;
    bool aborted = false;  // daemon stopping while parked
    HttpResponse pending;
    std::int64_t start_us = steady_us();
};

struct ServerCallbacks {
    static void* on_uri(void*, const char* uri, MHD_Connection*) {
        auto* ctx = new HttpServer::RequestContext();
        ctx->uri = uri ? uri : "";
        return ctx;
    }

    static void on_completed(void*, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
        delete static_cast<HttpServer::RequestContext*>(*con_cls);
        *con_cls = nullptr;
    }

    static MHD_Result queue(MHD_Connection* connection, const HttpResponse& r) {
        MHD_Response* resp = nullptr;
        if (r.stream) {
            auto* reader = new StreamReader{r.stream};
            resp = MHD_create_response_from_callback(r.stream->size(), 64 * 1024, &StreamReader::read, reader,
                                                     &StreamReader::free);
            if (!resp) delete reader;
        } else {
            resp = MHD_create_response_from_buffer(r.body.size(), const_cast<char*>(r.body.data()),
                                                   MHD_RESPMEM_MUST_COPY);
        }
        if (!resp) return MHD_NO;
        if (!r.content_type.empty()) MHD_add_response_header(resp, "Content-Type", r.content_type.c_str());
        for (const auto& [k, v] : r.headers) MHD_add_response_header(resp, k.c_str(), v.c_str());
        MHD_Result ret = MHD_queue_response(connection, static_cast<unsigned>(r.status), resp);
        MHD_destroy_response(resp);
        return ret;
    }

    static MHD_Result finish(HttpServer* self, MHD_Connection* connection, HttpServer::RequestContext* ctx) {
        double ms = static_cast<double>(steady_us() - ctx->start_us) / 1000.0;
        if (self->completion_) self->completion_(ctx->request, ctx->pending, ms);
        if (ctx->pending.action == HttpResponse::Action::drop) return MHD_NO;  // close without any answer
        return queue(connection, ctx->pending);
    }

    static MHD_Result on_access(void* cls, MHD_Connection* connection, const char* url, const char* method,
                                const char*, const char* upload_data, size_t* upload_data_size, void** con_cls) {
        auto* self = static_cast<HttpServer*>(cls);
        auto* ctx = static_cast<HttpServer::RequestContext*>(*con_cls);
        if (!ctx) {  // no URI callback ran (should not happen); keep going safely
            ctx = new HttpServer::RequestContext();
            *con_cls = ctx;
        }
        if (ctx->parked) {  // resumed by the timer (or by a stopping daemon)
            ctx->parked = false;
            if (ctx->aborted) return MHD_NO;
            return proceed(self, connection, ctx);
        }
        if (!ctx->headers_seen) {
            ctx->headers_seen = true;
            ctx->request.method = method ? method : "";
            ctx->request.path = url ? url : "";
            std::size_t q = ctx->uri.find('?');
            if (q != std::string::npos) {
                ctx->request.raw_query = ctx->uri.substr(q + 1);
                ctx->request.query = parse_query(ctx->request.raw_query);
            }
            ctx->request.connection = connection;
            ctx->request.peer_ip = peer_address(connection);
            return MHD_YES;
        }
        if (*upload_data_size > 0) {
            if (ctx->request.body.size() + *upload_data_size > kMaxBody)
                ctx->too_large = true;
            else
                ctx->request.body.append(upload_data, *upload_data_size);
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (ctx->too_large) {
            ctx->pending = HttpResponse::json(413, R"({"error":"Request Entity Too Large"})");
        } else {
            ctx->pending = self->handler_(ctx->request);
        }
        return proceed(self, connection, ctx);
    }

    // Parks the connection for the pending delay, runs a pending second phase,
    // and answers once neither is left.
    static MHD_Result proceed(HttpServer* self, MHD_Connection* connection, HttpServer::RequestContext* ctx) {
        for (;;) {
            if (ctx->pending.delay_ms > 0) {
                int delay = ctx->pending.delay_ms;
                ctx->pending.delay_ms = 0;
                if (!self->park(connection, ctx, delay)) return MHD_NO;
                return MHD_YES;
            }
            if (ctx->pending.then) {
                std::function<HttpResponse()> next = std::move(ctx->pending.then);
                ctx->pending = next();
                continue;
            }
            return finish(self, connection, ctx);
        }
    }
};

HttpServer::HttpServer(std::string bind, std::uint16_t port, unsigned threads, Handler handler, Completion completion)
    : bind_(std::move(bind)), port_(port), threads_(threads ? threads : 1), handler_(std::move(handler)),
      completion_(std::move(completion)) {
    timer_ = std::thread([this] { timer_loop(); });
}

HttpServer::~HttpServer() {
    stop();
    {
        std::lock_guard<std::mutex> lk(timer_mu_);
        timer_quit_ = true;
    }
    timer_cv_.notify_all();
    timer_.join();
}

bool HttpServer::start(std::string* error) {
    std::lock_guard<std::mutex> lk(lifecycle_mu_);
    if (daemon_) return true;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    if (inet_pton(AF_INET, bind_.c_str(), &addr.sin_addr) != 1) {
        if (error) *error = "bad --bind address (IPv4 expected): " + bind_;
        return false;
    }
    {
        std::lock_guard<std::mutex> tl(timer_mu_);
        accepting_parks_ = true;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    if (threads_ > 1) {
        daemon_ = MHD_start_daemon(flags, port_, nullptr, nullptr, &ServerCallbacks::on_access, this,
                                   MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_URI_LOG_CALLBACK, &ServerCallbacks::on_uri,
                                   this, MHD_OPTION_NOTIFY_COMPLETED, &ServerCallbacks::on_completed, this,
                                   MHD_OPTION_CONNECTION_TIMEOUT, 300u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                                   MHD_OPTION_THREAD_POOL_SIZE, threads_, MHD_OPTION_END);
    } else {
        daemon_ = MHD_start_daemon(flags, port_, nullptr, nullptr, &ServerCallbacks::on_access, this,
                                   MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_URI_LOG_CALLBACK, &ServerCallbacks::on_uri,
                                   this, MHD_OPTION_NOTIFY_COMPLETED, &ServerCallbacks::on_completed, this,
                                   MHD_OPTION_CONNECTION_TIMEOUT, 300u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                                   MHD_OPTION_END);
    }
    if (!daemon_) {
        if (error) *error = "cannot listen on " + bind_ + ":" + std::to_string(port_) + ": " + std::strerror(errno);
        return false;
    }
    const MHD_DaemonInfo* info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    if (info && info->port) port_ = info->port;  // keep the real port so a restart reuses it
    return true;
}

void HttpServer::stop() {
    std::lock_guard<std::mutex> lk(lifecycle_mu_);
    if (!daemon_) return;
    {
        // MHD must not be stopped with suspended connections: wake them all
        // first; they see `aborted` and close.
        std::lock_guard<std::mutex> tl(timer_mu_);
        accepting_parks_ = false;
        for (auto& [deadline, entry] : parked_) {
            entry.second->aborted = true;
            MHD_resume_connection(entry.first);
        }
        parked_.clear();
    }
    MHD_stop_daemon(daemon_);
    daemon_ = nullptr;
}

bool HttpServer::running() const {
    std::lock_guard<std::mutex> lk(lifecycle_mu_);
    return daemon_ != nullptr;
}

bool HttpServer::park(MHD_Connection* connection, RequestContext* ctx, int delay_ms) {
    std::lock_guard<std::mutex> lk(timer_mu_);
    if (!accepting_parks_) return false;
    ctx->parked = true;
    MHD_suspend_connection(connection);
    parked_.emplace(steady_us() + static_cast<std::int64_t>(delay_ms) * 1000, std::make_pair(connection, ctx));
    timer_cv_.notify_all();
    return true;
}

void HttpServer::timer_loop() {
    std::unique_lock<std::mutex> lk(timer_mu_);
    while (!timer_quit_) {
        if (parked_.empty()) {
            timer_cv_.wait(lk);
            continue;
        }
        std::int64_t now = steady_us();
        auto it = parked_.begin();
        if (it->first > now) {
            timer_cv_.wait_for(lk, std::chrono::microseconds(it->first - now));
            continue;
        }
        MHD_resume_connection(it->second.first);
        parked_.erase(it);
    }
}

}  // namespace sim
