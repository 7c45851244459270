//
// utp/proto/trace.hpp — a per-connection trace of the sender's congestion state.
//
#ifndef UTP_PROTO_TRACE_HPP
#define UTP_PROTO_TRACE_HPP

#include <utp/proto/time.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace utp::proto {

/// What made a connection emit a trace record.
enum class trace_event : std::uint8_t {
    sample,  ///< an ACK acknowledged new data (at most one record per `trace_options::interval`)
    loss,    ///< a loss episode began: the window was cut (fast retransmit, RACK, SACK)
    timeout, ///< the retransmission timer fired
};

/// A short, stable name for `e` ("sample", "loss", "timeout").
const char* to_string(trace_event e) noexcept;

/** The sender's congestion state at one moment. Plain values: the record may be kept. */
struct trace_record {
    instant time{}; ///< µs since the caller's clock origin (steady clock)
    trace_event event = trace_event::sample;
    std::uint16_t connection_id = 0;   ///< the connection's receive id (BEP-29 `connection_id`)
    std::uint32_t cwnd = 0;            ///< congestion window, bytes
    std::uint32_t bytes_in_flight = 0; ///< sent and not yet acknowledged, bytes
    std::uint32_t peer_window = 0;     ///< the peer's advertised receive window, bytes
    duration srtt{0};                  ///< smoothed round-trip time
    duration min_rtt{0};               ///< smallest round-trip time seen
    duration queuing_delay{0};         ///< the one-way queueing delay estimate (LEDBAT)
    double pacing_rate = 0;            ///< bytes per second; 0 while the window is unpaced
    std::uint64_t bytes_acked = 0;     ///< stream bytes the peer acknowledged, cumulative
    std::uint64_t retransmits = 0;     ///< packets sent again, cumulative
    bool slow_start = false;
};

/** One line of text for `r`, the columns of `trace_columns`, space separated, no newline.
    `tools/plot_trace.py` turns files of such lines into plots. */
std::string to_string(const trace_record& r);

/// The header line naming the columns of `to_string(trace_record)`, starting with '#'.
extern const char* const trace_columns;

/** Where a connection's trace goes, and how often.

    Off by default (no sink): a connection then does no tracing work beyond one test of
    the sink per ACK. The sink runs on the thread driving the connection, within the
    call that processed the packet or the timer (for `utp::socket`, on the thread running
    the multiplexer's I/O, with the multiplexer locked): it must be quick and must not
    call into the library.
*/
struct trace_options {
    std::function<void(const trace_record&)> sink;
    /// Least time between two `sample` records (0: one per ACK that acknowledged new
    /// data). `loss` and `timeout` records are never held back.
    duration interval{10'000};
};

} // namespace utp::proto

#endif
