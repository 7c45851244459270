// Suite `validation`: settings the engine depends on are checked when given, and datagrams
// are taken whole or not at all.
//  - a protocol setting out of range is refused by the multiplexer (and the acceptor that
//    makes one), the exception naming the setting;
//  - packet sizes above 2 048 bytes work (they used to send nothing and report nothing);
//  - µTP datagrams of 9 000 and 60 000 bytes are delivered whole, raw ones too;
//  - a datagram longer than max_datagram_size is dropped and counted, never parsed: none of
//    its bytes is acknowledged or delivered.
#include "common.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <iostream>
#include <optional>

using namespace utp_test;
using namespace boost::asio::experimental::awaitable_operators;
namespace utf = boost::unit_test;

namespace {

utp::multiplexer_options with_packet_size(std::size_t n) {
    utp::multiplexer_options o;
    o.protocol.connection.packet_size = n;
    return o;
}

/// What `f()` throws: a system_error whose text names `setting`.
template <class F>
void refused(F&& f, const std::string& setting) {
    try {
        f();
        BOOST_ERROR(setting << ": accepted");
    } catch (const boost::system::system_error& e) {
        BOOST_TEST(e.code() == asio::error::invalid_argument, e.code().message());
        BOOST_TEST(std::string(e.what()).find(setting) != std::string::npos, e.what());
    }
}

/// Echo `size` bytes of a tagged stream through a connection whose two multiplexers use
/// `packet_size`; return the client multiplexer's stats.
utp::multiplexer_stats echo_with_packet_size(std::size_t packet_size, std::uint64_t size) {
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4(), utp::acceptor::default_backlog,
                      with_packet_size(packet_size));
    utp::multiplexer client(ioc, loopback_v4(), with_packet_size(packet_size));
    run_server_and_client(
        ioc,
        [&]() -> asio::awaitable<void> {
            utp::socket s = co_await acc.async_accept(asio::use_awaitable);
            co_await echo(s);
        },
        [&]() -> asio::awaitable<void> {
            utp::socket s(client);
            co_await s.async_connect(acc.local_endpoint(), asio::use_awaitable);
            co_await (send_pattern(s, packet_size, size) && receive_pattern(s, packet_size, size));
        },
        30s, "echo with packet_size " + std::to_string(packet_size));
    return client.stats();
}

} // namespace

BOOST_AUTO_TEST_SUITE(validation)

BOOST_AUTO_TEST_CASE(settings_out_of_range_are_refused, *utf::timeout(30)) {
    asio::io_context ioc;
    refused([&] { utp::multiplexer m(ioc, loopback_v4(), with_packet_size(70000)); },
            "packet_size");
    refused([&] { utp::multiplexer m(ioc, loopback_v4(), with_packet_size(100)); }, "packet_size");
    refused(
        [&] {
            utp::acceptor a(ioc, loopback_v4(), utp::acceptor::default_backlog,
                            with_packet_size(70000));
        },
        "packet_size");
    utp::multiplexer_options o;
    o.protocol.accept_backlog = 0;
    refused([&] { utp::multiplexer m(ioc, loopback_v4(), o); }, "accept_backlog");
    o = {};
    o.protocol.connection.min_rto = std::chrono::seconds(2);
    o.protocol.connection.max_rto = std::chrono::seconds(1);
    refused([&] { utp::multiplexer m(ioc, loopback_v4(), o); }, "max_rto");
    o = {};
    o.max_datagram_size = 1000;
    refused([&] { utp::multiplexer m(ioc, loopback_v4(), o); }, "max_datagram_size");
    o = {};
    o.protocol.connection.ack_every = 0;
    refused([&] { utp::multiplexer m(ioc, loopback_v4(), o); }, "ack_every");
    // The same verdicts from the core, for code that builds an endpoint itself.
    BOOST_TEST(!utp::proto::check(utp::proto::endpoint_settings{}).has_value());
    utp::proto::settings s;
    s.packet_size = 65001;
    BOOST_TEST(std::string(utp::proto::check(s)->name) == "packet_size");
}

