//
// network.hpp — a deterministic discrete-event network for the sans-I/O core.
//
// Nodes are `utp::proto::endpoint`s at simulated addresses (no sockets). Datagrams travel
// over per-direction links with delay, jitter, a rate-limited tail-drop queue, loss,
// reordering, duplication and corruption, all drawn from seeded generators. Time is
// virtual: the clock jumps from one event to the next, so a simulated minute takes
// milliseconds, and the same seed always gives the same run.
//
//     sim::network net(seed);
//     auto& a = net.add_node(sim::address(1), settings);
//     auto& b = net.add_node(sim::address(2), settings);
//     net.link(a, b, sim::link_config{.delay = 25ms, .rate_bps = 10'000'000});
//     b.listen(true);
//     auto h = a.connect(b);
//     net.run_until([&] { return a.get(h)->state() == proto::conn_state::connected; }, 5s);
//
// After every input to a node (a datagram, its timer) the node's handler runs (the
// "application"), then every node that was touched is flushed: `poll_transmit` is looped
// into the links and the node's single timer is re-armed at `next_timeout()`.
//
#ifndef UTP_SIM_NETWORK_HPP
#define UTP_SIM_NETWORK_HPP

#include "random.hpp"

#include <utp/proto/address.hpp>
#include <utp/proto/endpoint.hpp>
#include <utp/proto/packet.hpp>
#include <utp/proto/settings.hpp>
#include <utp/proto/time.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace utp::sim {

using proto::duration;
using proto::instant;
using namespace std::chrono_literals;

/// 10.0.0.n:port — the usual way to name a simulated node.
constexpr proto::peer_address address(std::uint8_t n, std::uint16_t port = 6881) noexcept {
    return proto::peer_address::v4(10, 0, 0, n, port);
}

/// "10.0.0.1:6881" or "[…]:port".
std::string to_string(const proto::peer_address& a);

/// What corruption does to a datagram.
enum class corruption : std::uint8_t {
    /** Damage the µTP decoder rejects: truncation below a header, a version nibble other
        than 1, a type nibble above 4. (µTP has no checksum of its own; UDP's catches
        damage elsewhere, which therefore is not simulated by this mode.) Safe to combine
        with byte-exact transfer checks. */
    malformed,
    /** Hostile values in the fields µTP cannot verify and must survive: timestamp,
        timestamp_difference (0, INT32_MAX, 2^31, UINT32_MAX or random) and wnd_size (0,
        UINT32_MAX or random). Stream integrity must hold; performance may suffer. */
    hostile_fields,
    /// Either of the above, at random.
    detectable,
    /// Flip 1–4 random bits anywhere in the datagram (payload and seq/ack included).
    random_bits,
};

const char* to_string(corruption c) noexcept;

/// One direction of a link. Every probability is per datagram.
struct link_config {
    /// Propagation delay.
    duration delay{0};
    /// Uniform extra delay in [0, jitter]. Datagrams still arrive in order (a late one
    /// holds back those behind it) unless `reorder` picks them.
    duration jitter{0};
    /// Bottleneck rate in bits per second (0: infinite, no queue).
    std::uint64_t rate_bps = 0;
    /// Queue in front of the bottleneck, in bytes (0: unbounded). A datagram that does
    /// not fit is dropped (tail drop). Only meaningful with a rate.
    std::size_t queue_bytes = 0;
    /** Bytes each queued datagram costs beyond its size (0: none). A socket buffer
        charges a datagram its whole allocation (Linux's skb truesize: ~2.3 KiB for a
        1.4 KB datagram on loopback), so `rate_bps` + `queue_bytes` + this model a
        receiver whose UDP receive buffer (e.g. the default 212 992 bytes) is drained at
        a fixed rate. */
    std::size_t queue_overhead = 0;
    /// Largest datagram carried (0: any); larger ones are dropped.
    std::size_t mtu = 0;
    /// Random loss (after the queue, on the wire).
    double loss = 0.0;
    /// Probability that a datagram is held back by `reorder_delay`, letting later ones
    /// overtake it.
    double reorder = 0.0;
    duration reorder_delay = 10ms;
    /// Probability that a datagram is delivered twice.
    double duplicate = 0.0;
    /// Probability that a datagram is corrupted, and how.
    double corrupt = 0.0;
    corruption corrupt_mode = corruption::malformed;
};

