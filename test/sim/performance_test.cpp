// Performance bounds on simulated paths: goodput on a clean and on a lossy 10 Mbit/s,
// 50 ms path, and LEDBAT's steady state behind a bottleneck with a one-second queue
// (the queueing delay it settles at, and the utilisation it keeps). Figures are printed
// (BOOST_TEST_MESSAGE and stdout) so CI logs show them.
#include "report.hpp"
#include "sim.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

using namespace utp;
using namespace std::chrono_literals;
namespace utf = boost::unit_test;

namespace {

using utp_sim_test::report;

constexpr std::uint64_t rate_10m = 10'000'000;

// 10 Mbit/s each way, 25 ms each way. The queue holds 200 ms: deeper than LEDBAT's
// 100 ms target, so the link never idles for want of queue.
sim::link_config path_10m(double loss) {
    return sim::link_config{
        .delay = 25ms, .rate_bps = rate_10m, .queue_bytes = rate_10m / 8 / 5, .loss = loss};
}

sim::transfer_result goodput_run(double loss, std::uint64_t seed) {
    sim::network net(seed);
    auto& a = net.add_node(sim::address(1));
    auto& b = net.add_node(sim::address(2));
    net.link(a, b, path_10m(loss));
    return sim::run_transfer(net, a, b,
                             sim::transfer_options{.bytes = 16u << 20, .time_limit = 300s});
}

std::string describe(const char* what, const sim::transfer_result& r) {
    char buf[400];
    std::snprintf(buf, sizeof buf,
                  "goodput %s: %.2f Mbit/s = %.1f %% of 10 Mbit/s (16 MiB in %.2f s; "
                  "%llu retransmits, %llu fast, %llu timeouts, %llu window cuts)",
                  what, r.goodput_bps / 1e6, r.goodput_bps / 1e5,
                  static_cast<double>(r.data_time.count()) / 1e6,
                  static_cast<unsigned long long>(r.retransmits()),
                  static_cast<unsigned long long>(r.fast_retransmits()),
                  static_cast<unsigned long long>(r.timeouts()),
                  static_cast<unsigned long long>(r.window_cuts()));
    return buf;
}

} // namespace

BOOST_AUTO_TEST_SUITE(goodput)

BOOST_AUTO_TEST_CASE(clean_10mbit_50ms, *utf::timeout(120)) {
    const auto r = goodput_run(0.0, 1);
    BOOST_TEST_REQUIRE(r.ok, r.summary());
    report(describe("clean path", r));
    BOOST_TEST(r.goodput_bps >= 0.85 * rate_10m);
}

BOOST_AUTO_TEST_CASE(one_percent_loss_10mbit_50ms, *utf::timeout(120)) {
    const auto r = goodput_run(0.01, 2);
    BOOST_TEST_REQUIRE(r.ok, r.summary());
    report(describe("1 % random loss", r));
    BOOST_TEST(r.goodput_bps >= 0.60 * rate_10m);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(ledbat)

// One LEDBAT flow through a 10 Mbit/s bottleneck whose queue holds a full second
// (1.25 MB), base RTT 50 ms. A loss-based sender would fill the queue; LEDBAT must hold
// it near its 100 ms target and still keep the link busy. Measured at the bottleneck
// between 20 s (past slow start) and 80 s.
BOOST_AUTO_TEST_CASE(steady_state_queueing_delay, *utf::timeout(120)) {
    constexpr auto warmup = 20s;
    constexpr auto measure_until = 80s;
    sim::network net(3);
    auto& a = net.add_node(sim::address(1));
    auto& b = net.add_node(sim::address(2));
    const sim::link_config bottleneck{
        .delay = 25ms, .rate_bps = rate_10m, .queue_bytes = rate_10m / 8};
    const sim::link_config back{.delay = 25ms, .rate_bps = rate_10m, .queue_bytes = rate_10m / 8};
    net.link(a, b, bottleneck, back);

    std::optional<sim::link_stats> at_warmup, at_end;
    std::optional<proto::connection_stats> sender_at_end;
    sim::transfer_options o;
    o.bytes = 110u << 20; // ~92 s at the link rate: the flow outlasts the window
    o.time_limit = 300s;
    o.progress_interval = 1s;
    o.on_progress = [&](const sim::transfer_progress& p) {
        if (!at_warmup && p.elapsed >= warmup) at_warmup = net.stats(a, b);
        if (!at_end && p.elapsed >= measure_until) {
            at_end = net.stats(a, b);
            sender_at_end = p.a_stats;
        }
    };
    const auto r = sim::run_transfer(net, a, b, o);
    BOOST_TEST_REQUIRE(r.ok, r.summary());
    BOOST_TEST_REQUIRE(at_warmup.has_value());
    BOOST_TEST_REQUIRE(at_end.has_value(),
                       "the flow ended before " << measure_until.count() << " s");

    const double samples = static_cast<double>(at_end->queue_samples - at_warmup->queue_samples);
    const double delay_ms =
        static_cast<double>(at_end->queue_delay_sum_us - at_warmup->queue_delay_sum_us) / samples /
        1000.0;
    const double seconds = std::chrono::duration<double>(measure_until - warmup).count();
    const double utilisation =
        static_cast<double>(at_end->bytes_delivered - at_warmup->bytes_delivered) * 8.0 / seconds /
        static_cast<double>(rate_10m);
    char buf[400];
    std::snprintf(
        buf, sizeof buf,
        "LEDBAT steady state (%g-%g s): bottleneck queueing delay %.1f ms "
        "(target 100 ms; max over the run %.1f ms), utilisation %.1f %%, goodput "
        "%.2f Mbit/s, tail drops %llu, sender cwnd %u B, sender's delay estimate "
        "%.1f ms",
        std::chrono::duration<double>(warmup).count(),
        std::chrono::duration<double>(measure_until).count(), delay_ms,
        static_cast<double>(at_end->max_queue_delay.count()) / 1000.0, utilisation * 100.0,
        r.goodput_bps / 1e6, static_cast<unsigned long long>(net.stats(a, b).dropped_queue),
        sender_at_end->cwnd, static_cast<double>(sender_at_end->queuing_delay.count()) / 1000.0);
    report(buf);
    BOOST_TEST(delay_ms >= 75.0);
    BOOST_TEST(delay_ms <= 125.0);
    BOOST_TEST(utilisation >= 0.90);
}

BOOST_AUTO_TEST_SUITE_END()
