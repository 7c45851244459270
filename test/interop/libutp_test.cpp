//
// test/interop/libutp_test.cpp — label `interop`: a raw µTP byte stream between us and
// libutp (npm utp-native 2.5.3, driven by libutp_peer.js), both directions, on loopback.
// libutp's UDP socket keeps the kernel's default receive buffer (208 KiB here), as deployed
// BitTorrent clients' do: the case where a sender that bursts its window loses the tail
// of every burst (issue 10: 0.7 MB/s before pacing and RACK-TLP).
//
//   libutp_receives   we connect and send 64 MiB (UTP_INTEROP_MIB), libutp reads it
//   libutp_sends      libutp connects to our acceptor and sends 64 MiB, we read it
//   libutp_hears_first  libutp connects and only reads: our acceptor speaks first (1 MiB)
//                     although libutp never acknowledges the SYN-ACK (issue 11: what we
//                     send an unverified address is capped; this shows what it costs)
//
// Both sides hash the stream with SHA-256; the test compares the digests and reports the
// rate. .ci/deps.sh installs node's utp-native into .deps/npm.
//
#include "child_process.hpp"
#include "common.hpp" // test/asio: run_until, tasks
#include "torrent.hpp"

#include <openssl/evp.h>

#include <boost/asio.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using namespace utp_test;
using interop::child_process;

std::uint64_t payload_size() {
    if (const char* mib = std::getenv("UTP_INTEROP_MIB")) return std::stoull(mib) << 20;
    return std::uint64_t{64} << 20;
}

/// Incremental SHA-256 (OpenSSL), as lowercase hex.
class sha256 {
public:
    sha256() : ctx_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
        EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
    }
    void update(const void* p, std::size_t n) { EVP_DigestUpdate(ctx_.get(), p, n); }
    std::string hex() {
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        EVP_DigestFinal_ex(ctx_.get(), d, &n);
        std::string s;
        char b[3];
        for (unsigned i = 0; i < n; ++i) {
            std::snprintf(b, sizeof b, "%02x", d[i]);
            s += b;
        }
        return s;
    }

private:
    std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx_;
};

/// What libutp_peer.js reported.
struct libutp_report {
    std::optional<unsigned short> port;
    std::optional<std::uint64_t> bytes;
    double seconds = 0;
    std::optional<double> first_ms; ///< `hear`: connect to first byte
    std::string digest;
    std::vector<std::string> errors;
    bool ended = false;
};

asio::awaitable<void> pump(child_process& child, libutp_report& rep) {
    co_await interop::read_reports(
        child, rep.port, [&](const std::string& word, std::istream& in, const std::string& line) {
            if (word == "done") {
                std::uint64_t b = 0;
                in >> b >> rep.seconds >> rep.digest;
                rep.bytes = b;
            } else if (word == "first") {
                double ms = 0;
                in >> ms;
                rep.first_ms = ms;
            } else if (word == "error") {
                rep.errors.push_back(line);
            }
        });
    rep.ended = true;
}

const auto loopback = asio::ip::address_v4::loopback();

/// `node libutp_peer.js ROLE 127.0.0.1 ARGS...`; requires node with utp-native.
std::vector<std::string> node_command(const std::string& role,
                                      const std::vector<std::string>& args) {
    const std::string probe =
        "NODE_PATH=" UTP_NPM_MODULES " node -e \"require('utp-native')\" >/dev/null 2>&1";
    BOOST_REQUIRE_MESSAGE(std::system(probe.c_str()) == 0,
                          "node with utp-native is missing from " UTP_NPM_MODULES
                          ": run bash .ci/deps.sh");
    std::vector<std::string> cmd{"/usr/bin/env", "NODE_PATH=" UTP_NPM_MODULES,
                                 "node",         UTP_INTEROP_SCRIPT_DIR "/libutp_peer.js",
                                 role,           loopback.to_string()};
    cmd.insert(cmd.end(), args.begin(), args.end());
    return cmd;
}

/// libutp_peer.js in `role` with `args` (see node_command), its report lines read into `rep`
/// on `ioc`.
struct libutp_peer {
    child_process proc;
    libutp_report rep;

