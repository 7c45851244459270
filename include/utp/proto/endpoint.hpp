//
// utp/proto/endpoint.hpp — the demultiplexer: every connection on one UDP port.
//
#ifndef UTP_PROTO_ENDPOINT_HPP
#define UTP_PROTO_ENDPOINT_HPP

#include <utp/proto/address.hpp>
#include <utp/proto/connection.hpp>
#include <utp/proto/settings.hpp>
#include <utp/proto/stats.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <span>
#include <unordered_map>
#include <vector>

namespace utp::proto {

/// Names a connection held by an endpoint; stale handles are detected, not reused.
struct connection_handle {
    std::uint32_t index = UINT32_MAX;
    std::uint32_t generation = 0;

    friend bool operator==(const connection_handle&, const connection_handle&) = default;
    explicit operator bool() const noexcept { return index != UINT32_MAX; }
};

/// A datagram `poll_transmit` produced: its destination and size.
struct transmit {
    peer_address to;
    std::size_t size = 0;
};

/// What `handle_datagram` made of a datagram.
enum class datagram_verdict : std::uint8_t {
    accepted, ///< µTP, delivered to a connection (or a new one in the backlog)
    not_utp,  ///< not µTP at all: the caller may hand it to another protocol
    dropped,  ///< µTP but dropped (counted in `stats().dropped`)
};

/** The demultiplexer of one UDP port: holds every connection keyed by
    (remote address, receive id), accepts SYNs into a bounded backlog, answers strays with
    a rate-limited RESET, and schedules output and timers for all of them.

    Sans-I/O: feed it datagrams and time, poll it for datagrams and its next deadline.
    It draws connection ids and initial sequence numbers from a generator seeded at
    construction, so a run is reproducible.

    @par Thread Safety
    Distinct objects: safe. Shared objects: unsafe.
*/
class endpoint {
public:
    explicit endpoint(const endpoint_settings& s, std::uint64_t seed);
    ~endpoint();
    endpoint(const endpoint&) = delete;
    endpoint& operator=(const endpoint&) = delete;

    // -- input ---------------------------------------------------------------------------

    /// Hand in one received datagram.
    datagram_verdict handle_datagram(const peer_address& from,
                                     std::span<const std::uint8_t> datagram, instant now);

    /// Run every timer due at `now`.
    void handle_timeout(instant now);

    /** An ICMP error said `to` is unreachable. `quoted` is the start of the datagram
        that drew it, as the error carries it (empty if unknown).

        Anyone can forge an ICMP error quoting a 4-tuple, so it is a hard error only for
        the connection whose datagram it quotes (its connection id, and a sequence number
        we sent recently): that one fails, with `refused` while connecting, with `reset`
        once established if `port_gone` (port unreachable: nothing is bound there any
        more, so a dead peer is noticed at our next packet). Without a quote that decodes,
        only connections still connecting to `to` fail (`refused`: a dial to a port
        nobody listens on ends at once), as TCP does; established ones take it as a soft
        error (RFC 5927 §4.1), counted in `endpoint_stats::unreachable_ignored`. */
    void handle_unreachable(const peer_address& to, instant now, bool port_gone,
                            std::span<const std::uint8_t> quoted = {});

    // -- output --------------------------------------------------------------------------

    /** The next datagram to send, written into `out` (≥ packet size + 64 bytes).

        Connections take turns, one datagram each, so one bulk sender does not starve
        the others.
    */
    std::optional<transmit> poll_transmit(instant now, std::span<std::uint8_t> out);

    /// When `handle_timeout` should next run, if any timer is armed.
    std::optional<instant> next_timeout();

    /// The next connection whose application-visible state changed, if any.
    std::optional<connection_handle> poll_wakeup();

    // -- connections ---------------------------------------------------------------------

    /** Open an outgoing connection (its SYN goes out at the next `poll_transmit`).

        @param recv_id the connection id to receive on, instead of a random one (it must
        be unused for `to`; tests use it to exercise ids 0xFFFF and 0x0000).
        @param seq the SYN's sequence number, instead of a random one.
        @return an invalid handle if no unused id was found.
    */
    connection_handle connect(const peer_address& to, instant now,
                              std::optional<std::uint16_t> recv_id = std::nullopt,
                              std::optional<std::uint16_t> seq = std::nullopt);

    /// Take the oldest connection waiting in the accept backlog.
    std::optional<connection_handle> accept();

    /// Start or stop accepting SYNs.
    void listen(bool on) noexcept { settings_.listening = on; }
    bool listening() const noexcept { return settings_.listening; }
    void set_accept_backlog(std::size_t n) noexcept { settings_.accept_backlog = n; }
    std::size_t backlog_size() const noexcept { return backlog_.size(); }

    /// The connection `h` names, or nullptr if it is gone.
    connection* get(connection_handle h) noexcept;
    const connection* get(connection_handle h) const noexcept;
    /// The peer of `h` (the handle must be valid).
    const peer_address& remote(connection_handle h) const noexcept;

