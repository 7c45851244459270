#include "scenario.hpp"

#include "../support/trace_files.hpp"
#include "flows.hpp"
#include "probe.hpp"

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <thread>

namespace utp_bottleneck {

namespace {

constexpr std::uint16_t utp_port = 7000, tcp_port = 7001, probe_port = 7002;

double jain_index(const std::vector<double>& x) {
    double sum = 0, squares = 0;
    for (const double v : x) {
        sum += v;
        squares += v * v;
    }
    return squares > 0 ? sum * sum / (static_cast<double>(x.size()) * squares) : 0;
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

struct event {
    double at_s;
    std::function<void()> act;
};

/// The probe's samples as per-second average and largest queueing delay, against the
/// smallest round trip of the whole run (the path's base RTT, about 0.1 ms over veth).
void probe_figures(const std::vector<delay_probe::sample>& samples, std::size_t seconds,
                   outcome& o) {
    double base = 1e9;
    for (const auto& p : samples)
        base = std::min(base, p.rtt_ms);
    std::vector<double> sum(seconds + 1, 0), n(seconds + 1, 0);
    o.probe_max_ms.assign(seconds + 1, 0);
    for (const auto& p : samples) {
        const auto s = static_cast<std::size_t>(std::floor(p.sent_s)) + 1;
        if (p.sent_s < 0 || s > seconds) continue;
        sum[s] += p.rtt_ms - base;
        n[s] += 1;
        o.probe_max_ms[s] = std::max(o.probe_max_ms[s], p.rtt_ms - base);
    }
    o.delay_ms.assign(seconds + 1, 0);
    for (std::size_t s = 1; s <= seconds; ++s)
        o.delay_ms[s] = n[s] > 0 ? sum[s] / n[s] : 0;
}

std::string flow_line(const scenario& s, const std::vector<utp::proto::connection_stats>& st) {
    std::string r;
    char buf[96];
    std::size_t u = 0;
    for (const auto& f : s.flows) {
        if (f.tcp) continue;
        const auto& c = st[u++];
        std::snprintf(buf, sizeof buf, " [cwnd %6.1f kB, own delay %5.1f ms]", c.cwnd / 1000.0,
                      static_cast<double>(c.queuing_delay.count()) / 1000.0);
        r += buf;
    }
    return r;
}

} // namespace

const char* name_of(utp::proto::congestion_algorithm a) {
    using utp::proto::congestion_algorithm;
    return a == congestion_algorithm::ledbat             ? "LEDBAT"
           : a == congestion_algorithm::ledbat_plus_plus ? "LEDBAT++"
                                                         : "NewReno";
}

void report(const std::string& line) {
    BOOST_TEST_MESSAGE(line);
    std::cout << "bottleneck: " << line << std::endl;
}

double outcome::rate(std::size_t flow, double from_s, double until_s) const {
    const auto last = static_cast<long>(t_s.size()) - 1;
    const auto a = std::clamp(std::lround(from_s / sample_s), 0L, last);
    const auto b = std::clamp(std::lround(until_s / sample_s), 0L, last);
    if (b <= a) return 0;
    const auto& c = bytes[flow];
    return static_cast<double>(c[static_cast<std::size_t>(b)] - c[static_cast<std::size_t>(a)]) *
           8 / 1e6 / (t_s[static_cast<std::size_t>(b)] - t_s[static_cast<std::size_t>(a)]);
}

outcome run(const scenario& s) {
    outcome o;
    const std::size_t nflows = s.flows.size();
    const auto seconds = static_cast<std::size_t>(std::lround(s.length_s));
    const std::size_t samples = seconds * 10;

    topology topo(s.link);
    utp_test::trace_files traces; // before the sender, whose flows write to it
    using cc_t = utp::proto::congestion_algorithm;
    const std::string trace_name = s.name + (s.cc == cc_t::ledbat_plus_plus ? "-ledbatpp"
                                             : s.cc == cc_t::newreno        ? "-newreno"
                                                                            : "-ledbat");
    error_log log;
    std::atomic<bool> ending{false};
    receiver rx(topo.receiver_ns(), topology::receiver_address(), utp_port, tcp_port, log, ending);
    sender tx(topo.sender_ns(), topology::sender_address(), log, ending);
    const auto rcv = asio::ip::make_address_v4(topology::receiver_address());

    // Each flow reads its own counter: µTP flows by their id, the TCP flow its own.
    std::vector<std::function<std::uint64_t()>> counter;
    std::vector<event> events;
    std::size_t utp_flows = 0;
    for (const auto& f : s.flows) {
        if (f.tcp) {
            counter.emplace_back([&rx] { return rx.tcp_bytes(); });
            events.push_back(
                {f.join_s, [&] { tx.start_tcp(tcp::endpoint(rcv, tcp_port), "cubic"); }});
            if (f.stop_s) events.push_back({*f.stop_s, [&] { tx.stop_tcp(); }});
        } else {
            const std::size_t id = utp_flows++;
            counter.emplace_back([&rx, id] { return rx.utp_bytes(id); });
            events.push_back({f.join_s, [&, id] {
                                  tx.start_utp(id, s.cc, udp::endpoint(rcv, utp_port),
                                               traces.open(trace_name, id));
                              }});
        }
    }
    std::stable_sort(events.begin(), events.end(),
                     [](const event& a, const event& b) { return a.at_s < b.at_s; });

    const auto t0 = clock::now() + std::chrono::milliseconds(100);
    delay_probe probe(topo.sender_ns(), topo.receiver_ns(), topology::receiver_address(),
                      probe_port, t0);
    o.bytes.assign(nflows, {});
    o.flow_detail.assign(seconds + 1, {});
    const std::uint64_t link0 = topo.bottleneck_tx_bytes();
    std::size_t next_event = 0;
    for (std::size_t k = 0; k <= samples; ++k) {
        const auto due = t0 + std::chrono::milliseconds(100 * k);
        std::this_thread::sleep_until(due);
        o.t_s.push_back(std::chrono::duration<double>(clock::now() - t0).count());
        for (std::size_t i = 0; i < nflows; ++i)
            o.bytes[i].push_back(counter[i]());
        o.link_bytes.push_back(topo.bottleneck_tx_bytes() - link0);
        while (next_event < events.size() &&
               events[next_event].at_s <= static_cast<double>(k) / 10 + 1e-9)
            events[next_event++].act();
        if (k % 10 == 0 && k > 0) o.flow_detail[k / 10] = flow_line(s, tx.utp_stats());
    }
    o.probes_sent = probe.sent();
    const auto replies = probe.samples();
    o.probes_back = replies.size();
    ending = true;
    tx.stop();
    rx.stop();
    o.errors = log.all();

    probe_figures(replies, seconds, o);
    const double from = s.measure_from_s;
    const double until = s.measure_until_s > 0 ? s.measure_until_s : s.length_s;
    const double link_mbit = static_cast<double>(s.link.rate_bps) / 1e6;
    double total = 0;
    for (std::size_t i = 0; i < nflows; ++i) {
        o.mbit_s.push_back(o.rate(i, from, until));
        total += o.mbit_s.back();
    }
    o.utilisation = total / link_mbit;
    const auto a = static_cast<std::size_t>(std::lround(from * 10));
    const auto b = static_cast<std::size_t>(std::lround(until * 10));
    o.link_utilisation = static_cast<double>(o.link_bytes[b] - o.link_bytes[a]) * 8 / 1e6 /
                         (o.t_s[b] - o.t_s[a]) / link_mbit;
    std::vector<double> window;
    for (auto t = static_cast<std::size_t>(std::lround(from)) + 1;
         t <= static_cast<std::size_t>(std::lround(until)); ++t) {
        window.push_back(o.delay_ms[t]);
        o.max_delay_ms = std::max(o.max_delay_ms, o.delay_ms[t]);
    }
    o.median_delay_ms = median(window);
    o.jain = jain_index(o.mbit_s);
    const double first = s.flows.empty() ? 0 : s.flows.front().join_s;
    for (std::size_t t = 1; t <= seconds && static_cast<double>(t) <= first + s.settle_s; ++t) {
        o.startup_max_delay_ms = std::max(o.startup_max_delay_ms, o.delay_ms[t]);
        o.startup_peak_probe_ms = std::max(o.startup_peak_probe_ms, o.probe_max_ms[t]);
    }
    return o;
}

void report_seconds(const scenario& s, const outcome& o) {
    const std::string who = std::string(name_of(s.cc)) + " " + s.name;
    for (std::size_t t = 1; t < o.delay_ms.size(); ++t) {
        char buf[160];
        std::string line = who;
        std::snprintf(buf, sizeof buf, " %3zu s:", t);
        line += buf;
        for (std::size_t i = 0; i < s.flows.size(); ++i) {
            std::snprintf(buf, sizeof buf, " %s%zu %6.2f", s.flows[i].tcp ? "tcp" : "utp", i + 1,
                          o.rate(i, static_cast<double>(t - 1), static_cast<double>(t)));
            line += buf;
        }
        const auto a = (t - 1) * 10, b = t * 10;
        const double link = b < o.link_bytes.size()
                                ? static_cast<double>(o.link_bytes[b] - o.link_bytes[a]) * 8 / 1e6 /
                                      (o.t_s[b] - o.t_s[a])
                                : 0;
        std::snprintf(buf, sizeof buf, " | link %6.2f Mbit/s | queue %6.1f ms (max %6.1f)", link,
                      o.delay_ms[t], o.probe_max_ms[t]);
        line += buf;
        line += o.flow_detail[t];
        report(line);
    }
}

} // namespace utp_bottleneck
