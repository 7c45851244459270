//
// test/bottleneck/scenario.hpp — one run over the real bottleneck: flows join and stop on a
// schedule; per 100 ms, the bytes each flow delivered and the bytes the bottleneck sent;
// every 10 ms, the probe's queueing delay. The figures are those of the simulator's
// fairness suite (test/sim/fairness_test.cpp): utilisation of the link by the flows'
// payload, median of the per-second average queueing delay, per-flow rates, Jain's index.
//
#ifndef UTP_BOTTLENECK_SCENARIO_HPP
#define UTP_BOTTLENECK_SCENARIO_HPP

#include "netns.hpp"

#include <utp/proto/settings.hpp>

#include <optional>
#include <string>
#include <vector>

namespace utp_bottleneck {

struct flow_plan {
    double join_s = 0;
    std::optional<double> stop_s{}; ///< TCP only: when the sender aborts it
    bool tcp = false;               ///< else µTP with the scenario's controller
};

struct scenario {
    std::string name;
    utp::proto::congestion_algorithm cc = utp::proto::congestion_algorithm::ledbat;
    bottleneck_spec link{};
    std::vector<flow_plan> flows;
    double length_s = 20;
    double measure_from_s = 5;  ///< the window of the summary figures
    double measure_until_s = 0; ///< 0: the end
    double settle_s = 5;        ///< start-up: the first flow's first seconds
};

struct outcome {
    double sample_s = 0.1;
    std::vector<double> t_s;                       ///< [k]: when sample k was taken
    std::vector<std::vector<std::uint64_t>> bytes; ///< [flow][k]: delivered so far
    std::vector<std::uint64_t> link_bytes;         ///< [k]: sent by the bottleneck so far
    std::vector<double> delay_ms;                  ///< [s]: second s (from s-1 to s): probe average
    std::vector<double> probe_max_ms;              ///< [s]: its largest probe
    std::vector<std::string> flow_detail;          ///< [s]: the µTP senders' own view, printable

    // The summary over [measure_from_s, measure_until_s].
    std::vector<double> mbit_s;       ///< [flow]
    double utilisation = 0;           ///< payload of all flows / link rate
    double link_utilisation = 0;      ///< bytes the bottleneck sent / link rate (headers, probe)
    double median_delay_ms = 0;       ///< of the per-second averages
    double max_delay_ms = 0;          ///< the largest per-second average
    double jain = 0;                  ///< over all flows
    double startup_max_delay_ms = 0;  ///< largest per-second average in the first settle_s
    double startup_peak_probe_ms = 0; ///< largest single probe then
    std::uint64_t probes_sent = 0, probes_back = 0;
    std::vector<std::string> errors; ///< failures of the flows' threads

    /// Mbit/s of `flow` between `from_s` and `until_s` (to the nearest samples).
    double rate(std::size_t flow, double from_s, double until_s) const;
    /// The end of the first window of `window_s` (sliding by one sample) starting at or
    /// after `after_s` in which `flow`'s rate, as a fraction of the link, satisfies `pred`;
    /// as seconds after `after_s`, or nullopt.
    template <class Pred>
    std::optional<double> first_window(std::size_t flow, double after_s, double window_s,
                                       double link_bps, Pred pred) const {
        for (double a = after_s; a + window_s <= t_s.size() * sample_s + 1e-9; a += sample_s)
            if (pred(rate(flow, a, a + window_s) * 1e6 / link_bps)) return a + window_s - after_s;
        return std::nullopt;
    }
};

/// Runs `s` on a topology of its own; throws if the topology cannot be built.
outcome run(const scenario& s);

/// A line to the Boost.Test log and to stdout, prefixed `bottleneck: `.
void report(const std::string& line);

/// The per-second lines: each flow's Mbit/s, the link's, the probe's queueing delay.
void report_seconds(const scenario& s, const outcome& o);

/// "LEDBAT", "LEDBAT++", "NewReno".
const char* name_of(utp::proto::congestion_algorithm a);

} // namespace utp_bottleneck

#endif