    std::size_t read(connection_handle h, std::span<std::uint8_t> out, instant now);
    std::size_t write(connection_handle h, std::span<const std::uint8_t> data, instant now);
    void shutdown_send(connection_handle h, instant now);

    /** The application is done with `h`: it is closed gracefully (FIN, linger) and
        forgotten once done. The handle is invalid afterwards.
    */
    void release(connection_handle h, instant now);

    /// Abort `h` with a RESET and forget it. The handle is invalid afterwards.
    void abort(connection_handle h, instant now);

    /// Call after changing a connection through `get()` outside read/write.
    void touch(connection_handle h, instant now);

    std::size_t connection_count() const noexcept { return by_key_.size(); }
    /// Connections with work left: not closed (TIME-WAIT only re-acknowledges) and not
    /// failed. The engine runs while there are any, as a kernel services its sockets.
    std::size_t live_connection_count() const noexcept { return by_key_.size() - finished_; }
    const endpoint_stats& stats() const noexcept { return stats_; }
    const endpoint_settings& settings() const noexcept { return settings_; }
    /// Settings given to connections created from now on.
    proto::settings& connection_settings() noexcept { return settings_.connection; }

private:
    struct key {
        peer_address addr;
        std::uint16_t id = 0;
        friend bool operator==(const key&, const key&) = default;
    };
    struct key_hash {
        std::size_t operator()(const key& k) const noexcept {
            return peer_address_hash{}(k.addr) * 31u + k.id;
        }
    };
    struct slot {
        std::unique_ptr<connection> conn;
        peer_address peer;
        std::uint32_t generation = 0;
        bool released = false;
        bool queued_send = false;
        bool queued_wakeup = false;
        bool in_backlog = false;
        bool half_open = false; ///< not yet in the backlog: unproved, or proved and waiting
        bool counted_backlog_full = false; ///< proved while the backlog was full
        bool counted_finished = false;     ///< counted in `finished_`
        std::optional<instant> scheduled;  ///< deadline of its newest heap entry
    };
    struct timer_entry {
        instant at;
        std::uint32_t index;
        std::uint32_t generation;
        bool operator>(const timer_entry& o) const noexcept { return at > o.at; }
    };
    struct queue_entry {
        std::uint32_t index;
        std::uint32_t generation;
        friend bool operator==(const queue_entry&, const queue_entry&) = default;
    };
    struct pending_reset {
        peer_address to;
        std::uint16_t connection_id;
        std::uint16_t ack_nr;
    };

    connection_handle insert(connection c, const peer_address& peer);
    slot* slot_of(connection_handle h) noexcept;
    void after_io(std::uint32_t index, instant now);
    void schedule(std::uint32_t index);
    void reap_if_done(std::uint32_t index);
    void remove(std::uint32_t index);
    void queue_reset(const peer_address& to, std::uint16_t id, std::uint16_t ack_nr, instant now);
    connection* find_for_reset(const peer_address& from, std::uint16_t id, std::uint32_t& index);
    /// A SYN with this connection id from `from` would share an id with a live connection.
    bool collides(const peer_address& from, std::uint16_t syn_id) const;
    void evict_oldest_half_open();
    /// Move proved connections waiting among the half-open ones into the backlog.
    void promote_proved();
    /// A half-open connection whose state changed: proved (to the backlog) or gone.
    void settle_half_open(std::uint32_t index);
    /// The connection settings towards `peer` (its address family's packet size).
    proto::settings settings_for(const peer_address& peer) const;
    std::uint64_t next_random() noexcept;

    endpoint_settings settings_;
    std::uint64_t rng_;
    std::vector<slot> slots_;
    std::vector<std::uint32_t> free_slots_;
    std::unordered_map<key, std::uint32_t, key_hash> by_key_;
    std::deque<queue_entry> send_queue_;
    std::deque<queue_entry> wakeups_;
    std::deque<queue_entry> backlog_;
    std::deque<queue_entry> half_open_; ///< oldest first; entries go stale, skipped
    std::size_t half_open_count_ = 0;
    std::size_t proved_waiting_ = 0; ///< proved half-open connections waiting for room
    std::priority_queue<timer_entry, std::vector<timer_entry>, std::greater<>> timers_;
    std::vector<timer_entry> due_; ///< scratch for handle_timeout
    std::deque<pending_reset> resets_;
    double reset_tokens_;
    instant reset_refill_{};
    /// When a RESET last went to (address, connection id): one per second each, so that a
    /// dead connection's retransmissions draw a few, not one each (tokio-utp issue #3).
    std::unordered_map<key, instant, key_hash> recent_resets_;
    std::size_t finished_ = 0; ///< connections held that are closed or done
    endpoint_stats stats_;
};

} // namespace utp::proto

#endif
