#include <utp/proto/connection.hpp>
#include <utp/proto/seq.hpp>

#include <algorithm>
#include <cstring>

namespace utp::proto {
namespace {

// Deployed peers (libutp) keep at most 1024 packets in flight and reorder no further;
// staying inside that keeps our SACKs meaningful to them.
constexpr std::uint16_t max_in_flight = 1024;
// How far ahead of ack_nr we buffer out-of-order packets.
constexpr std::uint16_t max_reorder = 2048;
// Our selective ACKs cover at most this many bytes of mask (1024 packets).
constexpr std::size_t max_sack_bytes = 128;
// An ack_nr further behind than this is not from this connection's recent past.
// libutp allows 3 behind its oldest unacknowledged packet; a little more here lets a
// reordered packet of a bidirectional transfer through. Narrow on purpose: together with
// the sequence-number window it is what a blind injector must guess (RFC 5961 §5).
constexpr std::int16_t max_ack_lag = 64;
// Towards an address not yet proved to receive what we send, at most this many bytes go
// out per byte received from it (RFC 9000 §8.1's anti-amplification limit).
constexpr std::size_t amplification_factor = 3;
// libtorrent also uses INT_MAX for "no timestamp sample".
constexpr std::uint32_t no_delay_sample_alt = 0x7fffffff;
// Packets seen above a hole before it is declared lost (fast retransmit).
constexpr unsigned dup_ack_threshold = 3;
// The most that threshold grows to once reordering is seen (Linux caps its equivalent,
// tcp_max_reordering, at 300; a µTP window rarely holds more than a few hundred packets,
// and RACK's timer still finds real losses behind a wide threshold).
constexpr unsigned max_reordering = 64;
// Tail-loss probes before the RTO, each after twice the previous wait. RFC 8985 sends one.
// On a lossy path a flight's tail is at risk each round trip: its last ACK lost, then the
// probe or the probe's ACK (at 10 % loss each way, 0.1 × 0.19 × 0.19 with two probes):
// thousands of flights per transfer made that an RTO every few hundred milliseconds of
// transfer (measured on loopback, nft dropping 10 %). Five probes, single packets sent
// 2, 6, 14, 30 and 62 PTO-floors after the last ACK, make it negligible and cost a
// silent path five packets before the RTO.
constexpr unsigned max_loss_probes = 5;

} // namespace

const char* to_string(conn_error e) noexcept {
    switch (e) {
    case conn_error::none:
        return "none";
    case conn_error::refused:
        return "refused";
    case conn_error::reset:
        return "reset";
    case conn_error::timed_out:
        return "timed_out";
    case conn_error::aborted:
        return "aborted";
    }
    return "unknown";
}

const char* to_string(conn_state s) noexcept {
    switch (s) {
    case conn_state::syn_sent:
        return "syn_sent";
    case conn_state::syn_received:
        return "syn_received";
    case conn_state::connected:
        return "connected";
    case conn_state::closed:
        return "closed";
    case conn_state::failed:
        return "failed";
    }
    return "unknown";
}

connection::connection(const proto::settings& s, bool initiator, instant now)
    : settings_(s), initiator_(initiator),
      state_(initiator ? conn_state::syn_sent : conn_state::syn_received), out_(16),
      snd_buf_(s.send_buffer_size), rtt_(s), rcv_buf_(s.recv_buffer_size),
      delay_(s.base_delay_history_minutes), last_recv_(now), last_send_(now) {
    settings_.packet_size = std::clamp<std::size_t>(settings_.packet_size, 150, 65000);
    cc_ = make_congestion_controller(settings_, max_payload());
}

connection::connection(connection&&) noexcept = default;
connection& connection::operator=(connection&&) noexcept = default;
connection::~connection() = default;

connection connection::connect(const proto::settings& s, std::uint16_t recv_id, std::uint16_t seq,
                               instant now) {
    connection c(s, true, now);
    c.recv_id_ = recv_id;
    c.send_id_ = static_cast<std::uint16_t>(recv_id + 1);
    c.syn_seq_ = seq;
    c.seq_una_ = seq;
    c.seq_nxt_ = seq_add(seq, 1);
    outgoing& syn = c.out_at(seq);
    syn = outgoing{};
    syn.type = packet_type::syn;
    // "lost" doubles as "waiting to be (re)sent": the SYN goes out by the resend path.
    syn.lost = true;
    c.lost_count_ = 1;
    return c;
}

connection connection::accept(const proto::settings& s, const header& syn, std::size_t syn_bytes,
                              std::uint16_t seq, instant now) {
    connection c(s, false, now);
    c.recv_id_ = static_cast<std::uint16_t>(syn.connection_id + 1);
    c.send_id_ = syn.connection_id;
    c.ack_nr_ = syn.seq_nr;
    // The SYN-ACK does not consume `seq`: our first DATA carries it.
    c.seq_nxt_ = seq;
    c.seq_una_ = seq;
    c.syn_ack_seq_ = seq;
    c.syn_ack_ack_ = syn.seq_nr;
    c.syn_ack_pending_ = true;
    c.peer_wnd_ = syn.wnd_size;
    c.reply_micro_ = wire_timestamp(now) - syn.timestamp;
    c.syn_received_deadline_ = now + s.syn_received_timeout;
    c.amp_received_ = syn_bytes;
    c.stats_.packets_received = 1;
    return c;
}

// ---------------------------------------------------------------------------------------
// buffers

connection::outgoing& connection::out_at(std::uint16_t seq) noexcept {
    return out_[seq & (out_.size() - 1)];
}

void connection::grow_outgoing() {
    std::vector<outgoing> next(out_.size() * 2);
    for (std::uint16_t s = seq_una_; s != seq_nxt_; ++s)
        next[s & (next.size() - 1)] = out_at(s);
    out_.swap(next);
}

connection::reorder_slot& connection::slot_at(std::uint16_t seq) {
    const auto dist = static_cast<std::uint16_t>(seq - ack_nr_);
    if (dist >= reorder_.size()) {
        std::size_t n = std::max<std::size_t>(reorder_.size(), 16);
        while (n <= dist)
            n *= 2;
        std::vector<reorder_slot> next(n);
        for (std::size_t i = 0; i < reorder_.size(); ++i) {
            if (!reorder_[i].present) continue;
            // Recover the slot's sequence number from its distance ahead of ack_nr.
            const auto d = static_cast<std::uint16_t>((i - (ack_nr_ & (reorder_.size() - 1))) &
                                                      (reorder_.size() - 1));
            const auto s = static_cast<std::uint16_t>(ack_nr_ + d);
            next[s & (n - 1)] = std::move(reorder_[i]);
        }
        reorder_.swap(next);
    }
    return reorder_[seq & (reorder_.size() - 1)];
}

std::uint32_t connection::max_payload() const noexcept {
    return static_cast<std::uint32_t>(settings_.packet_size - header_size);
}

std::uint32_t connection::our_window() const noexcept {
    if (discard_input_) return static_cast<std::uint32_t>(rcv_buf_.limit());
    const std::size_t used = rcv_buf_.size() + reorder_bytes_;
    const std::size_t lim = rcv_buf_.limit();
    return used >= lim ? 0u
                       : static_cast<std::uint32_t>(std::min<std::size_t>(lim - used, UINT32_MAX));
}

std::optional<duration> connection::queuing_delay() const noexcept {
    if (delay_.empty()) return std::nullopt;
    duration d{delay_.current()};
    // One-way queueing cannot exceed the round trip; clock skew or a hostile echo can.
    const duration cap = rtt_.has_sample() ? rtt_.srtt() : settings_.initial_rto;
    return std::min(d, cap);
}

std::size_t connection::writable() const noexcept {
    if (fin_requested_ || state_ == conn_state::closed || state_ == conn_state::failed) return 0;
    return snd_buf_.free();
}

bool connection::done() const noexcept {
    return finished_;
}

void connection::set_target_delay(duration d) noexcept {
    settings_.target_delay = d;
    cc_->set_target(d);
}

void connection::set_congestion_control(congestion_algorithm a) {
    if (a == settings_.congestion) return;
    settings_.congestion = a;
    cc_ = make_congestion_controller(settings_, max_payload());
}

void connection::set_trace(trace_options t) noexcept {
    settings_.trace = std::move(t);
    last_trace_.reset();
}

void connection::trace(trace_event e, instant now) {
    if (e == trace_event::sample) {
        if (last_trace_ && now - *last_trace_ < settings_.trace.interval) return;
        last_trace_ = now;
    }
    settings_.trace.sink(trace_record{.time = now,
                                      .event = e,
                                      .connection_id = recv_id_,
                                      .cwnd = cc_->window(),
                                      .bytes_in_flight = bytes_in_flight_,
                                      .peer_window = peer_wnd_,
                                      .srtt = rtt_.srtt(),
                                      .min_rtt = min_rtt_,
                                      .queuing_delay = queuing_delay().value_or(duration{0}),
                                      .pacing_rate = pacer_.rate_per_second(),
                                      .bytes_acked = snd_base_off_,
                                      .retransmits = stats_.retransmits,
                                      .slow_start = cc_->in_slow_start()});
}

void connection::set_send_buffer_size(std::size_t n) noexcept {
    settings_.send_buffer_size = n;
    snd_buf_.set_limit(n);
    wakeup_ = true;
}

void connection::set_recv_buffer_size(std::size_t n) noexcept {
    settings_.recv_buffer_size = n;
    rcv_buf_.set_limit(n);
}

// ---------------------------------------------------------------------------------------
// input

bool connection::handle_packet(const packet& p, instant now) {
    const header& h = p.hdr;
    if (state_ == conn_state::failed) return false;

    if (h.type == packet_type::reset) {
        // The peer ended its TIME-WAIT before our FIN's ACK got through.
        if (close_if_only_fin_unacked(now)) return true;
        fail(state_ == conn_state::syn_sent ? conn_error::refused : conn_error::reset);
        return true;
    }
    if (h.type == packet_type::syn) {
        // A retransmitted SYN: the SYN-ACK was lost. Answer with the identical SYN-ACK.
        if (!initiator_ && h.seq_nr == syn_ack_ack_) {
            // Only the SYN-ACK again, never data: a replayed or spoofed SYN must not make
            // us resend payload to an address that has not proved it is listening.
            syn_ack_pending_ = true;
            last_recv_ = now;
            return true;
        }
        ++stats_.invalid_packets;
        return false;
    }
    if (state_ == conn_state::syn_sent) {
        // The SYN-ACK is a STATE acking our SYN. The acceptor's first DATA (or FIN, if it
        // had nothing to say) is an implicit one: it sends no second packet before we speak.
        if (h.ack_nr != syn_seq_) {
            ++stats_.invalid_packets;
            return false;
        }
        state_ = conn_state::connected;
        ack_nr_ = seq_add(h.seq_nr, -1);
        wakeup_ = true;
        // Acknowledge a STATE SYN-ACK at once (nothing in BEP 29 asks for it): it proves
        // our address to the acceptor, which may then speak first at full rate instead
        // of within its anti-amplification budget.
        if (h.type == packet_type::state) ack_now_ = true;
    }
    if (state_ == conn_state::syn_received && (seq_diff(h.ack_nr, seq_add(syn_ack_seq_, -1)) < 0 ||
                                               seq_diff(h.ack_nr, seq_add(seq_nxt_, -1)) > 0)) {
        // Address validation: the initiator's first packet acknowledges exactly what we
        // sent (R − 1 for the SYN-ACK of seq R, or our DATA since). A blind spoofer who
        // never saw the SYN-ACK has to guess R; until someone does, nothing it sends is
        // delivered or answered with payload (libutp issue #74).
        ++stats_.invalid_packets;
        return false;
    }

    // Validation as the reference does it: never accept an ACK of data not sent yet, nor
    // one from too far in the past, nor data too far ahead of what we have.
    if (seq_diff(h.ack_nr, seq_add(seq_nxt_, -1)) > 0 ||
        seq_diff(seq_add(seq_una_, -1), h.ack_nr) > max_ack_lag) {
        ++stats_.invalid_packets;
        return false;
    }
    if ((h.type == packet_type::data || h.type == packet_type::fin) &&
        seq_diff(h.seq_nr, ack_nr_) > static_cast<int>(max_reorder)) {
        ++stats_.invalid_packets;
        return false;
    }

    ++stats_.packets_received;
    last_recv_ = now;
    reply_micro_ = wire_timestamp(now) - h.timestamp;
    if (state_ == conn_state::syn_received) {
        // Anything after the SYN proves the initiator has our SYN-ACK (or our data).
        state_ = conn_state::connected;
        syn_received_deadline_.reset();
        syn_ack_pending_ = false;
        wakeup_ = true;
    }

    process_ack(p, now);
    if (h.type == packet_type::data || h.type == packet_type::fin) process_data(p, now);
    maybe_finish(now);
    return true;
}

std::uint32_t connection::ack_one(std::uint16_t seq, outgoing& o, instant now,
                                  std::optional<duration>& rtt_sample) noexcept {
    if (o.acked) return 0;
    o.acked = true;
    if (o.lost) {
        // Declared lost but it arrived after all: do not resend it.
        o.lost = false;
        --lost_count_;
    } else {
        bytes_in_flight_ -= o.length;
    }
    // Karn: a packet sent more than once gives an ambiguous sample.
    if (o.transmissions == 1) rtt_sample = now - o.sent_at;
    note_delivered(seq, o, now);
    return o.length;
}

void connection::note_delivered(std::uint16_t seq, const outgoing& o, instant now) noexcept {
    const duration rtt = now - o.sent_at;
    if (o.transmissions == 1) {
        // A first transmission delivered below the highest one delivered was reordered by
        // that many packets (Linux's tcp_check_sack_reordering; RFC 8985 §6.2 step 3):
        // holes that shallow are not losses on this path, so the packet-count rules wait
        // for more. Only time (RACK) then declares them lost.
        if (delivered_any_ && seq_less(seq, highest_delivered_)) {
            const auto degree = static_cast<unsigned>(seq_diff(highest_delivered_, seq));
            reordering_ = std::min(std::max(reordering_, degree + 1), max_reordering);
        } else {
            highest_delivered_ = seq;
            delivered_any_ = true;
        }
    }
    if (o.transmissions > 1 && min_rtt_.count() > 0 && rtt < min_rtt_) {
        // Acknowledged sooner than any round trip takes: the original arrived, the resend
        // was not needed (RFC 8985 §6.2 step 2). A spurious time-based decision widens
        // the reordering window (§6.2 step 4, without DSACK: µTP has none).
        ++stats_.spurious_retransmits;
        if (o.cause == resend_cause::rack) reo_wnd_mult_ = std::min(reo_wnd_mult_ + 1, 8u);
        recoveries_since_spurious_ = 0;
        return;
    }
    if (!rack_valid_ || o.sent_at > rack_xmit_ts_ ||
        (o.sent_at == rack_xmit_ts_ && seq_less(rack_end_seq_, seq))) {
        rack_xmit_ts_ = o.sent_at;
        rack_end_seq_ = seq;
        rack_rtt_ = rtt;
    }
    rack_valid_ = true;
}

void connection::process_ack(const packet& p, instant now) {
    const header& h = p.hdr;
    const std::uint32_t old_peer_wnd = peer_wnd_;
    peer_wnd_ = h.wnd_size;
    if (h.timestamp_difference != 0 && h.timestamp_difference != no_delay_sample_alt)
        delay_.add(h.timestamp_difference, now);

    // Growth only when the window, not the application or the peer, was the limit. LEDBAT
    // keeps growing during recovery (unlike RFC 5681 §3.2): its growth is already slow,
    // and on a lossy path recovery takes a round trip in every few.
    const bool app_limited = bytes_in_flight_ + max_payload() < cc_->window();

    std::uint32_t newly_acked = 0; // bytes
    unsigned acked_packets = 0;    // a FIN or an empty packet counts here, not above
    bool cumulative = false;
    std::optional<duration> rtt_sample;
    const std::int16_t advance = seq_diff(h.ack_nr, seq_add(seq_una_, -1));
    if (advance > 0 || h.wnd_size == 0) last_progress_ = now;
    if (advance > 0) {
        for (std::uint16_t s = seq_una_; s != seq_add(h.ack_nr, 1); ++s) {
            outgoing& o = out_at(s);
            acked_packets += o.acked ? 0 : 1;
            newly_acked += ack_one(s, o, now, rtt_sample);
            if (o.type == packet_type::fin) fin_acked_ = true;
            if (small_in_flight_ && s == small_packet_seq_) small_in_flight_ = false;
        }
        seq_una_ = seq_add(h.ack_nr, 1);
        const std::uint64_t base = seq_una_ == seq_nxt_ ? snd_nxt_off_ : out_at(seq_una_).offset;
        snd_buf_.pop(static_cast<std::size_t>(base - snd_base_off_));
        snd_base_off_ = base;
        cumulative = true;
        dup_acks_ = 0;
        // Linger bounds a stalled close, not a slow one: progress restarts it.
        if (linger_deadline_) linger_deadline_ = now + settings_.linger_timeout;
        if (recovery_ != recovery::none && !seq_less(seq_una_, recovery_seq_)) leave_recovery(now);
        if (!seq_less(seq_una_, round_end_seq_)) {
            ss_exit_.start_round();
            round_end_seq_ = seq_nxt_;
        }
    } else if (advance == 0 && h.type == packet_type::state && p.payload.empty() &&
               seq_una_ != seq_nxt_ && peer_wnd_ >= max_payload()) {
        // Duplicate ACKs count only on pure STATE packets, and not while the peer's window
        // is what holds us back (its ACKs of dropped probes repeat by design). They mean
        // "something above the oldest arrived" even when they carry no SACK (a receiver
        // whose reorder buffer is full, a burst that took everything above the hole): the
        // oldest is lost, unless its retransmission is still within a round trip.
        if (++dup_acks_ >= reordering_) {
            const outgoing& o = out_at(seq_una_);
            const duration since = now - o.sent_at;
            if (o.transmissions <= 1 || since >= std::max(rack_rtt_, rtt_.srtt())) {
                mark_lost(seq_una_, resend_cause::duplicate_acks, now);
                dup_acks_ = 0;
            }
        }
    }

    if (!p.selective_ack.empty() && seq_una_ != seq_nxt_) {
        std::optional<std::uint16_t> highest;
        const std::size_t bits = p.selective_ack.size() * 8;
        for (std::size_t i = 0; i < bits; ++i) {
            if (!sack_bit(p.selective_ack, i)) continue;
            const auto s = seq_add(h.ack_nr, static_cast<int>(i) + 2);
            if (seq_less(s, seq_una_) || !seq_less(s, seq_nxt_)) continue;
            acked_packets += out_at(s).acked ? 0 : 1;
            newly_acked += ack_one(s, out_at(s), now, rtt_sample);
            highest = s;
        }
        if (highest) detect_sack_losses(*highest, now);
    }

    if (rtt_sample) {
        rtt_.sample(*rtt_sample);
        if (min_rtt_.count() == 0 || *rtt_sample < min_rtt_) min_rtt_ = *rtt_sample;
        if (cc_->in_slow_start() && recovery_ == recovery::none && ss_exit_.sample(*rtt_sample)) {
            cc_->exit_slow_start();
            ++stats_.slow_start_delay_exits;
        }
    }
    if (acked_packets > 0) {
        tlp_sent_ = 0;
        detect_rack_losses(now);
    }
    if (acked_packets > 0 || cumulative) {
        consecutive_timeouts_ = 0;
        // Forward progress: the path works, so the next timeout starts unbacked-off.
        rtt_.reset_backoff();
        if (newly_acked > 0)
            cc_->on_ack(ack_sample{.acked = newly_acked,
                                   .queuing_delay = queuing_delay(),
                                   .app_limited = app_limited,
                                   .srtt = rtt_.srtt(),
                                   .min_rtt = min_rtt_},
                        now);
        wakeup_ = true;
    }
    if (recovery_ == recovery::fast && newly_acked > 0) {
        // Proportional Rate Reduction (RFC 6937 §3.1): send in proportion to what the peer
        // delivered, so the window comes down to ssthresh over the recovery round trip
        // instead of in one silent pause.
        prr_delivered_ += newly_acked;
        const std::uint64_t pipe = bytes_in_flight_;
        std::uint64_t sndcnt;
        if (pipe > prr_ssthresh_) {
            const std::uint64_t allowed =
                (prr_delivered_ * prr_ssthresh_ + recover_fs_ - 1) / std::max(recover_fs_, 1u);
            sndcnt = allowed > prr_out_ ? allowed - prr_out_ : 0;
        } else {
            // PRR-SSRB: regrow towards ssthresh, at most a packet beyond what was delivered.
            const std::uint64_t delivered_not_sent =
                prr_delivered_ > prr_out_ ? prr_delivered_ - prr_out_ : 0;
            sndcnt = std::min<std::uint64_t>(
                prr_ssthresh_ - pipe,
                std::max<std::uint64_t>(delivered_not_sent, newly_acked) + max_payload());
        }
        prr_quota_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(sndcnt, UINT32_MAX));
    }
    if (seq_una_ == seq_nxt_) {
        rto_deadline_.reset();
        tlp_deadline_.reset();
    } else if (acked_packets > 0 || cumulative) {
        rto_deadline_ = now + rtt_.rto();
        arm_loss_probe(now);
    }

