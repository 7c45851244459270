// Suite `tcp_habits`: what an Asio user writes for TCP works on µTP where µTP can mean the
// same thing.
//  - async_accept(peer, peer_endpoint) and the move-accepts with an endpoint, onto another
//    executor (a strand) and another io_context;
//  - async_connect again on the same socket after a refused one;
//  - available(); async_wait(wait_read | wait_write | wait_error);
//  - utp::async_connect over an endpoint list and a resolver's results;
//  - local_endpoint() reporting the address actually used behind a wildcard bind;
//  - option values out of range refused with invalid_argument, naming the option.
#include "common.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <iostream>
#include <optional>
#include <thread>
#include <vector>

using namespace utp_test;
using namespace boost::asio::experimental::awaitable_operators;
namespace utf = boost::unit_test;

BOOST_AUTO_TEST_SUITE(tcp_habits)

BOOST_AUTO_TEST_CASE(accept_with_peer_endpoint, *utf::timeout(30)) {
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client(ioc, loopback_v4());
    utp::socket c1(client), c2(client), srv(ioc);
    udp::endpoint peer, moved_peer;
    std::optional<error_code> a, c;
    acc.async_accept(srv, peer, [&](error_code ec) { a = ec; });
    c1.async_connect(acc.local_endpoint(), [&](error_code ec) { c = ec; });
    require_run_until(
        ioc, [&] { return a && c; }, 5s, "accept into a socket, with its peer's endpoint");
    BOOST_TEST(!*a);
    BOOST_TEST(peer == client.local_endpoint());
    BOOST_TEST(srv.remote_endpoint() == peer);

    std::optional<utp::socket> moved;
    std::optional<error_code> c2c;
    acc.async_accept(moved_peer, [&](error_code ec, utp::socket s) {
        BOOST_TEST(!ec, ec.message());
        moved.emplace(std::move(s));
    });
    c2.async_connect(acc.local_endpoint(), [&](error_code ec) { c2c = ec; });
    require_run_until(
        ioc, [&] { return moved && c2c; }, 5s, "move-accept with the peer's endpoint");
    BOOST_TEST(moved_peer == client.local_endpoint());
    exchange(ioc, c2, *moved, 51);
}

// The move-accept onto a strand of the same context and onto another io_context (run by
// another thread): the connections live in the acceptor's multiplexer, the sockets and
// their completions on their own executors.
BOOST_AUTO_TEST_CASE(move_accept_onto_other_executors, *utf::timeout(30)) {
    asio::io_context ioc, other;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client(ioc, loopback_v4());
    auto strand = asio::make_strand(ioc);

    using strand_socket = utp::basic_socket<asio::strand<asio::io_context::executor_type>>;
    using other_socket = utp::basic_socket<asio::io_context::executor_type>;
    std::optional<strand_socket> on_strand;
    std::optional<other_socket> on_other;
    acc.async_accept(strand, [&](error_code ec, strand_socket s) {
        BOOST_TEST(!ec, ec.message());
        on_strand.emplace(std::move(s));
    });
    utp::socket c1(client), c2(client);
    std::optional<error_code> r1, r2;
    c1.async_connect(acc.local_endpoint(), [&](error_code ec) { r1 = ec; });
    require_run_until(
        ioc, [&] { return on_strand && r1; }, 5s, "move-accept onto a strand");
    BOOST_TEST((on_strand->get_executor() == strand));

    acc.async_accept(other, [&](error_code ec, other_socket s) {
        BOOST_TEST(!ec, ec.message());
        on_other.emplace(std::move(s));
    });
    c2.async_connect(acc.local_endpoint(), [&](error_code ec) { r2 = ec; });
    require_run_until(
        ioc, [&] { return r2.has_value(); }, 5s, "connect to the move-accept onto another context");
    BOOST_TEST(!*r2);
    // The accept's handler runs on the acceptor's executor: `on_other` is set there.
    require_run_until(
        ioc, [&] { return on_other.has_value(); }, 5s, "move-accept onto another io_context");
    BOOST_TEST((on_other->get_executor() == other.get_executor()));

    // Read on the other context's thread while this one runs the multiplexers.
    const std::string msg = "to a socket on another io_context";
    std::string got(msg.size(), '\0');
    std::atomic<bool> read_done{false};
    error_code read_ec;
    asio::async_read(*on_other, asio::buffer(got), [&](error_code ec, std::size_t) {
        read_ec = ec;
        read_done = true;
    });
    std::thread t([&] { other.run_for(10s); });
    std::optional<error_code> w;
    asio::async_write(c2, asio::buffer(msg), [&](error_code ec, std::size_t) { w = ec; });
    require_run_until(
        ioc, [&] { return w && read_done.load(); }, 10s, "exchange across contexts");
    t.join();
    BOOST_TEST(!read_ec, read_ec.message());
    BOOST_TEST(got == msg);
    exchange(ioc, c1, *on_strand, 52);
}

