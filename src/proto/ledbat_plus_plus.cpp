#include <utp/proto/congestion.hpp>

#include "loss_response.hpp"

#include <algorithm>
#include <cmath>

namespace utp::proto {

using detail::max_cwnd;

namespace {

// Before any RTT sample (the SYN's is usually there first): LEDBAT's own scale.
constexpr duration fallback_rtt = 100ms;
// No timing here spans more than this, whatever a hostile peer's timestamps suggest:
// the largest RTO (settings::max_rto's default). Keeps the instant arithmetic finite.
constexpr duration longest = 60s;

/** GAIN (§4.2) = 1 / min(16, ⌈2·target / base⌉). The draft's base is the base delay
    of TCP, a round trip; µTP's one-way base delay carries the clock offset between
    the hosts and cannot stand for it, so the smallest RTT seen does. */
double gain_for(duration target, duration min_rtt) noexcept {
    if (min_rtt.count() <= 0) return 1.0;
    const double ratio =
        std::ceil(2.0 * static_cast<double>(target.count()) / static_cast<double>(min_rtt.count()));
    return 1.0 / std::clamp(ratio, 1.0, 16.0);
}

/// The interval to the next slowdown, as a multiple of the last one's length (§4.5): a
/// slowdown then costs at most a tenth of the time.
constexpr int slowdown_spacing = 9;

/// Slow start ends above this fraction of the target (§4.4).
constexpr double slow_start_exit = 0.75;
/// Below this fraction of the target the queue counts as empty.
constexpr double restart_below = 0.25;

/** Slow start's growth, as a fraction of its usual, once the delay passes half its exit
    level: falls linearly to this floor at the exit. The delay answers a round trip late,
    and a window that doubles per round trip overshoots by up to twice the window that
    reached the exit (measured: 190 ms of queue after an empty-queue restart, against a
    100 ms target); growth slowed near the exit overshoots by a quarter at most. A
    floor, not zero, so that slow start still ends (the quarter is HyStart++'s
    conservative slow start, RFC 9406 §4.2). */
constexpr double slow_start_floor = 0.25;

/** The decrease above the target per round trip is this many times W·(delay/target −
    1) (the draft's constant is 1). Flows sharing a queue even out only through this
    decrease, proportional to each window, and the queue sits just above the target
    where it is small. Over 24 runs of 4 flows joining 15 s apart (3 base RTTs, 8 join
    offsets: fairness_test.cpp's latecomers_spread), the Jain index was on average 0.83
    (worst 0.62) with 1 and 0.87 (worst 0.73) with 3. Without this file's other changes
    to the draft: 0.87 with 1, 0.88 with 2, 0.92 with 3, 0.87 with 5 (steeper overshoots
    the other way); the runs vary by ±0.1, so these figures are coarse. */
constexpr double decrease_constant = 3.0;

} // namespace

ledbat_plus_plus::ledbat_plus_plus(const settings& s, std::uint32_t mss) noexcept
    : ledbat_window(s, mss) {}

void ledbat_plus_plus::leave_slow_start(instant now) noexcept {
    slow_start_ = false;
    doubling_ = false;
    ssthresh_ = cwnd_;
    slow_start_left_ = now;
    const duration rtt = srtt_.count() > 0 ? srtt_ : fallback_rtt;
    if (phase_ == slowdown::none) {
        // The initial slowdown, 2 round trips after the first slow start (§4.5).
        phase_ = slowdown::scheduled;
        next_slowdown_ = now + 2 * rtt;
    } else if (phase_ == slowdown::regrowing) {
        phase_ = slowdown::scheduled;
        next_slowdown_ = now + slowdown_spacing * (now - slowdown_start_);
    }
}

void ledbat_plus_plus::on_ack(const ack_sample& sample, instant now) {
    ack_sample a = sample;
    a.srtt = std::min(a.srtt, longest);
    a.min_rtt = std::min(a.min_rtt, longest);
    if (a.queuing_delay) a.queuing_delay = std::min(*a.queuing_delay, longest);
    if (a.srtt.count() > 0) srtt_ = a.srtt;
    last_now_ = now;
    const duration rtt = srtt_.count() > 0 ? srtt_ : fallback_rtt;

    switch (phase_) {
    case slowdown::scheduled:
        if (now < next_slowdown_) break;
        // Hold 2 packets for 2 round trips (§4.5), so that the queue this flow keeps
        // drains and its delay samples (and every other flow's) see the base delay. The
        // draft's round trips are the smoothed ones, queue included; the queue takes
        // only its own delay to drain, so the freeze here is that plus 2 base round
        // trips: as long as needed, and no longer idling the link.
        saved_cwnd_ = cwnd_;
        cwnd_ = 2.0 * mss_;
        slowdown_start_ = now;
        freeze_end_ = now + (a.min_rtt.count() > 0 && a.queuing_delay
                                 ? std::min<duration>(*a.queuing_delay + 2 * a.min_rtt, 2 * rtt)
                                 : 2 * rtt);
        phase_ = slowdown::frozen;
        return;
    case slowdown::frozen:
        if (now < freeze_end_) return;
        phase_ = slowdown::regrowing;
        slow_start_ = true;
        doubling_ = true;
        ssthresh_ = saved_cwnd_;
        break;
    default:
        break;
    }

    const double target = static_cast<double>(std::max<std::int64_t>(target_.count(), 1));
    const double delay = a.queuing_delay ? static_cast<double>(a.queuing_delay->count()) : 0.0;
    const double gain = gain_for(target_, a.min_rtt);
    const auto acked = static_cast<double>(a.acked);

    if (slow_start_) {
        // Regrowing, the doubling stops at what fitted before the freeze, at ¾ of the
        // target, or when the round trip rises (HyStart++, `exit_slow_start`): the room
        // this flow left may have been taken by others, and stopping there is in effect
        // a multiplicative decrease at every slowdown, which is what evens the flows
        // out (measured: a regrowth to the old window kept a latecomer's share). The
        // cost: a lone flow comes back below the target and climbs by GAIN, so its
        // queue sits near 60 % of the target rather than at it.
        if ((a.queuing_delay && delay > slow_start_exit * target) || cwnd_ >= ssthresh_) {
            leave_slow_start(now);
        } else {
            // Back to a window that fitted before the freeze: double per round trip as
            // standard slow start does; the first slow start, into an unknown path, grows
            // by GAIN (§4.4). The draft leaves the regrowth open; doubling keeps the
            // slowdown, and so its cost in throughput, short.
            const double exit_at = slow_start_exit * target;
            const double scale = delay > exit_at / 2
                                     ? std::max(slow_start_floor, (exit_at - delay) / (exit_at / 2))
                                     : 1.0;
            if (!a.app_limited) cwnd_ += (doubling_ ? acked : gain * acked) * scale;
            cwnd_ = std::min(cwnd_, max_cwnd);
            return;
        }
    }

    // An empty queue with the window in use: the bottleneck has room (the loss-based
    // flow that held it stopped, a flow slowed down, a path changed). Growing by GAIN
    // packets per round trip would take many seconds to fill it; slow start again until
    // the delay says the queue is back. The draft restarts slow start only after
    // slowdowns; this takes the link back within seconds of a TCP flow ending, and lets
    // small flows take the room a large one leaves when it slows down. Not in the 2
    // round trips after a slow start: the delay then still tells of the window of a
    // round trip before, and a restart there doubled a window that was already enough
    // (measured: 155 ms of queue after every slowdown on a 40 ms path).
    if (a.queuing_delay && delay < restart_below * target && !a.app_limited &&
        phase_ == slowdown::scheduled && now - slow_start_left_ > 2 * rtt) {
        slow_start_ = true;
        doubling_ = true;
        ssthresh_ = max_cwnd;
        return;
    }

    // Per round trip, in packets: +GAIN below the target, −C·W·(delay/target − 1) above
    // it, at most −W/2 (§4.3). Spread over the round trip's ACKs in proportion to the
    // bytes each acknowledges. The growth is not scaled by the distance to the target
    // (RFC 6817's is): the queue must reach the target now and then for the decrease,
    // proportional to each flow's window, to even the flows out.
    const double w_packets = cwnd_ / mss_;
    double per_rtt;
    if (delay <= target)
        per_rtt = gain;
    else
        per_rtt =
            std::max(gain - decrease_constant * w_packets * (delay / target - 1.0), -w_packets / 2);
    if (per_rtt > 0 && a.app_limited) per_rtt = 0;
    cwnd_ = std::clamp(cwnd_ + per_rtt * mss_ * acked / cwnd_, 2.0 * mss_, max_cwnd);
}

void ledbat_plus_plus::on_loss(std::optional<duration> qd, instant now) {
    // During a slowdown the window is already small; the episode ends it early.
    if (phase_ == slowdown::frozen || phase_ == slowdown::regrowing) {
        cwnd_ = std::max(saved_cwnd_, cwnd_);
        phase_ = slowdown::scheduled;
        next_slowdown_ = last_now_ + 2 * (srtt_.count() > 0 ? srtt_ : fallback_rtt);
    }
    ledbat_window::on_loss(qd, now);
}

void ledbat_plus_plus::on_timeout(instant now) {
    ledbat_window::on_timeout(now);
    // The path went silent: start the slowdown cycle afresh after the next slow start.
    phase_ = slowdown::none;
}

void ledbat_plus_plus::exit_slow_start() noexcept {
    leave_slow_start(last_now_);
}

} // namespace utp::proto
