// Suites `streams` (who speaks first, half-close in both directions) and `errors` (what a
// peer's close, abort, or absence looks like: eof, connection_reset, connection_refused).
#include "common.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <optional>

using namespace utp_test;
using namespace boost::asio::experimental::awaitable_operators;
namespace utf = boost::unit_test;

namespace {

struct loopback_pair {
    asio::io_context ioc;
    utp::acceptor acc{ioc, loopback_v4()};
    utp::multiplexer client_mux{ioc, loopback_v4()};
    udp::endpoint server() const { return acc.local_endpoint(); }

    /// Run a server and a client coroutine to their end (20 s at most), then require that
    /// the io_context runs out of work: both connections finished, nothing left pending.
    template <class Server, class Client>
    void run(Server server, Client client, const std::string& what) {
        run_server_and_client(ioc, std::move(server), std::move(client), 20s, what);
        require_run_returns(ioc, 10s, what);
    }
};

/// Read once, expecting `expected` (an error, nothing read).
asio::awaitable<void> expect_read_error(utp::socket& s, error_code expected, const char* what) {
    std::array<std::uint8_t, 64> b;
    auto [ec, n] = co_await s.async_read_some(asio::buffer(b), asio::as_tuple(asio::use_awaitable));
    EXPECT(ec == expected && n == 0, what << ": read gave '" << ec.message() << "' n=" << n
                                          << ", expected '" << expected.message() << "'");
}

} // namespace

BOOST_AUTO_TEST_SUITE(streams)

// The acceptor writes right after accept; the client never writes, it only reads. The
// acceptor's data must not wait for a first packet from the initiator.
BOOST_AUTO_TEST_CASE(acceptor_speaks_first, *utf::timeout(60)) {
    loopback_pair env;
    tasks t;
    const std::uint64_t size = 300 * 1024;
    bool accepted = false;
    std::optional<steady::time_point> connected_at, greeted_at;
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket s = co_await env.acc.async_accept(asio::use_awaitable);
            accepted = true;
            co_await asio::async_write(s, asio::buffer("hello\n", 6), asio::use_awaitable);
            co_await send_pattern(s, 401, size);
            co_await expect_read_error(s, asio::error::eof, "server, after the client's close");
        },
        "server");
    t.spawn(
        env.ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket c(env.client_mux);
            co_await c.async_connect(env.server(), asio::use_awaitable);
            connected_at = steady::now();
            std::array<char, 6> hello;
            co_await asio::async_read(c, asio::buffer(hello), asio::use_awaitable);
            greeted_at = steady::now();
            EXPECT(std::string(hello.data(), 6) == "hello\n", "greeting");
            co_await receive_pattern(c, 401, size);
            c.shutdown(asio::socket_base::shutdown_send);
        },
        "client");
    require_run_until(
        env.ioc, [&] { return t.all_done(); }, 20s, "acceptor speaks first", t);
    BOOST_TEST(accepted);
    BOOST_REQUIRE(connected_at && greeted_at);
    const double wait = std::chrono::duration<double>(*greeted_at - *connected_at).count();
    BOOST_TEST_MESSAGE("the greeting arrived " << wait * 1000 << " ms after connect");
    BOOST_TEST(wait < 1.0, "the acceptor's first bytes took " << wait << " s");
    require_run_returns(env.ioc, 10s, "acceptor speaks first");
}

// The client shuts down its sending side first; it goes on reading the server's reply,
// which the server sends only after it has read the client's eof.
BOOST_AUTO_TEST_CASE(client_shuts_down_first, *utf::timeout(60)) {
    loopback_pair env;
    const std::uint64_t req = 100 * 1024, resp = 700 * 1024;
    env.run(
        [&]() -> asio::awaitable<void> {
            utp::socket s = co_await env.acc.async_accept(asio::use_awaitable);
            co_await receive_pattern(s, 501, req); // to eof
            co_await expect_read_error(s, asio::error::eof, "eof is sticky");
            co_await send_pattern(s, 502, resp); // after the peer's FIN
        },
        [&]() -> asio::awaitable<void> {
            utp::socket c(env.client_mux);
            co_await c.async_connect(env.server(), asio::use_awaitable);
            co_await send_pattern(c, 501, req); // then shutdown_send
            auto [ec, n] = co_await c.async_write_some(asio::buffer("x", 1),
                                                       asio::as_tuple(asio::use_awaitable));
            EXPECT(ec == asio::error::shut_down && n == 0,
                   "write after shutdown_send: " << ec.message());
            co_await receive_pattern(c, 502, resp);
        },
        "client shuts down first");
}

// The reverse: the server sends and shuts down right away; the client reads to eof, then
// sends its own data, which the server still reads in full.
BOOST_AUTO_TEST_CASE(server_shuts_down_first, *utf::timeout(60)) {
    loopback_pair env;
    const std::uint64_t greeting = 100 * 1024, upload = 700 * 1024;
    env.run(
        [&]() -> asio::awaitable<void> {
            utp::socket s = co_await env.acc.async_accept(asio::use_awaitable);
            co_await send_pattern(s, 601, greeting); // then shutdown_send
            co_await receive_pattern(s, 602, upload);
        },
        [&]() -> asio::awaitable<void> {
            utp::socket c(env.client_mux);
            co_await c.async_connect(env.server(), asio::use_awaitable);
            co_await receive_pattern(c, 601, greeting);
            co_await send_pattern(c, 602, upload);
        },
        "server shuts down first");
}

