// One test for each pitfall of PROTOCOL.md ("Known pitfalls") and for the behaviours the
// issue names: sequence and id wrap, clock wrap, hostile echoes, lost handshake and FIN
// packets, single-loss accounting, zero-window pause, junk on the port, RESET, keepalive,
// idle timeout, Nagle, delayed ACK, backlog and half-open reclaim.
#include "sim.hpp"

#include <utp/proto/seq.hpp>

#include <boost/test/unit_test.hpp>

#include <cstring>
#include <memory>
#include <ostream>
#include <vector>

namespace utp::proto {
// Boost.Test prints the operands of a failed comparison.
std::ostream& operator<<(std::ostream& os, conn_error e) {
    return os << to_string(e);
}
std::ostream& operator<<(std::ostream& os, conn_state s) {
    return os << to_string(s);
}
std::ostream& operator<<(std::ostream& os, instant t) {
    return os << t.time_since_epoch().count() << "us";
}
} // namespace utp::proto

using namespace utp;
using namespace std::chrono_literals;
using proto::conn_error;
using proto::conn_state;
using proto::packet_type;

namespace {

/// One side of a stream conversation: writes its own seeded stream, verifies the peer's.
struct stream_app {
    sim::node* n = nullptr;
    proto::connection_handle h{};
    bool have = false;
    sim::byte_stream out{1}, in{2};
    std::uint64_t to_send = 0, sent = 0, received = 0;
    bool shutdown_after_send = true;
    bool release_on_eof = true;
    bool reading = true;
    bool shut = false, eof = false, released = false, corrupt = false;
    std::vector<std::uint8_t> buf = std::vector<std::uint8_t>(64 * 1024);

    proto::connection* conn() { return have && !released ? n->get(h) : nullptr; }

    void service() {
        if (!have) return;
        proto::connection* c = n->get(h);
        if (!c || released) return;
        while (sent < to_send && c->writable() > 0 && c->is_open()) {
            const auto k =
                static_cast<std::size_t>(std::min<std::uint64_t>(to_send - sent, buf.size()));
            out.fill(sent, std::span(buf.data(), k));
            const std::size_t w = n->write(h, std::span(buf.data(), k));
            if (w == 0) break;
            sent += w;
        }
        if (sent == to_send && shutdown_after_send && !shut && c->is_open()) {
            n->shutdown_send(h);
            shut = true;
        }
        while (reading) {
            const std::size_t r = n->read(h, buf);
            if (r == 0) break;
            if (in.mismatch(received, std::span(buf.data(), r)) != r) corrupt = true;
            received += r;
        }
        c = n->get(h);
        if (reading && c && c->eof()) eof = true;
        // Released once both directions are done: our FIN queued, the peer's read.
        if (eof && release_on_eof && shut) {
            n->release(h);
            released = true;
        }
    }
};

/// Two nodes A (initiator) and B (listener) joined by a link, with stream apps.
struct duo {
    sim::network net;
    sim::node& a;
    sim::node& b;
    stream_app app_a, app_b;

    explicit duo(std::uint64_t seed, const sim::link_config& l, const proto::settings& s = {},
                 sim::instant start = sim::instant{std::chrono::seconds(1000)})
        : net(seed, start), a(net.add_node(sim::address(1), s)),
          b(net.add_node(sim::address(2), s)) {
        net.link(a, b, l);
        b.listen(true);
        app_a.n = &a;
        app_b.n = &b;
        app_b.out = sim::byte_stream(2);
        app_b.in = sim::byte_stream(1);
        a.set_handler([this](sim::node&) { app_a.service(); });
        b.set_handler([this](sim::node&) {
            if (!app_b.have) {
                if (auto h = b.accept()) {
                    app_b.h = *h;
                    app_b.have = true;
                }
            }
            app_b.service();
        });
    }

    void connect(std::optional<std::uint16_t> id = {}, std::optional<std::uint16_t> seq = {}) {
        app_a.h = a.endpoint().connect(b.address(), net.now(), id, seq);
        app_a.have = true;
        app_a.service();
    }

    bool both_gone() const { return a.connection_count() == 0 && b.connection_count() == 0; }

    bool finished() const {
        return app_a.received == app_b.to_send && app_b.received == app_a.to_send && both_gone();
    }

