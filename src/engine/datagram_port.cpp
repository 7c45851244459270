#include "datagram_port.hpp"

#include "addresses.hpp"

#include <boost/asio/ip/v6_only.hpp>

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace utp::detail {

struct datagram_port::io_headers {
    std::array<mmsghdr, batch> rx_msgs{};
    std::array<iovec, batch> rx_iov{};
    std::array<sockaddr_storage, batch> rx_from{};
    std::array<mmsghdr, batch> tx_msgs{};
    std::array<iovec, batch> tx_iov{};
    std::array<sockaddr_storage, batch> tx_to{};
};

namespace {

bool is_would_block(int e) noexcept {
    return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS;
}

/// Set a socket buffer size; where the sysctl cap (net.core.rmem_max) bites, a privileged
/// process may still exceed it with the FORCE variant. Returns the effective size.
std::size_t grow_buffer(int fd, int opt, int force_opt, std::size_t want) {
    if (want > 0) {
        const int v = static_cast<int>(std::min<std::size_t>(want, INT_MAX / 2));
        ::setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v);
        int got = 0;
        socklen_t len = sizeof got;
        ::getsockopt(fd, SOL_SOCKET, opt, &got, &len);
        // The kernel reports double what it was asked (bookkeeping overhead).
        if (static_cast<std::size_t>(got) < want)
            ::setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof v);
    }
    int got = 0;
    socklen_t len = sizeof got;
    ::getsockopt(fd, SOL_SOCKET, opt, &got, &len);
    return static_cast<std::size_t>(got);
}

} // namespace

datagram_port::datagram_port(const asio::any_io_executor& ex, multiplexer_stats& stats)
    : socket_(std::in_place, ex), stats_(stats), io_(std::make_unique<io_headers>()) {}

datagram_port::~datagram_port() = default;

void datagram_port::open(const udp::endpoint& local, const multiplexer_options& opt,
                         error_code& ec) {
    udp::socket& s = *socket_;
    s.open(local.protocol(), ec);
    if (ec) return;
    if (local.address().is_v6() && local.address().is_unspecified()) {
        error_code ignored; // dual stack where the system allows it
        s.set_option(asio::ip::v6_only(false), ignored);
    }
    s.bind(local, ec);
    if (ec) return;
    family_ = local.protocol().family();
    s.native_non_blocking(true, ec);
    if (ec) return;
    const int fd = s.native_handle();
    // An unconnected UDP socket hears of ICMP errors only through the error queue: a dial
    // to a port nobody listens on is then refused at once.
    const int on = 1;
    if (local.address().is_v6())
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
    else
        ::setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
    stats_.udp_receive_buffer = grow_buffer(fd, SO_RCVBUF, SO_RCVBUFFORCE, opt.udp_receive_buffer);
    stats_.udp_send_buffer = grow_buffer(fd, SO_SNDBUF, SO_SNDBUFFORCE, opt.udp_send_buffer);

    // One more byte than the largest datagram taken whole, so that the kernel's MSG_TRUNC
    // is not the only witness of a datagram exactly one slot long. Left uninitialised:
    // only the bytes datagrams fill are ever touched.
    rx_slot_ = opt.max_datagram_size + 1;
    rx_buffers_ = std::make_unique_for_overwrite<std::uint8_t[]>(batch * rx_slot_);
    // The core writes a packet of at most packet_size plus a selective ACK.
    tx_slot_ = (opt.protocol.connection.packet_size + 64 + 63) / 64 * 64;
    tx_buffers_ = std::make_unique_for_overwrite<std::uint8_t[]>(batch * tx_slot_);
}

void datagram_port::close() noexcept {
    if (!socket_) return;
    error_code ignored;
    socket_->close(ignored);
}

void datagram_port::release() noexcept {
    close();
    socket_.reset();
}

udp::endpoint datagram_port::local_endpoint(error_code& ec) const {
    if (!is_open()) {
        ec = asio::error::bad_descriptor;
        return {};
    }
    return socket_->local_endpoint(ec);
}

asio::ip::address datagram_port::source_address_for(const udp::endpoint& peer,
                                                    error_code& ec) const {
    const udp::endpoint bound = local_endpoint(ec);
    if (ec || !bound.address().is_unspecified()) return bound.address();
    // connect() on a scratch UDP socket sends nothing: it asks the routing table which
    // source address the kernel would choose, exactly as it does for our sendmmsg.
    const int fd = ::socket(family_, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        ec = error_code(errno, boost::system::system_category());
        return {};
    }
    sockaddr_storage to{};
    const socklen_t len = to_sockaddr(to_peer(peer), family_, to);
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), len) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&from), &from_len) != 0) {
        ec = error_code(errno, boost::system::system_category());
        ::close(fd);
        return {};
    }
    ::close(fd);
    udp::endpoint e;
    std::memcpy(e.data(), &from, std::min<std::size_t>(from_len, sizeof(sockaddr_storage)));
    return e.address();
}

