// Suites `many_connections` and `connect_storm`: hundreds of connections through one
// acceptor at once, each carrying its own tagged stream, checked byte for byte at both ends.
#include "common.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <iostream>
#include <memory>

using namespace utp_test;
using namespace boost::asio::experimental::awaitable_operators;
namespace utf = boost::unit_test;

namespace {

double seconds_since(steady::time_point t0) {
    return std::chrono::duration<double>(steady::now() - t0).count();
}

std::string drops(const utp::multiplexer_stats& s) {
    std::ostringstream os;
    os << "datagrams in " << s.datagrams_received << " out " << s.datagrams_sent;
    for (std::size_t i = 0; i < s.protocol.dropped.size(); ++i)
        if (s.protocol.dropped[i])
            os << ", dropped " << utp::proto::to_string(static_cast<utp::proto::drop_reason>(i))
               << " " << s.protocol.dropped[i];
    os << ", resets sent " << s.protocol.resets_sent;
    return os.str();
}

// ---------------------------------------------------------------------------------------
// connect storm: each connection carries an 8-byte id, `request` bytes of stream `id` to the
// server, and `reply` bytes of stream `id + reply_tag` back.

constexpr std::uint64_t reply_tag = 1'000'000;
constexpr std::size_t request = 4096 + 1000, reply = 3 * 1024;

asio::awaitable<void> storm_server_side(utp::socket s, std::vector<int>& seen) {
    std::uint64_t id = 0;
    co_await asio::async_read(s, asio::buffer(&id, sizeof id), asio::use_awaitable);
    EXPECT(id < seen.size(), "bad id " << id);
    std::vector<std::uint8_t> buf(request);
    co_await asio::async_read(s, asio::buffer(buf), asio::use_awaitable);
    EXPECT(pattern(id).mismatch(0, buf) == buf.size(), "request of " << id << " differs");
    ++seen[id];
    buf.resize(reply);
    pattern(id + reply_tag).fill(0, buf);
    co_await asio::async_write(s, asio::buffer(buf), asio::use_awaitable);
    s.shutdown(asio::socket_base::shutdown_send);
    // The client shut down after its request: nothing more comes.
    std::uint8_t extra;
    auto [ec, n] =
        co_await s.async_read_some(asio::buffer(&extra, 1), asio::as_tuple(asio::use_awaitable));
    EXPECT(ec == asio::error::eof, id << ": after the request: " << ec.message() << " n=" << n);
}

asio::awaitable<void> storm_client_side(std::unique_ptr<utp::socket> s, std::uint64_t id) {
    std::vector<std::uint8_t> buf(sizeof id + request);
    std::memcpy(buf.data(), &id, sizeof id);
    pattern(id).fill(0, {buf.data() + sizeof id, request});
    co_await asio::async_write(*s, asio::buffer(buf), asio::use_awaitable);
    s->shutdown(asio::socket_base::shutdown_send);
    co_await receive_pattern(*s, id + reply_tag, reply);
}

asio::awaitable<void> accept_loop(utp::acceptor& acc, std::size_t n, tasks& t,
                                  std::vector<int>& seen) {
    for (std::size_t i = 0; i < n; ++i) {
        utp::socket s = co_await acc.async_accept(asio::use_awaitable);
        t.spawn(acc.get_executor(), storm_server_side(std::move(s), seen), "server side");
    }
}

/// `muxes` client multiplexers with `per_mux` connections each, all dialled in one turn, to
/// an acceptor with room for `backlog` unaccepted connections (SYNs beyond it are dropped
/// and retransmitted by their initiators).
void run_connect_storm(std::size_t muxes, std::size_t per_mux, std::size_t backlog) {
    const std::size_t n = muxes * per_mux;
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4(), backlog);
    std::vector<std::unique_ptr<utp::multiplexer>> clients;
    for (std::size_t i = 0; i < muxes; ++i)
        clients.push_back(std::make_unique<utp::multiplexer>(ioc, loopback_v4()));

