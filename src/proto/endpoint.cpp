#include <utp/proto/endpoint.hpp>
#include <utp/proto/seq.hpp>

#include <algorithm>

namespace utp::proto {
using namespace std::chrono_literals;
namespace {
// Queued RESET replies beyond this are dropped: the rate limit is the real bound.
constexpr std::size_t max_pending_resets = 256;
// Attempts to draw an unused connection id before giving up.
constexpr int id_draws = 64;
} // namespace

const char* to_string(drop_reason r) noexcept {
    switch (r) {
    case drop_reason::malformed:
        return "malformed";
    case drop_reason::unknown_connection:
        return "unknown_connection";
    case drop_reason::backlog_full:
        return "backlog_full";
    case drop_reason::not_listening:
        return "not_listening";
    case drop_reason::invalid:
        return "invalid";
    case drop_reason::id_collision:
        return "id_collision";
    case drop_reason::count_:
        break;
    }
    return "unknown";
}

endpoint::endpoint(const endpoint_settings& s, std::uint64_t seed)
    : settings_(s), rng_(seed), reset_tokens_(static_cast<double>(s.resets_per_second)) {}

endpoint::~endpoint() = default;

std::uint64_t endpoint::next_random() noexcept {
    // splitmix64: tiny, and the same sequence everywhere for a given seed.
    std::uint64_t z = (rng_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// ---------------------------------------------------------------------------------------
// slots

connection_handle endpoint::insert(connection c, const peer_address& peer) {
    std::uint32_t index;
    if (!free_slots_.empty()) {
        index = free_slots_.back();
        free_slots_.pop_back();
    } else {
        index = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    slot& s = slots_[index];
    s.conn = std::make_unique<connection>(std::move(c));
    s.peer = peer;
    s.released = s.queued_send = s.queued_wakeup = s.in_backlog = s.counted_finished = false;
    s.half_open = s.counted_backlog_full = false;
    s.scheduled.reset();
    by_key_[key{peer, s.conn->recv_id()}] = index;
    return connection_handle{index, s.generation};
}

endpoint::slot* endpoint::slot_of(connection_handle h) noexcept {
    if (h.index >= slots_.size()) return nullptr;
    slot& s = slots_[h.index];
    return s.conn && s.generation == h.generation ? &s : nullptr;
}

connection* endpoint::get(connection_handle h) noexcept {
    slot* s = slot_of(h);
    return s ? s->conn.get() : nullptr;
}

const connection* endpoint::get(connection_handle h) const noexcept {
    return const_cast<endpoint*>(this)->get(h);
}

const peer_address& endpoint::remote(connection_handle h) const noexcept {
    return slots_[h.index].peer;
}

void endpoint::remove(std::uint32_t index) {
    slot& s = slots_[index];
    by_key_.erase(key{s.peer, s.conn->recv_id()});
    if (s.in_backlog) std::erase(backlog_, queue_entry{index, s.generation});
    if (s.counted_finished) --finished_;
    if (s.half_open) --half_open_count_;
    if (s.half_open && s.counted_backlog_full && proved_waiting_ > 0) --proved_waiting_;
    s.half_open = s.counted_backlog_full = false;
    s.conn.reset();
    ++s.generation;
    s.released = s.queued_send = s.queued_wakeup = s.in_backlog = false;
    s.scheduled.reset();
    free_slots_.push_back(index);
}

void endpoint::after_io(std::uint32_t index, instant now) {
    slot& s = slots_[index];
    connection& c = *s.conn;
    if (s.half_open) settle_half_open(index);
    if (c.take_wakeup() && !s.released && !s.in_backlog && !s.half_open && !s.queued_wakeup) {
        s.queued_wakeup = true;
        wakeups_.push_back({index, s.generation});
    }
    if (!s.queued_send) {
        s.queued_send = true;
        send_queue_.push_back({index, s.generation});
    }
    schedule(index);
    if ((c.done() || c.state() == conn_state::closed) && !s.counted_finished) {
        s.counted_finished = true;
        ++finished_;
    }
    (void)now;
}

void endpoint::settle_half_open(std::uint32_t index) {
    slot& s = slots_[index];
    const conn_state st = s.conn->state();
    if (st == conn_state::syn_received) return;
    if (s.counted_backlog_full && proved_waiting_ > 0) --proved_waiting_;
    s.half_open = false;
    --half_open_count_;
    if (s.in_backlog) return; // accept_unverified: queued from the SYN on
    if (st == conn_state::failed || st == conn_state::closed) {
        s.released = true; // nobody will ever accept it
        return;
    }
    if (backlog_.size() >= settings_.accept_backlog) {
        // Proved, but the application is not accepting: it waits among the half-open
        // ones (as a full accept queue leaves a TCP connection in SYN-RECEIVED), counted
        // once, and moves up when accept() makes room.
        s.half_open = true;
        ++half_open_count_;
        if (!s.counted_backlog_full) ++stats_.drops(drop_reason::backlog_full);
        s.counted_backlog_full = true;
        ++proved_waiting_;
        return;
    }
    s.in_backlog = true;
    backlog_.push_back({index, s.generation});
}

void endpoint::evict_oldest_half_open() {
    for (auto it = half_open_.begin(); it != half_open_.end();) {
        const queue_entry e = *it;
        slot& s = slots_[e.index];
        if (!s.conn || s.generation != e.generation || !s.half_open) {
            it = half_open_.erase(it); // stale
            continue;
        }
        if (s.conn->state() != conn_state::syn_received) {
            ++it; // proved, waiting for room in the backlog: not the flood's
            continue;
        }
        // Silently: its address is unproved, so nothing may be sent there for it.
        half_open_.erase(it);
        ++stats_.half_open_evicted;
        remove(e.index);
        return;
    }
}

void endpoint::promote_proved() {
    for (auto it = half_open_.begin(); it != half_open_.end() && proved_waiting_ > 0 &&
                                       backlog_.size() < settings_.accept_backlog;) {
        const queue_entry e = *it;
        slot& s = slots_[e.index];
        if (!s.conn || s.generation != e.generation || !s.half_open) {
            it = half_open_.erase(it);
            continue;
        }
        if (s.conn->state() != conn_state::syn_received) {
            it = half_open_.erase(it);
            settle_half_open(e.index);
            reap_if_done(e.index);
            continue;
        }
        ++it;
    }
}

void endpoint::schedule(std::uint32_t index) {
    slot& s = slots_[index];
    const std::optional<instant> t = s.conn->next_timeout();
    // Push only when earlier than the entry already queued: a later deadline is found
    // when that entry pops, so re-arming on every ACK costs no heap work.
    if (t && (!s.scheduled || *t < *s.scheduled)) {
        s.scheduled = t;
        timers_.push(timer_entry{*t, index, s.generation});
    }
}

void endpoint::reap_if_done(std::uint32_t index) {
    slot& s = slots_[index];
    if (s.conn && s.conn->done() && (s.released || s.in_backlog)) remove(index);
}

// ---------------------------------------------------------------------------------------
// input

datagram_verdict endpoint::handle_datagram(const peer_address& from,
                                           std::span<const std::uint8_t> datagram, instant now) {
    ++stats_.datagrams_received;
    if (!is_utp(datagram)) {
        ++stats_.not_utp;
        return datagram_verdict::not_utp;
    }
    packet p;
    if (decode(datagram, p) != decode_error::ok) {
        ++stats_.drops(drop_reason::malformed);
        return datagram_verdict::dropped;
    }
    const header& h = p.hdr;

    if (h.type == packet_type::syn) {
        const auto recv_id = static_cast<std::uint16_t>(h.connection_id + 1);
        if (auto it = by_key_.find(key{from, recv_id}); it != by_key_.end()) {
            // Ours already: a retransmitted SYN (or an id collision with our own dial).
            const std::uint32_t index = it->second;
            connection& c = *slots_[index].conn;
            c.credit_received(datagram.size());
            if (c.is_initiator() || !c.handle_packet(p, now)) {
                ++stats_.drops(drop_reason::invalid);
                return datagram_verdict::dropped;
            }
            after_io(index, now);
            return datagram_verdict::accepted;
        }
        if (collides(from, h.connection_id)) {
            // Answering would put a second connection on ids the peer already uses: its
            // RESET to our SYN-ACK would then match, and kill, the live one.
            ++stats_.drops(drop_reason::id_collision);
            return datagram_verdict::dropped;
        }
        if (!settings_.listening) {
            ++stats_.drops(drop_reason::not_listening);
            queue_reset(from, h.connection_id, h.seq_nr, now);
            return datagram_verdict::dropped;
        }
        if (settings_.accept_unverified && backlog_.size() >= settings_.accept_backlog) {
            // Silently: the initiator retries, and a flood gets nothing back.
            ++stats_.drops(drop_reason::backlog_full);
            return datagram_verdict::dropped;
        }
        if (half_open_count_ >= settings_.max_half_open) evict_oldest_half_open();
        const auto seq = static_cast<std::uint16_t>(next_random());
        const connection_handle hd =
            insert(connection::accept(settings_for(from), h, datagram.size(), seq, now), from);
        slot& s = slots_[hd.index];
        s.half_open = true;
        ++half_open_count_;
        if (half_open_.size() > 2 * settings_.max_half_open + 64)
            std::erase_if(half_open_, [&](const queue_entry& q) {
                const slot& o = slots_[q.index];
                return !o.conn || o.generation != q.generation || !o.half_open;
            });
        half_open_.push_back({hd.index, hd.generation});
        if (settings_.accept_unverified) {
            s.in_backlog = true;
            backlog_.push_back({hd.index, hd.generation});
        }
        ++stats_.connections_accepted;
        after_io(hd.index, now);
        return datagram_verdict::accepted;
    }

    std::uint32_t index = 0;
    if (auto it = by_key_.find(key{from, h.connection_id}); it != by_key_.end()) {
        index = it->second;
    } else if (h.type == packet_type::reset) {
        if (!find_for_reset(from, h.connection_id, index)) {
            ++stats_.drops(drop_reason::unknown_connection);
            return datagram_verdict::dropped;
        }
    } else {
        ++stats_.drops(drop_reason::unknown_connection);
        queue_reset(from, h.connection_id, h.seq_nr, now);
        return datagram_verdict::dropped;
    }
    slots_[index].conn->credit_received(datagram.size());
    const bool ok = slots_[index].conn->handle_packet(p, now);
    after_io(index, now);
    reap_if_done(index);
    if (!ok) {
        ++stats_.drops(drop_reason::invalid);
        return datagram_verdict::dropped;
    }
    return datagram_verdict::accepted;
}

proto::settings endpoint::settings_for(const peer_address& peer) const {
    proto::settings s = settings_.connection;
    if (peer.family == 6) s.packet_size = std::min(s.packet_size, s.packet_size_v6);
    return s;
}

bool endpoint::collides(const peer_address& from, std::uint16_t syn_id) const {
    // The new connection would receive on syn_id + 1 (looked up already) and send with
    // syn_id. A live one with that address shares an id if it receives on syn_id, or
    // sends with syn_id or syn_id + 1; its receive id is one off its send id.
    const auto recv = static_cast<std::uint16_t>(syn_id + 1);
    for (const int delta : {-1, 0, 2}) {
        const auto cand = static_cast<std::uint16_t>(syn_id + delta);
        auto it = by_key_.find(key{from, cand});
        if (it == by_key_.end()) continue;
        const connection& c = *slots_[it->second].conn;
        // The mirror of a dial still in syn_sent is our own SYN come back (a multiplexer
        // dialling its own port) or a peer dialling us with our id at the same moment:
        // two consistent connections. Once ours is established, a mirror SYN is forged:
        // our SYN-ACK's eventual RESET would match the peer's live connection by its send
        // id (libutp matches a RESET by either id).
        if (c.is_initiator() && c.state() == conn_state::syn_sent && c.recv_id() == syn_id &&
            c.send_id() == recv)
            continue;
        if (c.recv_id() == syn_id || c.send_id() == syn_id || c.send_id() == recv) return true;
    }
    return false;
}

connection* endpoint::find_for_reset(const peer_address& from, std::uint16_t id,
                                     std::uint32_t& index) {
    // A RESET carries the id its sender received on, which is our send id: one off our
    // receive id, in either direction depending on who initiated.
    for (const int delta : {-1, 1}) {
        const auto cand = static_cast<std::uint16_t>(id + delta);
        auto it = by_key_.find(key{from, cand});
        if (it == by_key_.end()) continue;
        connection* c = slots_[it->second].conn.get();
        if (c->send_id() == id) {
            index = it->second;
            return c;
        }
    }
    return nullptr;
}

void endpoint::queue_reset(const peer_address& to, std::uint16_t id, std::uint16_t ack_nr,
                           instant now) {
    const double rate = static_cast<double>(settings_.resets_per_second);
    const double elapsed = std::chrono::duration<double>(now - reset_refill_).count();
    reset_refill_ = now;
    if (elapsed > 0) reset_tokens_ = std::min(rate, reset_tokens_ + elapsed * rate);
    if (reset_tokens_ < 1.0 || resets_.size() >= max_pending_resets) {
        ++stats_.resets_suppressed;
        return;
    }
    const key k{to, id};
    if (auto it = recent_resets_.find(k); it != recent_resets_.end() && now - it->second < 1s) {
        ++stats_.resets_suppressed;
        return;
    }
    // The token bucket admits at most resets_per_second entries a second: pruning what is
    // a second old keeps the map that small.
    if (recent_resets_.size() >= 2 * static_cast<std::size_t>(settings_.resets_per_second) + 16)
        std::erase_if(recent_resets_, [&](const auto& e) { return now - e.second >= 1s; });
    recent_resets_[k] = now;
    reset_tokens_ -= 1.0;
    resets_.push_back(pending_reset{to, id, ack_nr});
}

void endpoint::handle_timeout(instant now) {
    // Take the due entries first: a connection re-armed for `now` runs at the next call,
    // so one call always ends.
    due_.clear();
    while (!timers_.empty() && timers_.top().at <= now) {
        const timer_entry e = timers_.top();
        timers_.pop();
        if (e.index >= slots_.size()) continue;
        slot& s = slots_[e.index];
        if (!s.conn || s.generation != e.generation) continue;
        s.scheduled.reset();
        due_.push_back(e);
    }
    for (const timer_entry& e : due_) {
        slot& s = slots_[e.index];
        if (!s.conn || s.generation != e.generation) continue;
        s.conn->handle_timeout(now);
        after_io(e.index, now);
        reap_if_done(e.index);
    }
}

void endpoint::handle_unreachable(const peer_address& to, instant now, bool port_gone,
                                  std::span<const std::uint8_t> quoted) {
    packet q;
    const bool has_quote = !quoted.empty() && decode(quoted, q) == decode_error::ok;
    bool failed_any = false;
    for (std::uint32_t i = 0; i < slots_.size(); ++i) {
        slot& s = slots_[i];
        if (!s.conn || s.peer != to) continue;
        connection& c = *s.conn;
        const bool ours = has_quote ? c.sent_recently(q.hdr) : c.state() == conn_state::syn_sent;
        if (!ours) continue;
        const bool before = c.state() == conn_state::failed;
        c.handle_unreachable(port_gone);
        failed_any |= !before && c.state() == conn_state::failed;
        after_io(i, now);
        reap_if_done(i);
    }
    if (!failed_any) ++stats_.unreachable_ignored;
}

// ---------------------------------------------------------------------------------------
// output

std::optional<transmit> endpoint::poll_transmit(instant now, std::span<std::uint8_t> out) {
    if (!resets_.empty() && out.size() >= header_size) {
        const pending_reset r = resets_.front();
        resets_.pop_front();
        header h;
        h.type = packet_type::reset;
        h.connection_id = r.connection_id;
        h.timestamp = wire_timestamp(now);
        h.seq_nr = static_cast<std::uint16_t>(next_random());
        h.ack_nr = r.ack_nr;
        encode_header(h, 0, out.data());
        ++stats_.resets_sent;
        ++stats_.datagrams_sent;
        return transmit{r.to, header_size};
    }
    while (!send_queue_.empty()) {
        const queue_entry e = send_queue_.front();
        send_queue_.pop_front();
        slot& s = slots_[e.index];
        if (!s.conn || s.generation != e.generation) continue;
        const std::size_t n = s.conn->poll_transmit(now, out);
        if (n == 0) {
            s.queued_send = false;
            schedule(e.index);
            if ((s.conn->done() || s.conn->state() == conn_state::closed) && !s.counted_finished) {
                s.counted_finished = true;
                ++finished_;
            }
            reap_if_done(e.index);
            continue;
        }
        // Round robin: one datagram per turn, then to the back of the queue.
        send_queue_.push_back(e);
        schedule(e.index);
        ++stats_.datagrams_sent;
        transmit t{s.peer, n};
        reap_if_done(e.index);
        return t;
    }
    return std::nullopt;
}

std::optional<instant> endpoint::next_timeout() {
    while (!timers_.empty()) {
        const timer_entry& e = timers_.top();
        if (e.index < slots_.size() && slots_[e.index].conn &&
            slots_[e.index].generation == e.generation)
            return e.at;
        timers_.pop();
    }
    return std::nullopt;
}

std::optional<connection_handle> endpoint::poll_wakeup() {
    while (!wakeups_.empty()) {
        const queue_entry e = wakeups_.front();
        wakeups_.pop_front();
        slot& s = slots_[e.index];
        if (!s.conn || s.generation != e.generation) continue;
        s.queued_wakeup = false;
        return connection_handle{e.index, e.generation};
    }
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------
// connections

connection_handle endpoint::connect(const peer_address& to, instant now,
                                    std::optional<std::uint16_t> recv_id,
                                    std::optional<std::uint16_t> first_seq) {
    std::uint16_t id = recv_id.value_or(0);
    bool found = recv_id && !by_key_.contains(key{to, id});
    // A drawn id keeps one id clear on each side of the pair (id, id + 1) of every
    // connection with `to`: the peer then never sees a SYN sharing an id with a live
    // connection (which collides() refuses), even when `to` is this endpoint itself,
    // where the accepted side of each dial lives beside it on id + 1.
    const auto clear = [&](std::uint16_t cand) {
        for (const int d : {-1, 0, 1, 2})
            if (by_key_.contains(key{to, static_cast<std::uint16_t>(cand + d)})) return false;
        return true;
    };
    for (int i = 0; i < id_draws && !found && !recv_id; ++i) {
        id = static_cast<std::uint16_t>(next_random());
        found = clear(id);
    }
    if (!found) return connection_handle{};
    const auto seq = first_seq.value_or(static_cast<std::uint16_t>(next_random()));
    const connection_handle h = insert(connection::connect(settings_for(to), id, seq, now), to);
    ++stats_.connections_initiated;
    after_io(h.index, now);
    return h;
}

std::optional<connection_handle> endpoint::accept() {
    if (backlog_.empty() && proved_waiting_ > 0) promote_proved();
    while (!backlog_.empty()) {
        const queue_entry e = backlog_.front();
        backlog_.pop_front();
        slot& s = slots_[e.index];
        if (!s.conn || s.generation != e.generation) continue;
        s.in_backlog = false;
        if (s.conn->state() == conn_state::failed) {
            // Reset or timed out before anyone accepted it.
            s.released = true;
            if (s.conn->done()) remove(e.index);
            continue;
        }
        if (s.half_open) {
            // accept_unverified: the application holds it from now on, so it is neither
            // evicted by a flood nor queued a second time once its address is proved.
            s.half_open = false;
            --half_open_count_;
        }
        return connection_handle{e.index, e.generation};
    }
    return std::nullopt;
}

std::size_t endpoint::read(connection_handle h, std::span<std::uint8_t> out, instant now) {
    slot* s = slot_of(h);
    if (!s) return 0;
    const std::size_t n = s->conn->read(out);
    if (n) after_io(h.index, now);
    return n;
}

std::size_t endpoint::write(connection_handle h, std::span<const std::uint8_t> data, instant now) {
    slot* s = slot_of(h);
    if (!s) return 0;
    const std::size_t n = s->conn->write(data);
    if (n) after_io(h.index, now);
    return n;
}

void endpoint::shutdown_send(connection_handle h, instant now) {
    slot* s = slot_of(h);
    if (!s) return;
    s->conn->shutdown_send();
    after_io(h.index, now);
}

void endpoint::release(connection_handle h, instant now) {
    slot* s = slot_of(h);
    if (!s) return;
    s->released = true;
    s->conn->close(now);
    after_io(h.index, now);
    reap_if_done(h.index);
}

void endpoint::abort(connection_handle h, instant now) {
    slot* s = slot_of(h);
    if (!s) return;
    s->released = true;
    s->conn->abort();
    after_io(h.index, now);
    reap_if_done(h.index);
}

void endpoint::touch(connection_handle h, instant now) {
    if (slot_of(h)) after_io(h.index, now);
}

} // namespace utp::proto