std::ostream& operator<<(std::ostream& os, const link_config& c);

/// Corrupt `d` in place as `mode` describes (what a link with `corrupt` > 0 does).
void corrupt_datagram(rng& r, corruption mode, std::vector<std::uint8_t>& d);

/// Counters of one direction of a link.
struct link_stats {
    std::uint64_t packets_offered = 0; ///< handed to the link by the sender
    std::uint64_t bytes_offered = 0;
    std::uint64_t packets_delivered = 0; ///< handed to the receiving endpoint (dups included)
    std::uint64_t bytes_delivered = 0;
    std::uint64_t dropped_queue = 0;  ///< tail drops at the bottleneck queue
    std::uint64_t dropped_loss = 0;   ///< random loss
    std::uint64_t dropped_filter = 0; ///< dropped by a test's filter
    std::uint64_t dropped_mtu = 0;    ///< larger than the link's MTU
    std::uint64_t duplicated = 0;
    std::uint64_t corrupted = 0;
    std::uint64_t reordered = 0;
    /// Queueing delay at the bottleneck, one sample per datagram that entered the queue.
    std::uint64_t queue_samples = 0;
    std::int64_t queue_delay_sum_us = 0;
    duration max_queue_delay{0};
    std::size_t max_queue_bytes = 0;

    duration average_queue_delay() const noexcept {
        return duration{
            queue_samples ? queue_delay_sum_us / static_cast<std::int64_t>(queue_samples) : 0};
    }
    std::uint64_t drops() const noexcept {
        return dropped_queue + dropped_loss + dropped_filter + dropped_mtu;
    }
};

/// Network-wide counters.
struct network_stats {
    std::uint64_t events = 0;         ///< events processed so far
    std::uint64_t datagrams_sent = 0; ///< everything the nodes' poll_transmit produced
    std::uint64_t unroutable = 0;     ///< addressed to no node
    std::uint64_t injected = 0;
    std::uint64_t flush_overruns = 0; ///< flushes cut short (a node never ran dry)
};

/// Why `run_until` stopped.
enum class run_reason : std::uint8_t {
    satisfied,   ///< the predicate became true
    deadline,    ///< the next event lies beyond the deadline
    idle,        ///< no event left at all
    event_limit, ///< the event budget ran out (a livelock, or a too-long run)
};

const char* to_string(run_reason r) noexcept;

/// The result of `run_until`: converts to true when the predicate was satisfied.
struct run_outcome {
    run_reason reason = run_reason::satisfied;
    explicit operator bool() const noexcept { return reason == run_reason::satisfied; }
    friend bool operator==(const run_outcome&, const run_outcome&) = default;
};

std::ostream& operator<<(std::ostream& os, run_reason r);
std::ostream& operator<<(std::ostream& os, run_outcome r);

class network;
class node;

/// A datagram as a filter sees it, when its sender hands it to the network.
struct datagram_view {
    const node& from;
    const node* to; ///< nullptr if no node has the destination address
    proto::peer_address src;
    proto::peer_address dst;
    std::span<std::uint8_t> bytes; ///< may be modified in place (not resized)
    instant now;

    /// The µTP header, if the datagram decodes.
    std::optional<proto::header> header() const noexcept;
    /// Payload bytes after the header and extensions (0 if it does not decode).
    std::size_t payload_size() const noexcept;
};

enum class filter_action : std::uint8_t { pass, drop };
using filter_fn = std::function<filter_action(datagram_view&)>;
using filter_id = std::uint32_t;

/// Counters of one node.
struct node_stats {
    std::uint64_t datagrams_in = 0; ///< handed to handle_datagram
    std::uint64_t accepted = 0;
    std::uint64_t not_utp = 0;
    std::uint64_t dropped = 0;
    std::uint64_t datagrams_out = 0; ///< produced by poll_transmit
    std::uint64_t timer_fires = 0;   ///< handle_timeout calls
};

