// A TCP socket bound to 127.0.0.1 on a port the kernel picks, for the unit tests'
// small in-process servers.
#pragma once
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

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

}  // namespace chatwoot::test