    /// Run to a clean finish; checks bytes and closes.
    void run_clean(sim::duration limit) {
        const auto r = net.run_until([&] { return finished(); }, limit);
        BOOST_TEST(bool(r), "run stopped: " << r << " a.received=" << app_a.received
                                            << " b.received=" << app_b.received << " conns="
                                            << a.connection_count() << "/" << b.connection_count());
        BOOST_TEST(!app_a.corrupt);
        BOOST_TEST(!app_b.corrupt);
        BOOST_TEST(app_a.eof);
        BOOST_TEST(app_b.eof);
    }
};

/// Remembers the header of every datagram matching `m` (passes everything).
struct recorder {
    std::shared_ptr<std::vector<proto::header>> seen =
        std::make_shared<std::vector<proto::header>>();
    sim::filter_fn filter(sim::match m) {
        return [m = std::move(m), seen = seen](sim::datagram_view& d) {
            if (m(d))
                if (auto h = d.header()) seen->push_back(*h);
            return sim::filter_action::pass;
        };
    }
};

sim::link_config path(sim::duration one_way, std::uint64_t rate = 10'000'000) {
    return sim::link_config{.delay = one_way, .rate_bps = rate, .queue_bytes = 1'000'000};
}

} // namespace

BOOST_AUTO_TEST_SUITE(pitfalls)

