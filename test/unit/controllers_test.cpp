// The other congestion controllers: NewReno (RFC 5681, RFC 6582) and LEDBAT++
// (draft-irtf-iccrg-ledbat-plus-plus-06): their growth, their reactions, LEDBAT++'s gain
// and periodic slowdown, and the factory that picks one per connection.
#include <utp/proto/congestion.hpp>
#include <utp/proto/settings.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>

namespace proto = utp::proto;
using namespace std::chrono_literals;

namespace {

constexpr std::uint32_t mss = 1000;

proto::ack_sample ack(std::uint32_t n, std::optional<proto::duration> qd,
                      proto::duration srtt = 20ms, proto::duration min_rtt = 20ms) {
    return proto::ack_sample{
        .acked = n, .queuing_delay = qd, .app_limited = false, .srtt = srtt, .min_rtt = min_rtt};
}

/// One window's worth of ACKs, an MSS each, at `now`.
void ack_window(proto::congestion_controller& cc, std::optional<proto::duration> qd,
                proto::instant now, proto::duration min_rtt = 20ms) {
    const std::uint32_t total = cc.window();
    for (std::uint32_t acked = 0; acked < total; acked += mss)
        cc.on_ack(ack(mss, qd, 20ms, min_rtt), now);
}

} // namespace

BOOST_AUTO_TEST_SUITE(controllers)

BOOST_AUTO_TEST_CASE(factory_picks_per_settings) {
    proto::settings s;
    BOOST_TEST(dynamic_cast<proto::ledbat*>(proto::make_congestion_controller(s, mss).get()));
    s.congestion = proto::congestion_algorithm::ledbat_plus_plus;
    BOOST_TEST(
        dynamic_cast<proto::ledbat_plus_plus*>(proto::make_congestion_controller(s, mss).get()));
    s.congestion = proto::congestion_algorithm::newreno;
    BOOST_TEST(dynamic_cast<proto::newreno*>(proto::make_congestion_controller(s, mss).get()));
}

BOOST_AUTO_TEST_CASE(newreno_ignores_delay_and_halves_on_loss) {
    proto::newreno cc(mss);
    const proto::instant t0{};
    BOOST_TEST(cc.window() == 4 * mss);
    ack_window(cc, 5s, t0); // a huge queue: slow start goes on regardless
    BOOST_TEST(cc.window() == 8 * mss);
    cc.on_loss(5s, t0);
    BOOST_TEST(cc.window() == 4 * mss);
    BOOST_TEST(!cc.in_slow_start());
    ack_window(cc, 5s, t0); // congestion avoidance: one packet per window
    BOOST_TEST(cc.window() >= 4 * mss + mss * 9 / 10);
    BOOST_TEST(cc.window() <= 5 * mss + 1);
    cc.on_timeout(t0);
    BOOST_TEST(cc.window() == mss);
    BOOST_TEST(cc.in_slow_start());
}

// GAIN = 1 / min(16, ⌈2·target / min RTT⌉): with the 100 ms target, a 20 ms path grows
// by a tenth of a packet per round trip below the target, a 200 ms path by a whole one,
// however far below the target the delay is.
BOOST_AUTO_TEST_CASE(ledbat_plus_plus_gain_follows_the_base_rtt) {
    struct expect {
        proto::duration min_rtt, delay;
        double packets;
    };
    for (const auto& e : {expect{20ms, 95ms, 0.1}, expect{200ms, 95ms, 1.0},
                          expect{20ms, 30ms, 0.1}, expect{200ms, 30ms, 1.0}}) {
        proto::ledbat_plus_plus cc(proto::settings{}, mss);
        const proto::instant t0{};
        while (cc.in_slow_start())
            cc.on_ack(ack(mss, 80ms, 20ms, e.min_rtt), t0); // above ¾ of the target: leaves
        const std::uint32_t before = cc.window();
        ack_window(cc, e.delay, t0, e.min_rtt); // below the target, before the slowdown is due
        const double grown = static_cast<double>(cc.window() - before) / mss;
        BOOST_TEST(grown >= e.packets * 0.8, e.min_rtt.count() << " " << e.delay.count());
        BOOST_TEST(grown <= e.packets * 1.3, e.min_rtt.count() << " " << e.delay.count());
    }
}

// Slow start slows down as the delay nears its exit (¾ of the target): doubling per
// round trip below half of that, a quarter of it just below the exit.
BOOST_AUTO_TEST_CASE(ledbat_plus_plus_slow_start_slows_near_its_exit) {
    proto::ledbat_plus_plus cc(proto::settings{}, mss);
    const proto::instant t0{};
    // The first slow start grows by GAIN per acked byte (§4.4): 0.1 with these figures.
    std::uint32_t before = cc.window();
    ack_window(cc, 10ms, t0);
    const double far = static_cast<double>(cc.window() - before) / before;
    before = cc.window();
    ack_window(cc, 74ms, t0);
    const double near = static_cast<double>(cc.window() - before) / before;
    BOOST_TEST(cc.in_slow_start());
    BOOST_TEST(far >= 0.09);
    BOOST_TEST(far <= 0.11);
    BOOST_TEST(near >= 0.25 * far * 0.9);
    BOOST_TEST(near <= 0.25 * far * 1.2);
}