/** One simulated host: an endpoint at an address, plus the application's handler.

    The helpers (`connect`, `write`, …) pass the network's current time and mark the node
    for flushing; so does any access through `endpoint()`.
*/
class node {
public:
    node(const node&) = delete;
    node& operator=(const node&) = delete;

    const proto::peer_address& address() const noexcept { return addr_; }
    std::uint32_t index() const noexcept { return index_; }
    network& net() const noexcept { return *net_; }

    /// The endpoint; marks the node for flushing (the caller may change it).
    proto::endpoint& endpoint() noexcept;
    const proto::endpoint& endpoint() const noexcept { return *ep_; }

    /** The application: runs after every input to this node (datagram or timer), before
        the node is flushed. Typically drains `poll_wakeup()` / `accept()` and reads and
        writes. Pass nullptr to remove. */
    void set_handler(std::function<void(node&)> h) { handler_ = std::move(h); }
    /// Called for every datagram the endpoint rejected as not µTP.
    void set_not_utp_handler(
        std::function<void(node&, const proto::peer_address&, std::span<const std::uint8_t>)> h) {
        not_utp_handler_ = std::move(h);
    }

    // -- application helpers (time = the network's now) ----------------------------------
    void listen(bool on = true);
    /// Open a connection to `to`; `recv_id` / `seq` pin the connection id and the SYN's
    /// sequence number instead of drawing them (see `proto::endpoint::connect`).
    proto::connection_handle connect(const proto::peer_address& to,
                                     std::optional<std::uint16_t> recv_id = std::nullopt,
                                     std::optional<std::uint16_t> seq = std::nullopt);
    proto::connection_handle connect(const node& to,
                                     std::optional<std::uint16_t> recv_id = std::nullopt,
                                     std::optional<std::uint16_t> seq = std::nullopt) {
        return connect(to.address(), recv_id, seq);
    }
    std::optional<proto::connection_handle> accept();
    std::optional<proto::connection_handle> poll_wakeup();
    proto::connection* get(proto::connection_handle h) noexcept;
    std::size_t read(proto::connection_handle h, std::span<std::uint8_t> out);
    std::size_t write(proto::connection_handle h, std::span<const std::uint8_t> data);
    void shutdown_send(proto::connection_handle h);
    void release(proto::connection_handle h);
    void abort(proto::connection_handle h);
    std::size_t connection_count() const noexcept { return ep_->connection_count(); }

    /// Send a raw datagram from this node through the link to `to` (filters apply).
    void send_raw(const proto::peer_address& to, std::span<const std::uint8_t> bytes);

    const node_stats& stats() const noexcept { return stats_; }

private:
    friend class network;
    node(network& net, std::uint32_t index, const proto::peer_address& addr,
         const proto::endpoint_settings& s, std::uint64_t seed);

    network* net_;
    std::uint32_t index_;
    proto::peer_address addr_;
    std::unique_ptr<proto::endpoint> ep_;
    std::function<void(node&)> handler_;
    std::function<void(node&, const proto::peer_address&, std::span<const std::uint8_t>)>
        not_utp_handler_;
    node_stats stats_;
    // timer
    std::uint32_t timer_generation_ = 0;
    std::optional<instant> timer_at_;   ///< when the pending timer event fires
    std::optional<instant> timer_want_; ///< the endpoint's latest next_timeout()
    bool dirty_ = false;
};

/** The network: nodes, links, the event queue and the virtual clock. */
class network {
public:
    /// @param seed drives every random choice (links, endpoints' ids and sequence numbers).
    /// @param start the virtual clock's first reading.
    explicit network(std::uint64_t seed, instant start = instant{});
    ~network();
    network(const network&) = delete;
    network& operator=(const network&) = delete;

    // -- topology ------------------------------------------------------------------------
    node& add_node(const proto::peer_address& addr, const proto::endpoint_settings& s);
    node& add_node(const proto::peer_address& addr, const proto::settings& s = {});
    node* find(const proto::peer_address& addr) noexcept;
    std::size_t node_count() const noexcept { return nodes_.size(); }
    node& node_at(std::size_t i) noexcept { return *nodes_[i]; }

