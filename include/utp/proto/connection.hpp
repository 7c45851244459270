//
// utp/proto/connection.hpp — one µTP connection, sans-I/O.
//
#ifndef UTP_PROTO_CONNECTION_HPP
#define UTP_PROTO_CONNECTION_HPP

#include <utp/proto/congestion.hpp>
#include <utp/proto/detail/byte_ring.hpp>
#include <utp/proto/detail/delay_history.hpp>
#include <utp/proto/detail/pacer.hpp>
#include <utp/proto/detail/rtt_estimator.hpp>
#include <utp/proto/detail/slow_start_exit.hpp>
#include <utp/proto/packet.hpp>
#include <utp/proto/settings.hpp>
#include <utp/proto/stats.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace utp::proto {

/// Where a connection is in its life.
enum class conn_state : std::uint8_t {
    syn_sent,     ///< initiator, waiting for the SYN-ACK
    syn_received, ///< acceptor, waiting for the initiator's first packet after the SYN
    connected,    ///< established (either direction may be half-closed)
    closed,       ///< finished cleanly: nothing more will be sent or received
    failed,       ///< ended by an error (see `error()`)
};

/// Why a connection failed.
enum class conn_error : std::uint8_t {
    none = 0,
    refused,   ///< RESET while connecting
    reset,     ///< RESET after the connection was established
    timed_out, ///< retransmissions or the idle timer ran out
    aborted,   ///< the application aborted it (a RESET was sent)
};

/// A short, stable name for `e`.
const char* to_string(conn_error e) noexcept;

/// A short, stable name for `s`.
const char* to_string(conn_state s) noexcept;

/** One µTP connection: a state machine that is fed packets and time, and polled for
    datagrams to send and for the time it next wants to run.

    It never performs I/O. The usual owner is an `endpoint`, which demultiplexes
    datagrams by connection id and drives every connection it holds.

    @par Thread Safety
    Distinct objects: safe. Shared objects: unsafe.
*/
class connection {
public:
    /// Start an outgoing connection: receive on `recv_id`, send with `recv_id + 1`,
    /// first sequence number `seq` (the SYN's).
    static connection connect(const settings& s, std::uint16_t recv_id, std::uint16_t seq,
                              instant now);

    /** Answer an incoming SYN: receive on `syn.connection_id + 1`, first DATA seq `seq`.

        Until the initiator's first packet acknowledges what we sent (address validation),
        nothing it sends is delivered, and we send it at most 3 bytes per byte received
        from it, `syn_bytes` (the SYN datagram's size) included: RFC 9000 §8.1's
        anti-amplification limit, so that a spoofed SYN cannot aim our data at a victim. */
    static connection accept(const settings& s, const header& syn, std::size_t syn_bytes,
                             std::uint16_t seq, instant now);

    connection(connection&&) noexcept;
    connection& operator=(connection&&) noexcept;
    ~connection();

    // -- input ---------------------------------------------------------------------------

    /** Process a decoded packet addressed to this connection.

        @return false if the packet failed validation and was dropped (e.g. it acknowledges
        data never sent).
    */
    bool handle_packet(const packet& p, instant now);
    /// A datagram of `bytes` arrived for this connection (before `handle_packet`): while
    /// the peer's address is unproved it raises what we may send there.
    void credit_received(std::size_t bytes) noexcept;

    /** The path to the peer reported "unreachable" (an ICMP error). While connecting, that
        refuses the connection. Once established, "port unreachable" (`port_gone`: no
        socket is bound there any more, the peer's process died) resets it, as libutp
        does, so a receiver learns of a dead sender from its next ACK instead of after the
        idle timeout; "host/network unreachable" stays a soft error, as in TCP, since a
        route may come back. */
    void handle_unreachable(bool port_gone) noexcept;
    /// Whether a datagram with header `h` is one this connection sent recently: its
    /// connection id, and a sequence number at most one window old. How a quoted
    /// datagram in an ICMP error is told from a forgery.
    bool sent_recently(const header& h) const noexcept;

    /// Run the timers that are due at `now`.
    void handle_timeout(instant now);

    // -- output --------------------------------------------------------------------------

    /** Write the next datagram this connection wants sent into `out`.

        @return the datagram's size, or 0 if nothing is to be sent now. `out` should hold
        at least `settings().packet_size` bytes (plus room for a selective ACK).
    */
    std::size_t poll_transmit(instant now, std::span<std::uint8_t> out);

