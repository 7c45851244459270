// detail::delay_history: LEDBAT's base delay (minimum over one-minute buckets) and its
// current delay (minimum of the last three samples, above the base).
#include <utp/proto/detail/delay_history.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdint>

namespace proto = utp::proto;
using history = proto::detail::delay_history;
using namespace std::chrono_literals;

namespace {

proto::instant at(proto::duration d) {
    return proto::instant{d};
}

} // namespace

BOOST_AUTO_TEST_SUITE(delay_history)

BOOST_AUTO_TEST_CASE(empty_history) {
    history h(13);
    BOOST_TEST(h.empty());
    BOOST_TEST(h.current() == 0u);
}

BOOST_AUTO_TEST_CASE(base_is_the_minimum) {
    history h(13);
    h.add(5000, at(0s));
    BOOST_TEST(!h.empty());
    BOOST_TEST(h.base() == 5000u);
    BOOST_TEST(h.current() == 0u);
    h.add(7000, at(1s));
    h.add(3000, at(2s));
    h.add(9000, at(3s));
    BOOST_TEST(h.base() == 3000u);
    // Minima of earlier minutes still count.
    h.add(8000, at(70s));
    h.add(8500, at(130s));
    BOOST_TEST(h.base() == 3000u);
}

BOOST_AUTO_TEST_CASE(current_is_min_of_last_three_above_base) {
    history h(13);
    h.add(1000, at(0s));
    h.add(5000, at(1s));
    BOOST_TEST(h.current() == 0u); // the base sample is among the last three
    h.add(3000, at(2s));
    h.add(4000, at(3s));
    BOOST_TEST(h.base() == 1000u);
    BOOST_TEST(h.current() == 2000u); // min(5000, 3000, 4000) − 1000
    h.add(6000, at(4s));
    h.add(7000, at(5s));
    BOOST_TEST(h.current() == 3000u); // min(4000, 6000, 7000) − 1000
    h.add(1500, at(6s));
    BOOST_TEST(h.current() == 500u);
}

BOOST_AUTO_TEST_CASE(old_minima_are_forgotten_after_the_history) {
    for (unsigned minutes : {1u, 3u, 13u}) {
        BOOST_TEST_CONTEXT("history of " << minutes << " minutes") {
            history h(minutes);
            h.add(1000, at(0s)); // a low minimum, never seen again
            proto::duration t = 0s;
            // A sample every second at 20 000 for `minutes` more minutes.
            while (t < std::chrono::minutes(minutes) - 2s) {
                t += 1s;
                h.add(20'000, at(t));
            }
            BOOST_TEST(h.base() == 1000u); // still inside the history
            for (int i = 0; i < 10; ++i) {
                t += 1s;
                h.add(20'000, at(t));
            }
            BOOST_TEST(h.base() == 20'000u);
            BOOST_TEST(h.current() == 0u);
        }
    }
}

BOOST_AUTO_TEST_CASE(base_follows_clock_drift) {
    // The peer's clock runs fast against ours: the raw one-way delay grows by 2 ms a
    // minute, on top of a path with no queue. The base must follow, so that the queueing
    // delay seen stays below a few minutes' worth of drift instead of growing without end.
    const unsigned minutes = 5;
    history h(minutes);
    const std::uint32_t start = 0xffffffffu - 60'000u; // crosses the 32-bit wrap at ~30 min
    for (int s = 0; s <= 60 * 60; ++s) {               // one hour, a sample a second
        const auto sample =
            static_cast<std::uint32_t>(start + static_cast<std::uint32_t>(s) * 2000u / 60u);
        h.add(sample, at(std::chrono::seconds(s)));
        if (s > 60 * 10) {
            BOOST_TEST_REQUIRE(h.current() <= (minutes + 1) * 2000u);
            BOOST_TEST_REQUIRE(h.current() >= (minutes - 2) * 2000u);
        }
    }
    // And when the drift reverses, the base follows at once.
    const std::uint32_t low = h.base() - 50'000u;
    h.add(low, at(3601s));
    BOOST_TEST(h.base() == low);
    BOOST_TEST(h.current() == 0u);
}

BOOST_AUTO_TEST_CASE(wrap_aware_across_a_u32_wrap) {
    history h(13);
    h.add(0xffffff00u, at(0s)); // just below the wrap
    h.add(0x00000100u, at(1s)); // 512 µs later, numerically tiny
    BOOST_TEST(h.base() == 0xffffff00u);
    h.add(0x00000200u, at(2s));
    h.add(0x00000300u, at(3s));
    BOOST_TEST(h.current() == 0x200u); // min(0x100, 0x200, 0x300) − (−0x100)
    // A lower sample on the far side of the wrap becomes the base.
    h.add(0xfffffe00u, at(4s));
    BOOST_TEST(h.base() == 0xfffffe00u);
    BOOST_TEST(h.current() == 0u);
}

BOOST_AUTO_TEST_CASE(hostile_samples_do_not_break_it) {
    history h(3);
    proto::duration t = 0s;
    const std::uint32_t hostile[] = {0xffffffffu, 0x80000000u, 0x7fffffffu, 0u,
                                     0x80000001u, 0xffffffffu, 1u,          0x80000000u};
    h.add(10'000, at(t));
    for (int round = 0; round < 4; ++round) {
        for (auto v : hostile) {
            t += 100ms;
            h.add(v, at(t));
            // Whatever the base became, the current delay is a sane unsigned number
            // below 2^31 (the caller caps it further, at the RTT).
            BOOST_TEST_REQUIRE(h.current() <= 0x7fffffffu);
        }
    }
    // Honest samples for longer than the history: the hostile minima are gone.
    for (int s = 0; s < 5 * 60; ++s) {
        t += 1s;
        h.add(10'000u + static_cast<std::uint32_t>(s % 7) * 100u, at(t));
    }
    BOOST_TEST(h.base() == 10'000u);
    BOOST_TEST(h.current() <= 600u);
}

BOOST_AUTO_TEST_CASE(history_length_is_clamped) {
    // 0 minutes behaves as 1; more than max_minutes as max_minutes. Neither crashes.
    history zero(0);
    zero.add(1000, at(0s));
    zero.add(5000, at(61s));
    BOOST_TEST(zero.base() == 5000u);
    history many(1000);
    many.add(1000, at(0s));
    int m = 1;
    for (; m < 20; ++m)
        many.add(5000, at(std::chrono::minutes(m)));
    BOOST_TEST(many.base() == 1000u);
    for (; m < 30; ++m)
        many.add(5000, at(std::chrono::minutes(m)));
    BOOST_TEST(many.base() == 5000u); // forgotten after max_minutes (20) minutes
}

BOOST_AUTO_TEST_SUITE_END()
