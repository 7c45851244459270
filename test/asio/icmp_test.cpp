// Suite `forged_icmp` (issue 11 item 3), on real sockets where the kernel matters: ICMP
// port-unreachable errors reach our UDP socket through Linux's error queue with the start
// of the offending datagram quoted, and only a quote of what we really sent may fail a
// connection.
//
// The test runs in a network namespace of its own (unshare(CLONE_NEWNET), loopback
// brought up), so the forged ICMP touches nothing else; it needs root (CAP_SYS_ADMIN and
// CAP_NET_RAW) and is skipped without. A client dials the server through a UDP relay in
// the test, which sees every datagram the client sends; mid-transfer the test sends, from
// a raw socket, port-unreachable errors about the relay's address that quote the client's
// 4-tuple with (a) no µTP bytes, (b) a µTP header with a wrong connection id, (c) the right
// id with a sequence number far from anything in flight. The transfer must complete intact
// and the three be counted as ignored. Then (d) a quote of the last datagram the client
// really sent fails the connection at once, as a real dead peer's would.
#include "common.hpp"

#include <utp/proto/packet.hpp>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <optional>
#include <vector>

using namespace utp_test;
namespace utf = boost::unit_test;

namespace {

/// Moves this thread into a new network namespace with its loopback up.
bool enter_own_network_namespace() {
    if (::geteuid() != 0 || ::unshare(CLONE_NEWNET) != 0) return false;
    const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) return false;
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "lo");
    bool ok = ::ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    ok = ok && ::ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
    ::close(fd);
    return ok;
}

boost::test_tools::assertion_result own_namespace(utf::test_unit_id) {
    boost::test_tools::assertion_result r(enter_own_network_namespace());
    r.message() << "needs root to create a network namespace and send raw ICMP";
    return r;
}