// Above the target the window shrinks in proportion to itself and to the excess:
// 3·W·(delay/target − 1) per round trip (ledbat_plus_plus.cpp: decrease_constant), at
// most W/2.
BOOST_AUTO_TEST_CASE(ledbat_plus_plus_decrease_is_multiplicative) {
    proto::ledbat_plus_plus cc(proto::settings{}, mss);
    const proto::instant t0{};
    for (int i = 0; i < 200 && cc.in_slow_start(); ++i)
        cc.on_ack(ack(mss, 10ms), t0);
    cc.on_ack(ack(mss, 90ms), t0); // leave slow start
    const std::uint32_t w = cc.window();
    ack_window(cc, 110ms, t0); // 10 % above the target: about −30 %, compounded per ACK
    BOOST_TEST(cc.window() <= w * 0.78);
    BOOST_TEST(cc.window() >= w * 0.68);
    const std::uint32_t w2 = cc.window();
    ack_window(cc, 1s, t0); // far above: at most half per round trip
    BOOST_TEST(cc.window() >= w2 / 2 - mss);
}

// 2 round trips after slow start the window drops to 2 packets until the queue has
// drained (its delay plus 2 base round trips), then doubles back.
BOOST_AUTO_TEST_CASE(ledbat_plus_plus_slows_down_periodically) {
    proto::ledbat_plus_plus cc(proto::settings{}, mss);
    proto::instant now{};
    for (int i = 0; i < 400 && cc.in_slow_start(); ++i)
        cc.on_ack(ack(mss, 10ms), now);
    cc.on_ack(ack(mss, 80ms), now);
    BOOST_REQUIRE(!cc.in_slow_start());
    const std::uint32_t w = cc.window();
    now += 30ms; // before 2 srtt (40 ms): no slowdown yet
    cc.on_ack(ack(mss, 50ms), now);
    BOOST_TEST(cc.window() >= w);
    now += 20ms; // past it: freeze
    cc.on_ack(ack(mss, 50ms), now);
    BOOST_TEST(cc.window() == 2 * mss);
    now += 30ms; // the freeze lasts min(50 ms + 2·20 ms, 2 srtt) = 40 ms
    cc.on_ack(ack(mss, 1ms), now);
    BOOST_TEST(cc.window() == 2 * mss);
    now += 20ms;
    cc.on_ack(ack(mss, 1ms), now); // regrowth: doubling
    BOOST_TEST(cc.in_slow_start());
    ack_window(cc, 1ms, now);
    BOOST_TEST(cc.window() >= 5 * mss);
}

// An empty queue out of slow start restarts it: the link is taken back quickly. Not in
// the 2 round trips after a slow start ended, while the delay still tells of the window
// before.
BOOST_AUTO_TEST_CASE(ledbat_plus_plus_restarts_slow_start_on_an_empty_queue) {
    proto::ledbat_plus_plus cc(proto::settings{}, mss);
    proto::instant now{};
    while (cc.in_slow_start())
        cc.on_ack(ack(mss, 80ms), now); // leaves at 0, the first slowdown due at 40 ms
    now += 50ms;
    cc.on_ack(ack(mss, 50ms), now); // the freeze: 40 ms
    BOOST_TEST(cc.window() == 2 * mss);
    now += 50ms;
    cc.on_ack(ack(mss, 80ms), now); // the regrowth ends at once: above ¾ of the target
    BOOST_TEST(!cc.in_slow_start());
    now += 1ms;
    cc.on_ack(ack(mss, 10ms), now); // below ¼ of the target, but just after slow start
    BOOST_TEST(!cc.in_slow_start());
    now += 50ms;
    cc.on_ack(ack(mss, 10ms), now); // 2 round trips later: restart
    BOOST_TEST(cc.in_slow_start());
}

BOOST_AUTO_TEST_CASE(hostile_inputs_keep_the_windows_sane) {
    const auto huge = proto::duration{std::numeric_limits<proto::duration::rep>::max()};
    proto::ledbat_plus_plus lpp(proto::settings{}, mss);
    proto::newreno nr(mss);
    for (proto::congestion_controller* cc :
         std::initializer_list<proto::congestion_controller*>{&lpp, &nr}) {
        proto::instant now{};
        cc->on_ack(ack(std::numeric_limits<std::uint32_t>::max(), 0ms, huge, 0ms), now);
        BOOST_TEST(cc->window() <= 64u * 1024 * 1024);
        for (int i = 0; i < 100; ++i) {
            now += 10ms;
            cc->on_ack(ack(mss, huge, huge, huge), now);
        }
        BOOST_TEST(cc->window() >= mss);
        BOOST_TEST(cc->window() <= 64u * 1024 * 1024);
        cc->on_loss(huge, now);
        cc->on_timeout(now);
        BOOST_TEST(cc->window() >= mss);
    }
}

BOOST_AUTO_TEST_SUITE_END()