    libutp_peer(asio::io_context& ioc, const std::string& role,
                const std::vector<std::string>& args = {})
        : proc(ioc.get_executor(), node_command(role, args)) {
        asio::co_spawn(ioc, pump(proc, rep), asio::detached);
    }

    /// Run `ioc` until it announced its port (role `recv`); require that it did.
    void wait_listening(asio::io_context& ioc) {
        require_run_until(
            ioc, [&] { return rep.port || rep.ended; }, 60s, "libutp ready");
        BOOST_REQUIRE_MESSAGE(rep.port, "libutp did not start" << proc.tail_text());
    }

    /// Run `ioc` until our side (`t`) is done and libutp has reported its digest, or libutp
    /// failed (an error, or its end without a report); require that it reported.
    void run_until_done(asio::io_context& ioc, const tasks& t, steady::duration limit,
                        const std::string& what) {
        require_run_until(
            ioc,
            [&] {
                return (t.all_done() && rep.bytes) || !rep.errors.empty() ||
                       (rep.ended && !rep.bytes);
            },
            limit, what, t);
        BOOST_REQUIRE_MESSAGE(rep.errors.empty() && rep.bytes, "libutp failed" << proc.tail_text());
    }

    /// Tell it to stop (it exits on its own once done) and reap it.
    void stop() {
        proc.close_stdin();
        proc.wait_exit(10s);
    }
};

std::string describe(const utp::proto::connection_stats& c) {
    std::ostringstream os;
    os << c.retransmits << " retransmits (fast " << c.fast_retransmits << ", RACK "
       << c.rack_retransmits << ", TLP " << c.tlp_retransmits << ", RTO " << c.rto_retransmits
       << "; spurious " << c.spurious_retransmits << "), " << c.timeouts << " timeouts, rtt "
       << std::chrono::duration<double, std::milli>(c.rtt).count() << " ms, cwnd " << c.cwnd
       << ", peer window " << c.peer_window;
    return os.str();
}

} // namespace

BOOST_AUTO_TEST_SUITE(libutp_receives)

BOOST_AUTO_TEST_CASE(we_send_to_libutp) {
    const std::uint64_t size = payload_size();
    const auto content = interop::make_content(size, 0x11b07);
    sha256 h;
    h.update(content.data(), content.size());
    const std::string digest = h.hex();

    asio::io_context ioc;
    libutp_peer peer(ioc, "recv");
    const libutp_report& rep = peer.rep;
    peer.wait_listening(ioc);

    utp::multiplexer mux(ioc, udp::endpoint(loopback, 0));
    utp::socket sock(mux);
    steady::time_point t0{}, t1{};
    utp::proto::connection_stats stats;
    tasks t;
    t.spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            co_await sock.async_connect(udp::endpoint(loopback, *rep.port), asio::use_awaitable);
            t0 = steady::now();
            co_await asio::async_write(sock, asio::buffer(content), asio::use_awaitable);
            sock.shutdown(utp::socket::shutdown_send);
            // libutp answers our FIN with its own once it has read everything.
            std::uint8_t b[64];
            auto [ec, n] =
                co_await sock.async_read_some(asio::buffer(b), asio::as_tuple(asio::use_awaitable));
            EXPECT(ec == asio::error::eof && n == 0, "expected EOF, got " << ec.message());
            t1 = steady::now();
            stats = sock.stats();
        },
        "send");
    peer.run_until_done(ioc, t, 200s, "us -> libutp");
    BOOST_CHECK_EQUAL(*rep.bytes, size);
    BOOST_CHECK_EQUAL(rep.digest, digest);
    const double s = std::chrono::duration<double>(t1 - t0).count();
    BOOST_TEST_MESSAGE("us -> libutp (default UDP buffers): "
                       << size << " bytes, SHA-256 equal, " << static_cast<double>(size) / 1e6 / s
                       << " MB/s (connection to EOF), " << describe(stats));
    sock.close();
    peer.stop();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(libutp_sends)

