// The transfer harness on simple paths: one byte to a few MiB, both directions, the
// clock starting just before the 32-bit microsecond wrap, determinism of a whole run.
#include "sim.hpp"

#include <boost/test/unit_test.hpp>

#include <iostream>

using namespace utp;
using namespace std::chrono_literals;
namespace utf = boost::unit_test;

namespace {

sim::transfer_result check(sim::two_nodes& p, const sim::transfer_options& o) {
    auto r = sim::run_transfer(p.net, p.a, p.b, o);
    BOOST_TEST_MESSAGE(r.summary());
    BOOST_TEST(r.ok, r.summary());
    BOOST_TEST(p.a.connection_count() == 0u);
    BOOST_TEST(p.b.connection_count() == 0u);
    return r;
}

} // namespace

BOOST_AUTO_TEST_SUITE(transfer)

BOOST_AUTO_TEST_CASE(byte_stream_is_seekable, *utf::timeout(60)) {
    sim::byte_stream s(99);
    std::vector<std::uint8_t> all(1000), part(333);
    s.fill(0, all);
    s.fill(123, part);
    BOOST_TEST((std::vector<std::uint8_t>(all.begin() + 123, all.begin() + 456) == part));
    BOOST_TEST(s.mismatch(123, part) == part.size());
    part[200] ^= 1;
    BOOST_TEST(s.mismatch(123, part) == 200u);
    BOOST_TEST(s.at(7) == all[7]);
}

BOOST_AUTO_TEST_CASE(one_byte, *utf::timeout(60)) {
    sim::two_nodes p(1, sim::link_config{.delay = 10ms});
    check(p, sim::transfer_options{.bytes = 1});
}

BOOST_AUTO_TEST_CASE(one_mebibyte_clean_path, *utf::timeout(60)) {
    sim::two_nodes p(
        2, sim::link_config{.delay = 10ms, .rate_bps = 20'000'000, .queue_bytes = 500'000});
    const auto r = check(p, sim::transfer_options{.bytes = 1 << 20});
    BOOST_TEST(r.retransmits() == 0u);
    BOOST_TEST(r.goodput_bps > 10e6);
}

BOOST_AUTO_TEST_CASE(bidirectional, *utf::timeout(60)) {
    sim::two_nodes p(
        3, sim::link_config{.delay = 5ms, .rate_bps = 50'000'000, .queue_bytes = 150'000});
    const auto r = check(p, sim::transfer_options{.bytes = 2 << 20, .reverse_bytes = 3 << 20});
    BOOST_TEST(r.a.received == 3u << 20);
    BOOST_TEST(r.b.received == 2u << 20);
}

BOOST_AUTO_TEST_CASE(lossy_bidirectional, *utf::timeout(60)) {
    sim::two_nodes p(4, sim::link_config{.delay = 20ms,
                                         .jitter = 5ms,
                                         .rate_bps = 10'000'000,
                                         .queue_bytes = 60'000,
                                         .loss = 0.03,
                                         .reorder = 0.02,
                                         .duplicate = 0.02,
                                         .corrupt = 0.01});
    check(p, sim::transfer_options{.bytes = 1 << 20, .reverse_bytes = 1 << 19});
}

BOOST_AUTO_TEST_CASE(across_the_32_bit_microsecond_wrap, *utf::timeout(60)) {
    const sim::instant start{sim::duration{(std::int64_t{1} << 32) - 5'000'000}};
    sim::two_nodes p(
        5, sim::link_config{.delay = 25ms, .rate_bps = 10'000'000, .queue_bytes = 250'000}, start);
    const auto r = check(p, sim::transfer_options{.bytes = 16 << 20});
    BOOST_TEST(r.elapsed > 10s); // the wrap fell in the middle of the transfer
    BOOST_TEST(r.goodput_bps > 7e6);
}

BOOST_AUTO_TEST_CASE(a_whole_run_is_deterministic, *utf::timeout(60)) {
    auto run = [](std::uint64_t seed) {
        sim::two_nodes p(seed, sim::link_config{.delay = 15ms,
                                                .jitter = 3ms,
                                                .rate_bps = 20'000'000,
                                                .queue_bytes = 40'000,
                                                .loss = 0.02,
                                                .reorder = 0.01});
        return sim::run_transfer(p.net, p.a, p.b, sim::transfer_options{.bytes = 1 << 20});
    };
    const auto x = run(77), y = run(77);
    BOOST_TEST(x.ok);
    BOOST_TEST(x.events == y.events);
    BOOST_TEST(x.elapsed.count() == y.elapsed.count());
    BOOST_TEST(x.retransmits() == y.retransmits());
}

BOOST_AUTO_TEST_CASE(many_nodes_share_a_server, *utf::timeout(60)) {
    // Eight clients transfer to one server one after another over the same endpoint.
    sim::network net(6);
    auto& server = net.add_node(sim::address(1));
    net.set_default_link(sim::link_config{
        .delay = 8ms, .rate_bps = 40'000'000, .queue_bytes = 100'000, .loss = 0.005});
    for (std::uint8_t i = 0; i < 8; ++i) {
        auto& c = net.add_node(sim::address(static_cast<std::uint8_t>(10 + i)));
        const auto r = sim::run_transfer(
            net, c, server, sim::transfer_options{.bytes = 256u << 10, .stream_seed = i});
        BOOST_TEST(r.ok, "client " << int(i) << ": " << r.summary());
    }
    BOOST_TEST(server.connection_count() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
