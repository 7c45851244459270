//
// utp/proto/settings.hpp — tunables of the protocol core, with their defaults.
//
#ifndef UTP_PROTO_SETTINGS_HPP
#define UTP_PROTO_SETTINGS_HPP

#include <utp/proto/time.hpp>
#include <utp/proto/trace.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>

namespace utp::proto {

using namespace std::chrono_literals;

/** Which congestion controller a connection runs (`settings::congestion`).

    The two LEDBAT variants yield to loss-based traffic (TCP) and are what µTP is for;
    NewReno does not yield: it competes for the bottleneck as TCP does, and so must not
    be used where µTP is expected to stay out of the way. */
enum class congestion_algorithm : std::uint8_t {
    /// RFC 6817 as deployed µTP (libutp, libtorrent) runs it: interoperable in behaviour
    /// with every BitTorrent client. Flows that join later take more than their share.
    ledbat,
    /// LEDBAT++ (draft-irtf-iccrg-ledbat-plus-plus-06): reduced gain, multiplicative
    /// decrease and periodic slowdowns, so that µTP flows share a bottleneck fairly and
    /// the queue stays near the target. The receiver and the wire are unchanged.
    ledbat_plus_plus,
    /// NewReno (RFC 5681, RFC 6582): loss-based, ignores delay. For private links and
    /// tunnels where µTP should compete like TCP, not yield.
    newreno,
};

/** Per-connection settings. Every field has a default that suits a 1500-byte path.

    An endpoint hands its settings to each connection it creates; a connection's copy may
    then be changed through the endpoint (e.g. `no_delay`).
*/
struct settings {
    /// Bytes the application may queue for sending (unsent plus unacknowledged).
    std::size_t send_buffer_size = 1024 * 1024;
    /// Receive buffer; what is free of it is advertised to the peer as `wnd_size`.
    std::size_t recv_buffer_size = 1024 * 1024;
    /// Largest datagram we send (header included). 1400 fits IPv4 and IPv6 on a
    /// 1500-byte path with room for tunnels; path-MTU discovery may raise it later.
    std::size_t packet_size = 1400;
    /** The same towards an IPv6 peer. 1232 is IPv6's minimum link MTU (1280, RFC 8200 §5)
        less the IPv6 and UDP headers: every IPv6 path carries it, so a path that filters
        ICMPv6 "packet too big" cannot black-hole our datagrams (libutp PR #41). The
        smaller of this and `packet_size` applies. */
    std::size_t packet_size_v6 = 1232;
    /// LEDBAT's target queueing delay.
    duration target_delay = 100ms;
    /// Disable Nagle: send undersized packets at once instead of one at a time.
    bool no_delay = false;
    /// Longest an ACK is held back hoping to coalesce it with another.
    duration ack_delay = 10ms;
    /// Acknowledge at once after this many unacknowledged DATA packets.
    unsigned ack_every = 2;
    /** Retransmission timeout before any RTT sample (RFC 6298 §2.1), and its bounds.

        The timeout is the last resort: RACK and tail-loss probes (RFC 8985) find losses
        within a round trip or two, so it fires only when the path went silent. Its floor
        covers the longest a correct receiver holds an ACK plus scheduling noise: libutp
        and libtorrent defer ACKs only to the end of the read batch in hand (no timer),
        ours holds one at most `ack_delay` (10 ms); Linux TCP uses 200 ms against a 40 ms
        delayed ACK, and so do we. libutp's floor is 500 ms, with no probe before it. */
    duration initial_rto = 1s;
    duration min_rto = 200ms;
    duration max_rto = 60s;
    /// Consecutive retransmission timeouts of data (or FIN) after which the connection
    /// fails with `timed_out`.
    unsigned max_data_timeouts = 8;
    /// SYN retransmissions before a connect fails with `timed_out` (backoff doubles).
    unsigned max_syn_retries = 4;
    /// Silence after which a connected, idle side sends a keepalive (0 disables).
    duration keepalive_interval = 29s;
    /// Silence from the peer after which the connection fails with `timed_out`
    /// (0 disables). Deployed peers send keepalives every 29 s.
    duration idle_timeout = 120s;
    /** How long data may stay outstanding with nothing new acknowledged before the
        connection fails with `timed_out` (0 disables). The last resort against a wedged
        peer whose rare, late ACKs and keepalives defeat both the retransmission-timeout
        count and `idle_timeout`. A peer advertising a zero window is waiting for its
        application, not wedged: that does not count (as TCP's persist state). */
    duration progress_timeout = 60s;
    /// How long a connection whose handle was closed may go without progress (new data
    /// acknowledged) while it finishes sending and its FIN exchange; then it fails with
    /// `timed_out` and is forgotten.
    duration linger_timeout = 30s;
    /// How long an accepted-but-silent (half-open) connection is kept.
    duration syn_received_timeout = 30s;
    /// The congestion controller of new connections.
    congestion_algorithm congestion = congestion_algorithm::ledbat;
    /// LEDBAT's largest window growth per round trip once out of slow start, in bytes.
    std::uint32_t max_cwnd_increase_per_rtt = 3000;
    /// Minutes of base-delay history kept (one minimum per minute).
    unsigned base_delay_history_minutes = 13;
    /// A trace of the sender's congestion state (off: no sink). Set on an endpoint's
    /// settings, every new connection traces to the same sink (records carry the
    /// connection id).
    trace_options trace{};
};

/// Settings of an endpoint (the demultiplexer of one UDP port).
struct endpoint_settings {
    /// Settings given to each new connection.
    proto::settings connection;
    /// Inbound connections waiting for `accept`, their initiators' addresses proved. One
    /// proved while it is full waits among the half-open ones (counted once as
    /// `backlog_full`) until `accept` makes room.
    std::size_t accept_backlog = 128;
    /** Inbound connections whose initiator has not yet proved its address (half-open: a
        SYN answered, nothing acknowledging our SYN-ACK yet). At the cap, a new SYN evicts
        the oldest (silently: its address is unproved), so a SYN flood cannot lock out a
        real initiator that answers within the time the flood takes to send this many
        SYNs. Memory: about 11 KiB each (11 MiB at the default). */
    std::size_t max_half_open = 1024;
    /** Hand connections to `accept` from their SYN on, before the initiator's address is
        proved. Needed only by a protocol where the server speaks first to initiators that
        do not acknowledge a SYN-ACK (libutp, libtorrent; ours does): their first packet
        comes after our first data, which needs an accepted socket. What goes to an
        unproved address stays within the 3× anti-amplification budget either way. */
    bool accept_unverified = false;
    /// Whether SYNs are accepted at all; if not, they are answered with RESET.
    bool listening = false;
    /// RESET replies to unknown connections per second (token bucket, burst equal).
    unsigned resets_per_second = 100;
};

/// A setting outside the range the protocol core works in: which one, and the range.
struct setting_violation {
    const char* name;        ///< the field, e.g. "packet_size"
    const char* requirement; ///< what it must be, e.g. "150 to 65000 bytes"
};

/** Check every field of `s` against the range the core works in.

    The core clamps what it must to stay safe, but a clamped value is not what the user
    asked for, so the Asio layer refuses settings that fail this check.

    @return the first field out of range, or nothing if all are usable.
*/
std::optional<setting_violation> check(const settings& s) noexcept;
/// Check an endpoint's settings, its connections' settings included.
std::optional<setting_violation> check(const endpoint_settings& s) noexcept;

} // namespace utp::proto

#endif
