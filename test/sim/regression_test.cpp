// Minimal reproductions of misbehaviours of the core that the simulator found. Each case
// names the symptom it guards against; each is deterministic (fixed seeds, and drops
// chosen by filters rather than by chance). Cases that used to hang inside the core carry
// a Boost.Test timeout so that a regression fails instead of blocking the suite.
#include "sim.hpp"

#include <boost/test/unit_test.hpp>

#include <memory>
#include <optional>
#include <vector>

using namespace utp;
using namespace std::chrono_literals;
namespace utf = boost::unit_test;

namespace {

/// Connect A to B and wait until both sides hold their connection.
std::pair<proto::connection_handle, proto::connection_handle> connect(sim::two_nodes& p) {
    p.b.listen(true);
    const auto ha = p.a.connect(p.b);
    std::optional<proto::connection_handle> hb;
    const auto r = p.net.run_until(
        [&] {
            if (!hb) hb = p.b.accept();
            return hb && p.a.get(ha)->state() == proto::conn_state::connected;
        },
        10s);
    BOOST_TEST_REQUIRE(static_cast<bool>(r), "connect: " << r);
    return {ha, *hb};
}

} // namespace

BOOST_AUTO_TEST_SUITE(core_regressions)

// endpoint::handle_timeout looped forever: connection::handle_timeout turns an expired
// delayed-ACK deadline into "ACK now", but next_timeout() kept returning that deadline
// until poll_transmit sent the ACK, so the endpoint's timer loop re-queued it at `now`
// endlessly. One DATA packet (an odd count, no FIN behind it) is enough.
BOOST_AUTO_TEST_CASE(delayed_ack_timer_does_not_spin, *utf::timeout(20)) {
    sim::two_nodes p(1, sim::link_config{.delay = 10ms});
    const auto [ha, hb] = connect(p);
    const std::uint8_t byte = 42;
    BOOST_TEST(p.a.write(ha, {&byte, 1}) == 1u);
    p.net.run_for(1s);
    BOOST_TEST(p.b.get(hb)->readable() == 1u);
    BOOST_TEST(p.a.get(ha)->unacknowledged() == 0u);
}

// The same spin with the keepalive: after `keepalive_interval` of silence the keepalive
// was due, but next_timeout() kept returning last_send + keepalive_interval (≤ now).
BOOST_AUTO_TEST_CASE(keepalive_timer_does_not_spin, *utf::timeout(20)) {
    sim::two_nodes p(1, sim::link_config{.delay = 10ms});
    const auto [ha, hb] = connect(p);
    auto keepalives = std::make_shared<std::uint64_t>(0);
    p.net.add_filter(sim::count_into(sim::match{.type = proto::packet_type::state}, keepalives));
    p.net.run_for(100s);
    BOOST_TEST(*keepalives >= 2u);
    BOOST_TEST((p.a.get(ha)->state() == proto::conn_state::connected));
    BOOST_TEST((p.b.get(hb)->state() == proto::conn_state::connected));
}

