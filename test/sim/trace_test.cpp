// The per-connection trace (issue 12): records of the sender's congestion state, one per
// interval while ACKs arrive and one per loss episode and timeout, with values that agree
// with the connection's own counters.
#include "sim.hpp"

#include <utp/proto/trace.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

using namespace utp;
using namespace std::chrono_literals;
namespace utf = boost::unit_test;

namespace {

struct traced {
    sim::transfer_result r;
    std::vector<proto::trace_record> records;
};

traced run(double loss, proto::duration interval, std::uint64_t bytes) {
    traced t;
    const sim::link_config l{
        .delay = 10ms, .rate_bps = 20'000'000, .queue_bytes = 256 * 1024, .loss = loss};
    sim::two_nodes p(7, l);
    p.a.endpoint().connection_settings().trace =
        proto::trace_options{.sink = [&](const proto::trace_record& r) { t.records.push_back(r); },
                             .interval = interval};
    sim::transfer_options opt;
    opt.bytes = bytes;
    t.r = sim::run_transfer(p.net, p.a, p.b, opt);
    return t;
}

std::size_t count(const traced& t, proto::trace_event e) {
    return static_cast<std::size_t>(std::count_if(t.records.begin(), t.records.end(),
                                                  [e](const auto& r) { return r.event == e; }));
}

} // namespace

BOOST_AUTO_TEST_SUITE(trace)

// Off by default: a connection without a sink records nothing and runs as before.
BOOST_AUTO_TEST_CASE(off_by_default) {
    sim::two_nodes p(7, sim::link_config{.delay = 10ms});
    BOOST_TEST(!p.a.endpoint().connection_settings().trace.sink);
    const auto r = sim::run_transfer(p.net, p.a, p.b, sim::transfer_options{});
    BOOST_TEST(r.ok, r.summary());
}

// Under loss: sample records at least an interval apart, a loss record per window cut,
// acknowledged bytes that only grow up to the transfer's size, and retransmissions that
// end at the connection's count.
BOOST_AUTO_TEST_CASE(records_follow_the_connection) {
    constexpr std::uint64_t bytes = 4 * 1024 * 1024;
    const traced t = run(0.01, 10ms, bytes);
    BOOST_TEST_REQUIRE(t.r.ok, t.r.summary());
    const auto samples = count(t, proto::trace_event::sample);
    const auto losses = count(t, proto::trace_event::loss);
    BOOST_TEST_MESSAGE(t.r.summary() << "; " << t.records.size() << " records, " << samples
                                     << " samples, " << losses << " losses");
    // One sample per 10 ms of a transfer that lasts data_time, give or take the first.
    const auto most = static_cast<std::size_t>(t.r.data_time / 10ms) + 2;
    BOOST_TEST(samples >= most / 2);
    BOOST_TEST(samples <= most);
    BOOST_TEST(losses >= 1u);
    BOOST_TEST(losses + count(t, proto::trace_event::timeout) == t.r.a.stats.window_cuts);

    proto::instant last_sample{};
    bool first = true;
    std::uint64_t acked = 0, retransmits = 0;
    for (const auto& r : t.records) {
        BOOST_TEST(r.bytes_acked >= acked);
        BOOST_TEST(r.retransmits >= retransmits);
        BOOST_TEST(r.cwnd > 0u);
        BOOST_TEST(r.srtt.count() > 0);
        BOOST_TEST(r.min_rtt >= 20ms); // the path's base RTT
        acked = r.bytes_acked;
        retransmits = r.retransmits;
        if (r.event != proto::trace_event::sample) continue;
        if (!first) BOOST_TEST((r.time - last_sample >= 10ms));
        first = false;
        last_sample = r.time;
    }
    BOOST_TEST(acked <= bytes);
    BOOST_TEST(acked >= bytes - 64 * 1024); // the last sample is within the last round trips
    BOOST_TEST(retransmits <= t.r.a.stats.retransmits);
}

// Interval 0: a sample for every ACK that acknowledged new data.
BOOST_AUTO_TEST_CASE(interval_zero_records_every_ack) {
    const traced every = run(0, 0us, 1024 * 1024);
    const traced spaced = run(0, 10ms, 1024 * 1024);
    BOOST_TEST_REQUIRE(every.r.ok);
    BOOST_TEST(count(every, proto::trace_event::sample) >
               3 * count(spaced, proto::trace_event::sample));
}

// The text form: the columns of trace_columns, in order.
BOOST_AUTO_TEST_CASE(line_format) {
    const proto::trace_record r{.time = proto::instant{1'234'567us},
                                .event = proto::trace_event::loss,
                                .connection_id = 42,
                                .cwnd = 30000,
                                .bytes_in_flight = 29000,
                                .peer_window = 1048576,
                                .srtt = 25ms,
                                .min_rtt = 20ms,
                                .queuing_delay = 4ms,
                                .pacing_rate = 1.5e6,
                                .bytes_acked = 123456,
                                .retransmits = 3,
                                .slow_start = true};
    BOOST_TEST(proto::to_string(r) ==
               "1234567 loss 42 30000 29000 1048576 25000 20000 4000 1500000 123456 3 1");
    std::istringstream header(proto::trace_columns);
    std::string word;
    std::size_t columns = 0;
    header >> word; // '#'
    while (header >> word)
        ++columns;
    BOOST_TEST(columns == 13u);
}

BOOST_AUTO_TEST_SUITE_END()