BOOST_AUTO_TEST_CASE(libutp_sends_to_us) {
    const std::uint64_t size = payload_size();
    asio::io_context ioc;
    utp::multiplexer mux(ioc, udp::endpoint(loopback, 0));
    utp::acceptor acc(mux);
    const auto port = mux.local_endpoint().port();
    libutp_peer peer(ioc, "send", {std::to_string(port), std::to_string(size)});
    const libutp_report& rep = peer.rep;

    sha256 h;
    std::uint64_t got = 0;
    steady::time_point t0{}, t1{};
    tasks t;
    t.spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket sock = co_await acc.async_accept(asio::use_awaitable);
            t0 = steady::now();
            std::vector<std::uint8_t> buf(256 * 1024);
            for (;;) {
                auto [ec, n] = co_await sock.async_read_some(asio::buffer(buf),
                                                             asio::as_tuple(asio::use_awaitable));
                h.update(buf.data(), n);
                got += n;
                if (ec == asio::error::eof) break;
                if (ec) throw boost::system::system_error(ec);
            }
            t1 = steady::now();
            sock.shutdown(utp::socket::shutdown_send);
            // Let our FIN reach libutp, which ends its side once it has it.
            co_await asio::steady_timer(ioc, 0s).async_wait(asio::use_awaitable);
        },
        "receive");
    peer.run_until_done(ioc, t, 200s, "libutp -> us");
    BOOST_CHECK_EQUAL(got, size);
    BOOST_CHECK_EQUAL(*rep.bytes, size);
    BOOST_CHECK_EQUAL(h.hex(), rep.digest);
    const double s = std::chrono::duration<double>(t1 - t0).count();
    BOOST_TEST_MESSAGE("libutp -> us: " << got << " bytes, SHA-256 equal, "
                                        << static_cast<double>(got) / 1e6 / s << " MB/s");
    acc.close();
    peer.stop();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(libutp_hears_first)

BOOST_AUTO_TEST_CASE(we_speak_first_to_libutp) {
    const std::size_t size = 1 << 20;
    asio::io_context ioc;
    // libutp never acknowledges a SYN-ACK: its address is proved only by its ACK of our
    // first data, which needs an accepted socket. Hence the opt-in.
    utp::multiplexer_options opt;
    opt.protocol.accept_unverified = true;
    utp::multiplexer mux(ioc, udp::endpoint(loopback, 0), opt);
    utp::acceptor acc(mux);
    const auto port = mux.local_endpoint().port();
    libutp_peer peer(ioc, "hear", {std::to_string(port), std::to_string(size)});
    const libutp_report& rep = peer.rep;

    std::vector<std::uint8_t> greeting(size);
    for (std::size_t i = 0; i < size; ++i)
        greeting[i] = static_cast<std::uint8_t>(i * 131 + (i >> 11));
    sha256 h;
    h.update(greeting.data(), greeting.size());
    const std::string digest = h.hex();
    std::optional<utp::proto::connection_stats> stats;
    tasks t;
    t.spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket sock = co_await acc.async_accept(asio::use_awaitable);
            co_await asio::async_write(sock, asio::buffer(greeting), asio::use_awaitable);
            // libutp ends its side once it has read everything; then we close.
            std::array<std::uint8_t, 16> b;
            auto [ec, n] =
                co_await sock.async_read_some(asio::buffer(b), asio::as_tuple(asio::use_awaitable));
            (void)n;
            stats = sock.stats();
            if (ec != asio::error::eof && ec) throw boost::system::system_error(ec);
        },
        "speak first");
    peer.run_until_done(ioc, t, 60s, "us -> libutp, server first");
    BOOST_CHECK_EQUAL(*rep.bytes, size);
    BOOST_CHECK_EQUAL(rep.digest, digest);
    BOOST_REQUIRE(rep.first_ms.has_value());
    BOOST_TEST_MESSAGE("server speaks first to libutp: first byte after "
                       << *rep.first_ms << " ms, 1 MiB after " << rep.seconds * 1e3 << " ms; rtt "
                       << (stats ? describe(*stats) : std::string("?")));
    acc.close();
    peer.stop();
}

BOOST_AUTO_TEST_SUITE_END()