    if (seq_una_ != seq_nxt_ && peer_wnd_ > old_peer_wnd) {
        // The window reopened: a probe sent into the closed window was surely dropped,
        // so resend it now rather than after its (backed-off) timeout.
        outgoing& o = out_at(seq_una_);
        if (o.probe && !o.acked && !o.lost && o.length <= peer_wnd_ && old_peer_wnd < o.length) {
            o.probe = false;
            queue_resend(o, resend_cause::window);
        }
    }
    // A peer that answers with a closed window is alive: probing it is not timing out.
    if (peer_wnd_ < max_payload()) consecutive_timeouts_ = 0;
    pacer_.update(cc_->window(), rtt_.srtt(), cc_->in_slow_start(), max_payload());
    if (settings_.trace.sink && newly_acked > 0) trace(trace_event::sample, now);
}

void connection::detect_sack_losses(std::uint16_t highest, instant now) {
    // RFC 6675's DupThresh: a hole with three SACKed packets above it is lost, or as many
    // as reordering on this path has shown to be needed.
    unsigned above = 0;
    for (std::uint16_t s = highest;; --s) {
        const outgoing& o = out_at(s);
        if (o.acked)
            ++above;
        else if (above >= reordering_ && o.transmissions <= 1)
            mark_lost(s, resend_cause::duplicate_acks, now);
        if (s == seq_una_) break;
    }
}