std::uint16_t internet_checksum(std::span<const std::uint8_t> b) {
    std::uint32_t sum = 0;
    for (std::size_t i = 0; i + 1 < b.size(); i += 2)
        sum += std::uint32_t{b[i]} << 8 | b[i + 1];
    if (b.size() % 2) sum += std::uint32_t{b.back()} << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

/// Sends an ICMP port-unreachable to `from`'s host saying that the UDP datagram
/// `from` -> `to` carrying `quoted` (its first bytes) could not be delivered.
void forge_port_unreachable(const udp::endpoint& from, const udp::endpoint& to,
                            std::span<const std::uint8_t> quoted) {
    std::vector<std::uint8_t> m(8 + 20 + 8 + quoted.size());
    m[0] = 3; // destination unreachable
    m[1] = 3; // port unreachable
    std::uint8_t* ip = &m[8];
    ip[0] = 0x45;
    const auto ip_len = static_cast<std::uint16_t>(20 + 8 + quoted.size());
    ip[2] = static_cast<std::uint8_t>(ip_len >> 8);
    ip[3] = static_cast<std::uint8_t>(ip_len);
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    const auto src = from.address().to_v4().to_bytes(), dst = to.address().to_v4().to_bytes();
    std::memcpy(ip + 12, src.data(), 4);
    std::memcpy(ip + 16, dst.data(), 4);
    const std::uint16_t ip_sum = internet_checksum({ip, 20});
    ip[10] = static_cast<std::uint8_t>(ip_sum >> 8);
    ip[11] = static_cast<std::uint8_t>(ip_sum);
    std::uint8_t* u = ip + 20;
    u[0] = static_cast<std::uint8_t>(from.port() >> 8);
    u[1] = static_cast<std::uint8_t>(from.port());
    u[2] = static_cast<std::uint8_t>(to.port() >> 8);
    u[3] = static_cast<std::uint8_t>(to.port());
    u[4] = static_cast<std::uint8_t>((8 + quoted.size()) >> 8);
    u[5] = static_cast<std::uint8_t>(8 + quoted.size());
    if (!quoted.empty()) std::memcpy(u + 8, quoted.data(), quoted.size());
    const std::uint16_t sum = internet_checksum(m);
    m[2] = static_cast<std::uint8_t>(sum >> 8);
    m[3] = static_cast<std::uint8_t>(sum);

    const int fd = ::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    BOOST_REQUIRE_MESSAGE(fd >= 0, "raw ICMP socket: " << std::strerror(errno));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    std::memcpy(&sa.sin_addr, src.data(), 4);
    const auto n = ::sendto(fd, m.data(), m.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    const int err = errno;
    ::close(fd);
    BOOST_REQUIRE_MESSAGE(n == static_cast<ssize_t>(m.size()), "ICMP send: " << std::strerror(err));
}

/// Forwards datagrams between one client and `server`, remembering the last one the
/// client sent; calls `on_client_data` on each DATA from the client.
class relay {
public:
    relay(asio::io_context& ioc, udp::endpoint server)
        : sock_(ioc, loopback_v4()), server_(std::move(server)) {
        receive();
    }
    udp::endpoint endpoint() const { return sock_.local_endpoint(); }
    std::optional<udp::endpoint> client() const { return client_; }
    const std::vector<std::uint8_t>& last_from_client() const { return last_; }
    utp::proto::header last_header() const {
        utp::proto::packet p;
        BOOST_REQUIRE(utp::proto::decode(last_, p) == utp::proto::decode_error::ok);
        return p.hdr;
    }
    std::size_t client_data = 0;
    std::function<void()> on_client_data;
    void close() { sock_.close(); }

private:
    void receive() {
        sock_.async_receive_from(asio::buffer(buf_), from_, [this](error_code ec, std::size_t n) {
            if (ec) return;
            const bool from_server = from_ == server_;
            if (!from_server) {
                client_ = from_;
                last_.assign(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n));
                if (n >= 20 && (buf_[0] >> 4) == 0) { // a µTP DATA
                    ++client_data;
                    if (on_client_data) on_client_data();
                }
            }
            if (from_server && !client_) return receive();
            error_code ignored;
            sock_.send_to(asio::buffer(buf_.data(), n), from_server ? *client_ : server_, 0,
                          ignored);
            receive();
        });
    }

    udp::socket sock_;
    udp::endpoint server_, from_;
    std::optional<udp::endpoint> client_;
    std::array<std::uint8_t, 65536> buf_{};
    std::vector<std::uint8_t> last_;
};

/// A µTP header as the first bytes of a quoted datagram.
std::vector<std::uint8_t> utp_quote(utp::proto::header h) {
    std::vector<std::uint8_t> q(utp::proto::header_size);
    utp::proto::encode_header(h, 0, q.data());
    return q;
}

/// Reads exactly `size` bytes of stream `tag`, checking each, and leaves the stream open.
asio::awaitable<void> receive_exactly(utp::socket& s, std::uint64_t tag, std::uint64_t size) {
    const pattern p(tag);
    std::vector<std::uint8_t> buf(64 * 1024);
    for (std::uint64_t got = 0; got < size;) {
        const std::size_t n = co_await s.async_read_some(
            asio::buffer(buf.data(), std::min<std::uint64_t>(buf.size(), size - got)),
            asio::use_awaitable);
        const std::size_t bad = p.mismatch(got, {buf.data(), n});
        EXPECT(bad == n, "stream " << tag << " differs at byte " << got + bad);
        got += n;
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(forged_icmp)

BOOST_AUTO_TEST_CASE(only_a_quote_of_what_we_sent_fails_a_connection,
                     *utf::precondition(own_namespace) * utf::timeout(60)) {
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client_mux(ioc, loopback_v4());
    utp::socket client(client_mux), server(ioc);
    relay r(ioc, acc.local_endpoint());
    accept_and_connect(ioc, acc, server, client, r.endpoint());

    // Mid-transfer, three forged errors about the relay, quoting the client's 4-tuple.
    constexpr std::uint64_t size = 8 << 20;
    std::size_t forged = 0;
    r.on_client_data = [&] {
        if (r.client_data != 200) return;
        utp::proto::header h = r.last_header();
        const udp::endpoint us = *r.client(), them = r.endpoint();
        forge_port_unreachable(us, them, {}); // no µTP bytes
        utp::proto::header wrong_id = h;
        wrong_id.connection_id = static_cast<std::uint16_t>(h.connection_id + 7);
        forge_port_unreachable(us, them, utp_quote(wrong_id));
        utp::proto::header old_seq = h;
        old_seq.seq_nr = static_cast<std::uint16_t>(h.seq_nr - 30000);
        forge_port_unreachable(us, them, utp_quote(old_seq));
        forged = 3;
    };
    tasks t;
    t.spawn(ioc, send_pattern(client, 11, size, false), "client sends");
    t.spawn(ioc, receive_exactly(server, 11, size), "server receives");
    const auto through = [&] {
        return t.all_done() && client_mux.stats().protocol.unreachable_ignored >= forged &&
               forged == 3;
    };
    run_until(
        ioc, [&] { return through() || !t.failures().empty(); }, 30s);
    t.report();
    BOOST_REQUIRE_MESSAGE(through(), "transfer under forged ICMP: done "
                                         << t.all_done() << ", forged " << forged << ", ignored "
                                         << client_mux.stats().protocol.unreachable_ignored
                                         << ", client DATA seen " << r.client_data);
    BOOST_TEST(client_mux.stats().protocol.unreachable_ignored == 3u);
    BOOST_TEST_MESSAGE("8 MiB intact through 3 forged port-unreachable errors, all ignored");

    // (d) The error a dead peer's host sends: it quotes the client's last datagram.
    r.on_client_data = nullptr;
    std::optional<error_code> read_ec;
    std::array<std::uint8_t, 16> one;
    client.async_read_some(asio::buffer(one), [&](error_code ec, std::size_t) { read_ec = ec; });
    const auto t0 = steady::now();
    forge_port_unreachable(*r.client(), r.endpoint(), r.last_from_client());
    require_run_until(
        ioc, [&] { return read_ec.has_value(); }, 5s, "a genuine quote fails the connection");
    const double ms = std::chrono::duration<double>(steady::now() - t0).count() * 1e3;
    BOOST_TEST_MESSAGE("a quote of the last datagram sent failed the connection after "
                       << ms << " ms: " << read_ec->message());
    BOOST_TEST(*read_ec == asio::error::connection_reset, read_ec->message());
    r.close();
}

BOOST_AUTO_TEST_SUITE_END()
