// Wrap-aware 16-bit sequence arithmetic and 32-bit timestamp differences.
#include <utp/proto/seq.hpp>
#include <utp/proto/time.hpp>

#include <boost/test/unit_test.hpp>

#include <cstdint>

namespace proto = utp::proto;
using proto::seq_add;
using proto::seq_diff;
using proto::seq_less;
using proto::seq_less_equal;
using proto::stamp_diff;

// Usable in constant expressions.
static_assert(seq_less(0xffff, 0x0000));
static_assert(seq_diff(0x0000, 0xffff) == 1);
static_assert(stamp_diff(0u, 0xffffffffu) == 1);

BOOST_AUTO_TEST_SUITE(seq)

BOOST_AUTO_TEST_CASE(seq_diff_across_the_wrap) {
    BOOST_TEST(seq_diff(0x0000, 0xffff) == 1);
    BOOST_TEST(seq_diff(0xffff, 0x0000) == -1);
    BOOST_TEST(seq_diff(0x0005, 0xfffb) == 10);
    BOOST_TEST(seq_diff(0xfffb, 0x0005) == -10);
    BOOST_TEST(seq_diff(1234, 1234) == 0);
    BOOST_TEST(seq_diff(0x7fff, 0x0000) == 0x7fff);
    // Exactly half the space apart is ambiguous; it reads as "behind".
    BOOST_TEST(seq_diff(0x8000, 0x0000) == -0x8000);
    BOOST_TEST(seq_diff(0x0000, 0x8000) == -0x8000);
}

BOOST_AUTO_TEST_CASE(seq_less_across_the_wrap) {
    BOOST_TEST(seq_less(0xffff, 0x0000));
    BOOST_TEST(!seq_less(0x0000, 0xffff));
    BOOST_TEST(seq_less(0xfff0, 0x0010));
    BOOST_TEST(!seq_less(0x0010, 0xfff0));
    BOOST_TEST(!seq_less(7, 7));
    BOOST_TEST(seq_less_equal(7, 7));
    BOOST_TEST(seq_less_equal(0xffff, 0x0000));
    BOOST_TEST(!seq_less_equal(0x0000, 0xffff));
    BOOST_TEST(seq_less(1, 2));
    BOOST_TEST(!seq_less(2, 1));
}

BOOST_AUTO_TEST_CASE(seq_less_is_a_strict_order_within_a_window) {
    // Any window smaller than half the space, anywhere (including over the wrap), is
    // totally ordered the same way as the plain integers offset into it.
    for (unsigned base : {0u, 1000u, 0x7fffu, 0xff00u, 0xfff0u, 0xffffu}) {
        for (int i = 0; i < 300; i += 7) {
            for (int j = 0; j < 300; j += 11) {
                const auto a = seq_add(static_cast<std::uint16_t>(base), i);
                const auto b = seq_add(static_cast<std::uint16_t>(base), j);
                BOOST_TEST(seq_less(a, b) == (i < j));
                BOOST_TEST(seq_diff(a, b) == i - j);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(seq_add_wraps) {
    BOOST_TEST(seq_add(0xffff, 1) == 0x0000);
    BOOST_TEST(seq_add(0x0000, -1) == 0xffff);
    BOOST_TEST(seq_add(0xfff0, 0x20) == 0x0010);
    BOOST_TEST(seq_add(5, 65536) == 5);
    // More than 65 535 packets: 70 000 steps of one land where arithmetic mod 2^16 says.
    std::uint16_t s = 0xfffe;
    for (int i = 0; i < 70000; ++i) {
        const std::uint16_t next = seq_add(s, 1);
        BOOST_TEST_REQUIRE(seq_less(s, next));
        BOOST_TEST_REQUIRE(seq_diff(next, s) == 1);
        s = next;
    }
    BOOST_TEST(s == static_cast<std::uint16_t>((0xfffe + 70000) & 0xffff));
}

BOOST_AUTO_TEST_CASE(stamp_diff_across_the_32_bit_wrap) {
    BOOST_TEST(stamp_diff(5u, 0xfffffffbu) == 10);
    BOOST_TEST(stamp_diff(0xfffffffbu, 5u) == -10);
    BOOST_TEST(stamp_diff(0u, 0xffffffffu) == 1);
    BOOST_TEST(stamp_diff(1000u, 1000u) == 0);
    BOOST_TEST(stamp_diff(0x7fffffffu, 0u) == 0x7fffffff);
    BOOST_TEST(stamp_diff(0x80000000u, 0u) == INT32_MIN);
    // 100 ms after a stamp taken 50 ms before the wrap.
    const std::uint32_t before = 0xffffffffu - 50'000u;
    const std::uint32_t after = before + 100'000u;
    BOOST_TEST(after < before);
    BOOST_TEST(stamp_diff(after, before) == 100'000);
}

BOOST_AUTO_TEST_CASE(wire_timestamp_is_the_low_32_bits) {
    using proto::duration;
    using proto::instant;
    BOOST_TEST(proto::wire_timestamp(instant{duration{0}}) == 0u);
    BOOST_TEST(proto::wire_timestamp(instant{duration{0xffffffffLL}}) == 0xffffffffu);
    BOOST_TEST(proto::wire_timestamp(instant{duration{0x100000007LL}}) == 7u);
    // A caller may start anywhere, including just before the wrap.
    const instant t0{duration{0xffffffffLL - 10}};
    const instant t1 = t0 + duration{30};
    BOOST_TEST(stamp_diff(proto::wire_timestamp(t1), proto::wire_timestamp(t0)) == 30);
}

BOOST_AUTO_TEST_SUITE_END()