duration connection::reordering_window() const noexcept {
    // RFC 8985 §6.2 step 4: a quarter of the minimum RTT, widened after spurious
    // retransmissions, never beyond the smoothed RTT.
    const duration base = min_rtt_.count() > 0 ? min_rtt_ : rtt_.srtt();
    return std::min<duration>(reo_wnd_mult_ * base / 4, rtt_.srtt());
}

void connection::detect_rack_losses(instant now) {
    // RFC 8985 §6.2 step 5: a packet sent before the most recently delivered one, and
    // outstanding for longer than that one's round trip plus the reordering window, is
    // lost. This finds holes without three packets above them, lost retransmissions
    // (their send time is the retransmission's), and holes a SACK-less peer leaves.
    rack_deadline_.reset();
    if (!rack_valid_ || seq_una_ == seq_nxt_) return;
    const duration reo = reordering_window();
    std::optional<duration> wait;
    for (std::uint16_t s = seq_una_; s != seq_nxt_; ++s) {
        const outgoing& o = out_at(s);
        const bool sent_before =
            o.sent_at < rack_xmit_ts_ || (o.sent_at == rack_xmit_ts_ && seq_less(s, rack_end_seq_));
        // First transmissions leave in sequence order: past the first one sent after the
        // delivered packet, every later one (and its retransmission) was sent after it too.
        if (!sent_before && o.transmissions <= 1) break;
        if (o.acked || o.lost || !sent_before) continue;
        const duration left = o.sent_at + rack_rtt_ + reo - now;
        if (left.count() <= 0)
            mark_lost(s, resend_cause::rack, now);
        else if (!wait || left < *wait)
            wait = left;
    }
    if (wait) rack_deadline_ = now + *wait;
}

