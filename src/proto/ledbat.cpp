#include <utp/proto/congestion.hpp>

#include "loss_response.hpp"

#include <algorithm>

namespace utp::proto {

using detail::max_cwnd;

ledbat_window::ledbat_window(const settings& s, std::uint32_t mss) noexcept
    : cwnd_(4.0 * mss), ssthresh_(max_cwnd), mss_(mss), target_(s.target_delay) {}

ledbat::ledbat(const settings& s, std::uint32_t mss) noexcept
    : ledbat_window(s, mss), max_increase_(static_cast<double>(s.max_cwnd_increase_per_rtt)) {}

void ledbat::on_ack(const ack_sample& a, instant) {
    const std::uint32_t acked = a.acked;
    const auto qd = a.queuing_delay;
    const bool app_limited = a.app_limited;
    const double target = static_cast<double>(std::max<std::int64_t>(target_.count(), 1));
    const double delay = qd ? static_cast<double>(qd->count()) : 0.0;
    if (slow_start_) {
        // Leave slow start before the queue reaches the target: growth lags a round trip,
        // and doubling past it would overshoot the target by the whole window.
        if (qd && delay > target / 2) {
            slow_start_ = false;
            ssthresh_ = cwnd_;
        } else {
            if (!app_limited) cwnd_ += acked;
            if (cwnd_ >= ssthresh_) slow_start_ = false;
            cwnd_ = std::min(cwnd_, max_cwnd);
            return;
        }
    }
    // Scale by the fraction of a window acknowledged, so the change per round trip is
    // `max_increase_ * off_target` whatever the number of ACKs.
    const double off_target = (target - delay) / target;
    double gain = max_increase_ * off_target * static_cast<double>(acked) / cwnd_;
    if (gain > 0 && app_limited) gain = 0;
    // Never shrink faster than by half a window per round trip.
    gain = std::max(gain, -static_cast<double>(acked) / 2);
    cwnd_ = std::clamp(cwnd_ + gain, 2.0 * mss_, max_cwnd);
}

void ledbat_window::on_loss(std::optional<duration> qd, instant) {
    cwnd_ = std::max(cwnd_ * detail::loss_reduction(qd, target_), 2.0 * mss_);
    ssthresh_ = cwnd_;
    slow_start_ = false;
}

void ledbat_window::on_timeout(instant) {
    ssthresh_ = std::max(cwnd_ / 2, 2.0 * mss_);
    cwnd_ = mss_;
    slow_start_ = true;
}

void ledbat_window::exit_slow_start() noexcept {
    slow_start_ = false;
    ssthresh_ = cwnd_;
}

std::uint32_t ledbat_window::window() const noexcept {
    return static_cast<std::uint32_t>(cwnd_);
}

} // namespace utp::proto