// A packet marked lost and then acknowledged (by SACK or cumulatively) before it was
// resent stayed marked lost: try_resend() later resent an acknowledged packet, counted it
// in bytes_in_flight for good and decremented lost_count twice. The sender ended with
// every packet acknowledged, phantom bytes in flight above its window, no timer armed:
// a permanent stall. Trigger: lose one DATA packet and its fast retransmission.
BOOST_AUTO_TEST_CASE(acknowledged_lost_packet_is_not_resent, *utf::timeout(60)) {
    sim::two_nodes p(
        1, sim::link_config{.delay = 10ms, .rate_bps = 10'000'000, .queue_bytes = 100'000});
    int data_packets = 0, dropped = 0;
    std::optional<std::uint16_t> victim;
    p.net.add_filter([&](sim::datagram_view& v) {
        const auto h = v.header();
        if (&v.from != &p.a || !h || h->type != proto::packet_type::data || v.payload_size() == 0)
            return sim::filter_action::pass;
        if (!victim && ++data_packets == 100) victim = h->seq_nr;
        if (victim && h->seq_nr == *victim && dropped < 2) {
            ++dropped;
            return sim::filter_action::drop;
        }
        return sim::filter_action::pass;
    });
    const auto r = sim::run_transfer(p.net, p.a, p.b,
                                     sim::transfer_options{.bytes = 1 << 20, .time_limit = 60s});
    BOOST_TEST(dropped == 2);
    BOOST_TEST(r.ok, r.summary());
    BOOST_TEST(r.data_time < 5s);
}

// The acceptor shuts down at once (it has nothing to send) and its SYN-ACK and FIN are
// lost. On the SYN's retransmission it sends the FIN again before the SYN-ACK; the
// initiator takes the FIN as an implicit SYN-ACK and reports eof, but never acknowledges
// the FIN (its ack_nr stays at FIN − 1 in everything it sends), so the acceptor resends
// the FIN on timeout, seconds later, for no reason.
BOOST_AUTO_TEST_CASE(fin_taken_as_syn_ack_is_acknowledged, *utf::timeout(60)) {
    sim::two_nodes p(
        1, sim::link_config{.delay = 10ms, .rate_bps = 10'000'000, .queue_bytes = 100'000});
    p.net.add_filter(sim::drop_first(sim::match{.from = &p.b}, 2));
    auto fins = std::make_shared<std::uint64_t>(0);
    p.net.add_filter(
        sim::count_into(sim::match{.type = proto::packet_type::fin, .from = &p.b}, fins));
    const auto r = sim::run_transfer(p.net, p.a, p.b,
                                     sim::transfer_options{.bytes = 100'000, .time_limit = 60s});
    BOOST_TEST(r.ok, r.summary());
    // The dropped FIN is resent once. Not with the SYN-ACK on the SYN's retransmission:
    // a SYN does not prove its sender's address, so it draws a SYN-ACK only (issue 11);
    // the initiator's ACK of that SYN-ACK does, and the FIN follows.
    BOOST_TEST(*fins == 1u);
    BOOST_TEST(r.b.stats.timeouts <= 1u);
}

// A closed connection's TIME-WAIT ended before the peer's next FIN retransmission (the
// peer's RTO backs off to seconds): the lost ACK of the peer's FIN was answered with a
// RESET, so the peer, which had delivered and received everything, failed or vanished
// instead of closing. (Made deterministic by also losing the first ACK of that FIN.)
BOOST_AUTO_TEST_CASE(lost_ack_of_fin_does_not_reset_the_peer, *utf::timeout(60)) {
    sim::two_nodes p(
        1, sim::link_config{.delay = 10ms, .rate_bps = 10'000'000, .queue_bytes = 100'000});
    p.net.add_filter(sim::drop_first(sim::match{.from = &p.b}, 2));
    std::optional<std::uint16_t> fin;
    bool dropped_ack = false;
    p.net.add_filter([&](sim::datagram_view& v) {
        const auto h = v.header();
        if (!h) return sim::filter_action::pass;
        if (&v.from == &p.b && h->type == proto::packet_type::fin) fin = h->seq_nr;
        if (&v.from == &p.a && fin && !dropped_ack && h->type == proto::packet_type::state &&
            h->ack_nr == *fin) {
            dropped_ack = true;
            return sim::filter_action::drop;
        }
        return sim::filter_action::pass;
    });
    const auto r = sim::run_transfer(p.net, p.a, p.b,
                                     sim::transfer_options{.bytes = 100'000, .time_limit = 60s});
    BOOST_TEST(r.ok, r.summary());
}

// A sender that writes everything, shuts down and releases its handle (the peer had
// nothing to send and closed its side at once) must still deliver what is in its send
// buffer. The linger timeout counted from release() and cut the drain short on a slow
// path: the connection was forgotten silently with most of the data unsent, and the
// receiver was left waiting for bytes and a FIN that never came.
BOOST_AUTO_TEST_CASE(linger_does_not_cut_off_buffered_data, *utf::timeout(120)) {
    // 1 MiB at 200 kbit/s takes about 42 s, longer than the default 30 s linger.
    sim::two_nodes p(1,
                     sim::link_config{.delay = 20ms, .rate_bps = 200'000, .queue_bytes = 20'000});
    const auto r = sim::run_transfer(p.net, p.a, p.b,
                                     sim::transfer_options{.bytes = 1 << 20, .time_limit = 300s});
    BOOST_TEST(r.ok, r.summary());
    BOOST_TEST(r.b.received == 1u << 20);
}

// A receiver whose sender's process died waited for the idle timeout (or, with requests
// in flight, for eight retransmission timeouts: minutes), although the kernel had told it
// at once, with ICMP "port unreachable" for its ACKs, that nothing was bound there any
// more. libutp resets the connection on that; so do we. "Host unreachable" stays soft.
// The error must quote what A sent (issue 11: a forged one quoting nothing is soft).
BOOST_AUTO_TEST_CASE(port_unreachable_resets_an_established_connection) {
    sim::two_nodes p(1, sim::link_config{.delay = 10ms});
    std::vector<std::uint8_t> last_from_a;
    p.net.add_filter([&](sim::datagram_view& d) {
        if (&d.from == &p.a) last_from_a.assign(d.bytes.begin(), d.bytes.end());
        return sim::filter_action::pass;
    });
    const auto [ha, hb] = connect(p);
    p.a.endpoint().handle_unreachable(p.b.address(), p.net.now(), false, last_from_a);
    BOOST_TEST((p.a.get(ha)->state() == proto::conn_state::connected));
    p.a.endpoint().handle_unreachable(p.b.address(), p.net.now(), true);
    BOOST_TEST((p.a.get(ha)->state() == proto::conn_state::connected));
    p.a.endpoint().handle_unreachable(p.b.address(), p.net.now(), true, last_from_a);
    BOOST_TEST((p.a.get(ha)->state() == proto::conn_state::failed));
    BOOST_TEST((p.a.get(ha)->error() == proto::conn_error::reset));
    BOOST_TEST((p.b.get(hb)->state() != proto::conn_state::failed)); // only A heard it
}

// Closing with unread input lingered: the closed side discarded and ACKed whatever kept
// arriving, so a peer that went on sending (an HTTP client's next request, a BitTorrent
// peer's pieces) kept both sides busy for the whole linger time, and its process alive.
// Now, as in TCP, the close aborts: the peer's connection is reset at once.
BOOST_AUTO_TEST_CASE(close_with_unread_input_resets) {
    sim::two_nodes p(1, sim::link_config{.delay = 10ms});
    const auto [ha, hb] = connect(p);
    const std::vector<std::uint8_t> data(3000, 7);
    BOOST_TEST(p.a.write(ha, data) == data.size());
    p.net.run_for(200ms);
    BOOST_TEST_REQUIRE(p.b.get(hb)->readable() > 0u);
    p.b.release(hb);
    p.net.run_for(200ms);
    BOOST_TEST((p.a.get(ha)->state() == proto::conn_state::failed));
    BOOST_TEST((p.a.get(ha)->error() == proto::conn_error::reset));
}

// The same for data that arrives after a clean close (nothing unread at the time).
BOOST_AUTO_TEST_CASE(data_after_close_resets) {
    sim::two_nodes p(1, sim::link_config{.delay = 10ms});
    const auto [ha, hb] = connect(p);
    p.net.run_for(100ms);
    p.b.release(hb); // nothing unread: a graceful FIN
    const std::vector<std::uint8_t> data(3000, 7);
    BOOST_TEST(p.a.write(ha, data) == data.size()); // crosses B's FIN
    p.net.run_for(500ms);
    BOOST_TEST((p.a.get(ha)->state() == proto::conn_state::failed));
    BOOST_TEST((p.a.get(ha)->error() == proto::conn_error::reset));
}

// A close after reading everything stays graceful: FIN both ways, no RESET.
BOOST_AUTO_TEST_CASE(close_after_reading_everything_is_graceful) {
    sim::two_nodes p(1, sim::link_config{.delay = 10ms});
    const auto [ha, hb] = connect(p);
    const std::vector<std::uint8_t> data(3000, 7);
    BOOST_TEST(p.a.write(ha, data) == data.size());
    p.a.shutdown_send(ha);
    p.net.run_for(200ms);
    std::vector<std::uint8_t> in(4096);
    BOOST_TEST(p.b.read(hb, in) == data.size());
    BOOST_TEST(p.b.get(hb)->eof());
    p.b.release(hb);
    p.net.run_for(500ms);
    BOOST_TEST((p.a.get(ha)->state() != proto::conn_state::failed));
    BOOST_TEST(p.a.get(ha)->eof());
}

BOOST_AUTO_TEST_SUITE_END()