void connection::mark_lost(std::uint16_t seq, resend_cause cause, instant now) {
    outgoing& o = out_at(seq);
    const std::uint32_t flight_before = bytes_in_flight_;
    if (!queue_resend(o, cause)) return;
    // One window cut per loss episode: losses among packets sent before the last cut
    // (retransmissions included) belong to it.
    if (o.type == packet_type::data && !o.probe &&
        (recovery_ == recovery::none || !seq_less(seq, recovery_seq_))) {
        recover_fs_ = flight_before;
        enter_recovery(now);
    }
}

bool connection::queue_resend(outgoing& o, resend_cause cause) noexcept {
    // "lost" doubles as "waiting to be resent": it leaves the flight until it goes again.
    if (o.acked || o.lost) return false;
    o.lost = true;
    o.cause = cause;
    ++lost_count_;
    bytes_in_flight_ -= o.length;
    return true;
}

void connection::begin_recovery(recovery kind, instant now) noexcept {
    if (recovery_ == recovery::none) {
        ++stats_.recoveries;
        recovery_start_ = now;
    }
    recovery_ = kind;
    // Losses among packets sent before this point belong to this episode.
    recovery_seq_ = seq_nxt_;
}

void connection::enter_recovery(instant now) {
    cc_->on_loss(queuing_delay(), now);
    ++stats_.window_cuts;
    begin_recovery(recovery::fast, now);
    if (settings_.trace.sink) trace(trace_event::loss, now);
    prr_delivered_ = 0;
    prr_out_ = 0;
    prr_quota_ = 0;
    prr_first_ = true;
    prr_ssthresh_ = cc_->window();
    tlp_deadline_.reset();
    if (++recoveries_since_spurious_ >= 16) {
        // RFC 8985 §6.2 step 4: the widened window decays after 16 clean recoveries.
        reo_wnd_mult_ = 1;
        recoveries_since_spurious_ = 0;
    }
}

void connection::leave_recovery(instant now) noexcept {
    stats_.recovery_time += now - recovery_start_;
    recovery_ = recovery::none;
    prr_first_ = false;
}

