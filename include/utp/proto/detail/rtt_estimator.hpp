//
// utp/proto/detail/rtt_estimator.hpp — RFC 6298 smoothed RTT and retransmission timeout.
//
#ifndef UTP_PROTO_DETAIL_RTT_ESTIMATOR_HPP
#define UTP_PROTO_DETAIL_RTT_ESTIMATOR_HPP

#include <utp/proto/settings.hpp>

#include <algorithm>

namespace utp::proto::detail {

class rtt_estimator {
public:
    explicit rtt_estimator(const settings& s) noexcept
        : initial_(s.initial_rto), min_(s.min_rto), max_(s.max_rto) {}

    /// Feed one sample (Karn: only from packets sent once).
    void sample(duration r) noexcept {
        r = std::max(r, duration{1});
        if (!has_sample_) {
            srtt_ = r;
            rttvar_ = r / 2;
            has_sample_ = true;
        } else {
            const duration err = srtt_ > r ? srtt_ - r : r - srtt_;
            rttvar_ = (3 * rttvar_ + err) / 4;
            srtt_ = (7 * srtt_ + r) / 8;
        }
        backoff_ = 0;
    }

    /// The timeout for the next retransmission, backoff included.
    duration rto() const noexcept {
        duration base = has_sample_ ? srtt_ + std::max(duration{1000}, 4 * rttvar_) : initial_;
        base = std::clamp(base, min_, max_);
        for (unsigned i = 0; i < backoff_ && base < max_; ++i)
            base *= 2;
        return std::min(base, max_);
    }

    void backoff() noexcept {
        if (backoff_ < 30) ++backoff_;
    }
    void reset_backoff() noexcept { backoff_ = 0; }

    bool has_sample() const noexcept { return has_sample_; }
    duration srtt() const noexcept { return srtt_; }
    duration rttvar() const noexcept { return rttvar_; }

private:
    duration initial_, min_, max_;
    duration srtt_{0}, rttvar_{0};
    unsigned backoff_ = 0;
    bool has_sample_ = false;
};

} // namespace utp::proto::detail

#endif
