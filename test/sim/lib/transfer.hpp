//
// transfer.hpp — a bulk transfer between two simulated nodes, verified byte by byte.
//
// A connects to B (B listens and accepts). A writes `bytes` of a seeded pseudo-random
// stream as fast as its send buffer allows; B reads and checks every byte against the
// same generator (exact, in order, exactly once). Optionally B sends its own stream back
// at the same time. Each side calls shutdown_send() after its last byte and release()
// once it has read eof; the transfer succeeds when both connections have closed cleanly
// and are gone from their endpoints — within a virtual-time and an event budget.
//
#ifndef UTP_SIM_TRANSFER_HPP
#define UTP_SIM_TRANSFER_HPP

#include "network.hpp"

#include <utp/proto/stats.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

namespace utp::sim {

/** A seekable pseudo-random byte stream: byte `i` depends only on the seed and `i`. */
class byte_stream {
public:
    explicit byte_stream(std::uint64_t seed) noexcept : seed_(seed) {}

    /// The bytes at [offset, offset + out.size()).
    void fill(std::uint64_t offset, std::span<std::uint8_t> out) const noexcept;
    /// Index in `data` of the first byte that differs from the stream at `offset`, or
    /// `data.size()` if all match.
    std::size_t mismatch(std::uint64_t offset, std::span<const std::uint8_t> data) const noexcept;
    std::uint8_t at(std::uint64_t offset) const noexcept;

private:
    std::uint64_t word(std::uint64_t index) const noexcept;
    std::uint64_t seed_;
};

/// Progress of a running transfer, for reporting.
struct transfer_progress {
    duration elapsed{0};
    std::uint64_t a_sent = 0, b_received = 0; ///< A→B
    std::uint64_t b_sent = 0, a_received = 0; ///< B→A
    proto::connection_stats a_stats;          ///< last snapshot of A's connection
    proto::connection_stats b_stats;
};

struct transfer_options {
    std::uint64_t bytes = 1024 * 1024; ///< A→B
    std::uint64_t reverse_bytes = 0;   ///< B→A (0: unidirectional)
    std::uint64_t stream_seed = 1;     ///< seeds both streams
    duration time_limit = 600s;        ///< virtual time before the run counts as failed
    std::uint64_t event_limit = 50'000'000;
    std::size_t write_chunk = 256 * 1024; ///< largest single write()
    std::size_t read_chunk = 256 * 1024;  ///< largest single read()
    /// Release a side as soon as it has read eof and shut down its sending side (the
    /// connection lingers to finish its FIN exchange); if false, only once its state is
    /// `closed` (both FINs acknowledged) — the handle is then never released early.
    bool release_on_eof = true;
    /// Fail at the first byte that differs from the stream (if false, count such bytes
    /// in `transfer_side::wrong_bytes` and carry on: for links that flip payload bits).
    bool stop_on_wrong_byte = true;
    /// Called every `progress_interval` of virtual time (if set).
    std::function<void(const transfer_progress&)> on_progress{};
    duration progress_interval = 1s;
};

struct transfer_side {
    std::uint64_t sent = 0;        ///< bytes accepted by write()
    std::uint64_t received = 0;    ///< bytes read and verified
    std::uint64_t wrong_bytes = 0; ///< bytes that differed (with stop_on_wrong_byte off)
    bool eof = false;
    bool released = false;
    bool gone = false; ///< the connection has left its endpoint
    /// The last state observed (closed, unless something failed).
    proto::conn_state final_state = proto::conn_state::syn_sent;
    proto::connection_stats stats;   ///< last snapshot of the connection's counters
    std::optional<duration> done_at; ///< when the last byte of the peer's stream was read
};

struct transfer_result {
    bool ok = false;
    std::string failure; ///< why not, with the progress made
    run_reason stop = run_reason::satisfied;
    duration elapsed{0};           ///< connect → both connections closed and gone
    duration data_time{0};         ///< connect → B read A's last byte
    duration reverse_data_time{0}; ///< connect → A read B's last byte
    double goodput_bps = 0;        ///< A→B payload bits per second over `data_time`
    double reverse_goodput_bps = 0;
    transfer_side a, b;
    std::uint64_t events = 0;
    /// A's LEDBAT queueing-delay estimate, sampled whenever it had data in flight.
    std::uint64_t delay_samples = 0;
    duration avg_queuing_delay{0};
    duration max_queuing_delay{0};

    std::uint64_t retransmits() const noexcept { return a.stats.retransmits + b.stats.retransmits; }
    std::uint64_t fast_retransmits() const noexcept {
        return a.stats.fast_retransmits + b.stats.fast_retransmits;
    }
    std::uint64_t timeouts() const noexcept { return a.stats.timeouts + b.stats.timeouts; }
    std::uint64_t window_cuts() const noexcept { return a.stats.window_cuts + b.stats.window_cuts; }
    /// One line: outcome, time, goodput, counters.
    std::string summary() const;
};

/** Run a verified transfer from `a` to `b` (see the file comment). `b` is made to listen.
    The nodes' handlers are replaced for the duration of the call and cleared afterwards.
    If the run fails, the connections still held are released (closed gracefully), so the
    endpoints forget them once their timers run out.
*/
transfer_result run_transfer(network& net, node& a, node& b, const transfer_options& opt);

} // namespace utp::sim

#endif