// A refused connect leaves the socket ready to dial again, as a TCP socket is.
BOOST_AUTO_TEST_CASE(connect_again_after_a_failure, *utf::timeout(30)) {
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client(ioc, loopback_v4());
    utp::socket s(client);
    std::optional<error_code> c1;
    s.async_connect(dead_endpoint(), [&](error_code ec) { c1 = ec; });
    require_run_until(
        ioc, [&] { return c1.has_value(); }, 5s, "connect to a dead port");
    BOOST_TEST(*c1 == asio::error::connection_refused, c1->message());
    BOOST_TEST(!s.is_open());
    utp::socket srv(ioc);
    accept_and_connect(ioc, acc, srv, s);
    exchange(ioc, s, srv, 53);
    // A private multiplexer (socket made from the context) retries on its own port too.
    utp::socket p(ioc);
    std::optional<error_code> p1;
    p.async_connect(dead_endpoint(), [&](error_code ec) { p1 = ec; });
    require_run_until(
        ioc, [&] { return p1.has_value(); }, 5s, "private: connect to a dead port");
    BOOST_TEST(*p1 == asio::error::connection_refused, p1->message());
    utp::socket psrv(ioc);
    accept_and_connect(ioc, acc, psrv, p);
    exchange(ioc, psrv, p, 54);
}

// available() counts what a read would return at once; async_wait reports readiness.
BOOST_AUTO_TEST_CASE(available_and_wait, *utf::timeout(30)) {
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client(ioc, loopback_v4());
    utp::socket c(client), srv(ioc);

    // Not connected: no readiness to wait for, nothing available.
    std::optional<error_code> w0;
    c.async_wait(utp::socket::wait_write, [&](error_code ec) { w0 = ec; });
    require_run_until(
        ioc, [&] { return w0.has_value(); }, 5s, "wait on an unconnected socket");
    BOOST_TEST(*w0 == asio::error::bad_descriptor, w0->message());
    error_code ec;
    BOOST_TEST(c.available(ec) == 0u);
    BOOST_TEST(ec == asio::error::not_connected);

    // A write wait started while connecting completes once connected.
    std::optional<error_code> a, cc, ww;
    acc.async_accept(srv, [&](error_code e) { a = e; });
    c.async_connect(acc.local_endpoint(), [&](error_code e) { cc = e; });
    c.async_wait(utp::socket::wait_write, [&](error_code e) {
        ww = e;
        BOOST_TEST(cc.has_value(), "writable before connected");
    });
    require_run_until(
        ioc, [&] { return a && cc && ww; }, 5s, "connect, and writable");
    BOOST_TEST(!*ww, ww->message());

    // A read wait completes when bytes arrive; available() then counts all of them.
    std::optional<error_code> wr, we;
    srv.async_wait(utp::socket::wait_read, [&](error_code e) { wr = e; });
    srv.async_wait(utp::socket::wait_error, [&](error_code e) { we = e; });
    ioc.poll();
    BOOST_TEST(!wr.has_value());
    std::vector<std::uint8_t> data(5000);
    pattern(11).fill(0, data);
    asio::async_write(c, asio::buffer(data), [](error_code, std::size_t) {});
    require_run_until(
        ioc, [&] { return wr.has_value() && srv.available() == data.size(); }, 5s,
        "bytes available");
    BOOST_TEST(!*wr, wr->message());
    BOOST_TEST(!we.has_value(), "error wait completed on a healthy connection");
    std::vector<std::uint8_t> in(10000);
    std::optional<std::size_t> n;
    srv.async_read_some(asio::buffer(in), [&](error_code e, std::size_t k) {
        BOOST_TEST(!e);
        n = k;
    });
    require_run_until(
        ioc, [&] { return n.has_value(); }, 5s, "read what is available");
    BOOST_TEST(*n == data.size());
    BOOST_TEST(srv.available() == 0u);

    // The peer aborts: the error wait completes (readiness is the result, not the error).
    c.abort();
    require_run_until(
        ioc, [&] { return we.has_value(); }, 5s, "error wait after RESET");
    BOOST_TEST(!*we, we->message());

    // A pending wait is cancelled like any operation.
    utp::socket c3(client), srv3(ioc);
    std::optional<error_code> w3;
    accept_and_connect(ioc, acc, srv3, c3);
    srv3.async_wait(utp::socket::wait_read, [&](error_code e) { w3 = e; });
    ioc.poll();
    srv3.cancel();
    require_run_until(
        ioc, [&] { return w3.has_value(); }, 5s, "cancelled wait");
    BOOST_TEST(*w3 == asio::error::operation_aborted, w3->message());
}