int datagram_port::receive_batch(int& errno_out) noexcept {
    io_headers& io = *io_;
    for (std::size_t i = 0; i < batch; ++i) {
        io.rx_iov[i] = iovec{rx_buffers_.get() + i * rx_slot_, rx_slot_};
        io.rx_msgs[i].msg_hdr = msghdr{};
        io.rx_msgs[i].msg_hdr.msg_name = &io.rx_from[i];
        io.rx_msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
        io.rx_msgs[i].msg_hdr.msg_iov = &io.rx_iov[i];
        io.rx_msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int r;
    do {
        r = ::recvmmsg(socket_->native_handle(), io.rx_msgs.data(), batch, MSG_DONTWAIT, nullptr);
    } while (r < 0 && errno == EINTR);
    ++stats_.receive_calls;
    if (r < 0) {
        errno_out = errno;
        return is_would_block(errno_out) ? 0 : -1;
    }
    for (int i = 0; i < r; ++i) {
        const std::size_t len = io.rx_msgs[i].msg_len;
        // Without MSG_TRUNC only a datagram that filled the spare byte betrays itself.
        const bool truncated =
            (io.rx_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 || len >= rx_slot_;
        rx_[i] = received_datagram{to_peer(io.rx_from[i]),
                                   {rx_buffers_.get() + i * rx_slot_, std::min(len, rx_slot_)},
                                   truncated};
    }
    stats_.datagrams_received += static_cast<std::uint64_t>(r);
    return r;
}

int datagram_port::read_error(unreachable_report& r) noexcept {
    sockaddr_storage to{};
    char control[512];
    iovec iov{r.quote.data(), r.quote.size()};
    msghdr m{};
    m.msg_name = &to;
    m.msg_namelen = sizeof to;
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    const ssize_t quoted = ::recvmsg(socket_->native_handle(), &m, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (quoted < 0) return -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        const bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
        const bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
        if (!v4 && !v6) continue;
        sock_extended_err e;
        std::memcpy(&e, CMSG_DATA(c), sizeof e);
        if (e.ee_origin != SO_EE_ORIGIN_ICMP && e.ee_origin != SO_EE_ORIGIN_ICMP6) continue;
        if (e.ee_errno != ECONNREFUSED && e.ee_errno != EHOSTUNREACH && e.ee_errno != ENETUNREACH)
            continue;
        // msg_name is the destination of the datagram that drew the error.
        r.to = to_peer(to);
        r.port_gone = e.ee_errno == ECONNREFUSED;
        r.quote_size = std::min<std::size_t>(static_cast<std::size_t>(quoted), r.quote.size());
        return 1;
    }
    return 0;
}

std::span<std::uint8_t> datagram_port::send_slot() noexcept {
    if (tx_count_ == batch) return {};
    return {tx_buffers_.get() + tx_count_ * tx_slot_, tx_slot_};
}

void datagram_port::commit(const proto::peer_address& to, std::size_t size) noexcept {
    io_headers& io = *io_;
    const socklen_t len = to_sockaddr(to, family_, io.tx_to[tx_count_]);
    io.tx_iov[tx_count_] = iovec{tx_buffers_.get() + tx_count_ * tx_slot_, size};
    io.tx_msgs[tx_count_].msg_hdr = msghdr{};
    io.tx_msgs[tx_count_].msg_hdr.msg_name = &io.tx_to[tx_count_];
    io.tx_msgs[tx_count_].msg_hdr.msg_namelen = len;
    io.tx_msgs[tx_count_].msg_hdr.msg_iov = &io.tx_iov[tx_count_];
    io.tx_msgs[tx_count_].msg_hdr.msg_iovlen = 1;
    ++tx_count_;
}

bool datagram_port::send_queued() noexcept {
    io_headers& io = *io_;
    const int fd = socket_->native_handle();
    int surfaced = 0;
    while (tx_sent_ < tx_count_) {
        const int r = ::sendmmsg(fd, io.tx_msgs.data() + tx_sent_,
                                 static_cast<unsigned>(tx_count_ - tx_sent_), 0);
        ++stats_.send_calls;
        if (r < 0) {
            if (errno == EINTR) continue;
            if (is_would_block(errno)) {
                ++stats_.send_would_block;
                return false;
            }
            // With IP_RECVERR an ICMP error queued for the socket also sets its pending
            // error, and the next send or receive returns that instead of doing its work
            // (sock_alloc_send_pskb checks it first). The datagram did not go: send it
            // again; the report waits in the error queue, which the engine must now read,
            // since no receive will tell it (measured: a forged-ICMP test lost its reports
            // 1 run in 10 while the client was sending). A bound, in case errors keep
            // coming faster than we send.
            if ((errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) &&
                ++surfaced <= 8) {
                error_pending_ = true;
                continue;
            }
            ++tx_sent_;
            continue;
        }
        tx_sent_ += static_cast<std::size_t>(r);
        stats_.datagrams_sent += static_cast<std::uint64_t>(r);
    }
    tx_sent_ = tx_count_ = 0;
    return true;
}

std::size_t datagram_port::send_to(asio::const_buffer b, const udp::endpoint& to, error_code& ec) {
    if (!is_open()) {
        ec = asio::error::bad_descriptor;
        return 0;
    }
    // Through to_sockaddr, so that a v4 destination also works on a dual-stack v6 socket.
    sockaddr_storage ss{};
    const socklen_t len = to_sockaddr(to_peer(to), family_, ss);
    ssize_t r;
    do {
        r = ::sendto(socket_->native_handle(), b.data(), b.size(), 0,
                     reinterpret_cast<const sockaddr*>(&ss), len);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        ec = is_would_block(errno) ? error_code(asio::error::would_block)
                                   : error_code(errno, boost::system::system_category());
        return 0;
    }
    ec = {};
    return static_cast<std::size_t>(r);
}

} // namespace utp::detail
