// A TCP socket bound to 127.0.0.1 on a port the kernel picks, for the unit tests'
// small in-process servers.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace chatwoot::test {

// Returns the socket (listening when backlog > 0) and sets `port`.
inline int bind_loopback(int backlog, int& port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    if (backlog > 0) ::listen(fd, backlog);
    return fd;
}

// A port nothing listens on (bound, then released).
inline int unused_loopback_port() {
    int port = 0;
    ::close(bind_loopback(0, port));
    return port;
}

// Reads the next request of a keep-alive connection (head and a Content-Length body)
// into `path` (and its method into `*method`); `buffer` carries what was read beyond
// it. False when the peer closed.
inline bool read_request(int client, std::string& buffer, std::string& path, std::string* method = nullptr) {
    char chunk[4096];
    std::size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = ::recv(client, chunk, sizeof(chunk), 0);
        if (n <= 0) return false;
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
    std::string head = buffer.substr(0, end);
    std::size_t body_length = 0;
    auto cl = head.find("Content-Length: ");
    if (cl != std::string::npos) body_length = std::stoul(head.substr(cl + 16));
    while (buffer.size() < end + 4 + body_length) {
        ssize_t n = ::recv(client, chunk, sizeof(chunk), 0);
        if (n <= 0) return false;
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
    if (method) *method = head.substr(0, head.find(' '));
    path = head.substr(head.find(' ') + 1);
    path = path.substr(0, path.find(' '));
    buffer.erase(0, end + 4 + body_length);
    return true;
}

}  // namespace chatwoot::test
