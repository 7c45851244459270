#include "probe.hpp"

#include "netns.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <system_error>

namespace utp_bottleneck {

namespace {

/// What a probe carries: its send time, so the reply needs no bookkeeping.
struct probe_payload {
    std::int64_t sent_ns;
    std::array<char, 56> pad; // 64 bytes of payload: small next to a 1500-byte packet
};

sockaddr_in address_of(const std::string& a, std::uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (::inet_pton(AF_INET, a.c_str(), &sa.sin_addr) != 1)
        throw std::invalid_argument("bad address " + a);
    return sa;
}

int udp_socket() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "probe socket");
    return fd;
}

} // namespace

delay_probe::delay_probe(const std::string& sender_ns, const std::string& receiver_ns,
                         const std::string& receiver_address, std::uint16_t port,
                         clock::time_point start, std::chrono::milliseconds interval)
    : start_(start), interval_(interval) {
    const sockaddr_in to = address_of(receiver_address, port);
    int echo_fd = -1, send_fd = -1;
    // Sockets keep the namespace they were opened in: open them there, use them here.
    run_in_namespace(receiver_ns, [&] {
        echo_fd = udp_socket();
        if (::bind(echo_fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
            const int err = errno;
            ::close(echo_fd);
            throw std::system_error(err, std::generic_category(), "probe echo bind");
        }
    });
    try {
        run_in_namespace(sender_ns, [&] {
            send_fd = udp_socket();
            if (::connect(send_fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
                const int err = errno;
                ::close(send_fd);
                throw std::system_error(err, std::generic_category(), "probe connect");
            }
        });
    } catch (...) {
        ::close(echo_fd);
        throw;
    }
    echo_ = std::thread([this, echo_fd] { echo(echo_fd); });
    sender_ = std::thread([this, send_fd] { send_loop(send_fd); });
}

delay_probe::~delay_probe() {
    stop_ = true;
    echo_.join();
    sender_.join();
}

std::vector<delay_probe::sample> delay_probe::samples() const {
    std::lock_guard g(m_);
    return samples_;
}

void delay_probe::echo(int fd) {
    std::array<char, 256> buf;
    while (!stop_) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        sockaddr_in from{};
        socklen_t len = sizeof from;
        const ssize_t n =
            ::recvfrom(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
        if (n > 0)
            ::sendto(fd, buf.data(), static_cast<std::size_t>(n), 0,
                     reinterpret_cast<const sockaddr*>(&from), len);
    }
    ::close(fd);
}

void delay_probe::send_loop(int fd) {
    auto next = clock::now();
    while (!stop_) {
        const auto now = clock::now();
        if (now >= next) {
            probe_payload p{};
            p.sent_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - start_).count();
            if (::send(fd, &p, sizeof p, 0) == static_cast<ssize_t>(sizeof p)) ++sent_;
            // Keep the schedule: a late wake-up does not shift every later probe.
            next += interval_;
            if (next < now) next = now + interval_;
            continue;
        }
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - now);
        pollfd pfd{fd, POLLIN, 0};
        if (::poll(&pfd, 1, static_cast<int>(wait.count()) + 1) <= 0) continue;
        probe_payload p{};
        if (::recv(fd, &p, sizeof p, 0) != static_cast<ssize_t>(sizeof p)) continue;
        const double got_ns = static_cast<double>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now() - start_).count());
        std::lock_guard g(m_);
        samples_.push_back({static_cast<double>(p.sent_ns) / 1e9,
                            (got_ns - static_cast<double>(p.sent_ns)) / 1e6});
    }
    ::close(fd);
}

} // namespace utp_bottleneck
