// detail::rtt_estimator: RFC 6298 smoothing, the RTO's clamp, exponential backoff.
#include <utp/proto/detail/rtt_estimator.hpp>
#include <utp/proto/settings.hpp>

#include <boost/test/unit_test.hpp>

#include <chrono>

namespace proto = utp::proto;
using estimator = proto::detail::rtt_estimator;
using namespace std::chrono_literals;

namespace {

// Bounds loose enough not to hide the RFC 6298 arithmetic.
proto::settings wide() {
    proto::settings s;
    s.initial_rto = 1s;
    s.min_rto = 1ms;
    s.max_rto = 60s;
    return s;
}

long long us(proto::duration d) {
    return d.count();
}

} // namespace

BOOST_AUTO_TEST_SUITE(rtt_estimator)

BOOST_AUTO_TEST_CASE(before_any_sample_the_initial_rto) {
    estimator e(wide());
    BOOST_TEST(!e.has_sample());
    BOOST_TEST(us(e.rto()) == us(1s));
    // The initial RTO is clamped like any other.
    proto::settings s = wide();
    s.initial_rto = 100s;
    BOOST_TEST(us(estimator(s).rto()) == us(60s));
    s.initial_rto = 10us;
    BOOST_TEST(us(estimator(s).rto()) == us(1ms));
}

BOOST_AUTO_TEST_CASE(first_sample_sets_srtt_and_half_of_it_as_rttvar) {
    estimator e(wide());
    e.sample(100ms);
    BOOST_TEST(e.has_sample());
    BOOST_TEST(us(e.srtt()) == us(100ms));
    BOOST_TEST(us(e.rttvar()) == us(50ms));
    // RTO = SRTT + max(G, 4·RTTVAR) = 100 + 200 ms.
    BOOST_TEST(us(e.rto()) == us(300ms));
}

BOOST_AUTO_TEST_CASE(following_samples_per_rfc_6298) {
    estimator e(wide());
    e.sample(100ms);
    // RTTVAR = 3/4·50 + 1/4·|100 − 200| = 62.5 ms; SRTT = 7/8·100 + 1/8·200 = 112.5 ms.
    e.sample(200ms);
    BOOST_TEST(us(e.rttvar()) == 62'500);
    BOOST_TEST(us(e.srtt()) == 112'500);
    BOOST_TEST(us(e.rto()) == 112'500 + 4 * 62'500);
    // RTTVAR uses the SRTT from before this sample: |112.5 − 50| = 62.5.
    // RTTVAR = 3/4·62.5 + 1/4·62.5 = 62.5 ms; SRTT = 7/8·112.5 + 1/8·50 = 104.6875 ms.
    e.sample(50ms);
    BOOST_TEST(us(e.rttvar()) == 62'500);
    BOOST_TEST(us(e.srtt()) == 104'687);
}

BOOST_AUTO_TEST_CASE(steady_samples_converge) {
    estimator e(wide());
    for (int i = 0; i < 200; ++i)
        e.sample(80ms);
    BOOST_TEST(us(e.srtt()) == us(80ms));
    BOOST_TEST(us(e.rttvar()) < 10);
    // RTTVAR gone, the clock-granularity term (1 ms) remains.
    BOOST_TEST(us(e.rto()) == us(81ms));
}

BOOST_AUTO_TEST_CASE(rto_is_clamped_to_min_and_max) {
    proto::settings s = wide();
    s.min_rto = 500ms;
    s.max_rto = 10s;
    estimator e(s);
    e.sample(10ms); // 10 + 20 ms, below the floor
    BOOST_TEST(us(e.rto()) == us(500ms));
    estimator slow(s);
    slow.sample(8s); // 8 + 16 s, above the ceiling
    BOOST_TEST(us(slow.rto()) == us(10s));
}

BOOST_AUTO_TEST_CASE(zero_and_negative_samples_do_not_break_it) {
    estimator e(wide());
    e.sample(0us); // taken as 1 µs
    BOOST_TEST(us(e.srtt()) == 1);
    BOOST_TEST(us(e.rto()) == 1 + us(1ms));
    e.sample(-5s);
    BOOST_TEST(us(e.srtt()) >= 1);
    BOOST_TEST(us(e.rttvar()) >= 0);
    BOOST_TEST(us(e.rto()) >= us(1ms));
}

BOOST_AUTO_TEST_CASE(backoff_doubles_up_to_max) {
    estimator e(wide());
    e.sample(100ms); // RTO 300 ms
    const long long expected[] = {300'000,   600'000,    1'200'000,  2'400'000,  4'800'000,
                                  9'600'000, 19'200'000, 38'400'000, 60'000'000, 60'000'000};
    for (long long want : expected) {
        BOOST_TEST(us(e.rto()) == want);
        e.backoff();
    }
    for (int i = 0; i < 100; ++i)
        e.backoff(); // far past any shift width
    BOOST_TEST(us(e.rto()) == us(60s));
    // A new sample (Karn: of a packet sent once) clears the backoff.
    e.sample(100ms);
    BOOST_TEST(us(e.rto()) < us(1s));
    e.backoff();
    e.backoff();
    BOOST_TEST(us(e.rto()) == 4 * us(e.srtt() + 4 * e.rttvar()));
    e.reset_backoff();
    BOOST_TEST(us(e.rto()) == us(e.srtt() + 4 * e.rttvar()));
}

BOOST_AUTO_TEST_CASE(backoff_before_any_sample) {
    estimator e(wide());
    e.backoff();
    BOOST_TEST(us(e.rto()) == us(2s));
    e.backoff();
    BOOST_TEST(us(e.rto()) == us(4s));
}

BOOST_AUTO_TEST_CASE(default_settings_are_sane) {
    const proto::settings s;
    BOOST_TEST(us(s.min_rto) > 0);
    BOOST_TEST(us(s.min_rto) <= us(s.initial_rto));
    BOOST_TEST(us(s.initial_rto) <= us(s.max_rto));
    estimator e(s);
    BOOST_TEST(us(e.rto()) == us(s.initial_rto));
    e.sample(20ms);
    BOOST_TEST(us(e.rto()) == us(s.min_rto));
}

BOOST_AUTO_TEST_SUITE_END()
