//
// utp/proto/detail/pacer.hpp — spreads a congestion window over the round trip.
//
#ifndef UTP_PROTO_DETAIL_PACER_HPP
#define UTP_PROTO_DETAIL_PACER_HPP

#include <utp/proto/time.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>

namespace utp::proto::detail {

/** A token bucket that releases a window's worth of bytes per round trip.

    Without it a window opened by one ACK (slow start, the end of recovery, a reopened
    peer window) leaves in one burst, and a receiver whose socket buffer is smaller than
    the burst (the kernel's default 208 KiB) drops its tail. The bucket holds `burst`
    bytes, so a small window is never delayed; when it runs dry the sender waits until a
    `quantum` has accrued, so paced packets still leave several at a time (one
    `sendmmsg`). As in Linux's pacing (tcp_update_pacing_rate), the rate is twice the
    window per round trip in slow start, so the window can still double, and 1.25×
    afterwards.
*/
class pacer {
public:
    /// Set the rate from the window and the smoothed RTT; no sample yet, or a window no
    /// larger than the bucket, disables pacing.
    void update(std::uint32_t cwnd, duration srtt, bool slow_start, std::uint32_t mss) noexcept {
        burst_ = burst_packets * mss;
        quantum_ = quantum_packets * mss;
        if (srtt.count() <= 0 || cwnd <= burst_) {
            rate_ = 0;
            return;
        }
        const double gain = slow_start ? 2.0 : 1.25;
        rate_ = gain * static_cast<double>(cwnd) / static_cast<double>(srtt.count());
    }

    bool active() const noexcept { return rate_ > 0; }

    /// The pacing rate, bytes per second (0: not pacing).
    double rate_per_second() const noexcept { return rate_ * 1e6; }

    /// Whether `len` bytes may leave at `now`.
    bool allows(std::uint32_t len, instant now) noexcept {
        if (!active()) return true;
        refill(now);
        return tokens_ >= static_cast<double>(len);
    }

    /// `len` bytes left at `now`; returns how long they had been held back.
    duration on_sent(std::uint32_t len, instant now) noexcept {
        refill(now);
        // Unpaced, the bucket stays full: pacing that starts later starts with a burst.
        if (active()) tokens_ -= static_cast<double>(len);
        duration waited{0};
        if (blocked_since_) {
            waited = now - *blocked_since_;
            blocked_since_.reset();
        }
        return waited;
    }

    /// The sender had a packet the bucket held back: when to try again.
    instant release_time(instant now) noexcept {
        if (!blocked_since_) blocked_since_ = now;
        const double need = std::min<double>(quantum_, burst_) - tokens_;
        const auto wait = static_cast<std::int64_t>(need / rate_) + 1;
        return now + duration{std::max<std::int64_t>(wait, 1)};
    }

private:
    static constexpr std::uint32_t burst_packets = 16;
    static constexpr std::uint32_t quantum_packets = 8;

    void refill(instant now) noexcept {
        if (!started_ || now < last_ || !active()) {
            tokens_ = burst_;
            started_ = true;
        } else {
            tokens_ += rate_ * static_cast<double>((now - last_).count());
            tokens_ = std::min<double>(tokens_, burst_);
        }
        last_ = now;
    }

    double rate_ = 0; ///< bytes per microsecond (0: not pacing)
    double tokens_ = 0;
    std::uint32_t burst_ = 0;
    std::uint32_t quantum_ = 0;
    instant last_{};
    bool started_ = false;
    std::optional<instant> blocked_since_;
};

} // namespace utp::proto::detail

#endif