// Pitfall 1: 16-bit wrap everywhere. Small packets make the count cheap to simulate.
BOOST_AUTO_TEST_CASE(two_hundred_thousand_packets_from_seq_fff0) {
    proto::settings s;
    s.packet_size = 150; // 130 payload bytes a packet
    duo d(11,
          sim::link_config{.delay = 2ms,
                           .rate_bps = 200'000'000,
                           .queue_bytes = 400'000,
                           .loss = 0.002,
                           .reorder = 0.002,
                           .reorder_delay = 1ms},
          s);
    d.app_a.to_send = 200'000ull * 130 + 1;
    d.app_b.to_send = 20'000ull * 130;
    auto first = std::make_shared<std::uint64_t>(0);
    d.net.add_filter(sim::count_into(sim::match{.type = packet_type::data, .from = &d.a}, first));
    d.connect(std::nullopt, 0xfff0);
    d.run_clean(600s);
    const auto st = d.app_a.conn() ? d.app_a.conn()->stats() : proto::connection_stats{};
    (void)st;
    BOOST_TEST(*first > 200'000u);
    BOOST_TEST_MESSAGE("DATA packets A->B: " << *first);
}

// Pitfall 2: connection ids at the edge of the 16-bit space, both roles.
BOOST_AUTO_TEST_CASE(connection_ids_ffff_and_0000) {
    for (std::uint16_t id : {std::uint16_t{0xffff}, std::uint16_t{0xfffe}, std::uint16_t{0}}) {
        duo d(12 + id, path(10ms));
        d.app_a.to_send = 50'000;
        d.app_b.to_send = 30'000;
        recorder syn;
        d.net.add_filter(syn.filter(sim::match{.type = packet_type::syn}));
        d.connect(id);
        d.run_clean(60s);
        BOOST_REQUIRE(!syn.seen->empty());
        BOOST_TEST(syn.seen->front().connection_id == id);
    }
}

// Pitfall 2: a RESET must find its connection whichever id (ours, ±1) it carries.
BOOST_AUTO_TEST_CASE(reset_matches_on_id_and_neighbours) {
    for (std::uint16_t id : {std::uint16_t{0xffff}, std::uint16_t{0}}) {
        for (bool initiator_aborts : {true, false}) {
            duo d(13, path(5ms));
            d.app_a.to_send = 1'000'000;
            d.app_a.shutdown_after_send = false;
            d.app_b.shutdown_after_send = false; // no FIN: the RESET must end it
            d.connect(id);
            BOOST_REQUIRE(d.net.run_until([&] { return d.app_b.received > 100'000; }, 30s));
            sim::node& killer = initiator_aborts ? d.a : d.b;
            stream_app& victim = initiator_aborts ? d.app_b : d.app_a;
            killer.abort(initiator_aborts ? d.app_a.h : d.app_b.h);
            (initiator_aborts ? d.app_a : d.app_b).released = true;
            auto resets = std::make_shared<std::uint64_t>(0);
            d.net.add_filter(sim::count_into(sim::match{.type = packet_type::reset}, resets));
            const auto r = d.net.run_until(
                [&] { return victim.conn() && victim.conn()->state() == conn_state::failed; }, 5s);
            BOOST_REQUIRE_MESSAGE(
                bool(r), "id " << id << " initiator_aborts " << initiator_aborts << " resets "
                               << *resets << " victim "
                               << (victim.conn() ? to_string(victim.conn()->state()) : "gone"));
            BOOST_TEST(victim.conn()->error() == conn_error::reset);
        }
    }
}

// Pitfall 2, third form: the RESET a libutp peer sends for an unknown connection carries
// the id our packet carried (our send id). Simulated by forgetting B's side.
BOOST_AUTO_TEST_CASE(reset_from_a_peer_that_forgot_us) {
    duo d(14, path(5ms));
    d.app_a.to_send = 2'000'000;
    d.app_a.shutdown_after_send = false;
    d.app_b.shutdown_after_send = false;
    d.connect(0xffff);
    BOOST_REQUIRE(d.net.run_until([&] { return d.app_b.received > 100'000; }, 30s));
    // B's endpoint loses the connection silently (a crash and restart on the same port).
    d.app_b.released = true;
    d.net.add_filter(sim::drop_all(sim::match{.type = packet_type::reset, .from = &d.a}));
    d.b.endpoint().abort(d.app_b.h, d.net.now());
    BOOST_REQUIRE(d.net.run_until(
        [&] { return d.app_a.conn() && d.app_a.conn()->state() == conn_state::failed; }, 10s));
    BOOST_TEST(d.app_a.conn()->error() == conn_error::reset);
}

// Pitfall 3: the 32-bit µs clock wraps mid-transfer; LEDBAT must not see a huge delay.
BOOST_AUTO_TEST_CASE(clock_wrap_mid_transfer) {
    const sim::instant start{std::chrono::microseconds((1ll << 32) - 3'000'000)};
    duo d(15, path(25ms), {}, start);
    d.app_a.to_send = 8 << 20;
    d.connect();
    BOOST_REQUIRE(d.net.run_until([&] { return d.app_b.received == d.app_a.to_send; }, 120s));
    const sim::duration data_time = d.net.elapsed();
    d.run_clean(120s);
    BOOST_TEST((d.net.now() > sim::instant{std::chrono::microseconds(1ll << 32)}));
    BOOST_TEST(d.app_a.sent == d.app_a.to_send);
    const auto& ls = d.net.stats(d.a, d.b);
    // 8 MiB at 10 Mbit/s is ~7 s: a window collapse at the wrap would add seconds.
    BOOST_TEST(data_time < 12s);
    BOOST_TEST(ls.dropped_queue == 0u);
}

// Pitfall 3: hostile timestamp_difference values from the peer.
BOOST_AUTO_TEST_CASE(hostile_timestamp_difference) {
    duo d(16, path(20ms));
    d.app_a.to_send = 2 << 20;
    d.app_b.to_send = 1 << 20;
    auto n = std::make_shared<std::uint32_t>(0);
    d.net.add_filter([n](sim::datagram_view& v) {
        static constexpr std::uint32_t evil[] = {0xffffffffu, 0x80000000u, 0x7fffffffu,
                                                 1u,          0x12345678u, 0xfffffff0u};
        if (v.bytes.size() >= 12 && (v.bytes[0] & 0x0f) == 1) {
            const std::uint32_t x = evil[(*n)++ % std::size(evil)];
            v.bytes[8] = std::uint8_t(x >> 24);
            v.bytes[9] = std::uint8_t(x >> 16);
            v.bytes[10] = std::uint8_t(x >> 8);
            v.bytes[11] = std::uint8_t(x);
        }
        return sim::filter_action::pass;
    });
    d.connect();
    d.run_clean(300s);
}

// Pitfall 4 + 5: the SYN-ACK is lost while the acceptor writes first. Its DATA is an
// implicit SYN-ACK; no byte lost or doubled.
BOOST_AUTO_TEST_CASE(lost_syn_ack_while_acceptor_writes_first) {
    duo d(17, path(15ms));
    d.app_a.to_send = 0;
    d.app_b.to_send = 300'000;
    d.net.add_filter(sim::drop_first(sim::match{.type = packet_type::state, .from = &d.b}));
    d.connect();
    d.run_clean(60s);
    BOOST_TEST(d.app_a.received == 300'000u);
}

// Pitfall 4: SYN-ACK and the acceptor's first DATA both lost: the SYN is retransmitted,
// the duplicate SYN gets the identical SYN-ACK and the same connection.
BOOST_AUTO_TEST_CASE(duplicate_syn_gets_identical_syn_ack) {
    duo d(18, path(15ms));
    d.app_a.to_send = 10'000;
    d.app_b.to_send = 200'000;
    recorder acks; // first in line: sees every STATE B sends, dropped or not
    d.net.add_filter(acks.filter(sim::match{.type = packet_type::state, .from = &d.b}));
    d.net.add_filter(sim::drop_first(sim::match{.type = packet_type::state, .from = &d.b}));
    d.net.add_filter(sim::drop_first(sim::match{.type = packet_type::data, .from = &d.b}));
    auto syns = std::make_shared<std::uint64_t>(0);
    d.net.add_filter(sim::count_into(sim::match{.type = packet_type::syn}, syns));
    d.connect();
    d.run_clean(60s);
    BOOST_TEST(*syns >= 2u);
    BOOST_TEST(d.b.endpoint().stats().connections_accepted == 1u);
    BOOST_REQUIRE(acks.seen->size() >= 2u);
    // Until A speaks, B sends only its SYN-ACK and one DATA: the next STATE is the repeat.
    BOOST_TEST(acks.seen->at(0).seq_nr == acks.seen->at(1).seq_nr);
    BOOST_TEST(acks.seen->at(0).ack_nr == acks.seen->at(1).ack_nr);
    BOOST_TEST(d.app_a.received == 200'000u);
}

// Pitfall 5: a SYN and nothing after it (a half-open connection) is reclaimed.
BOOST_AUTO_TEST_CASE(half_open_connection_is_reclaimed) {
    duo d(19, path(5ms));
    // Every packet from A after its SYN is lost: B only ever sees the SYN.
    d.net.add_filter([&](sim::datagram_view& v) {
        const auto h = v.header();
        return (&v.from == &d.a && h && h->type != packet_type::syn) ? sim::filter_action::drop
                                                                     : sim::filter_action::pass;
    });
    d.app_a.to_send = 0;
    d.app_a.shutdown_after_send = false;
    d.b.set_handler(nullptr); // nobody accepts: the entry stays in the backlog
    d.connect();
    BOOST_REQUIRE(d.net.run_until([&] { return d.b.connection_count() == 1; }, 1s));
    const auto s = proto::settings{};
    d.net.run_for(s.syn_received_timeout + 2s);
    BOOST_TEST(d.b.connection_count() == 0u);
}

// Pitfall 6: the FIN overtakes the last DATA (which was lost once); eof only after it.
BOOST_AUTO_TEST_CASE(fin_overtakes_last_data) {
    duo d(20, path(10ms));
    const std::uint64_t payload = 1380;
    d.app_a.to_send = 3 * payload; // three full packets, then the FIN
    auto syn_seq = std::make_shared<std::optional<std::uint16_t>>();
    d.net.add_filter([syn_seq](sim::datagram_view& v) {
        if (auto h = v.header(); h && h->type == packet_type::syn) *syn_seq = h->seq_nr;
        return sim::filter_action::pass;
    });
    auto dropped = std::make_shared<bool>(false);
    d.net.add_filter([&, syn_seq, dropped](sim::datagram_view& v) {
        const auto h = v.header();
        if (!*dropped && h && h->type == packet_type::data && &v.from == &d.a && *syn_seq &&
            h->seq_nr == proto::seq_add(**syn_seq, 3)) {
            *dropped = true;
            return sim::filter_action::drop;
        }
        return sim::filter_action::pass;
    });
    auto fin_before_data = std::make_shared<bool>(false);
    d.connect();
    // Check that B's eof never shows before all bytes are in.
    d.b.set_handler([&](sim::node&) {
        if (!d.app_b.have)
            if (auto h = d.b.accept()) {
                d.app_b.h = *h;
                d.app_b.have = true;
            }
        if (auto* c = d.app_b.conn();
            c && c->peer_finished() && c->readable() + d.app_b.received < 3 * payload)
            *fin_before_data = true;
        d.app_b.service();
    });
    d.run_clean(30s);
    BOOST_TEST(*dropped);
    BOOST_TEST(!*fin_before_data);
    BOOST_TEST(d.app_b.received == 3 * payload);
}

// Pitfall 6: the ACK of a FIN is lost, in each direction; both sides still close cleanly.
BOOST_AUTO_TEST_CASE(lost_ack_of_fin) {
    for (int direction = 0; direction < 2; ++direction) {
        duo d(21 + direction, path(10ms));
        d.app_a.to_send = 20'000;
        d.app_b.to_send = 20'000;
        sim::node& fin_sender = direction == 0 ? d.a : d.b;
        sim::node& acker = direction == 0 ? d.b : d.a;
        auto fin_seq = std::make_shared<std::optional<std::uint16_t>>();
        auto dropped = std::make_shared<int>(0);
        d.net.add_filter([&, fin_seq, dropped](sim::datagram_view& v) {
            const auto h = v.header();
            if (!h) return sim::filter_action::pass;
            if (&v.from == &fin_sender && h->type == packet_type::fin) *fin_seq = h->seq_nr;
            if (&v.from == &acker && *fin_seq && h->type == packet_type::state &&
                h->ack_nr == **fin_seq && *dropped < 2) {
                ++*dropped;
                return sim::filter_action::drop;
            }
            return sim::filter_action::pass;
        });
        d.connect();
        d.run_clean(60s);
        BOOST_TEST(*dropped == 2);
    }
}

// Pitfall 6: close right after a write, with a full send buffer: the FIN still follows
// the data, every byte arrives.
BOOST_AUTO_TEST_CASE(close_right_after_filling_the_send_buffer) {
    proto::settings s;
    s.send_buffer_size = 64 * 1024;
    duo d(23, path(20ms, 5'000'000), s);
    d.connect();
    // Fill the buffer completely, then shut down and release at once.
    std::vector<std::uint8_t> chunk(s.send_buffer_size + 1000);
    sim::byte_stream(1).fill(0, chunk);
    const std::size_t w = d.a.write(d.app_a.h, chunk);
    BOOST_TEST(w == s.send_buffer_size);
    BOOST_TEST(d.a.get(d.app_a.h)->writable() == 0u);
    d.a.release(d.app_a.h);
    d.app_a.released = true;
    d.app_a.to_send = w;
    d.app_a.sent = w;
    d.app_a.eof = true;
    d.app_a.received = d.app_b.to_send;
    const auto r = d.net.run_until([&] { return d.app_b.eof && d.both_gone(); }, 60s);
    BOOST_TEST(bool(r), r);
    BOOST_TEST(d.app_b.received == w);
    BOOST_TEST(!d.app_b.corrupt);
}

// Pitfall 7: one dropped packet costs exactly one retransmit and one window cut.
BOOST_AUTO_TEST_CASE(one_drop_one_retransmit_one_cut) {
    duo d(24, path(20ms, 20'000'000));
    d.app_a.to_send = 2 << 20;
    auto n = std::make_shared<int>(0);
    d.net.add_filter([&, n](sim::datagram_view& v) {
        const auto h = v.header();
        if (h && h->type == packet_type::data && &v.from == &d.a && v.payload_size() > 0 &&
            ++*n == 400)
            return sim::filter_action::drop;
        return sim::filter_action::pass;
    });
    d.connect();
    proto::connection_stats st;
    d.a.set_handler([&](sim::node&) {
        if (auto* c = d.app_a.conn()) st = c->stats();
        d.app_a.service();
    });
    d.run_clean(60s);
    BOOST_TEST(st.retransmits == 1u);
    BOOST_TEST(st.fast_retransmits == 1u);
    BOOST_TEST(st.timeouts == 0u);
    BOOST_TEST(st.window_cuts == 1u);
}

// Pitfall 8: the selective ACKs we build are whole words and fit the packet.
BOOST_AUTO_TEST_CASE(our_sacks_are_bounded_and_word_sized) {
    duo d(25, sim::link_config{.delay = 20ms,
                               .rate_bps = 20'000'000,
                               .queue_bytes = 300'000,
                               .loss = 0.05,
                               .reorder = 0.05});
    d.app_a.to_send = 2 << 20;
    auto bad = std::make_shared<int>(0);
    auto sacks = std::make_shared<int>(0);
    d.net.add_filter([bad, sacks](sim::datagram_view& v) {
        proto::packet p;
        if (proto::decode(v.bytes, p) != proto::decode_error::ok) return sim::filter_action::pass;
        if (!p.selective_ack.empty()) {
            ++*sacks;
            if (p.selective_ack.size() % 4 != 0 || p.selective_ack.size() > 128) ++*bad;
        }
        if (v.bytes.size() > proto::settings{}.packet_size) ++*bad;
        return sim::filter_action::pass;
    });
    d.connect();
    d.run_clean(120s);
    BOOST_TEST(*sacks > 0);
    BOOST_TEST(*bad == 0);
}

// Pitfall 9: a reader paused until the window is zero, then resumed: the sender probes
// with backoff meanwhile (without giving up), and traffic resumes within about an RTT.
BOOST_AUTO_TEST_CASE(paused_reader_zero_window_then_resume) {
    proto::settings s;
    s.recv_buffer_size = 200 * 1024;
    duo d(26, path(25ms, 20'000'000), s);
    d.app_a.to_send = 2 << 20;
    d.app_b.reading = false;
    d.connect();
    BOOST_REQUIRE(d.net.run_until(
        [&] {
            auto* c = d.app_b.conn();
            return c && c->readable() >= s.recv_buffer_size - 1400;
        },
        30s));
    // Stay paused for a long time: 60 s of zero window.
    const auto probes_before = d.app_a.conn()->stats().zero_window_probes;
    d.net.run_for(60s);
    const auto st = d.app_a.conn()->stats();
    BOOST_TEST(d.app_a.conn()->state() == conn_state::connected);
    BOOST_TEST(st.peer_window < 1400u);
    const auto probes = st.zero_window_probes + st.retransmits - probes_before;
    BOOST_TEST(probes >= 1u);
    BOOST_TEST(probes <= 12u, "probing backs off: " << probes << " in 60 s");
    // Resume: read everything, then measure how soon new data arrives.
    const std::uint64_t before = d.app_b.received + d.app_b.conn()->readable();
    const sim::instant resume = d.net.now();
    d.app_b.reading = true;
    d.app_b.service();
    d.net.flush_dirty();
    BOOST_REQUIRE(d.net.run_until(
        [&] {
            auto* c = d.app_b.conn();
            return c && d.app_b.received + c->readable() > before;
        },
        10s));
    const auto gap = d.net.now() - resume;
    BOOST_TEST_MESSAGE("traffic resumed " << gap.count() << " us after the reader");
    BOOST_TEST(gap <= 75ms, "resumed after " << gap.count() << " us; RTT is 50 ms");
    d.run_clean(120s);
}

// Pitfall 10: junk and DHT datagrams on the port, mixed into a transfer.
BOOST_AUTO_TEST_CASE(junk_mixed_in) {
    duo d(27, path(10ms, 20'000'000));
    d.app_a.to_send = 2 << 20;
    d.app_b.to_send = 512 << 10;
    std::uint64_t not_utp = 0;
    d.b.set_not_utp_handler([&](sim::node&, const proto::peer_address&, auto) { ++not_utp; });
    d.connect();
    sim::rng r(99);
    const proto::peer_address stranger = proto::peer_address::v4(10, 0, 0, 77, 1234);
    std::uint64_t injected_dht = 0;
    for (int i = 0; i < 3000; ++i) {
        std::vector<std::uint8_t> junk;
        switch (i % 4) {
        case 0: { // DHT query
            const char* q = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
            junk.assign(q, q + std::strlen(q));
            ++injected_dht;
            break;
        }
        case 1: // random bytes
            junk.resize(r.next() % 200);
            for (auto& x : junk)
                x = static_cast<std::uint8_t>(r.next());
            break;
        case 2: { // a plausible DATA/FIN/STATE with a random id, from A's own address
            junk.resize(20 + r.next() % 100);
            for (auto& x : junk)
                x = static_cast<std::uint8_t>(r.next());
            junk[0] = static_cast<std::uint8_t>((r.next() % 3) << 4 | 1);
            junk[1] = 0;
            break;
        }
        default: // truncated extension chain
            junk.assign(22, 0);
            junk[0] = 0x21;
            junk[1] = 1;
            junk[20] = 0;
            junk[21] = 200;
            break;
        }
        d.net.inject(d.b, i % 8 == 2 ? d.a.address() : stranger, junk,
                     std::chrono::milliseconds(i) + (i % 8 == 2 ? 100ms : 0ms));
    }
    d.run_clean(120s);
    // The transfer may end before the last junk is due: hand it all over, so the counts
    // below do not depend on how fast the transfer was.
    d.net.run_for(4s);
    const auto& es = d.b.endpoint().stats();
    BOOST_TEST(not_utp >= injected_dht);
    BOOST_TEST(es.drops(proto::drop_reason::malformed) >= 700u);
    // No RESET storm: the rate limit holds over the ~3 s of junk.
    BOOST_TEST(es.resets_sent <= 100u * 5);
    BOOST_TEST_MESSAGE("B: not_utp="
                       << es.not_utp << " malformed=" << es.drops(proto::drop_reason::malformed)
                       << " unknown=" << es.drops(proto::drop_reason::unknown_connection)
                       << " resets_sent=" << es.resets_sent
                       << " suppressed=" << es.resets_suppressed);
}

// Connecting to a node that does not listen is refused (RESET while connecting).
BOOST_AUTO_TEST_CASE(connect_to_non_listener_is_refused) {
    duo d(28, path(5ms));
    d.b.listen(false);
    d.connect();
    BOOST_REQUIRE(d.net.run_until(
        [&] { return d.app_a.conn() && d.app_a.conn()->state() == conn_state::failed; }, 5s));
    BOOST_TEST(d.app_a.conn()->error() == conn_error::refused);
    BOOST_TEST(d.net.elapsed() < 100ms);
}

// The SYN is retransmitted with backoff; an unreachable peer times the connect out.
BOOST_AUTO_TEST_CASE(syn_retransmitted_with_backoff_then_timed_out) {
    duo d(29, path(5ms));
    recorder syns;
    d.net.add_filter(syns.filter(sim::match{.type = packet_type::syn}));
    d.net.add_filter(sim::drop_all(sim::match{.type = packet_type::syn}));
    d.connect();
    BOOST_REQUIRE(d.net.run_until(
        [&] { return d.app_a.conn() && d.app_a.conn()->state() == conn_state::failed; }, 120s));
    BOOST_TEST(d.app_a.conn()->error() == conn_error::timed_out);
    const proto::settings s;
    BOOST_TEST(syns.seen->size() == s.max_syn_retries + 1u);
    BOOST_TEST_MESSAGE("connect gave up after " << d.net.elapsed().count() / 1000 << " ms");
    BOOST_TEST(d.net.elapsed() < 60s);
    BOOST_TEST(d.net.elapsed() > 10s);
}

// Keepalive holds an idle connection open for a long time; a dead peer is noticed by the
// idle timeout.
BOOST_AUTO_TEST_CASE(keepalive_then_idle_timeout) {
    duo d(30, path(20ms));
    d.app_a.shutdown_after_send = false;
    d.app_b.shutdown_after_send = false;
    d.app_a.to_send = 1000;
    d.connect();
    BOOST_REQUIRE(d.net.run_until([&] { return d.app_b.received == 1000; }, 5s));
    auto keepalives = std::make_shared<std::uint64_t>(0);
    d.net.add_filter(sim::count_into(sim::match{.type = packet_type::state}, keepalives));
    d.net.run_for(10min);
    BOOST_TEST(d.app_a.conn()->state() == conn_state::connected);
    BOOST_TEST(d.app_b.conn()->state() == conn_state::connected);
    BOOST_TEST(*keepalives >= 2u * (600 / 29) - 2);
    BOOST_TEST(*keepalives <= 2u * (600 / 29) + 6);
    // The path dies.
    d.net.add_filter([](sim::datagram_view&) { return sim::filter_action::drop; });
    const sim::instant died = d.net.now();
    BOOST_REQUIRE(d.net.run_until(
        [&] {
            return d.app_a.conn()->state() == conn_state::failed &&
                   d.app_b.conn()->state() == conn_state::failed;
        },
        10min));
    BOOST_TEST(d.app_a.conn()->error() == conn_error::timed_out);
    BOOST_TEST(d.app_b.conn()->error() == conn_error::timed_out);
    BOOST_TEST(d.net.now() - died <= proto::settings{}.idle_timeout + 1s);
}

// Nagle: small writes coalesce while an undersized packet is in flight; no_delay sends
// each at once.
BOOST_AUTO_TEST_CASE(nagle_coalesces_small_writes) {
    for (bool no_delay : {false, true}) {
        proto::settings s;
        s.no_delay = no_delay;
        duo d(31, path(25ms), s);
        d.app_a.shutdown_after_send = false;
        d.connect();
        BOOST_REQUIRE(
            d.net.run_until([&] { return d.app_a.conn()->state() == conn_state::connected; }, 5s));
        auto data = std::make_shared<std::uint64_t>(0);
        d.net.add_filter(sim::count_into(
            sim::match{.type = packet_type::data, .from = &d.a, .with_payload = true}, data));
        // 100 writes of 10 bytes, one a millisecond.
        for (int i = 0; i < 100; ++i) {
            d.net.schedule(std::chrono::milliseconds(i), [&] {
                std::vector<std::uint8_t> b(10);
                d.app_a.out.fill(d.app_a.sent, b);
                d.app_a.sent += d.a.write(d.app_a.h, b);
                d.app_a.to_send = d.app_a.sent;
            });
        }
        BOOST_REQUIRE_MESSAGE(d.net.run_until([&] { return d.app_b.received == 1000; }, 5s),
                              "no_delay=" << no_delay << " received " << d.app_b.received
                                          << " sent " << d.app_a.sent << " packets " << *data);
        BOOST_TEST(!d.app_b.corrupt);
        BOOST_TEST_MESSAGE("no_delay=" << no_delay << ": " << *data << " DATA packets");
        if (no_delay)
            BOOST_TEST(*data == 100u);
        else
            BOOST_TEST(*data <= 6u);
    }
}

// Delayed ACK: a lone packet is acknowledged within the ACK delay; a burst is acked
// about every second packet, not each.
BOOST_AUTO_TEST_CASE(delayed_ack_is_bounded_and_coalesces) {
    duo d(32, path(10ms));
    d.app_a.shutdown_after_send = false;
    d.app_b.shutdown_after_send = false;
    d.connect();
    BOOST_REQUIRE(
        d.net.run_until([&] { return d.app_a.conn()->state() == conn_state::connected; }, 5s));
    d.net.run_for(1s);
    recorder acks;
    d.net.add_filter(acks.filter(sim::match{.type = packet_type::state, .from = &d.b}));
    std::optional<sim::instant> data_at, ack_at;
    d.net.add_filter([&](sim::datagram_view& v) {
        if (auto h = v.header()) {
            if (&v.from == &d.a && h->type == packet_type::data && !data_at) data_at = v.now;
            if (&v.from == &d.b && h->type == packet_type::state && !ack_at) ack_at = v.now;
        }
        return sim::filter_action::pass;
    });
    std::vector<std::uint8_t> one(100);
    d.app_a.out.fill(0, one);
    d.app_a.sent = d.a.write(d.app_a.h, one);
    d.app_a.to_send = d.app_a.sent;
    BOOST_REQUIRE(d.net.run_until([&] { return ack_at.has_value(); }, 2s));
    const auto held = *ack_at - (*data_at + 10ms);
    BOOST_TEST(held <= proto::settings{}.ack_delay + 1ms);
    BOOST_TEST(held >= proto::settings{}.ack_delay - 1ms);
    // A burst of 100 full packets: roughly one ACK per two.
    acks.seen->clear();
    d.app_a.to_send += 100 * 1380;
    d.app_a.service();
    BOOST_REQUIRE(d.net.run_until([&] { return d.app_b.received == d.app_a.to_send; }, 10s));
    d.net.run_for(100ms);
    BOOST_TEST_MESSAGE(acks.seen->size() << " ACKs for 100 packets");
    BOOST_TEST(acks.seen->size() <= 60u);
    BOOST_TEST(acks.seen->size() >= 40u);
}

// A connect burst beyond the backlog: the connections that do not fit wait, proved,
// among the half-open ones (counted as backlog_full, never reset) and are accepted as
// room frees, as a full accept queue holds TCP connections in SYN-RECEIVED.
BOOST_AUTO_TEST_CASE(connect_burst_beyond_backlog_waits_and_is_counted) {
    proto::endpoint_settings es;
    es.listening = true;
    es.accept_backlog = 8;
    sim::network net(33);
    auto& a = net.add_node(sim::address(1));
    auto& b = net.add_node(sim::address(2), es);
    net.link(a, b, path(5ms));
    for (int i = 0; i < 50; ++i)
        a.connect(b);
    net.run_for(200ms);
    BOOST_TEST(b.endpoint().backlog_size() == 8u);
    BOOST_TEST(b.endpoint().stats().drops(proto::drop_reason::backlog_full) == 42u);
    BOOST_TEST(b.endpoint().stats().resets_sent == 0u);
    std::size_t accepted = 0;
    while (b.accept())
        ++accepted;
    BOOST_TEST(accepted == 50u);
}

BOOST_AUTO_TEST_SUITE_END()