    /// The earliest time `handle_timeout` should be called, if any timer is armed.
    std::optional<instant> next_timeout() const noexcept;

    // -- the application's side ----------------------------------------------------------

    /// Copy received in-order bytes into `out`; returns how many (0 if none yet).
    std::size_t read(std::span<std::uint8_t> out) noexcept;

    /// Queue bytes for sending; returns how many fitted in the send buffer.
    std::size_t write(std::span<const std::uint8_t> data);

    /// Send FIN after the queued data (half-close). Writing afterwards is an error.
    void shutdown_send() noexcept;

    /// The handle is gone: finish sending, send FIN, and linger at most `linger_timeout`
    /// for the FIN exchange. As in TCP, unread input at the close, or new data arriving
    /// after it, aborts instead (RESET): nobody is left to read it.
    void close(instant now) noexcept;

    /// Abort: send RESET and fail with `aborted`.
    void abort() noexcept;

    // -- queries -------------------------------------------------------------------------

    conn_state state() const noexcept { return state_; }
    conn_error error() const noexcept { return error_; }
    bool is_initiator() const noexcept { return initiator_; }
    /// Established (or, for the acceptor, able to send): data may be written.
    bool is_open() const noexcept {
        return state_ == conn_state::connected || state_ == conn_state::syn_received;
    }
    /// Bytes `read` would return now.
    std::size_t readable() const noexcept { return rcv_buf_.size(); }
    /// The peer's FIN has been reached and every byte before it has been read.
    bool eof() const noexcept { return peer_fin_reached_ && rcv_buf_.empty(); }
    /// The peer's FIN has been reached (bytes before it may still be unread).
    bool peer_finished() const noexcept { return peer_fin_reached_; }
    /// Free space in the send buffer.
    std::size_t writable() const noexcept;
    /// Bytes written but not yet acknowledged by the peer.
    std::size_t unacknowledged() const noexcept { return snd_buf_.size(); }
    bool fin_sent() const noexcept { return fin_seq_.has_value(); }
    bool fin_acked() const noexcept { return fin_acked_; }
    bool send_shutdown() const noexcept { return fin_requested_; }
    /// Closed or failed, and nothing left to send: the owner may forget it.
    bool done() const noexcept;

    std::uint16_t recv_id() const noexcept { return recv_id_; }
    std::uint16_t send_id() const noexcept { return send_id_; }

    /// Returns and clears "something the application may wait on has changed".
    bool take_wakeup() noexcept {
        const bool w = wakeup_;
        wakeup_ = false;
        return w;
    }

    connection_stats stats() const noexcept;
    const proto::settings& settings() const noexcept { return settings_; }

    void set_no_delay(bool on) noexcept { settings_.no_delay = on; }
    void set_target_delay(duration d) noexcept;
    /// Switch controllers. The new one starts afresh (slow start from its initial
    /// window), as a new connection would; a no-op if `a` is the current one.
    void set_congestion_control(congestion_algorithm a);
    void set_send_buffer_size(std::size_t n) noexcept;
    void set_recv_buffer_size(std::size_t n) noexcept;
    /// Start (a sink) or stop (none) tracing the sender's congestion state.
    void set_trace(trace_options t) noexcept;

private:
    /// Why a packet is (or was last) queued for resending.
    enum class resend_cause : std::uint8_t { none, duplicate_acks, rack, tlp, rto, window };

    struct outgoing {
        std::uint64_t offset = 0; ///< stream offset of the payload's first byte
        std::uint32_t length = 0; ///< payload bytes
        packet_type type = packet_type::data;
        std::uint8_t transmissions = 0;
        bool acked = false; ///< acknowledged (cumulatively or selectively)
        bool lost = false;  ///< declared lost, waiting to be resent
        bool probe = false; ///< sent into a window the peer said was too small
        resend_cause cause = resend_cause::none;
        instant sent_at{}; ///< the latest transmission
    };

    /// How the sender is recovering, if it is.
    enum class recovery : std::uint8_t { none, fast, rto };

    struct reorder_slot {
        bool present = false;
        bool fin = false;
        std::vector<std::uint8_t> data;
    };

    connection(const proto::settings& s, bool initiator, instant now);

