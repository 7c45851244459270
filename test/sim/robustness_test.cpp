// Transfers under damage the core cannot verify or must reject: hostile header fields,
// random bit flips (µTP has no checksum: the stream may be corrupted, but nothing may
// crash, hang or leak), and junk datagrams from a third party sharing the port.
#include "sim.hpp"

#include <boost/test/unit_test.hpp>

#include <iostream>
#include <memory>

using namespace utp;
using namespace std::chrono_literals;
namespace utf = boost::unit_test;

BOOST_AUTO_TEST_SUITE(robustness)

// Garbage timestamps, timestamp differences and windows on 2 % of the datagrams both
// ways: the stream must still arrive intact and both sides close cleanly.
BOOST_AUTO_TEST_CASE(hostile_header_fields, *utf::timeout(120)) {
    for (std::uint64_t seed = 1; seed <= 8; ++seed) {
        sim::network net(seed);
        auto& a = net.add_node(sim::address(1));
        auto& b = net.add_node(sim::address(2));
        net.link(a, b,
                 sim::link_config{.delay = 15ms,
                                  .rate_bps = 20'000'000,
                                  .queue_bytes = 100'000,
                                  .loss = 0.005,
                                  .corrupt = 0.02,
                                  .corrupt_mode = sim::corruption::hostile_fields});
        const auto r = sim::run_transfer(net, a, b,
                                         sim::transfer_options{.bytes = 2u << 20,
                                                               .reverse_bytes = 1u << 20,
                                                               .stream_seed = seed,
                                                               .time_limit = 600s});
        BOOST_TEST_MESSAGE("seed " << seed << ": " << r.summary());
        BOOST_TEST(r.ok, "seed " << seed << ": " << r.summary());
    }
}

// Random bit flips on 1 % of the datagrams both ways. Without a checksum a flipped
// payload or sequence number corrupts the stream (wrong bytes are counted, not fatal), a
// flipped id or type may reset the connection, so the transfer's verdict is only
// reported; what must hold is that the run ends (no livelock), and that afterwards both
// endpoints forget every connection (closed, failed or timed out; nothing leaks).
BOOST_AUTO_TEST_CASE(random_bit_flips_never_hang_or_leak, *utf::timeout(120)) {
    unsigned ok = 0;
    std::uint64_t wrong = 0;
    for (std::uint64_t seed = 1; seed <= 16; ++seed) {
        sim::network net(seed);
        auto& a = net.add_node(sim::address(1));
        auto& b = net.add_node(sim::address(2));
        net.link(a, b,
                 sim::link_config{.delay = 10ms,
                                  .rate_bps = 20'000'000,
                                  .queue_bytes = 60'000,
                                  .corrupt = 0.01,
                                  .corrupt_mode = sim::corruption::random_bits});
        const auto r = sim::run_transfer(net, a, b,
                                         sim::transfer_options{.bytes = 1u << 20,
                                                               .reverse_bytes = 256u << 10,
                                                               .stream_seed = seed,
                                                               .time_limit = 300s,
                                                               .event_limit = 5'000'000,
                                                               .stop_on_wrong_byte = false});
        ok += r.ok;
        wrong += r.a.wrong_bytes + r.b.wrong_bytes;
        BOOST_TEST_MESSAGE("seed " << seed << ": " << r.summary());
        BOOST_TEST((r.stop != sim::run_reason::event_limit),
                   "seed " << seed << ": " << r.summary());
        // Whatever happened, everything is forgotten within the idle and linger timeouts.
        const auto gone =
            net.run_until([&] { return a.connection_count() == 0 && b.connection_count() == 0; },
                          600s, 5'000'000);
        BOOST_TEST(static_cast<bool>(gone), "seed " << seed << ": connections left ("
                                                    << a.connection_count() << ", "
                                                    << b.connection_count() << "): " << gone);
    }
    BOOST_TEST_MESSAGE(ok << " of 16 transfers survived random bit flips intact; " << wrong
                          << " wrong bytes read in all");
}

// A third party sprays the port of both ends with DHT-looking messages and random µTP-
// looking datagrams (unknown connection ids) during a transfer. The transfer is not
// disturbed; the junk is handed back as not µTP or dropped; RESETs to the stranger stay
// within the endpoint's rate limit.
BOOST_AUTO_TEST_CASE(junk_from_a_third_party, *utf::timeout(120)) {
    sim::network net(9);
    auto& a = net.add_node(sim::address(1));
    auto& b = net.add_node(sim::address(2));
    auto& junk = net.add_node(sim::address(3));
    net.set_default_link(
        sim::link_config{.delay = 10ms, .rate_bps = 20'000'000, .queue_bytes = 100'000});
    auto resets_to_junk = std::make_shared<std::uint64_t>(0);
    net.add_filter(sim::count_into(sim::match{.type = proto::packet_type::reset, .to = &junk},
                                   resets_to_junk));

    sim::rng r(99);
    std::uint64_t sprayed = 0;
    auto alive = std::make_shared<bool>(true);
    std::function<void()> spray = [&] {
        if (!*alive) return;
        for (auto* target : {&a, &b}) {
            std::vector<std::uint8_t> d;
            if (r.chance(0.5)) {
                const std::string dht = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
                d.assign(dht.begin(), dht.end());
            } else {
                d.resize(r.between(20, 200));
                for (auto& x : d)
                    x = static_cast<std::uint8_t>(r.next());
                d[0] = static_cast<std::uint8_t>((r.below(5) << 4) | 1); // µTP type, version 1
            }
            junk.send_raw(target->address(), d);
            ++sprayed;
        }
        net.schedule(5ms, spray);
    };
    net.schedule(1ms, spray);
    const auto res = sim::run_transfer(
        net, a, b,
        sim::transfer_options{.bytes = 4u << 20, .reverse_bytes = 1u << 20, .time_limit = 120s});
    *alive = false;
    BOOST_TEST(res.ok, res.summary());
    const double seconds = std::chrono::duration<double>(res.elapsed).count();
    const auto& sa = a.endpoint().stats();
    const auto& sb = b.endpoint().stats();
    BOOST_TEST_MESSAGE("sprayed " << sprayed << " junk datagrams over " << seconds << " s; not_utp "
                                  << sa.not_utp + sb.not_utp << "; RESETs to "
                                  << "the stranger " << *resets_to_junk << ", suppressed "
                                  << sa.resets_suppressed + sb.resets_suppressed);
    BOOST_TEST(sa.not_utp + sb.not_utp > 0u);
    const double limit =
        2.0 * (static_cast<double>(a.endpoint().settings().resets_per_second) * (seconds + 1.0));
    BOOST_TEST(static_cast<double>(*resets_to_junk) <= limit);
}

BOOST_AUTO_TEST_SUITE_END()