void connection::arm_loss_probe(instant now) noexcept {
    // RFC 8985 §7.2: with data in flight and no recovery under way, probe after two
    // round trips of silence, so a lost tail is found in ~2 RTT rather than at the RTO.
    tlp_deadline_.reset();
    // Unlike RFC 8985 §7.2, also during fast recovery: when its retransmissions are lost
    // too and nothing sent after them is acknowledged, PRR's quota stays 0 and RACK has
    // nothing to compare with, so only a probe avoids the RTO.
    if (recovery_ == recovery::rto || tlp_sent_ >= max_loss_probes || seq_una_ == seq_nxt_ ||
        !rtt_.has_sample() || state_ != conn_state::connected)
        return;
    duration pto = 2 * rtt_.srtt();
    // A lone packet may wait out the receiver's delayed-ACK timer (ours holds an ACK up
    // to `ack_delay`; libutp and libtorrent flush theirs at the end of each read batch).
    if (in_flight_packets() == 1) pto += settings_.ack_delay;
    // Below ~2 ms a scheduler hiccup would fire it spuriously.
    pto = std::max<duration>(pto, 2ms);
    const instant at = now + pto * (1 << tlp_sent_);
    if (rto_deadline_ && at >= *rto_deadline_) return;
    tlp_deadline_ = at;
}

void connection::on_loss_probe(instant) {
    tlp_deadline_.reset();
    if (seq_una_ == seq_nxt_ || recovery_ == recovery::rto) return;
    tlp_due_ = true;
}

bool connection::may_send(std::uint32_t len) const noexcept {
    if (send_unconditionally_) return true;
    if (recovery_ == recovery::fast) return prr_first_ || len <= prr_quota_;
    return bytes_in_flight_ == 0 || bytes_in_flight_ + len <= cc_->window();
}

void connection::on_data_sent(std::uint32_t len, instant now) noexcept {
    if (recovery_ == recovery::fast) {
        prr_out_ += len;
        prr_quota_ -= std::min(prr_quota_, len);
        prr_first_ = false;
    }
    stats_.pacing_delay += pacer_.on_sent(len, now);
    pace_deadline_.reset();
    send_unconditionally_ = false;
}

void connection::process_data(const packet& p, instant now) {
    const header& h = p.hdr;
    const std::int16_t d = seq_diff(h.seq_nr, ack_nr_);
    if (d <= 0) {
        // Already have it: the ACK was lost. Re-ACK at once.
        ++stats_.duplicate_packets;
        ack_now_ = true;
        return;
    }
    if (h.type == packet_type::fin) {
        if (peer_fin_seq_ && *peer_fin_seq_ != h.seq_nr) {
            ++stats_.invalid_packets;
            return;
        }
        peer_fin_seq_ = h.seq_nr;
        reorder_slot& s = slot_at(h.seq_nr);
        if (!s.present) {
            s.present = true;
            s.fin = true;
            note_reordered(h.seq_nr);
        }
        ack_now_ = true;
        deliver_in_order();
        return;
    }
    // Data at or beyond the FIN is not part of the stream.
    if (peer_fin_seq_ && !seq_less(h.seq_nr, *peer_fin_seq_)) {
        ++stats_.invalid_packets;
        return;
    }
    const std::size_t len = p.payload.size();
    stats_.bytes_received += len;
    if (discard_input_ && len > 0) {
        // New data for a closed handle: nobody will read it. Reset, as TCP does (RFC 1122
        // §4.2.2.13), instead of lingering while the peer keeps sending into the void. So
        // past this point a closed connection only ever sees empty DATA and FIN.
        abort();
        return;
    }
    if (d == 1) {
        if (len > rcv_buf_.free()) {
            // No room: drop it, and tell the peer our window.
            ack_now_ = true;
            return;
        }
        rcv_buf_.push(p.payload);
        ack_nr_ = h.seq_nr;
        const bool filled_hole = reorder_count_ > 0;
        deliver_in_order();
        if (len > 0 || discard_input_) wakeup_ = true;
        ++acks_owed_;
        if (filled_hole || acks_owed_ >= settings_.ack_every)
            ack_now_ = true;
        else if (!ack_deadline_)
            ack_deadline_ = now + settings_.ack_delay;
        return;
    }
    reorder_slot& s = slot_at(h.seq_nr);
    if (s.present) {
        ++stats_.duplicate_packets;
        ack_now_ = true;
        return;
    }
    if (rcv_buf_.size() + reorder_bytes_ + len > rcv_buf_.limit()) {
        ack_now_ = true;
        return;
    }
    s.present = true;
    s.fin = false;
    s.data.assign(p.payload.begin(), p.payload.end());
    reorder_bytes_ += len;
    note_reordered(h.seq_nr);
    // Out of order: the sender's fast retransmit needs our SACK now.
    ack_now_ = true;
}

void connection::deliver_in_order() {
    while (reorder_count_ > 0) {
        const std::uint16_t next = seq_add(ack_nr_, 1);
        reorder_slot& s = reorder_[next & (reorder_.size() - 1)];
        if (!s.present) break;
        if (s.fin) {
            s.present = false;
            s.fin = false;
            --reorder_count_;
            ack_nr_ = next;
            peer_fin_reached_ = true;
            wakeup_ = true;
            ack_now_ = true;
            break;
        }
        // The reader has not made room yet; read() calls back here when it does.
        if (s.data.size() > rcv_buf_.free()) break;
        rcv_buf_.push(s.data);
        reorder_bytes_ -= s.data.size();
        s.data.clear();
        s.present = false;
        --reorder_count_;
        ack_nr_ = next;
        wakeup_ = true;
    }
}

void connection::note_reordered(std::uint16_t seq) noexcept {
    if (reorder_count_ == 0 || seq_less(reorder_high_, seq)) reorder_high_ = seq;
    ++reorder_count_;
}

bool connection::sent_recently(const header& h) const noexcept {
    if (h.type == packet_type::syn)
        return state_ == conn_state::syn_sent && h.connection_id == recv_id_ &&
               h.seq_nr == syn_seq_;
    if (h.connection_id != send_id_) return false;
    // A STATE carries seq_nxt_ (it consumes none); DATA and FIN what is in flight, or was
    // lately: the error comes back a round trip after the datagram left.
    const int behind = seq_diff(seq_nxt_, h.seq_nr);
    return behind >= 0 && behind <= in_flight_packets() + max_ack_lag;
}

void connection::handle_unreachable(bool port_gone) noexcept {
    if (state_ == conn_state::syn_sent)
        fail(conn_error::refused);
    else if (port_gone && !finished_)
        fail(conn_error::reset);
}

// ---------------------------------------------------------------------------------------
// timers

