//
// utp/proto/detail/slow_start_exit.hpp — leave slow start when the round trip grows
// (HyStart++, RFC 9406 §4), before a queue or a receiver's buffer overflows.
//
#ifndef UTP_PROTO_DETAIL_SLOW_START_EXIT_HPP
#define UTP_PROTO_DETAIL_SLOW_START_EXIT_HPP

#include <utp/proto/time.hpp>

#include <algorithm>

namespace utp::proto::detail {

/** HyStart++'s delay-increase test: once a round trip's smallest RTT exceeds the
    previous round's by `eta` (an eighth of it, clamped), the path is queueing and slow
    start should stop.

    RFC 9406 clamps eta to 4..16 ms. The floor here is 1 ms: our RTT samples are
    microsecond-accurate (TCP's are often tick-grained), and the buffers that overflow
    first on the paths µTP serves hold only a few milliseconds: a default 208 KiB UDP
    receive buffer drained at 50 MB/s is full after ~3 ms of queue. LEDBAT takes over
    from there (its growth is delay-driven), so an early exit costs little.
*/
class slow_start_exit {
public:
    /// A new round trip begins (the packet that started the previous one was acknowledged).
    void start_round() noexcept {
        last_round_min_ = current_round_min_;
        current_round_min_ = none;
        samples_ = 0;
    }

    /// Feed an RTT sample; returns true when slow start should end.
    bool sample(duration rtt) noexcept {
        current_round_min_ = std::min(current_round_min_, rtt);
        ++samples_;
        if (samples_ < samples_per_round || last_round_min_ == none || current_round_min_ == none)
            return false;
        const duration eta = std::clamp(last_round_min_ / 8, min_threshold, max_threshold);
        return current_round_min_ >= last_round_min_ + eta;
    }

private:
    static constexpr duration none = duration::max();
    static constexpr duration min_threshold{1000};
    static constexpr duration max_threshold{16000};
    static constexpr unsigned samples_per_round = 8; // N_RTT_SAMPLE

    duration last_round_min_ = none;
    duration current_round_min_ = none;
    unsigned samples_ = 0;
};

} // namespace utp::proto::detail

#endif
