#include <utp/proto/congestion.hpp>

#include "loss_response.hpp"

#include <algorithm>

namespace utp::proto {

// RFC 5681 §3.1: an initial window of up to 4 packets for our packet sizes.
newreno::newreno(std::uint32_t mss) noexcept
    : cwnd_(4.0 * mss), ssthresh_(detail::max_cwnd), mss_(mss) {}

void newreno::on_ack(const ack_sample& a, instant) {
    if (a.app_limited) return; // RFC 7661: no growth on a window the sender did not use
    if (cwnd_ < ssthresh_)
        cwnd_ += a.acked; // slow start: doubles per round trip
    else
        cwnd_ += static_cast<double>(mss_) * a.acked / cwnd_; // one packet per round trip
    cwnd_ = std::min(cwnd_, detail::max_cwnd);
}

void newreno::on_loss(std::optional<duration>, instant) {
    // One reduction per loss episode (the connection calls this once per episode).
    ssthresh_ = std::max(cwnd_ / 2, 2.0 * mss_);
    cwnd_ = ssthresh_;
}

void newreno::on_timeout(instant) {
    ssthresh_ = std::max(cwnd_ / 2, 2.0 * mss_);
    cwnd_ = mss_;
}

void newreno::exit_slow_start() noexcept {
    ssthresh_ = cwnd_;
}

std::uint32_t newreno::window() const noexcept {
    return static_cast<std::uint32_t>(cwnd_);
}

} // namespace utp::proto
