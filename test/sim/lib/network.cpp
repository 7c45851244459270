#include "network.hpp"

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <stdexcept>

namespace utp::sim {
namespace {

// Room for any datagram the core may produce (≥ packet_size + 64 as the core asks).
constexpr std::size_t scratch_size = 64 * 1024 + 64;
// A flush that never runs dry is a core bug; stop it rather than hang.
constexpr std::size_t max_datagrams_per_flush = 1u << 20;

constexpr std::int64_t to_us(instant t) noexcept {
    return t.time_since_epoch().count();
}
constexpr instant from_us(std::int64_t us) noexcept {
    return instant{duration{us}};
}

std::string percent(double p) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g%%", p * 100.0);
    return buf;
}

} // namespace

std::string to_string(const proto::peer_address& a) {
    char buf[64];
    if (a.family == 6) {
        std::string s = "[";
        for (int i = 0; i < 16; i += 2) {
            std::snprintf(buf, sizeof buf, "%s%x", i ? ":" : "",
                          (a.bytes[i] << 8) | a.bytes[i + 1]);
            s += buf;
        }
        std::snprintf(buf, sizeof buf, "]:%u", a.port);
        return s + buf;
    }
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u:%u", a.bytes[0], a.bytes[1], a.bytes[2], a.bytes[3],
                  a.port);
    return buf;
}

std::ostream& operator<<(std::ostream& os, const link_config& c) {
    os << "delay=" << c.delay.count() / 1000.0 << "ms";
    if (c.jitter.count()) os << " jitter=" << c.jitter.count() / 1000.0 << "ms";
    if (c.rate_bps) os << " rate=" << static_cast<double>(c.rate_bps) / 1e6 << "Mbit/s";
    if (c.queue_bytes) os << " queue=" << c.queue_bytes << "B";
    if (c.queue_overhead) os << "+" << c.queue_overhead << "B/datagram";
    if (c.mtu) os << " mtu=" << c.mtu;
    if (c.loss > 0) os << " loss=" << percent(c.loss);
    if (c.reorder > 0)
        os << " reorder=" << percent(c.reorder) << "/" << c.reorder_delay.count() / 1000.0 << "ms";
    if (c.duplicate > 0) os << " dup=" << percent(c.duplicate);
    if (c.corrupt > 0)
        os << " corrupt=" << percent(c.corrupt) << "(" << to_string(c.corrupt_mode) << ")";
    return os;
}

const char* to_string(corruption c) noexcept {
    switch (c) {
    case corruption::malformed:
        return "malformed";
    case corruption::hostile_fields:
        return "hostile_fields";
    case corruption::detectable:
        return "detectable";
    case corruption::random_bits:
        return "random_bits";
    }
    return "?";
}

const char* to_string(run_reason r) noexcept {
    switch (r) {
    case run_reason::satisfied:
        return "satisfied";
    case run_reason::deadline:
        return "deadline";
    case run_reason::idle:
        return "idle";
    case run_reason::event_limit:
        return "event_limit";
    }
    return "?";
}

std::ostream& operator<<(std::ostream& os, run_reason r) {
    return os << to_string(r);
}
std::ostream& operator<<(std::ostream& os, run_outcome r) {
    return os << to_string(r.reason);
}

// -- datagram_view / match ---------------------------------------------------------------

std::optional<proto::header> datagram_view::header() const noexcept {
    proto::packet p;
    if (proto::decode(bytes, p) != proto::decode_error::ok) return std::nullopt;
    return p.hdr;
}

std::size_t datagram_view::payload_size() const noexcept {
    proto::packet p;
    if (proto::decode(bytes, p) != proto::decode_error::ok) return 0;
    return p.payload.size();
}

