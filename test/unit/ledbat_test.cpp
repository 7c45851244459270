// LEDBAT (RFC 6817 as deployed µTP runs it): slow start, delay-based growth and
// shrinking, loss and timeout reactions, the floor.
#include <utp/proto/congestion.hpp>
#include <utp/proto/settings.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>

namespace proto = utp::proto;
using namespace std::chrono_literals;
using delay = std::optional<proto::duration>;

namespace {

constexpr std::uint32_t mss = 1000;
const proto::instant t0{};

proto::settings defaults() {
    return proto::settings{};
} // target 100 ms, +3000 B/RTT

/// Acknowledge exactly one congestion window's worth of bytes, an MSS at a time.
void ack_window(proto::congestion_controller& cc, delay qd, bool app_limited = false) {
    const std::uint32_t total = cc.window();
    for (std::uint32_t acked = 0; acked < total;) {
        const std::uint32_t n = std::min(mss, total - acked);
        cc.on_ack({n, qd, app_limited}, t0);
        acked += n;
    }
}

/// A controller out of slow start with a window of about `w` bytes.
proto::ledbat steady(std::uint32_t w, const proto::settings& s = defaults()) {
    proto::ledbat cc(s, mss);
    while (cc.window() < w)
        cc.on_ack({mss, 0ms, false}, t0);
    cc.on_loss(std::nullopt, t0); // leaves slow start (×0.78)
    BOOST_REQUIRE(!cc.in_slow_start());
    return cc;
}

long long diff(std::uint32_t after, std::uint32_t before) {
    return static_cast<long long>(after) - static_cast<long long>(before);
}

} // namespace

BOOST_AUTO_TEST_SUITE(ledbat)

BOOST_AUTO_TEST_CASE(starts_in_slow_start_with_a_few_packets) {
    proto::ledbat cc(defaults(), mss);
    BOOST_TEST(cc.in_slow_start());
    BOOST_TEST(cc.window() >= 2 * mss);
    BOOST_TEST(cc.window() <= 10 * mss);
}

BOOST_AUTO_TEST_CASE(slow_start_grows_by_the_bytes_acked) {
    proto::ledbat cc(defaults(), mss);
    const auto w0 = cc.window();
    cc.on_ack({1000, 0ms, false}, t0);
    BOOST_TEST(cc.window() == w0 + 1000);
    cc.on_ack({300, std::nullopt, false}, t0); // no delay sample yet: still grows
    BOOST_TEST(cc.window() == w0 + 1300);
    cc.on_ack({700, 30ms, false}, t0); // below half the target
    BOOST_TEST(cc.window() == w0 + 2000);
    BOOST_TEST(cc.in_slow_start());
    // A whole window acknowledged doubles it.
    const auto w1 = cc.window();
    ack_window(cc, 10ms);
    BOOST_TEST(cc.window() == 2 * w1);
    BOOST_TEST(cc.in_slow_start());
}

BOOST_AUTO_TEST_CASE(slow_start_ends_when_delay_passes_half_the_target) {
    proto::ledbat cc(defaults(), mss);
    for (int i = 0; i < 20; ++i)
        cc.on_ack({mss, 50ms, false}, t0); // exactly target/2: stay
    BOOST_TEST(cc.in_slow_start());
    const auto w = cc.window();
    BOOST_TEST(w == 24 * mss);
    cc.on_ack({mss, 51ms, false}, t0);
    BOOST_TEST(!cc.in_slow_start());
    // Growth is LEDBAT's from now on: far less than the MSS slow start would add.
    BOOST_TEST(cc.window() >= w);
    BOOST_TEST(cc.window() < w + mss / 4);
    // And it does not come back on its own.
    for (int i = 0; i < 100; ++i)
        cc.on_ack({mss, 0ms, false}, t0);
    BOOST_TEST(!cc.in_slow_start());
}

