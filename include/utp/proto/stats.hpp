//
// utp/proto/stats.hpp — counters of a connection and of an endpoint.
//
#ifndef UTP_PROTO_STATS_HPP
#define UTP_PROTO_STATS_HPP

#include <utp/proto/time.hpp>

#include <array>
#include <cstddef>
#include <cstdint>

namespace utp::proto {

/// What a connection has done so far, and its current estimates.
struct connection_stats {
    std::uint64_t bytes_sent = 0;             ///< payload bytes sent, retransmissions included
    std::uint64_t bytes_received = 0;         ///< payload bytes received, duplicates included
    std::uint64_t bytes_delivered = 0;        ///< payload bytes handed to the application
    std::uint64_t packets_sent = 0;           ///< datagrams sent of every type
    std::uint64_t packets_received = 0;       ///< datagrams accepted for this connection
    std::uint64_t retransmits = 0;            ///< DATA/FIN/SYN packets sent again, of which:
    std::uint64_t fast_retransmits = 0;       ///<  found lost by 3 duplicate ACKs or 3 SACKed above
    std::uint64_t rack_retransmits = 0;       ///<  found lost by RACK's time test (RFC 8985 §6)
    std::uint64_t tlp_retransmits = 0;        ///<  tail-loss probes that resent a packet (§7)
    std::uint64_t rto_retransmits = 0;        ///<  resent after a retransmission timeout
    std::uint64_t spurious_retransmits = 0;   ///< resent packets whose original arrived after all
    std::uint64_t tlp_probes = 0;             ///< tail-loss probes sent (new data or a resend)
    std::uint64_t timeouts = 0;               ///< retransmission timeouts
    std::uint64_t slow_start_delay_exits = 0; ///< slow starts ended by a delay increase (HyStart++)
    std::uint64_t window_cuts = 0;            ///< congestion-window reductions on loss
    std::uint64_t duplicate_packets = 0;      ///< DATA received that was already received
    std::uint64_t invalid_packets = 0;        ///< packets dropped by validation
    std::uint64_t zero_window_probes = 0;     ///< packets sent into a zero peer window
    std::uint64_t recoveries = 0;             ///< loss-recovery episodes (fast or after a timeout)
    duration recovery_time{0};                ///< total time spent recovering from losses
    duration pacing_delay{0}; ///< total time packets ready to go waited on the pacer
    duration rtt{0};          ///< smoothed round-trip time
    duration min_rtt{0};      ///< smallest round-trip sample
    /// Packets acknowledged above a hole before it counts as lost: 3, grown to the
    /// reordering seen on the path (at most 64).
    std::uint32_t reordering = 3;
    duration rtt_var{0};               ///< round-trip variation
    duration rto{0};                   ///< current retransmission timeout
    std::uint32_t cwnd = 0;            ///< congestion window, bytes
    std::uint32_t peer_window = 0;     ///< peer's last advertised receive window
    std::uint32_t bytes_in_flight = 0; ///< sent and not yet acknowledged
    duration queuing_delay{0};         ///< LEDBAT's current one-way delay estimate
    duration base_delay{0};            ///< LEDBAT's base one-way delay (clock offset included)
    bool slow_start = true;
};

/// Why an endpoint dropped a datagram (indexes `endpoint_stats::dropped`).
enum class drop_reason : std::uint8_t {
    malformed = 0,      ///< µTP by its first byte, but the header or extensions are broken
    unknown_connection, ///< no connection for it (a RESET may have been sent)
    backlog_full,       ///< a SYN beyond the accept backlog
    not_listening,      ///< a SYN while nobody accepts (answered with RESET)
    invalid,            ///< failed a connection's validation (bad ack_nr, wrong state)
    id_collision,       ///< a SYN whose ids overlap a live connection with that address
    count_
};

/// A short, stable name for `r`.
const char* to_string(drop_reason r) noexcept;

/// What an endpoint has seen.
struct endpoint_stats {
    std::uint64_t datagrams_received = 0; ///< every datagram handed in
    std::uint64_t datagrams_sent = 0;     ///< every datagram handed out by poll_transmit
    std::uint64_t not_utp = 0;            ///< handed back to the caller as not µTP
    std::uint64_t resets_sent = 0;
    std::uint64_t resets_suppressed = 0;    ///< RESET replies withheld by the rate limit
    std::uint64_t connections_accepted = 0; ///< SYNs answered (half-open connections made)
    /// Half-open connections evicted unproved by a newer SYN at `max_half_open`.
    std::uint64_t half_open_evicted = 0;
    /// ICMP errors that failed no connection: soft, or quoting nothing we sent recently.
    std::uint64_t unreachable_ignored = 0;
    std::uint64_t connections_initiated = 0;
    std::array<std::uint64_t, static_cast<std::size_t>(drop_reason::count_)> dropped{};

    std::uint64_t& drops(drop_reason r) noexcept { return dropped[static_cast<std::size_t>(r)]; }
    std::uint64_t drops(drop_reason r) const noexcept {
        return dropped[static_cast<std::size_t>(r)];
    }
};

} // namespace utp::proto

#endif