    // outgoing queue (seq_una_ .. seq_nxt_-1), a power-of-two ring indexed by seq
    outgoing& out_at(std::uint16_t seq) noexcept;
    std::uint16_t in_flight_packets() const noexcept {
        return static_cast<std::uint16_t>(seq_nxt_ - seq_una_);
    }
    void grow_outgoing();
    reorder_slot& slot_at(std::uint16_t seq);

    std::uint32_t max_payload() const noexcept;
    std::uint32_t our_window() const noexcept;
    std::optional<duration> queuing_delay() const noexcept;

    void process_ack(const packet& p, instant now);
    std::uint32_t ack_one(std::uint16_t seq, outgoing& o, instant now,
                          std::optional<duration>& rtt_sample) noexcept;
    void process_data(const packet& p, instant now);
    void note_delivered(std::uint16_t seq, const outgoing& o, instant now) noexcept;
    void detect_sack_losses(std::uint16_t highest_sacked, instant now);
    void detect_rack_losses(instant now);
    duration reordering_window() const noexcept;
    void mark_lost(std::uint16_t seq, resend_cause cause, instant now);
    bool queue_resend(outgoing& o, resend_cause cause) noexcept;
    void begin_recovery(recovery kind, instant now) noexcept;
    void enter_recovery(instant now);
    void leave_recovery(instant now) noexcept;
    void arm_loss_probe(instant now) noexcept;
    void on_loss_probe(instant now);
    bool may_send(std::uint32_t len) const noexcept;
    bool paced_out(std::uint32_t len, instant now) noexcept;
    void on_data_sent(std::uint32_t len, instant now) noexcept;
    void deliver_in_order();
    void note_reordered(std::uint16_t seq) noexcept;
    void fail(conn_error e) noexcept;
    void maybe_finish(instant now) noexcept;
    bool close_if_only_fin_unacked(instant now) noexcept;
    void on_rto(instant now);
    void trace(trace_event e, instant now);

    std::size_t emit_header(packet_type type, std::uint16_t id, std::uint16_t seq,
                            std::uint16_t ack, bool with_sack, instant now,
                            std::span<std::uint8_t> out);
    std::size_t send_packet(std::uint16_t seq, instant now, std::span<std::uint8_t> out);
    std::size_t try_resend(instant now, std::span<std::uint8_t> out);
    std::size_t try_send_new(instant now, std::span<std::uint8_t> out);
    std::size_t try_send_fin(instant now, std::span<std::uint8_t> out);
    std::size_t try_send_ack(instant now, std::span<std::uint8_t> out);
    std::size_t try_loss_probe(instant now, std::span<std::uint8_t> out);
    std::size_t transmit_next(instant now, std::span<std::uint8_t> out);
    /// Bytes we may still send before the peer's address is proved (SIZE_MAX after).
    std::size_t amplification_allowance() const noexcept;
    /// When `progress_timeout` fails the connection, if data is outstanding.
    std::optional<instant> progress_deadline() const noexcept;
    void on_ack_sent() noexcept;

    proto::settings settings_;
    bool initiator_;
    conn_state state_;
    conn_error error_ = conn_error::none;
    bool wakeup_ = false;

    std::uint16_t recv_id_ = 0;
    std::uint16_t send_id_ = 0;