BOOST_AUTO_TEST_CASE(below_target_grows_by_max_increase_per_window) {
    auto cc = steady(40'000);
    struct point {
        proto::duration qd;
        double per_rtt; // max_cwnd_increase_per_rtt · (target − delay) / target
    };
    for (const point p :
         {point{0ms, 3000}, point{25ms, 2250}, point{50ms, 1500}, point{90ms, 300}}) {
        BOOST_TEST_CONTEXT("queuing delay " << p.qd.count() << " us") {
            const auto before = cc.window();
            ack_window(cc, p.qd);
            const auto growth = diff(cc.window(), before);
            // The window grows during the round trip, so a little under the ideal.
            BOOST_TEST(growth <= p.per_rtt + 1);
            BOOST_TEST(growth >= 0.9 * p.per_rtt);
        }
    }
    // At the target exactly: no change.
    const auto before = cc.window();
    ack_window(cc, 100ms);
    BOOST_TEST(diff(cc.window(), before) == 0);
}

BOOST_AUTO_TEST_CASE(growth_follows_the_configured_increase) {
    proto::settings s = defaults();
    s.max_cwnd_increase_per_rtt = 6000;
    auto cc = steady(40'000, s);
    const auto before = cc.window();
    ack_window(cc, 0ms);
    const auto growth = diff(cc.window(), before);
    BOOST_TEST(growth <= 6001);
    BOOST_TEST(growth >= 5400);
}

BOOST_AUTO_TEST_CASE(above_target_shrinks) {
    auto cc = steady(60'000);
    auto before = cc.window();
    ack_window(cc, 200ms); // twice the target: about −3000 per round trip
    auto change = diff(cc.window(), before);
    // (A little over 3000: the window shrinks during the round trip.)
    BOOST_TEST(change <= -0.9 * 3000);
    BOOST_TEST(change >= -1.1 * 3000);
    // Far above the target it shrinks faster, but by at most half a window per round trip.
    before = cc.window();
    ack_window(cc, 10s);
    change = diff(cc.window(), before);
    BOOST_TEST(change < -3000);
    BOOST_TEST(cc.window() >= before / 2 - mss);
}

BOOST_AUTO_TEST_CASE(set_target_moves_the_set_point) {
    auto cc = steady(40'000);
    cc.set_target(50ms);
    auto before = cc.window();
    ack_window(cc, 75ms); // above the new target
    BOOST_TEST(cc.window() < before);
    before = cc.window();
    ack_window(cc, 25ms); // below it
    BOOST_TEST(cc.window() > before);
}

BOOST_AUTO_TEST_CASE(application_limited_does_not_grow) {
    proto::ledbat cc(defaults(), mss);
    const auto w0 = cc.window();
    for (int i = 0; i < 50; ++i)
        cc.on_ack({mss, 0ms, true}, t0);
    BOOST_TEST(cc.window() == w0);
    BOOST_TEST(cc.in_slow_start());

    auto st = steady(40'000);
    auto before = st.window();
    for (int i = 0; i < 5; ++i)
        ack_window(st, 0ms, true);
    BOOST_TEST(st.window() == before);
    // But a queue above the target still shrinks it.
    ack_window(st, 200ms, true);
    BOOST_TEST(st.window() < before);
}

BOOST_AUTO_TEST_CASE(loss_cuts_by_half_with_a_queue_and_less_without) {
    struct point {
        delay qd;
        double factor;
    };
    // A queue is building when the delay is at least a quarter of the target.
    for (const point p : {point{std::nullopt, 0.78}, point{0ms, 0.78}, point{24ms, 0.78},
                          point{25ms, 0.5}, point{50ms, 0.5}, point{300ms, 0.5}}) {
        BOOST_TEST_CONTEXT("queuing delay " << (p.qd ? p.qd->count() : -1) << " us") {
            proto::ledbat cc(defaults(), mss);
            while (cc.window() < 40'000)
                cc.on_ack({mss, 0ms, false}, t0);
            const double w = cc.window();
            cc.on_loss(p.qd, t0);
            BOOST_TEST(!cc.in_slow_start());
            BOOST_TEST(cc.window() >= w * p.factor - 1);
            BOOST_TEST(cc.window() <= w * p.factor + 1);
        }
    }
}

BOOST_AUTO_TEST_CASE(window_floor_is_two_packets) {
    proto::ledbat cc(defaults(), mss);
    for (int i = 0; i < 40; ++i) {
        cc.on_loss(100ms, t0);
        BOOST_TEST_REQUIRE(cc.window() >= 2 * mss);
    }
    BOOST_TEST(cc.window() == 2 * mss);
    for (int i = 0; i < 1000; ++i)
        cc.on_ack({mss, 5s, false}, t0);
    BOOST_TEST(cc.window() == 2 * mss);
}

BOOST_AUTO_TEST_CASE(timeout_collapses_to_one_packet_and_slow_starts) {
    proto::ledbat cc(defaults(), mss);
    while (cc.window() < 40'000)
        cc.on_ack({mss, 0ms, false}, t0);
    const auto w = cc.window();
    cc.on_timeout(t0);
    BOOST_TEST(cc.window() == mss);
    BOOST_TEST(cc.in_slow_start());
    cc.on_ack({mss, 0ms, false}, t0);
    BOOST_TEST(cc.window() == 2 * mss);
    // Slow start runs up to half the window the timeout found, then stops.
    int acks = 0;
    while (cc.in_slow_start() && acks < 1000) {
        cc.on_ack({mss, 0ms, false}, t0);
        ++acks;
    }
    BOOST_TEST(!cc.in_slow_start());
    BOOST_TEST(cc.window() >= w / 2);
    BOOST_TEST(cc.window() <= w / 2 + mss);
    // A timeout out of steady state too.
    auto st = steady(30'000);
    st.on_timeout(t0);
    BOOST_TEST(st.window() == mss);
    BOOST_TEST(st.in_slow_start());
}

BOOST_AUTO_TEST_CASE(hostile_inputs_keep_the_window_sane) {
    proto::ledbat cc(defaults(), mss);
    const auto huge = proto::duration{std::numeric_limits<proto::duration::rep>::max()};
    cc.on_ack({std::numeric_limits<std::uint32_t>::max(), 0ms, false}, t0);
    BOOST_TEST(cc.window() > 0u);
    BOOST_TEST(cc.window() <= 64u * 1024 * 1024);
    cc.on_ack({std::numeric_limits<std::uint32_t>::max(), huge, false}, t0);
    BOOST_TEST(cc.window() >= 2 * mss);
    BOOST_TEST(cc.window() <= 64u * 1024 * 1024);
    for (int i = 0; i < 100; ++i)
        cc.on_ack({mss, huge, false}, t0);
    BOOST_TEST(cc.window() >= 2 * mss);
    cc.on_loss(huge, t0);
    BOOST_TEST(cc.window() >= 2 * mss);
    cc.on_ack({0, 0ms, false}, t0);
    BOOST_TEST(cc.window() >= 2 * mss);
}

BOOST_AUTO_TEST_SUITE_END()