bool match::operator()(const datagram_view& d) const {
    if (from && &d.from != from) return false;
    if (to && d.to != to) return false;
    if (type || seq || ack || connection_id || with_payload) {
        proto::packet p;
        if (proto::decode(d.bytes, p) != proto::decode_error::ok) return false;
        if (type && p.hdr.type != *type) return false;
        if (seq && p.hdr.seq_nr != *seq) return false;
        if (ack && p.hdr.ack_nr != *ack) return false;
        if (connection_id && p.hdr.connection_id != *connection_id) return false;
        if (with_payload && p.payload.empty()) return false;
    }
    if (when && !when(d)) return false;
    return true;
}

filter_fn drop_first(match m, std::uint64_t count) {
    return [m = std::move(m), left = count](datagram_view& d) mutable {
        if (left > 0 && m(d)) {
            --left;
            return filter_action::drop;
        }
        return filter_action::pass;
    };
}

filter_fn drop_all(match m) {
    return [m = std::move(m)](datagram_view& d) {
        return m(d) ? filter_action::drop : filter_action::pass;
    };
}

filter_fn count_into(match m, std::shared_ptr<std::uint64_t> counter) {
    return [m = std::move(m), counter = std::move(counter)](datagram_view& d) {
        if (m(d)) ++*counter;
        return filter_action::pass;
    };
}

// -- node --------------------------------------------------------------------------------

node::node(network& net, std::uint32_t index, const proto::peer_address& addr,
           const proto::endpoint_settings& s, std::uint64_t seed)
    : net_(&net), index_(index), addr_(addr), ep_(std::make_unique<proto::endpoint>(s, seed)) {}

proto::endpoint& node::endpoint() noexcept {
    net_->mark_dirty(*this);
    return *ep_;
}

void node::listen(bool on) {
    net_->mark_dirty(*this);
    ep_->listen(on);
}

proto::connection_handle node::connect(const proto::peer_address& to,
                                       std::optional<std::uint16_t> recv_id,
                                       std::optional<std::uint16_t> seq) {
    net_->mark_dirty(*this);
    return ep_->connect(to, net_->now(), recv_id, seq);
}

std::optional<proto::connection_handle> node::accept() {
    net_->mark_dirty(*this);
    return ep_->accept();
}

std::optional<proto::connection_handle> node::poll_wakeup() {
    return ep_->poll_wakeup();
}

proto::connection* node::get(proto::connection_handle h) noexcept {
    net_->mark_dirty(*this);
    return ep_->get(h);
}

std::size_t node::read(proto::connection_handle h, std::span<std::uint8_t> out) {
    net_->mark_dirty(*this);
    return ep_->read(h, out, net_->now());
}

std::size_t node::write(proto::connection_handle h, std::span<const std::uint8_t> data) {
    net_->mark_dirty(*this);
    return ep_->write(h, data, net_->now());
}

void node::shutdown_send(proto::connection_handle h) {
    net_->mark_dirty(*this);
    ep_->shutdown_send(h, net_->now());
}

void node::release(proto::connection_handle h) {
    net_->mark_dirty(*this);
    ep_->release(h, net_->now());
}

void node::abort(proto::connection_handle h) {
    net_->mark_dirty(*this);
    ep_->abort(h, net_->now());
}

void node::send_raw(const proto::peer_address& to, std::span<const std::uint8_t> bytes) {
    net_->transmit(*this, to, bytes);
}

// -- network -----------------------------------------------------------------------------

network::network(std::uint64_t seed, instant start)
    : seed_(seed), start_(start), now_(start), scratch_(scratch_size) {
    heap_.reserve(1024);
}

network::~network() = default;

node& network::add_node(const proto::peer_address& addr, const proto::endpoint_settings& s) {
    if (by_addr_.count(addr)) throw std::invalid_argument("sim: address already in use");
    const auto index = static_cast<std::uint32_t>(nodes_.size());
    nodes_.push_back(std::unique_ptr<node>(
        new node(*this, index, addr, s, derive_seed(seed_, 0x100000000ull + index))));
    by_addr_.emplace(addr, index);
    return *nodes_.back();
}

node& network::add_node(const proto::peer_address& addr, const proto::settings& s) {
    proto::endpoint_settings es;
    es.connection = s;
    return add_node(addr, es);
}