// utp::async_connect tries endpoints in order, as asio::async_connect does for TCP.
BOOST_AUTO_TEST_CASE(connect_over_endpoints, *utf::timeout(30)) {
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client(ioc, loopback_v4());
    // Built outside the coroutine: GCC 12 rejects an initializer list of endpoints in a
    // coroutine frame ("array used as initializer").
    const std::vector<udp::endpoint> dead_then_live{dead_endpoint(), acc.local_endpoint()};
    const std::vector<udp::endpoint> all_dead{dead_endpoint(), dead_endpoint()};
    tasks t;
    t.spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < 2; ++i) {
                utp::socket s = co_await acc.async_accept(asio::use_awaitable);
                co_await echo(s);
            }
        },
        "server");
    t.spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            // A dead endpoint first: refused, then the live one.
            utp::socket s(client);
            udp::endpoint e = co_await utp::async_connect(s, dead_then_live, asio::use_awaitable);
            EXPECT(e == acc.local_endpoint(), "connected to " << e);
            co_await (send_pattern(s, 41, 10000) && receive_pattern(s, 41, 10000));

            // A resolver's results, as a TCP client would write it.
            udp::resolver resolver(ioc);
            auto results = co_await resolver.async_resolve(
                "127.0.0.1", std::to_string(acc.local_endpoint().port()), asio::use_awaitable);
            utp::socket r(ioc);
            e = co_await utp::async_connect(r, results, asio::use_awaitable);
            EXPECT(e == acc.local_endpoint(), "connected to " << e);
            co_await (send_pattern(r, 42, 10000) && receive_pattern(r, 42, 10000));

            // Nothing to try, and nothing that answers.
            utp::socket n(client);
            const auto none = co_await utp::async_connect(n, std::vector<udp::endpoint>{},
                                                          asio::as_tuple(asio::use_awaitable));
            EXPECT_EC(std::get<0>(none), asio::error::not_found);
            const auto dead =
                co_await utp::async_connect(n, all_dead, asio::as_tuple(asio::use_awaitable));
            EXPECT_EC(std::get<0>(dead), asio::error::connection_refused);
            EXPECT(std::get<1>(dead) == udp::endpoint(),
                   "failed connect reported " << std::get<1>(dead));
        },
        "client");
    require_run_until(
        ioc, [&] { return t.all_done(); }, 20s, "connect over endpoints", t);
}

// Behind a wildcard bind, local_endpoint() reports the address the connection uses, as
// getsockname() does for a connected TCP socket.
BOOST_AUTO_TEST_CASE(local_endpoint_reports_the_address_used, *utf::timeout(30)) {
    asio::io_context ioc;
    utp::acceptor acc(ioc, {asio::ip::address_v4::any(), 0});
    utp::multiplexer client(ioc, {asio::ip::address_v4::any(), 0});
    utp::socket c(client), srv(ioc);
    const udp::endpoint server(asio::ip::address_v4::loopback(), acc.local_endpoint().port());
    accept_and_connect(ioc, acc, srv, c, server);
    BOOST_TEST(c.local_endpoint() ==
               udp::endpoint(asio::ip::address_v4::loopback(), client.local_endpoint().port()));
    BOOST_TEST(srv.local_endpoint() == server);
    BOOST_TEST(srv.remote_endpoint() == c.local_endpoint());
    // Not connected: the multiplexer's own binding.
    utp::socket idle(client);
    BOOST_TEST(idle.local_endpoint() == client.local_endpoint());

    if (!have_ipv6()) return;
    // A dual-stack [::] port reaching a v4 peer: the v4-mapped address, as TCP reports.
    utp::multiplexer dual(ioc, {asio::ip::address_v6::any(), 0});
    utp::socket d(dual), dsrv(ioc);
    accept_and_connect(ioc, acc, dsrv, d, server);
    const auto local = d.local_endpoint();
    BOOST_TEST(local.address().is_v6());
    BOOST_TEST(local.address().to_v6().is_v4_mapped());
    BOOST_TEST(local.port() == dual.local_endpoint().port());
}