    /// The configuration used by directions never configured.
    void set_default_link(const link_config& c) { default_link_ = c; }
    const link_config& default_link() const noexcept { return default_link_; }
    /// Configure both directions between `a` and `b` alike.
    void link(const node& a, const node& b, const link_config& both);
    /// Configure `a`→`b` and `b`→`a`.
    void link(const node& a, const node& b, const link_config& a_to_b, const link_config& b_to_a);
    /// Configure one direction (may be called mid-run; queued datagrams are unaffected).
    void set_link(const node& from, const node& to, const link_config& c);
    /// The configuration of `from`→`to` (created from the default if never used).
    const link_config& link_of(const node& from, const node& to);
    const link_stats& stats(const node& from, const node& to);
    void reset_stats(const node& from, const node& to);

    // -- time and running ----------------------------------------------------------------
    instant now() const noexcept { return now_; }
    /// Virtual time elapsed since construction.
    duration elapsed() const noexcept { return now_ - start_; }

    /// Process events in time order until `pred()` holds (checked before the first event
    /// and after each), the next event is later than `deadline`, no event is left, or
    /// `max_events` have been processed by this call.
    template <class Pred>
    run_outcome run_until(Pred&& pred, instant deadline, std::uint64_t max_events = UINT64_MAX) {
        flush_dirty();
        for (std::uint64_t n = 0;; ++n) {
            if (pred()) return {run_reason::satisfied};
            if (heap_.empty()) return {run_reason::idle};
            if (heap_.front().at > deadline.time_since_epoch().count()) {
                if (deadline > now_) now_ = deadline;
                return {run_reason::deadline};
            }
            if (n >= max_events || stats_.events >= event_budget_) return {run_reason::event_limit};
            step_one();
        }
    }
    template <class Pred>
    run_outcome run_until(Pred&& pred, duration timeout, std::uint64_t max_events = UINT64_MAX) {
        return run_until(std::forward<Pred>(pred), now_ + timeout, max_events);
    }
    /// Process every event up to `now() + d`, then set the clock there.
    void run_for(duration d);
    /// Process the next event, if any. Returns false if none was left.
    bool step();
    /// Time of the next event, if any.
    std::optional<instant> next_event_time() const noexcept;
    std::size_t pending_events() const noexcept { return heap_.size(); }

    /// A network-wide cap on processed events (default: unlimited); `run_until` stops with
    /// `event_limit` once it is reached.
    void set_event_budget(std::uint64_t n) noexcept { event_budget_ = n; }

    /// Run `fn` at `at` (or now, if in the past) as an event.
    void schedule(instant at, std::function<void()> fn);
    void schedule(duration after, std::function<void()> fn) {
        schedule(now_ + after, std::move(fn));
    }

    // -- test hooks ----------------------------------------------------------------------
    /** Every datagram a node sends passes through the filters (in the order added) before
        it enters its link; a filter may inspect it, modify it in place or drop it. A filter
        must not add or remove filters itself (schedule that instead). */
    filter_id add_filter(filter_fn f);
    void remove_filter(filter_id id);
    void clear_filters();

    /// Deliver raw bytes to `to` as if from `from`, `after` from now, bypassing links.
    void inject(node& to, const proto::peer_address& from, std::span<const std::uint8_t> bytes,
                duration after = duration{0});

    /// Flush every node touched since the last flush (the run functions do it too).
    void flush_dirty();
    /// Flush `n` now: send what it has to send and re-arm its timer.
    void flush(node& n);

    const network_stats& stats() const noexcept { return stats_; }
    std::uint64_t seed() const noexcept { return seed_; }

private:
    friend class node;

    enum class event_kind : std::uint8_t { deliver, timer, callback };
    struct event {
        std::int64_t at;      ///< µs since the clock's epoch
        std::uint64_t order;  ///< insertion order: ties run first-in, first-out
        std::uint32_t target; ///< node index (deliver, timer)
        std::uint32_t arg;    ///< buffer (deliver), generation (timer), callback slot
        event_kind kind;
    };
    struct event_later {
        bool operator()(const event& x, const event& y) const noexcept {
            return x.at != y.at ? x.at > y.at : x.order > y.order;
        }
    };
    /// A datagram in flight, pooled: its vector keeps its capacity between uses.
    struct buffer {
        std::vector<std::uint8_t> data;
        proto::peer_address from;
        std::uint32_t link = UINT32_MAX; ///< carrying link, or UINT32_MAX if injected
    };
    struct link_state {
        link_config cfg;
        link_stats st;
        rng random;
        std::uint32_t from;
        std::uint32_t to;
        std::int64_t busy_until_ns = 0;        ///< when the bottleneck finishes its backlog
        std::int64_t last_arrival = INT64_MIN; ///< µs, for FIFO delivery under jitter
        /// With `queue_overhead`: departure time (ns) and charge of each queued datagram.
        std::deque<std::pair<std::int64_t, std::size_t>> queued;
        std::size_t queued_charge = 0;
    };