node* network::find(const proto::peer_address& addr) noexcept {
    auto it = by_addr_.find(addr);
    return it == by_addr_.end() ? nullptr : nodes_[it->second].get();
}

std::uint32_t network::link_index(std::uint32_t from, std::uint32_t to) {
    const std::uint64_t key = (std::uint64_t{from} << 32) | to;
    auto it = link_index_.find(key);
    if (it != link_index_.end()) return it->second;
    link_state l;
    l.cfg = default_link_;
    l.random.reseed(derive_seed(seed_, key));
    l.from = from;
    l.to = to;
    links_.push_back(std::move(l));
    const auto index = static_cast<std::uint32_t>(links_.size() - 1);
    link_index_.emplace(key, index);
    return index;
}

void network::link(const node& a, const node& b, const link_config& both) {
    link(a, b, both, both);
}

void network::link(const node& a, const node& b, const link_config& a_to_b,
                   const link_config& b_to_a) {
    set_link(a, b, a_to_b);
    set_link(b, a, b_to_a);
}

void network::set_link(const node& from, const node& to, const link_config& c) {
    link_between(from.index(), to.index()).cfg = c;
}

const link_config& network::link_of(const node& from, const node& to) {
    return link_between(from.index(), to.index()).cfg;
}

const link_stats& network::stats(const node& from, const node& to) {
    return link_between(from.index(), to.index()).st;
}

void network::reset_stats(const node& from, const node& to) {
    link_between(from.index(), to.index()).st = link_stats{};
}

void network::push_event(std::int64_t at, event_kind k, std::uint32_t target, std::uint32_t arg) {
    heap_.push_back(event{std::max(at, to_us(now_)), order_++, target, arg, k});
    std::push_heap(heap_.begin(), heap_.end(), event_later{});
}

std::optional<instant> network::next_event_time() const noexcept {
    if (heap_.empty()) return std::nullopt;
    return from_us(heap_.front().at);
}

std::uint32_t network::acquire_buffer() {
    if (!free_buffers_.empty()) {
        const auto b = free_buffers_.back();
        free_buffers_.pop_back();
        return b;
    }
    buffers_.emplace_back();
    return static_cast<std::uint32_t>(buffers_.size() - 1);
}

void network::mark_dirty(node& n) {
    if (n.dirty_) return;
    n.dirty_ = true;
    dirty_.push_back(n.index_);
}

void network::flush_dirty() {
    while (!dirty_.empty()) {
        const auto i = dirty_.back();
        dirty_.pop_back();
        flush(*nodes_[i]);
    }
}

void network::flush(node& n) {
    n.dirty_ = false;
    std::size_t count = 0;
    for (;;) {
        if (++count > max_datagrams_per_flush) {
            ++stats_.flush_overruns;
            break;
        }
        auto t = n.ep_->poll_transmit(now_, scratch_);
        if (!t) break;
        ++n.stats_.datagrams_out;
        ++stats_.datagrams_sent;
        transmit(
            n, t->to,
            std::span<const std::uint8_t>(scratch_.data(), std::min(t->size, scratch_.size())));
    }
    rearm_timer(n);
}

void network::rearm_timer(node& n) {
    // One pending heap entry per node at most: if the deadline moves later, the pending
    // entry stays and re-arms itself when it fires; if it moves earlier, a new entry
    // (with a new generation) supersedes it.
    const auto want = n.ep_->next_timeout();
    n.timer_want_ = want;
    if (!want) return;
    const instant at = std::max(*want, now_);
    if (n.timer_at_ && *n.timer_at_ <= at) return;
    ++n.timer_generation_;
    n.timer_at_ = at;
    push_event(to_us(at), event_kind::timer, n.index_, n.timer_generation_);
}