void connection::handle_timeout(instant now) {
    if (finished_) return;
    if (state_ == conn_state::failed) return;
    if (time_wait_deadline_ && now >= *time_wait_deadline_) {
        finished_ = true;
        return;
    }
    if (linger_deadline_ && now >= *linger_deadline_) {
        // No progress for a whole linger period: give the close up.
        fail(conn_error::timed_out);
        return;
    }
    if (syn_received_deadline_ && now >= *syn_received_deadline_) {
        // Half-open: the initiator never spoke after its SYN.
        fail(conn_error::timed_out);
        return;
    }
    if (settings_.idle_timeout.count() > 0 && state_ == conn_state::connected &&
        now - last_recv_ >= settings_.idle_timeout) {
        fail(conn_error::timed_out);
        return;
    }
    if (const auto t = progress_deadline(); t && now >= *t) {
        fail(conn_error::timed_out);
        return;
    }
    if (rto_deadline_ && now >= *rto_deadline_) on_rto(now);
    if (state_ == conn_state::failed) return;
    if (rack_deadline_ && now >= *rack_deadline_) detect_rack_losses(now);
    if (tlp_deadline_ && now >= *tlp_deadline_) on_loss_probe(now);
    if (pace_deadline_ && now >= *pace_deadline_) pace_deadline_.reset();
    if (ack_deadline_ && now >= *ack_deadline_) {
        ack_now_ = true;
        ack_deadline_.reset();
    }
    if (state_ == conn_state::connected && settings_.keepalive_interval.count() > 0 &&
        now - last_send_ >= settings_.keepalive_interval)
        keepalive_due_ = true;
    maybe_finish(now);
}

void connection::on_rto(instant now) {
    ++stats_.timeouts;
    ++consecutive_timeouts_;
    const unsigned limit =
        state_ == conn_state::syn_sent ? settings_.max_syn_retries : settings_.max_data_timeouts;
    if (consecutive_timeouts_ > limit) {
        // Only the FIN's ACK keeps getting lost.
        if (close_if_only_fin_unacked(now)) return;
        fail(conn_error::timed_out);
        return;
    }
    const outgoing& oldest = out_at(seq_una_);
    // A probe into a closed window is expected to go unanswered: that is not congestion.
    if (!oldest.probe && state_ != conn_state::syn_sent) {
        cc_->on_timeout(now);
        ++stats_.window_cuts;
    }
    rtt_.backoff();
    // Everything unacknowledged is presumed lost and resent in order as the window allows.
    for (std::uint16_t s = seq_una_; s != seq_nxt_; ++s) {
        queue_resend(out_at(s), resend_cause::rto);
    }
    begin_recovery(recovery::rto, now);
    dup_acks_ = 0;
    tlp_deadline_.reset();
    rack_deadline_.reset();
    tlp_sent_ = 0;
    rto_deadline_ = now + rtt_.rto();
    if (settings_.trace.sink) trace(trace_event::timeout, now);
}

std::optional<instant> connection::next_timeout() const noexcept {
    if (finished_) return std::nullopt;
    std::optional<instant> t;
    auto consider = [&](std::optional<instant> c) {
        if (c && (!t || *c < *t)) t = c;
    };
    if (state_ == conn_state::failed) return t;
    consider(rto_deadline_);
    consider(rack_deadline_);
    consider(tlp_deadline_);
    consider(pace_deadline_);
    if (acks_owed_ > 0) consider(ack_deadline_);
    consider(linger_deadline_);
    consider(syn_received_deadline_);
    consider(time_wait_deadline_);
    consider(progress_deadline());
    if (state_ == conn_state::connected) {
        if (!keepalive_due_ && settings_.keepalive_interval.count() > 0)
            consider(last_send_ + settings_.keepalive_interval);
        if (settings_.idle_timeout.count() > 0) consider(last_recv_ + settings_.idle_timeout);
    }
    return t;
}

std::optional<instant> connection::progress_deadline() const noexcept {
    if (settings_.progress_timeout.count() <= 0 || seq_una_ == seq_nxt_ ||
        state_ == conn_state::syn_sent || peer_wnd_ == 0)
        return std::nullopt;
    return last_progress_ + settings_.progress_timeout;
}

bool connection::close_if_only_fin_unacked(instant now) noexcept {
    // Both FINs are out and every byte of ours is acknowledged: the peer has the whole
    // stream, and its FIN says it is done. Missing only our FIN's ACK is a clean close.
    if (!fin_seq_ || !peer_fin_reached_ || seq_una_ != *fin_seq_) return false;
    fin_acked_ = true;
    seq_una_ = seq_nxt_;
    bytes_in_flight_ = 0;
    lost_count_ = 0;
    rto_deadline_.reset();
    maybe_finish(now);
    return true;
}

void connection::maybe_finish(instant now) noexcept {
    if (state_ == conn_state::connected && fin_acked_ && peer_fin_reached_) {
        state_ = conn_state::closed;
        rto_deadline_.reset();
        wakeup_ = true;
        // Stay a while to re-ACK a FIN whose ACK the peer lost (TCP's TIME-WAIT). Long
        // enough for the peer's retransmissions of it to back off four times from the
        // 200 ms floor (0.2 + 0.4 + 0.8 + 1.6 s): once we are gone its next one draws a
        // RESET, which fails a connection whose data is not all acknowledged yet.
        const duration tw = std::clamp<duration>(8 * rtt_.rto(), 5s, settings_.linger_timeout);
        time_wait_deadline_ = now + tw;
    }
}

void connection::fail(conn_error e) noexcept {
    if (state_ == conn_state::failed) return;
    state_ = conn_state::failed;
    error_ = e;
    wakeup_ = true;
    rto_deadline_.reset();
    ack_deadline_.reset();
    if (!reset_pending_) finished_ = true;
}

// ---------------------------------------------------------------------------------------
// application

std::size_t connection::read(std::span<std::uint8_t> out) noexcept {
    const std::uint32_t before = our_window();
    const std::size_t n = rcv_buf_.read(out);
    if (n == 0) return 0;
    stats_.bytes_delivered += n;
    if (reorder_count_ > 0) deliver_in_order();
    // Tell the peer at once when a (nearly) closed window opens again, or when it grew by
    // half the buffer: otherwise a sender stopped by our window would wait for a probe.
    const std::uint32_t after = our_window();
    const std::uint32_t mss = max_payload();
    if ((last_adv_wnd_ < 2 * mss && after >= 2 * mss && before < after) ||
        after - std::min(after, last_adv_wnd_) >= rcv_buf_.limit() / 2)
        ack_now_ = true;
    return n;
}

std::size_t connection::write(std::span<const std::uint8_t> data) {
    if (fin_requested_ || state_ == conn_state::closed || state_ == conn_state::failed) return 0;
    return snd_buf_.push(data);
}

