// detail::byte_ring: a growable circular byte buffer with a limit.
#include <utp/proto/detail/byte_ring.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <random>
#include <vector>

using ring = utp::proto::detail::byte_ring;

namespace {

// Byte i of a test stream; period 251 (prime), so misplaced chunks show.
std::uint8_t pattern(std::size_t i) {
    return static_cast<std::uint8_t>(i % 251);
}

std::vector<std::uint8_t> stream(std::size_t from, std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i)
        v[i] = pattern(from + i);
    return v;
}

bool holds_stream(const ring& r, std::size_t from) {
    std::vector<std::uint8_t> all(r.size());
    r.copy_out(0, all);
    return all == stream(from, r.size());
}

} // namespace

BOOST_AUTO_TEST_SUITE(byte_ring)

BOOST_AUTO_TEST_CASE(empty_ring) {
    ring r(1000);
    BOOST_TEST(r.empty());
    BOOST_TEST(r.size() == 0u);
    BOOST_TEST(r.limit() == 1000u);
    BOOST_TEST(r.free() == 1000u);
    std::uint8_t buf[16];
    BOOST_TEST(r.read(buf) == 0u);
    r.pop(10);
    BOOST_TEST(r.empty());
    r.copy_out(0, {});
}

BOOST_AUTO_TEST_CASE(push_and_read_in_order) {
    ring r(100'000);
    BOOST_TEST(r.push(stream(0, 1000)) == 1000u);
    BOOST_TEST(r.push(stream(1000, 500)) == 500u);
    BOOST_TEST(r.size() == 1500u);
    BOOST_TEST(r.free() == 100'000u - 1500u);
    std::vector<std::uint8_t> out(700);
    BOOST_TEST(r.read(out) == 700u);
    BOOST_TEST(out == stream(0, 700), boost::test_tools::per_element());
    std::vector<std::uint8_t> rest(5000);
    BOOST_TEST(r.read(rest) == 800u);
    rest.resize(800);
    BOOST_TEST(rest == stream(700, 800), boost::test_tools::per_element());
    BOOST_TEST(r.empty());
}

BOOST_AUTO_TEST_CASE(limit_is_respected) {
    ring r(10);
    BOOST_TEST(r.push(stream(0, 15)) == 10u);
    BOOST_TEST(r.size() == 10u);
    BOOST_TEST(r.free() == 0u);
    BOOST_TEST(r.push(stream(0, 1)) == 0u);
    r.pop(3);
    BOOST_TEST(r.free() == 3u);
    BOOST_TEST(r.push(stream(10, 5)) == 3u);
    BOOST_TEST(holds_stream(r, 3));

    ring none(0);
    BOOST_TEST(none.push(stream(0, 4)) == 0u);
    BOOST_TEST(none.empty());
}

BOOST_AUTO_TEST_CASE(push_read_and_copy_out_across_the_wrap_point) {
    // Fill, drain most, refill: the tail wraps around the end of the storage.
    ring r(4096);
    BOOST_TEST(r.push(stream(0, 4000)) == 4000u);
    std::vector<std::uint8_t> sink(3500);
    BOOST_TEST(r.read(sink) == 3500u);
    BOOST_TEST(r.push(stream(4000, 3000)) == 3000u); // wraps: 96 bytes at the end, rest at 0
    BOOST_TEST(r.size() == 3500u);
    BOOST_TEST(holds_stream(r, 3500));

    // copy_out from every offset over the wrap point, without consuming.
    for (std::size_t off = 400; off < 700; off += 37) {
        std::vector<std::uint8_t> part(250);
        r.copy_out(off, part);
        BOOST_TEST(part == stream(3500 + off, 250), boost::test_tools::per_element());
    }
    BOOST_TEST(r.size() == 3500u);

    // read across the wrap point.
    std::vector<std::uint8_t> out(3500);
    BOOST_TEST(r.read(out) == 3500u);
    BOOST_TEST(out == stream(3500, 3500), boost::test_tools::per_element());
    BOOST_TEST(r.empty());
}

BOOST_AUTO_TEST_CASE(growth_while_wrapped_preserves_content) {
    ring r(1 << 20);
    BOOST_TEST(r.push(stream(0, 4000)) == 4000u);
    std::vector<std::uint8_t> sink(3000);
    BOOST_TEST(r.read(sink) == 3000u);
    BOOST_TEST(r.push(stream(4000, 2000)) == 2000u); // wrapped in the first 4096 bytes
    BOOST_TEST(holds_stream(r, 3000));
    // Now push far more than the storage holds: it must grow and keep the order.
    BOOST_TEST(r.push(stream(6000, 50'000)) == 50'000u);
    BOOST_TEST(r.size() == 53'000u);
    BOOST_TEST(holds_stream(r, 3000));
    // And again after wrapping in the grown storage.
    std::vector<std::uint8_t> half(40'000);
    BOOST_TEST(r.read(half) == 40'000u);
    BOOST_TEST(half == stream(3000, 40'000), boost::test_tools::per_element());
    BOOST_TEST(r.push(stream(56'000, 100'000)) == 100'000u);
    BOOST_TEST(holds_stream(r, 43'000));
}

BOOST_AUTO_TEST_CASE(set_limit) {
    ring r(100);
    BOOST_TEST(r.push(stream(0, 80)) == 80u);
    // Lowering keeps what is held, but takes nothing more.
    r.set_limit(50);
    BOOST_TEST(r.limit() == 50u);
    BOOST_TEST(r.size() == 80u);
    BOOST_TEST(r.free() == 0u);
    BOOST_TEST(r.push(stream(80, 10)) == 0u);
    BOOST_TEST(holds_stream(r, 0));
    r.pop(40);
    BOOST_TEST(r.free() == 10u);
    BOOST_TEST(r.push(stream(80, 20)) == 10u);
    BOOST_TEST(holds_stream(r, 40));
    // Raising lets it grow again.
    r.set_limit(10'000);
    BOOST_TEST(r.push(stream(90, 9'000)) == 9'000u);
    BOOST_TEST(r.size() == 9'050u);
    BOOST_TEST(holds_stream(r, 40));
}

BOOST_AUTO_TEST_CASE(pop_more_than_held_empties) {
    ring r(100);
    r.push(stream(0, 30));
    r.pop(1000);
    BOOST_TEST(r.empty());
    BOOST_TEST(r.free() == 100u);
    BOOST_TEST(r.push(stream(7, 20)) == 20u);
    BOOST_TEST(holds_stream(r, 7));
}

// Random pushes, pops, reads and copies against a std::deque model.
BOOST_AUTO_TEST_CASE(matches_a_deque_model) {
    std::mt19937 rng(20240229);
    ring r(20'000);
    std::deque<std::uint8_t> model;
    std::size_t next = 0; // stream position of the next byte pushed
    for (int step = 0; step < 20'000; ++step) {
        const unsigned op = rng() % 10;
        if (op < 4) {
            const std::size_t n = rng() % 3000;
            const auto data = stream(next, n);
            const std::size_t taken = r.push(data);
            const std::size_t room = 20'000 - model.size();
            BOOST_TEST_REQUIRE(taken == std::min(n, room));
            model.insert(model.end(), data.begin(),
                         data.begin() + static_cast<std::ptrdiff_t>(taken));
            next += taken;
        } else if (op < 6) {
            std::vector<std::uint8_t> out(rng() % 3000);
            const std::size_t got = r.read(out);
            BOOST_TEST_REQUIRE(got == std::min(out.size(), model.size()));
            BOOST_TEST_REQUIRE(std::equal(
                out.begin(), out.begin() + static_cast<std::ptrdiff_t>(got), model.begin()));
            model.erase(model.begin(), model.begin() + static_cast<std::ptrdiff_t>(got));
        } else if (op < 8) {
            const std::size_t n = rng() % 3000;
            r.pop(n);
            model.erase(model.begin(),
                        model.begin() + static_cast<std::ptrdiff_t>(std::min(n, model.size())));
        } else if (!model.empty()) {
            const std::size_t off = rng() % model.size();
            std::vector<std::uint8_t> out(rng() % (model.size() - off + 1));
            r.copy_out(off, out);
            BOOST_TEST_REQUIRE(std::equal(out.begin(), out.end(),
                                          model.begin() + static_cast<std::ptrdiff_t>(off)));
        }
        BOOST_TEST_REQUIRE(r.size() == model.size());
        BOOST_TEST_REQUIRE(r.free() == 20'000 - model.size());
    }
}

BOOST_AUTO_TEST_SUITE_END()