void network::transmit(node& from, const proto::peer_address& to,
                       std::span<const std::uint8_t> bytes) {
    const auto it = by_addr_.find(to);
    node* dst = it == by_addr_.end() ? nullptr : nodes_[it->second].get();
    if (!dst) {
        // Filters see unroutable datagrams too (a test may count RESETs to strangers).
        if (!filters_.empty()) {
            std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());
            datagram_view v{from, nullptr, from.addr_, to, copy, now_};
            for (auto& f : filters_)
                if (f.second(v) == filter_action::drop) break;
        }
        ++stats_.unroutable;
        return;
    }

    const std::uint32_t bi = acquire_buffer();
    {
        auto& d = buffers_[bi].data;
        d.assign(bytes.begin(), bytes.end());
    }
    const std::uint32_t li = link_index(from.index_, dst->index_);
    link_state& k = links_[li];
    k.st.packets_offered++;
    k.st.bytes_offered += bytes.size();

    for (auto& f : filters_) {
        datagram_view v{from, dst, from.addr_, to, buffers_[bi].data, now_};
        if (f.second(v) == filter_action::drop) {
            k.st.dropped_filter++;
            release_buffer(bi);
            return;
        }
    }

    const link_config& c = k.cfg;
    const std::size_t size = buffers_[bi].data.size();
    if (c.mtu && size > c.mtu) {
        k.st.dropped_mtu++;
        release_buffer(bi);
        return;
    }

    const std::int64_t now_ns = to_us(now_) * 1000;
    std::int64_t depart_ns = now_ns;
    if (c.rate_bps) {
        const std::int64_t backlog_ns = std::max<std::int64_t>(0, k.busy_until_ns - now_ns);
        const auto backlog_bytes = static_cast<std::size_t>(static_cast<uint128>(backlog_ns) *
                                                            c.rate_bps / 8'000'000'000ull);
        if (c.queue_overhead) {
            // Charged per datagram, as a socket buffer does: track what is still queued.
            while (!k.queued.empty() && k.queued.front().first <= now_ns) {
                k.queued_charge -= k.queued.front().second;
                k.queued.pop_front();
            }
            if (c.queue_bytes && k.queued_charge + size + c.queue_overhead > c.queue_bytes) {
                k.st.dropped_queue++;
                release_buffer(bi);
                return;
            }
        } else if (c.queue_bytes && backlog_bytes + size > c.queue_bytes) {
            k.st.dropped_queue++;
            release_buffer(bi);
            return;
        }
        const std::int64_t start_ns = std::max(now_ns, k.busy_until_ns);
        const duration qd{(start_ns - now_ns) / 1000};
        k.st.queue_samples++;
        k.st.queue_delay_sum_us += qd.count();
        k.st.max_queue_delay = std::max(k.st.max_queue_delay, qd);
        k.st.max_queue_bytes = std::max(k.st.max_queue_bytes, backlog_bytes + size);
        const auto tx_ns = static_cast<std::int64_t>(
            (static_cast<uint128>(size) * 8'000'000'000ull + c.rate_bps - 1) / c.rate_bps);
        k.busy_until_ns = start_ns + tx_ns;
        depart_ns = k.busy_until_ns;
        if (c.queue_overhead) {
            k.queued.emplace_back(depart_ns, size + c.queue_overhead);
            k.queued_charge += size + c.queue_overhead;
        }
    }

    if (k.random.chance(c.loss)) {
        k.st.dropped_loss++;
        release_buffer(bi);
        return;
    }

    std::int64_t arrival_ns = depart_ns + c.delay.count() * 1000;
    if (c.jitter.count() > 0)
        arrival_ns += static_cast<std::int64_t>(
            k.random.below(static_cast<std::uint64_t>(c.jitter.count()) * 1000 + 1));
    std::int64_t arrival = (arrival_ns + 999) / 1000;
    if (k.random.chance(c.reorder)) {
        // Held back: later datagrams overtake it. It does not hold back others.
        k.st.reordered++;
        arrival += c.reorder_delay.count();
    } else {
        arrival = std::max(arrival, k.last_arrival);
        k.last_arrival = arrival;
    }

    if (k.random.chance(c.corrupt)) {
        k.st.corrupted++;
        corrupt_datagram(k.random, c.corrupt_mode, buffers_[bi].data);
    }

    buffers_[bi].from = from.addr_;
    buffers_[bi].link = li;
    const bool dup = k.random.chance(c.duplicate);
    push_event(arrival, event_kind::deliver, dst->index_, bi);
    if (dup) {
        k.st.duplicated++;
        const std::uint32_t b2 = acquire_buffer();
        buffers_[b2].data = buffers_[bi].data;
        buffers_[b2].from = from.addr_;
        buffers_[b2].link = li;
        push_event(arrival, event_kind::deliver, dst->index_, b2);
    }
}

void corrupt_datagram(rng& r, corruption mode, std::vector<std::uint8_t>& d) {
    if (d.empty()) return;
    if (mode == corruption::random_bits) {
        const auto flips = r.between(1, 4);
        for (std::uint64_t i = 0; i < flips; ++i) {
            const auto bit = r.below(d.size() * 8);
            d[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        }
        return;
    }
    auto put32 = [&](std::size_t at, std::uint32_t v) {
        d[at] = static_cast<std::uint8_t>(v >> 24);
        d[at + 1] = static_cast<std::uint8_t>(v >> 16);
        d[at + 2] = static_cast<std::uint8_t>(v >> 8);
        d[at + 3] = static_cast<std::uint8_t>(v);
    };
    auto hostile32 = [&]() -> std::uint32_t {
        switch (r.below(6)) {
        case 0:
            return 0;
        case 1:
            return 0x7fffffffu;
        case 2:
            return 0x80000000u;
        case 3:
            return 0xffffffffu;
        default:
            return static_cast<std::uint32_t>(r.next());
        }
    };
    if (d.size() < proto::header_size) {
        d.resize(r.below(d.size()));
        return;
    }
    bool malformed = mode == corruption::malformed;
    if (mode == corruption::detectable) malformed = r.chance(0.5);
    if (malformed) {
        switch (r.below(3)) {
        case 0: // truncated below a header
            d.resize(r.below(proto::header_size));
            break;
        case 1: { // version nibble other than 1
            auto v = static_cast<std::uint8_t>(r.below(15));
            if (v >= 1) ++v;
            d[0] = static_cast<std::uint8_t>((d[0] & 0xf0) | v);
            break;
        }
        default: // type nibble above 4
            d[0] = static_cast<std::uint8_t>((r.between(5, 15) << 4) | (d[0] & 0x0f));
            break;
        }
        return;
    }
    switch (r.below(3)) {
    case 0:
        put32(4, static_cast<std::uint32_t>(r.next()));
        break; // timestamp
    case 1:
        put32(8, hostile32());
        break; // timestamp_difference
    default:   // wnd_size
        put32(12, r.chance(0.5) ? (r.chance(0.5) ? 0u : 0xffffffffu)
                                : static_cast<std::uint32_t>(r.next()));
        break;
    }
}

void network::step_one() {
    std::pop_heap(heap_.begin(), heap_.end(), event_later{});
    const event e = heap_.back();
    heap_.pop_back();
    if (e.at > to_us(now_)) now_ = from_us(e.at);
    ++stats_.events;

    switch (e.kind) {
    case event_kind::deliver: {
        node& n = *nodes_[e.target];
        buffer& b = buffers_[e.arg];
        if (b.link != UINT32_MAX) {
            auto& st = links_[b.link].st;
            st.packets_delivered++;
            st.bytes_delivered += b.data.size();
        }
        ++n.stats_.datagrams_in;
        const proto::peer_address from = b.from;
        const std::span<const std::uint8_t> bytes(b.data);
        const auto verdict = n.ep_->handle_datagram(from, bytes, now_);
        switch (verdict) {
        case proto::datagram_verdict::accepted:
            ++n.stats_.accepted;
            break;
        case proto::datagram_verdict::not_utp:
            ++n.stats_.not_utp;
            break;
        case proto::datagram_verdict::dropped:
            ++n.stats_.dropped;
            break;
        }
        // `bytes` stays valid while the buffer is not released, even if the pool grows.
        if (verdict == proto::datagram_verdict::not_utp && n.not_utp_handler_)
            n.not_utp_handler_(n, from, bytes);
        release_buffer(e.arg);
        after_input(n);
        break;
    }
    case event_kind::timer: {
        node& n = *nodes_[e.target];
        if (e.arg != n.timer_generation_) break; // superseded
        n.timer_at_.reset();
        if (!n.timer_want_) break; // disarmed since
        if (*n.timer_want_ > now_) {
            // The deadline moved later while this entry waited: re-arm, do not fire.
            n.timer_at_ = *n.timer_want_;
            ++n.timer_generation_;
            push_event(to_us(*n.timer_want_), event_kind::timer, n.index_, n.timer_generation_);
            break;
        }
        ++n.stats_.timer_fires;
        n.ep_->handle_timeout(now_);
        after_input(n);
        break;
    }
    case event_kind::callback: {
        auto fn = std::move(callbacks_[e.arg]);
        callbacks_[e.arg] = nullptr;
        free_callbacks_.push_back(e.arg);
        if (fn) fn();
        flush_dirty();
        break;
    }
    }
}

void network::after_input(node& n) {
    if (n.handler_) n.handler_(n);
    mark_dirty(n);
    flush_dirty();
}

bool network::step() {
    flush_dirty();
    if (heap_.empty()) return false;
    step_one();
    return true;
}

void network::run_for(duration d) {
    flush_dirty();
    const instant target = now_ + d;
    while (!heap_.empty() && heap_.front().at <= to_us(target) && stats_.events < event_budget_)
        step_one();
    if (target > now_) now_ = target;
}

void network::schedule(instant at, std::function<void()> fn) {
    std::uint32_t slot;
    if (!free_callbacks_.empty()) {
        slot = free_callbacks_.back();
        free_callbacks_.pop_back();
        callbacks_[slot] = std::move(fn);
    } else {
        callbacks_.push_back(std::move(fn));
        slot = static_cast<std::uint32_t>(callbacks_.size() - 1);
    }
    push_event(to_us(at), event_kind::callback, 0, slot);
}

filter_id network::add_filter(filter_fn f) {
    const filter_id id = next_filter_++;
    filters_.emplace_back(id, std::move(f));
    return id;
}

void network::remove_filter(filter_id id) {
    std::erase_if(filters_, [id](const auto& f) { return f.first == id; });
}

void network::clear_filters() {
    filters_.clear();
}

void network::inject(node& to, const proto::peer_address& from, std::span<const std::uint8_t> bytes,
                     duration after) {
    const std::uint32_t bi = acquire_buffer();
    buffers_[bi].data.assign(bytes.begin(), bytes.end());
    buffers_[bi].from = from;
    buffers_[bi].link = UINT32_MAX;
    ++stats_.injected;
    push_event(to_us(now_ + after), event_kind::deliver, to.index_, bi);
}

filter_fn drop_bursts(const node& from, std::uint64_t first, std::uint64_t count,
                      std::uint64_t every, bool and_fin) {
    struct state {
        std::optional<std::uint16_t> base;
        std::uint64_t highest = 0; ///< packets of the stream seen so far
        bool fin_dropped = false;
    };
    auto st = std::make_shared<state>();
    return [&from, st, first, count, every, and_fin](datagram_view& d) {
        if (&d.from != &from) return filter_action::pass;
        const auto h = d.header();
        if (!h) return filter_action::pass;
        if (and_fin && h->type == proto::packet_type::fin && !st->fin_dropped) {
            st->fin_dropped = true;
            return filter_action::drop;
        }
        if (d.payload_size() == 0) return filter_action::pass;
        if (!st->base) st->base = h->seq_nr;
        const std::uint64_t n = static_cast<std::uint16_t>(h->seq_nr - *st->base) + 1u;
        if (n <= st->highest) return filter_action::pass; // a retransmission
        st->highest = n;
        if (n < first) return filter_action::pass;
        const std::uint64_t k = every ? (n - first) % every : n - first;
        return k < count ? filter_action::drop : filter_action::pass;
    };
}

} // namespace utp::sim