// packet_size above the old 2 048-byte send slots: it used to send nothing at all.
BOOST_AUTO_TEST_CASE(large_packet_sizes_work, *utf::timeout(60)) {
    for (std::size_t packet_size : {4000u, 9000u, 60000u}) {
        BOOST_TEST_CONTEXT("packet_size " << packet_size) {
            const auto st = echo_with_packet_size(packet_size, 2 << 20);
            // The bytes went in datagrams of about that size, not in 1 400-byte ones.
            BOOST_TEST(st.datagrams_sent < (2u << 20) / 1400);
        }
    }
}

// A raw datagram of 60 000 bytes reaches async_receive_from whole.
BOOST_AUTO_TEST_CASE(large_raw_datagrams_arrive_whole, *utf::timeout(30)) {
    asio::io_context ioc;
    utp::multiplexer mux(ioc, loopback_v4());
    udp::socket sender(ioc, loopback_v4());
    sender.set_option(asio::socket_base::send_buffer_size(1 << 20));
    std::vector<std::uint8_t> out(60000), in(65536);
    out[0] = 'd'; // not µTP (version nibble), as a DHT message would start
    pattern(5).fill(1, {out.data() + 1, out.size() - 1});
    const std::size_t got =
        send_and_receive_raw(ioc, mux, sender, asio::buffer(out), asio::buffer(in));
    BOOST_TEST(got == out.size());
    BOOST_TEST(std::equal(out.begin(), out.end(), in.begin()));
    BOOST_TEST(mux.stats().truncated == 0u);
}

// The receiver takes datagrams of at most 2 048 bytes; the sender sends 3 000-byte packets.
// The SYN (small) gets through; every DATA is too long: dropped unread and counted, so no
// byte of it is acknowledged (the sender's bytes stay in flight) or delivered.
BOOST_AUTO_TEST_CASE(longer_datagrams_are_dropped_unacknowledged, *utf::timeout(60)) {
    asio::io_context ioc;
    utp::multiplexer_options small;
    small.max_datagram_size = 2048;
    utp::acceptor acc(ioc, loopback_v4(), utp::acceptor::default_backlog, small);
    utp::multiplexer client(ioc, loopback_v4(), with_packet_size(3000));
    utp::socket c(client), srv(ioc);
    accept_and_connect(ioc, acc, srv, c); // the SYN is small enough

    std::vector<std::uint8_t> data(20000);
    pattern(9).fill(0, data);
    std::optional<error_code> w;
    asio::async_write(c, asio::buffer(data), [&](error_code e, std::size_t) { w = e; });
    std::array<std::uint8_t, 4096> in;
    std::optional<std::size_t> read;
    srv.async_read_some(asio::buffer(in), [&](error_code, std::size_t n) { read = n; });
    require_run_until(
        ioc, [&] { return acc.get_multiplexer().stats().truncated >= 3; }, 10s,
        "oversized datagrams counted");
    BOOST_TEST(!read.has_value(), "bytes of a truncated datagram were delivered");
    BOOST_TEST(srv.stats().bytes_received == 0u);
    BOOST_TEST(c.stats().bytes_in_flight > 0u, "bytes of a truncated datagram were acknowledged");

    // A raw datagram longer than the limit: dropped and counted too, not truncated to the
    // caller.
    udp::socket sender(ioc, loopback_v4());
    std::vector<std::uint8_t> raw(3000, 'd');
    std::array<char, 8192> rbuf;
    udp::endpoint from;
    std::optional<std::size_t> raw_got;
    acc.get_multiplexer().async_receive_from(asio::buffer(rbuf), from,
                                             [&](error_code, std::size_t n) { raw_got = n; });
    const auto before = acc.get_multiplexer().stats().truncated;
    sender.send_to(asio::buffer(raw), acc.local_endpoint());
    const std::string small_one = "d1:y1:qe";
    sender.send_to(asio::buffer(small_one), acc.local_endpoint());
    require_run_until(
        ioc, [&] { return raw_got.has_value(); }, 5s, "the small raw datagram");
    BOOST_TEST(*raw_got == small_one.size(), "the oversized raw datagram was handed over");
    BOOST_TEST(acc.get_multiplexer().stats().truncated > before);
    c.abort();
    srv.close();
}

BOOST_AUTO_TEST_SUITE_END()