    // -- send side
    std::uint16_t seq_nxt_ = 0;      ///< next sequence number to assign
    std::uint16_t seq_una_ = 0;      ///< oldest unacknowledged (== seq_nxt_ when none)
    std::vector<outgoing> out_;      ///< ring, size a power of two
    detail::byte_ring snd_buf_;      ///< unacknowledged + unsent bytes
    std::uint64_t snd_base_off_ = 0; ///< stream offset of snd_buf_'s first byte
    std::uint64_t snd_nxt_off_ = 0;  ///< next stream byte to packetize
    std::uint32_t bytes_in_flight_ = 0;
    std::uint32_t lost_count_ = 0; ///< packets marked lost, not yet resent
    std::uint32_t peer_wnd_ = 0;
    std::uint16_t recovery_seq_ = 0; ///< losses below this belong to the last window cut
    recovery recovery_ = recovery::none;
    instant recovery_start_{};
    unsigned dup_acks_ = 0;
    // Proportional Rate Reduction (RFC 6937): during fast recovery, what was delivered
    // and sent since it began, and the flight size when it began.
    std::uint64_t prr_delivered_ = 0;
    std::uint64_t prr_out_ = 0;
    std::uint32_t recover_fs_ = 0;
    std::uint32_t prr_quota_ = 0;    ///< bytes recovery may send until the next ACK
    std::uint32_t prr_ssthresh_ = 0; ///< the window recovery converges to
    bool prr_first_ = false;         ///< the episode's first retransmission goes at once
    // RACK (RFC 8985 §6): the latest transmission among delivered packets.
    instant rack_xmit_ts_{};
    std::uint16_t rack_end_seq_ = 0;
    duration rack_rtt_{0};
    bool rack_valid_ = false;
    duration min_rtt_{0};                 ///< smallest RTT sample (0: none yet)
    unsigned reo_wnd_mult_ = 1;           ///< grows with spurious retransmissions (RFC 8985 §6.2)
    unsigned reordering_ = 3;             ///< packets above a hole before it counts as lost
    std::uint16_t highest_delivered_ = 0; ///< highest first transmission delivered
    bool delivered_any_ = false;
    unsigned recoveries_since_spurious_ = 0;
    std::optional<instant> rack_deadline_; ///< RACK's reordering timer
    // Tail loss probe (RFC 8985 §7).
    std::optional<instant> tlp_deadline_;
    bool tlp_due_ = false;
    unsigned tlp_sent_ = 0;             ///< probes since the last packet was acknowledged
    bool send_unconditionally_ = false; ///< the next packet ignores cwnd and pacing
    detail::pacer pacer_;
    std::optional<instant> pace_deadline_; ///< the pacer releases the next packets then
    detail::slow_start_exit ss_exit_;
    std::uint16_t round_end_seq_ = 0;    ///< a round trip ends when this is acknowledged
    std::uint16_t small_packet_seq_ = 0; ///< Nagle: seq of the undersized packet in flight
    bool small_in_flight_ = false;
    bool fin_requested_ = false;
    std::optional<std::uint16_t> fin_seq_;
    bool fin_acked_ = false;
    bool reset_pending_ = false;
    std::uint16_t syn_seq_ = 0;
    bool syn_ack_pending_ = false; ///< acceptor: (re)send the SYN-ACK
    std::uint16_t syn_ack_seq_ = 0;
    std::uint16_t syn_ack_ack_ = 0;
    // Anti-amplification (acceptor, until the initiator's address is proved): datagram
    // bytes received from it and sent to it.
    std::size_t amp_received_ = 0;
    std::size_t amp_sent_ = 0;
    unsigned consecutive_timeouts_ = 0;
    std::optional<instant> rto_deadline_;
    detail::rtt_estimator rtt_;
    std::unique_ptr<congestion_controller> cc_;

    // -- receive side
    std::uint16_t ack_nr_ = 0;          ///< last sequence number received in order
    detail::byte_ring rcv_buf_;         ///< in-order bytes not yet read
    std::vector<reorder_slot> reorder_; ///< ring indexed by seq, size a power of two
    std::size_t reorder_bytes_ = 0;
    std::uint16_t reorder_count_ = 0;
    std::optional<std::uint16_t> peer_fin_seq_;
    bool peer_fin_reached_ = false;
    bool discard_input_ = false; ///< handle closed: new data aborts (nobody reads it)
    unsigned acks_owed_ = 0;     ///< DATA packets received since our last ACK
    bool ack_now_ = false;       ///< an ACK should go out at the next poll
    std::optional<instant> ack_deadline_;
    std::uint32_t last_adv_wnd_ = 0;
    std::uint32_t reply_micro_ = 0; ///< our receive time − the peer's last stamp
    detail::delay_history delay_;
    std::uint16_t reorder_high_ = 0; ///< furthest out-of-order sequence number held

    // -- timers
    instant last_recv_{};
    std::optional<instant> last_trace_; ///< time of the last `sample` record
    instant last_send_{};
    instant last_progress_{}; ///< new data last acknowledged, or outstanding data first sent
    std::optional<instant> linger_deadline_;
    std::optional<instant> syn_received_deadline_;
    std::optional<instant> time_wait_deadline_;
    bool keepalive_due_ = false;
    bool finished_ = false; ///< nothing more to do: the owner may forget it

    connection_stats stats_;
};

} // namespace utp::proto

#endif