void connection::shutdown_send() noexcept {
    fin_requested_ = true;
}

void connection::close(instant now) noexcept {
    if (state_ == conn_state::failed || finished_) return;
    // Closing with unread input aborts, as in TCP: the peer learns at once that what it
    // sent was not consumed, and nothing lingers waiting for it to stop sending.
    if (rcv_buf_.size() > 0 || reorder_bytes_ > 0) {
        abort();
        return;
    }
    // Like a TCP close: what was written is still delivered (even if the handshake is not
    // done yet), then FIN; the linger bound caps how long that may take.
    shutdown_send();
    discard_input_ = true; // nothing unread is held (see above); nothing more is kept
    if (!linger_deadline_) linger_deadline_ = now + settings_.linger_timeout;
    if (state_ == conn_state::closed && !time_wait_deadline_) finished_ = true;
}

void connection::abort() noexcept {
    if (state_ == conn_state::failed || finished_) return;
    reset_pending_ = true;
    fail(conn_error::aborted);
}

// ---------------------------------------------------------------------------------------
// output

std::size_t connection::emit_header(packet_type type, std::uint16_t id, std::uint16_t seq,
                                    std::uint16_t ack, bool with_sack, instant now,
                                    std::span<std::uint8_t> out) {
    header h;
    h.type = type;
    h.connection_id = id;
    h.timestamp = wire_timestamp(now);
    h.timestamp_difference = reply_micro_;
    h.wnd_size = our_window();
    h.seq_nr = seq;
    h.ack_nr = ack;
    std::size_t sack_len = 0;
    const int span = seq_diff(reorder_high_, ack);
    if (with_sack && reorder_count_ > 0 && span >= 2) {
        // Bits cover ack_nr+2 .. the furthest held packet; whole 32-bit words, as peers expect.
        const std::size_t bits = static_cast<std::size_t>(span) - 1u;
        sack_len = std::min(max_sack_bytes, (bits + 31) / 32 * 4);
    }
    encode_header(h, sack_len ? 1 : 0, out.data());
    last_send_ = now;
    last_adv_wnd_ = h.wnd_size;
    ++stats_.packets_sent;
    keepalive_due_ = false;
    if (sack_len == 0) return header_size;
    std::uint8_t* e = out.data() + header_size;
    e[0] = 0;
    e[1] = static_cast<std::uint8_t>(sack_len);
    std::memset(e + 2, 0, sack_len);
    for (std::size_t i = 0; i < sack_len * 8; ++i) {
        const auto s = seq_add(ack, static_cast<int>(i) + 2);
        const reorder_slot& r = reorder_[s & (reorder_.size() - 1)];
        // The ring covers ack_nr+1 .. ack_nr+size; beyond that a slot is another seq's.
        if (i + 2 < reorder_.size() && r.present)
            e[2 + i / 8] |= static_cast<std::uint8_t>(1u << (i % 8));
    }
    return header_size + 2 + sack_len;
}

void connection::on_ack_sent() noexcept {
    // An ACK that carries no SACK leaves the peer blind to our holes: keep one owed.
    if (reorder_count_ == 0) ack_now_ = false;
    acks_owed_ = 0;
    ack_deadline_.reset();
}

std::size_t connection::send_packet(std::uint16_t seq, instant now, std::span<std::uint8_t> out) {
    outgoing& o = out_at(seq);
    std::size_t n;
    if (o.type == packet_type::syn) {
        n = emit_header(packet_type::syn, recv_id_, seq, 0, false, now, out);
    } else {
        n = emit_header(o.type, send_id_, seq, ack_nr_, false, now, out);
        if (o.length > 0) {
            snd_buf_.copy_out(static_cast<std::size_t>(o.offset - snd_base_off_),
                              out.subspan(n, o.length));
            n += o.length;
        }
        on_ack_sent();
    }
    if (o.transmissions > 0) {
        ++stats_.retransmits;
        switch (o.cause) {
        case resend_cause::duplicate_acks:
            ++stats_.fast_retransmits;
            break;
        case resend_cause::rack:
            ++stats_.rack_retransmits;
            break;
        case resend_cause::tlp:
            ++stats_.tlp_retransmits;
            break;
        case resend_cause::rto:
            ++stats_.rto_retransmits;
            break;
        case resend_cause::none:
        case resend_cause::window:
            break;
        }
    }
    // The first packet of an outstanding period starts the progress clock.
    if (seq == seq_una_ && o.transmissions == 0) last_progress_ = now;
    if (o.transmissions < 255) ++o.transmissions;
    stats_.bytes_sent += o.length;
    o.sent_at = now;
    bytes_in_flight_ += o.length;
    if (o.type != packet_type::syn) on_data_sent(o.length, now);
    if (!rto_deadline_) rto_deadline_ = now + rtt_.rto();
    if (!tlp_deadline_) arm_loss_probe(now);
    return n;
}

bool connection::paced_out(std::uint32_t len, instant now) noexcept {
    if (send_unconditionally_ || pacer_.allows(len, now)) return false;
    pace_deadline_ = pacer_.release_time(now);
    return true;
}

std::size_t connection::try_resend(instant now, std::span<std::uint8_t> out) {
    if (lost_count_ == 0) return 0;
    for (std::uint16_t s = seq_una_; s != seq_nxt_; ++s) {
        outgoing& o = out_at(s);
        if (!o.lost) continue;
        // The first loss always goes; the rest as the window (or PRR) allows.
        if (!may_send(o.length) || paced_out(o.length, now) ||
            header_size + o.length > amplification_allowance())
            return 0;
        o.lost = false;
        --lost_count_;
        return send_packet(s, now, out);
    }
    return 0;
}

std::size_t connection::try_loss_probe(instant now, std::span<std::uint8_t> out) {
    if (!tlp_due_) return 0;
    tlp_due_ = false;
    if (seq_una_ == seq_nxt_ || recovery_ == recovery::rto) return 0;
    // RFC 8985 §7.3: new data if the peer's window takes it (it may reveal the loss
    // through a SACK at no cost), else the last packet sent again.
    send_unconditionally_ = true;
    std::size_t n = try_send_new(now, out);
    if (n == 0) {
        std::optional<std::uint16_t> last;
        for (std::uint16_t s = seq_una_; s != seq_nxt_; ++s)
            if (!out_at(s).acked && !out_at(s).lost) last = s;
        if (last && header_size + out_at(*last).length <= amplification_allowance()) {
            outgoing& o = out_at(*last);
            o.cause = resend_cause::tlp;
            bytes_in_flight_ -= o.length; // send_packet counts it in flight again
            n = send_packet(*last, now, out);
        }
    }
    send_unconditionally_ = false;
    if (n == 0) return 0;
    ++stats_.tlp_probes;
    ++tlp_sent_;
    rto_deadline_ = now + rtt_.rto();
    arm_loss_probe(now);
    return n;
}