    void push_event(std::int64_t at, event_kind k, std::uint32_t target, std::uint32_t arg);
    void step_one();
    void mark_dirty(node& n);
    void rearm_timer(node& n);
    void after_input(node& n);
    std::uint32_t acquire_buffer();
    void release_buffer(std::uint32_t b) { free_buffers_.push_back(b); }
    std::uint32_t link_index(std::uint32_t from, std::uint32_t to);
    link_state& link_between(std::uint32_t from, std::uint32_t to) {
        return links_[link_index(from, to)];
    }
    void transmit(node& from, const proto::peer_address& to, std::span<const std::uint8_t> bytes);

    std::uint64_t seed_;
    instant start_;
    instant now_;
    std::uint64_t order_ = 0;
    std::uint64_t event_budget_ = UINT64_MAX;
    std::vector<event> heap_;
    std::vector<std::unique_ptr<node>> nodes_;
    std::unordered_map<proto::peer_address, std::uint32_t, proto::peer_address_hash> by_addr_;
    link_config default_link_;
    std::deque<link_state> links_; ///< deque: references stay valid
    std::unordered_map<std::uint64_t, std::uint32_t> link_index_;
    std::vector<buffer> buffers_;
    std::vector<std::uint32_t> free_buffers_;
    std::vector<std::function<void()>> callbacks_;
    std::vector<std::uint32_t> free_callbacks_;
    std::vector<std::pair<filter_id, filter_fn>> filters_;
    filter_id next_filter_ = 1;
    std::vector<std::uint32_t> dirty_;
    std::vector<std::uint8_t> scratch_;
    network_stats stats_;
};

/// The network of most tests: node A (address 1) and node B (address 2), one link.
struct two_nodes {
    network net;
    node& a;
    node& b;

    explicit two_nodes(std::uint64_t seed, const link_config& l, instant start = instant{},
                       const proto::settings& s = {})
        : net(seed, start), a(net.add_node(address(1), s)), b(net.add_node(address(2), s)) {
        net.link(a, b, l);
    }
};

// -- filter helpers ----------------------------------------------------------------------

/// What a datagram must look like to match (unset fields match anything).
struct match {
    std::optional<proto::packet_type> type{};
    const node* from = nullptr;
    const node* to = nullptr;
    std::optional<std::uint16_t> seq{};
    std::optional<std::uint16_t> ack{};
    std::optional<std::uint16_t> connection_id{};
    /// DATA with a payload only (excludes zero-length packets)
    bool with_payload = false;
    /// Arbitrary extra condition.
    std::function<bool(const datagram_view&)> when{};

    bool operator()(const datagram_view& d) const;
};

/// A filter dropping the first `count` datagrams that match `m` (then passing all).
filter_fn drop_first(match m, std::uint64_t count = 1);
/// A filter dropping every datagram that matches `m`.
filter_fn drop_all(match m);
/// A filter counting datagrams that match `m` into `*counter` (passes everything).
filter_fn count_into(match m, std::shared_ptr<std::uint64_t> counter);

/** A filter that loses the first transmission of `count` consecutive DATA packets of
    `from`, starting `first` packets into its stream (counting sequence numbers from its
    first DATA, from 1), and again every `every` packets if `every` is set; with
    `and_fin`, its first FIN too. Retransmissions pass: a burst loss is an event in time,
    not a property of the data. */
filter_fn drop_bursts(const node& from, std::uint64_t first, std::uint64_t count,
                      std::uint64_t every = 0, bool and_fin = false);

} // namespace utp::sim

#endif