// Option values out of range are refused and change nothing.
BOOST_AUTO_TEST_CASE(option_values_are_checked, *utf::timeout(30)) {
    asio::io_context ioc;
    utp::socket s(ioc);
    s.set_option(utp::send_buffer_size(64 * 1024));
    try {
        s.set_option(utp::send_buffer_size(0));
        BOOST_ERROR("send_buffer_size(0) was accepted");
    } catch (const boost::system::system_error& e) {
        BOOST_TEST(e.code() == asio::error::invalid_argument, e.code().message());
        BOOST_TEST(std::string(e.what()).find("utp::send_buffer_size") != std::string::npos,
                   e.what());
    }
    error_code ec;
    s.set_option(utp::target_delay(std::chrono::microseconds(0)), ec);
    BOOST_TEST(ec == asio::error::invalid_argument);
    s.set_option(utp::receive_buffer_size(std::size_t{1} << 40), ec);
    BOOST_TEST(ec == asio::error::invalid_argument);
    utp::send_buffer_size sb;
    s.get_option(sb);
    BOOST_TEST(sb.value() == 64u * 1024, "a refused value changed the option");
    utp::target_delay td;
    s.get_option(td);
    BOOST_TEST(td.value() == std::chrono::microseconds(100'000));
    s.set_option(utp::congestion_control(static_cast<utp::proto::congestion_algorithm>(9)), ec);
    BOOST_TEST(ec == asio::error::invalid_argument);
    utp::congestion_control cc;
    s.get_option(cc);
    BOOST_TEST((cc.value() == utp::proto::congestion_algorithm::ledbat));
}

// Each congestion controller, chosen per socket (before connecting, or on the open
// connection), moves a stream intact and reads back as set.
BOOST_AUTO_TEST_CASE(congestion_control_per_socket, *utf::timeout(60)) {
    using utp::proto::congestion_algorithm;
    for (const auto a : {congestion_algorithm::ledbat_plus_plus, congestion_algorithm::newreno,
                         congestion_algorithm::ledbat}) {
        asio::io_context ioc;
        utp::acceptor acc(ioc, loopback_v4());
        utp::socket client(ioc), server(ioc);
        client.set_option(utp::congestion_control(a)); // before connecting
        accept_and_connect(ioc, acc, server, client);
        server.set_option(utp::congestion_control(a)); // on the open connection
        exchange(ioc, client, server, 1, 2u << 20);
        exchange(ioc, server, client, 2, 2u << 20);
        for (utp::socket* s : {&client, &server}) {
            utp::congestion_control cc;
            s->get_option(cc);
            BOOST_TEST((cc.value() == a));
        }
    }
}

// utp::trace: set before connecting (the sender) and on an open connection (the other
// side), records arrive on the multiplexer's thread, agree with stats(), read back with
// get_option, and stop when an empty sink is set.
BOOST_AUTO_TEST_CASE(trace_per_socket, *utf::timeout(60)) {
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::socket client(ioc), server(ioc);
    std::vector<utp::proto::trace_record> sent, received;
    client.set_option(utp::trace([&](const utp::proto::trace_record& r) { sent.push_back(r); },
                                 std::chrono::milliseconds(1)));
    accept_and_connect(ioc, acc, server, client);
    server.set_option(utp::trace([&](const utp::proto::trace_record& r) { received.push_back(r); },
                                 std::chrono::microseconds(0)));
    exchange(ioc, client, server, 1, 4u << 20);
    exchange(ioc, server, client, 2, 1u << 20);
    BOOST_TEST_REQUIRE(!sent.empty());
    BOOST_TEST_REQUIRE(!received.empty());
    BOOST_TEST(sent.back().bytes_acked <= client.stats().bytes_sent);
    BOOST_TEST(sent.back().bytes_acked >= (4u << 20) - (256u << 10));
    BOOST_TEST(received.back().bytes_acked >= (1u << 20) - (256u << 10));
    for (std::size_t i = 1; i < sent.size(); ++i)
        if (sent[i].event == utp::proto::trace_event::sample &&
            sent[i - 1].event == utp::proto::trace_event::sample)
            BOOST_TEST((sent[i].time - sent[i - 1].time >= std::chrono::milliseconds(1)));
    utp::trace t;
    client.get_option(t);
    BOOST_TEST(static_cast<bool>(t));
    BOOST_TEST((t.interval() == std::chrono::milliseconds(1)));

    client.set_option(utp::trace()); // off
    const std::size_t before = sent.size();
    exchange(ioc, client, server, 3, 1u << 20);
    BOOST_TEST(sent.size() == before);
    client.get_option(t);
    BOOST_TEST(!t);

    boost::system::error_code ec;
    client.set_option(
        utp::trace([](const utp::proto::trace_record&) {}, std::chrono::microseconds(-1)), ec);
    BOOST_TEST((ec == asio::error::invalid_argument));
}

BOOST_AUTO_TEST_SUITE_END()