    tasks server, client;
    outcomes connects;
    std::vector<int> seen(n, 0);
    server.spawn(ioc, accept_loop(acc, n, server, seen), "accept loop");

    const auto t0 = steady::now();
    double last_connect = 0;
    // Every async_connect is started here, in one go, before the io_context runs.
    for (std::size_t i = 0; i < n; ++i) {
        auto s = std::make_unique<utp::socket>(*clients[i % muxes]);
        utp::socket& ref = *s;
        ref.async_connect(acc.local_endpoint(), [&, i, s = std::move(s)](error_code ec) mutable {
            if (ec) return connects.fail("connect " + std::to_string(i) + ": " + ec.message());
            connects.ok();
            last_connect = seconds_since(t0);
            client.spawn(ioc, storm_client_side(std::move(s), i), "client " + std::to_string(i));
        });
    }
    require_run_until(
        ioc,
        [&] {
            return connects.done() == n && client.started() == n && client.all_done() &&
                   server.started() == n + 1 && server.all_done();
        },
        90s, "connect storm", connects, client, server);
    std::size_t once = 0;
    for (int k : seen)
        once += k == 1;
    BOOST_TEST(once == n, "every id reached the server exactly once");
    const auto st = acc.get_multiplexer().stats();
    BOOST_TEST(st.protocol.connections_accepted == n);
    std::cout << "connect storm " << muxes << "x" << per_mux << " (backlog " << backlog
              << "): all connected after " << last_connect << " s, all exchanged after "
              << seconds_since(t0) << " s; acceptor: " << drops(st) << std::endl;
    require_run_returns(ioc, 20s, "connect storm");
}

} // namespace

BOOST_AUTO_TEST_SUITE(many_connections)

BOOST_AUTO_TEST_CASE(two_hundred_echoes_through_one_acceptor, *utf::timeout(180)) {
    const std::size_t n = 200;
    const std::uint64_t size = scaled(1 << 20, 256 << 10);
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client_mux(ioc, loopback_v4());
    tasks server, client;
    server.spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            for (std::size_t i = 0; i < n; ++i) {
                utp::socket s = co_await acc.async_accept(asio::use_awaitable);
                server.spawn(
                    ioc,
                    [](utp::socket s) -> asio::awaitable<void> { co_await echo(s); }(std::move(s)),
                    "echo");
            }
        },
        "accept loop");
    const auto t0 = steady::now();
    for (std::size_t i = 0; i < n; ++i)
        client.spawn(
            ioc,
            [&, i]() -> asio::awaitable<void> {
                utp::socket s(client_mux);
                co_await s.async_connect(acc.local_endpoint(), asio::use_awaitable);
                co_await (send_pattern(s, 1000 + i, size) && receive_pattern(s, 1000 + i, size));
            },
            "client " + std::to_string(i));
    require_run_until(
        ioc, [&] { return client.all_done() && server.started() == n + 1 && server.all_done(); },
        150s, "200 echoes", client, server);
    const double dt = seconds_since(t0);
    const auto st = acc.get_multiplexer().stats();
    BOOST_TEST(st.protocol.connections_accepted == n);
    std::cout << "200 echo connections x " << size << " bytes: " << dt << " s, "
              << 2.0 * n * size / dt / 1e6 << " MB/s through the acceptor; acceptor: " << drops(st)
              << "; client: " << drops(client_mux.stats()) << std::endl;
    require_run_returns(ioc, 20s, "200 echoes");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(connect_storm)

// The default backlog (128): most of the burst's SYNs are dropped and come back with the
// initiators' SYN retransmissions (after 1, 2, 4 s), so this takes about 7 s.
BOOST_AUTO_TEST_CASE(five_hundred_from_one_multiplexer, *utf::timeout(180)) {
    run_connect_storm(1, 500, utp::acceptor::default_backlog);
}

// A backlog that holds the whole burst: no SYN needs retransmitting.
BOOST_AUTO_TEST_CASE(five_hundred_from_fifty_multiplexers, *utf::timeout(180)) {
    run_connect_storm(50, 10, 1024);
}

BOOST_AUTO_TEST_SUITE_END()