std::size_t connection::try_send_new(instant now, std::span<std::uint8_t> out) {
    if (!is_open() || fin_seq_) return 0;
    const std::uint64_t end = snd_base_off_ + snd_buf_.size();
    if (end == snd_nxt_off_) return 0;
    if (in_flight_packets() >= max_in_flight) return 0;
    // Until the initiator speaks, one packet only: it takes our first DATA as the SYN-ACK
    // and sets its ack_nr from it, which is right only for the first one (seq R).
    if (state_ == conn_state::syn_received && in_flight_packets() > 0) return 0;
    if (static_cast<std::size_t>(in_flight_packets()) + 1 >= out_.size()) grow_outgoing();

    const std::uint32_t mss = max_payload();
    const auto unsent =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(end - snd_nxt_off_, mss));
    std::uint32_t len = unsent;
    // Towards an unproved address, what the budget allows: a server that speaks first
    // sends a few bytes, whose ACK proves the initiator's address (libutp and libtorrent
    // do not acknowledge a STATE SYN-ACK); the rest follows at full rate.
    if (const std::size_t allowed = amplification_allowance(); allowed < header_size + len) {
        if (allowed <= header_size) return 0;
        len = static_cast<std::uint32_t>(allowed - header_size);
    }
    bool probe = false;
    if (bytes_in_flight_ == 0 && lost_count_ == 0) {
        // Nothing in flight: one packet may always go, so a zero (or tiny) peer window is
        // probed instead of waited on. libtorrent's SYN advertises a zero window.
        if (peer_wnd_ < len) {
            if (peer_wnd_ > 0)
                len = peer_wnd_;
            else
                probe = true;
        }
    } else {
        if (!may_send(len) || bytes_in_flight_ + len > peer_wnd_) return 0;
        if (paced_out(len, now)) return 0;
    }
    // Nagle: at most one undersized packet in flight.
    if (!settings_.no_delay && len < mss && small_in_flight_ && bytes_in_flight_ > 0) return 0;

    const std::uint16_t seq = seq_nxt_;
    seq_nxt_ = seq_add(seq_nxt_, 1);
    outgoing& o = out_at(seq);
    o = outgoing{};
    o.offset = snd_nxt_off_;
    o.length = len;
    o.type = packet_type::data;
    o.probe = probe;
    snd_nxt_off_ += len;
    if (len < mss) {
        small_in_flight_ = true;
        small_packet_seq_ = seq;
    }
    if (probe) ++stats_.zero_window_probes;
    return send_packet(seq, now, out);
}

std::size_t connection::try_send_fin(instant now, std::span<std::uint8_t> out) {
    if (!fin_requested_ || fin_seq_ || !is_open()) return 0;
    if (snd_nxt_off_ != snd_base_off_ + snd_buf_.size()) return 0;
    if (amplification_allowance() < header_size) return 0;
    if (static_cast<std::size_t>(in_flight_packets()) + 1 >= out_.size()) grow_outgoing();
    const std::uint16_t seq = seq_nxt_;
    seq_nxt_ = seq_add(seq_nxt_, 1);
    outgoing& o = out_at(seq);
    o = outgoing{};
    o.offset = snd_nxt_off_;
    o.type = packet_type::fin;
    fin_seq_ = seq;
    return send_packet(seq, now, out);
}

std::size_t connection::try_send_ack(instant now, std::span<std::uint8_t> out) {
    const bool owed = ack_now_ || (ack_deadline_ && now >= *ack_deadline_);
    if (!owed && !keepalive_due_) return 0;
    if (state_ == conn_state::syn_sent) return 0;
    std::uint16_t ack = ack_nr_;
    // libutp's keepalive acknowledges one less: it must not read as a duplicate ACK.
    if (!owed) ack = seq_add(ack_nr_, -1);
    const std::size_t n = emit_header(packet_type::state, send_id_, seq_nxt_, ack, true, now, out);
    if (owed) {
        acks_owed_ = 0;
        ack_deadline_.reset();
        ack_now_ = false;
    }
    return n;
}

std::size_t connection::amplification_allowance() const noexcept {
    if (state_ != conn_state::syn_received) return SIZE_MAX;
    const std::size_t budget = amplification_factor * amp_received_;
    return budget > amp_sent_ ? budget - amp_sent_ : 0;
}

void connection::credit_received(std::size_t bytes) noexcept {
    if (state_ == conn_state::syn_received) amp_received_ += bytes;
}

std::size_t connection::poll_transmit(instant now, std::span<std::uint8_t> out) {
    const std::size_t n = transmit_next(now, out);
    if (state_ == conn_state::syn_received) amp_sent_ += n;
    return n;
}

std::size_t connection::transmit_next(instant now, std::span<std::uint8_t> out) {
    if (finished_ || out.size() < std::max(settings_.packet_size, header_size + 2 + max_sack_bytes))
        return 0;
    if (state_ == conn_state::failed) {
        if (!reset_pending_) return 0;
        reset_pending_ = false;
        finished_ = true;
        return emit_header(packet_type::reset, send_id_, seq_nxt_, ack_nr_, false, now, out);
    }
    if (syn_ack_pending_ && amplification_allowance() >= header_size) {
        syn_ack_pending_ = false;
        return emit_header(packet_type::state, send_id_, syn_ack_seq_, syn_ack_ack_, false, now,
                           out);
    }
    // Owed SACKs go before data: the peer's loss recovery waits on them.
    if (ack_now_ && reorder_count_ > 0) return try_send_ack(now, out);
    if (std::size_t n = try_resend(now, out)) return n;
    if (state_ == conn_state::syn_sent) return 0;
    if (std::size_t n = try_loss_probe(now, out)) return n;
    if (std::size_t n = try_send_new(now, out)) return n;
    if (std::size_t n = try_send_fin(now, out)) return n;
    return try_send_ack(now, out);
}

connection_stats connection::stats() const noexcept {
    connection_stats s = stats_;
    s.rtt = rtt_.srtt();
    s.rtt_var = rtt_.rttvar();
    s.rto = rtt_.rto();
    s.min_rtt = min_rtt_;
    s.reordering = reordering_;
    if (recovery_ != recovery::none) s.recovery_time += last_recv_ - recovery_start_;
    s.cwnd = cc_->window();
    s.peer_window = peer_wnd_;
    s.bytes_in_flight = bytes_in_flight_;
    s.queuing_delay = queuing_delay().value_or(duration{0});
    s.base_delay = duration{delay_.empty() ? 0 : static_cast<std::int64_t>(delay_.base())};
    s.slow_start = cc_->in_slow_start();
    return s;
}

} // namespace utp::proto