// Both shut down at once while data is still flowing both ways.
BOOST_AUTO_TEST_CASE(both_shut_down_while_sending, *utf::timeout(60)) {
    loopback_pair env;
    const std::uint64_t a = 400 * 1024, b = 300 * 1024 + 17;
    env.run(
        [&]() -> asio::awaitable<void> {
            utp::socket s = co_await env.acc.async_accept(asio::use_awaitable);
            co_await (send_pattern(s, 701, a) && receive_pattern(s, 702, b));
        },
        [&]() -> asio::awaitable<void> {
            utp::socket c(env.client_mux);
            co_await c.async_connect(env.server(), asio::use_awaitable);
            co_await (send_pattern(c, 702, b) && receive_pattern(c, 701, a));
        },
        "both shut down");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(errors)

// A graceful close right after writing: the reader gets every byte, then eof.
BOOST_AUTO_TEST_CASE(peer_close_gives_eof, *utf::timeout(60)) {
    loopback_pair env;
    const std::uint64_t size = 600 * 1024;
    env.run(
        [&]() -> asio::awaitable<void> {
            utp::socket s = co_await env.acc.async_accept(asio::use_awaitable);
            co_await send_pattern(s, 801, size, /*shutdown=*/false);
            s.close(); // most of it is still in the send buffer
            EXPECT(!s.is_open(), "open after close()");
        },
        [&]() -> asio::awaitable<void> {
            utp::socket c(env.client_mux);
            co_await c.async_connect(env.server(), asio::use_awaitable);
            co_await receive_pattern(c, 801, size);
            co_await expect_read_error(c, asio::error::eof, "after eof");
        },
        "close gives eof");
}

// abort(): the peer's pending read fails with connection_reset, and so do later operations;
// the aborting side's own pending operations complete with operation_aborted.
BOOST_AUTO_TEST_CASE(peer_abort_gives_connection_reset, *utf::timeout(60)) {
    loopback_pair env;
    utp::socket srv(env.ioc), cli(env.client_mux);
    outcomes out;
    env.acc.async_accept(srv, [&](error_code ec) {
        if (ec) out.fail("accept: " + ec.message());
        out.ok();
    });
    cli.async_connect(env.server(), [&](error_code ec) {
        if (ec) out.fail("connect: " + ec.message());
        out.ok();
    });
    require_run_until(
        env.ioc, [&] { return out.done() == 2; }, 5s, "connect", out);

    // The client exchanges some data first, so the connection is fully established.
    std::array<std::uint8_t, 100> b1{}, b2{};
    std::optional<error_code> first_read;
    asio::async_write(cli, asio::buffer(b1), [&](error_code ec, std::size_t) {
        if (ec) out.fail("write: " + ec.message());
    });
    asio::async_read(srv, asio::buffer(b2), [&](error_code ec, std::size_t) { first_read = ec; });
    require_run_until(
        env.ioc, [&] { return first_read.has_value(); }, 5s, "first read", out);
    BOOST_REQUIRE(!*first_read);

    std::optional<error_code> cli_read, srv_read;
    std::array<std::uint8_t, 16> rb, sb;
    cli.async_read_some(asio::buffer(rb), [&](error_code ec, std::size_t) { cli_read = ec; });
    srv.async_read_some(asio::buffer(sb), [&](error_code ec, std::size_t) { srv_read = ec; });
    srv.abort();
    BOOST_TEST(!srv.is_open());
    require_run_until(
        env.ioc, [&] { return cli_read && srv_read; }, 5s, "abort reaches the peer", out);
    BOOST_TEST(*srv_read == asio::error::operation_aborted, srv_read->message());
    BOOST_TEST(*cli_read == asio::error::connection_reset, cli_read->message());

    // Later operations on the reset connection fail too (and do not report eof).
    std::optional<error_code> again, write_after;
    cli.async_read_some(asio::buffer(rb), [&](error_code ec, std::size_t) { again = ec; });
    cli.async_write_some(asio::buffer(b1), [&](error_code ec, std::size_t) { write_after = ec; });
    require_run_until(
        env.ioc, [&] { return again && write_after; }, 5s, "after reset", out);
    BOOST_TEST(*again == asio::error::connection_reset, again->message());
    BOOST_TEST(*write_after == asio::error::connection_reset, write_after->message());
    cli.close();
    require_run_returns(env.ioc, 10s, "abort");
}

// Nobody at the port: the ICMP port-unreachable answer refuses the dial at once, through a
// given multiplexer and through a socket's private one, over IPv4 and IPv6.
BOOST_AUTO_TEST_CASE(connect_to_dead_port_is_refused, *utf::timeout(60)) {
    std::vector<udp::endpoint> families{loopback_v4()};
    if (have_ipv6()) families.push_back(loopback_v6());
    for (const auto& family : families) {
        for (bool private_mux : {false, true}) {
            BOOST_TEST_CONTEXT(family.address()
                               << (private_mux ? ", private mux" : ", given mux")) {
                asio::io_context ioc;
                utp::multiplexer mux(ioc, family);
                std::optional<utp::socket> s;
                if (private_mux)
                    s.emplace(ioc);
                else
                    s.emplace(mux);
                std::optional<error_code> result;
                const auto t0 = steady::now();
                s->async_connect(dead_endpoint(family), [&](error_code ec) { result = ec; });
                BOOST_TEST(!result.has_value(), "completed inside the initiating call");
                require_run_until(
                    ioc, [&] { return result.has_value(); }, 2s, "refused within 2 s");
                BOOST_TEST(*result == asio::error::connection_refused, result->message());
                BOOST_TEST_MESSAGE("refused after "
                                   << std::chrono::duration<double>(steady::now() - t0).count()
                                   << " s");
                s.reset();
                require_run_returns(ioc, 5s, "refused");
            }
        }
    }
}

// A µTP multiplexer that has no acceptor answers a SYN with RESET: connection_refused.
// A multiplexer reads its port while it has work (here a pending raw receive, as a DHT
// sharing the port would have); an idle one leaves datagrams queued in the kernel until
// it has work again, so that io_context::run() can return, as with an idle Asio socket.
BOOST_AUTO_TEST_CASE(connect_to_multiplexer_without_acceptor_is_refused, *utf::timeout(60)) {
    asio::io_context ioc;
    utp::multiplexer lonely(ioc, loopback_v4());
    std::array<char, 64> raw{};
    asio::ip::udp::endpoint raw_from;
    lonely.async_receive_from(asio::buffer(raw), raw_from, [](error_code, std::size_t) {});
    utp::multiplexer client_mux(ioc, loopback_v4());
    utp::socket s(client_mux);
    std::optional<error_code> result;
    s.async_connect(lonely.local_endpoint(), [&](error_code ec) { result = ec; });
    const run_result r = run_until(
        ioc, [&] { return result.has_value(); }, 2s);
    BOOST_TEST_MESSAGE("multiplexer without acceptor: "
                       << lonely.stats().datagrams_received << " datagrams read, "
                       << lonely.stats().protocol.resets_sent << " RESETs sent");
    BOOST_REQUIRE_MESSAGE(r == run_result::done,
                          "a dial to a multiplexer without acceptor was not answered within 2 s ("
                              << r << ")");
    BOOST_TEST(*result == asio::error::connection_refused, result->message());
    BOOST_TEST(lonely.stats().protocol.resets_sent >= 1u);
    lonely.close(); // ends the pending raw receive
    require_run_returns(ioc, 10s, "no acceptor");
}

// An acceptor that accepted once and was then closed: its pending accept is aborted, later
// dials are refused, and the connection it accepted before goes on working.
BOOST_AUTO_TEST_CASE(connect_after_acceptor_closed_is_refused, *utf::timeout(60)) {
    asio::io_context ioc;
    utp::multiplexer server_mux(ioc, loopback_v4());
    utp::multiplexer client_mux(ioc, loopback_v4());
    utp::acceptor acc(server_mux);
    utp::socket a(ioc), c(client_mux);
    std::optional<error_code> accepted, connected;
    acc.async_accept(a, [&](error_code ec) { accepted = ec; });
    c.async_connect(server_mux.local_endpoint(), [&](error_code ec) { connected = ec; });
    require_run_until(
        ioc, [&] { return accepted && connected; }, 5s, "accept once");
    BOOST_TEST(!*accepted);
    BOOST_TEST(!*connected);

    utp::socket b(ioc);
    std::optional<error_code> pending;
    acc.async_accept(b, [&](error_code ec) { pending = ec; });
    acc.close();
    BOOST_TEST(!acc.is_open());
    require_run_until(
        ioc, [&] { return pending.has_value(); }, 2s, "accept aborted");
    BOOST_TEST(*pending == asio::error::operation_aborted, pending->message());

    utp::socket d(client_mux);
    std::optional<error_code> refused;
    d.async_connect(server_mux.local_endpoint(), [&](error_code ec) { refused = ec; });
    require_run_until(
        ioc, [&] { return refused.has_value(); }, 2s, "closed acceptor");
    BOOST_TEST(*refused == asio::error::connection_refused, refused->message());

    std::array<std::uint8_t, 3> out{7, 8, 9}, in{};
    std::optional<error_code> wrote, read;
    asio::async_write(c, asio::buffer(out), [&](error_code ec, std::size_t) { wrote = ec; });
    asio::async_read(a, asio::buffer(in), [&](error_code ec, std::size_t) { read = ec; });
    require_run_until(
        ioc, [&] { return wrote && read; }, 5s, "old connection");
    BOOST_TEST(!*read);
    BOOST_TEST(in == out);
    a.close();
    c.close();
    require_run_returns(ioc, 10s, "closed acceptor");
}

BOOST_AUTO_TEST_SUITE_END()
