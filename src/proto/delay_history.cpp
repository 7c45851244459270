#include <utp/proto/detail/delay_history.hpp>

namespace utp::proto::detail {

namespace {
bool wrap_less(std::uint32_t a, std::uint32_t b) noexcept {
    return stamp_diff(a, b) < 0;
}
} // namespace

void delay_history::add(std::uint32_t sample, instant now) noexcept {
    if (buckets_used_ == 0) {
        buckets_[0] = sample;
        buckets_used_ = 1;
        bucket_ = 0;
        bucket_start_ = now;
    } else if (now - bucket_start_ >= std::chrono::minutes(1)) {
        bucket_ = (bucket_ + 1) % minutes_;
        if (buckets_used_ < minutes_) ++buckets_used_;
        buckets_[bucket_] = sample;
        bucket_start_ = now;
    } else if (wrap_less(sample, buckets_[bucket_])) {
        buckets_[bucket_] = sample;
    }
    recompute_base();
    recent_[count_ % recent_.size()] = sample;
    ++count_;
}

void delay_history::recompute_base() noexcept {
    // Buckets are few (≤ 20): a scan is cheaper than bookkeeping.
    std::uint32_t b = buckets_[bucket_];
    for (unsigned i = 0; i < buckets_used_; ++i)
        if (wrap_less(buckets_[i], b)) b = buckets_[i];
    base_ = b;
}

std::uint32_t delay_history::current() const noexcept {
    if (count_ == 0) return 0;
    const unsigned n = count_ < recent_.size() ? count_ : static_cast<unsigned>(recent_.size());
    std::int64_t best = INT64_MAX;
    for (unsigned i = 0; i < n; ++i) {
        const std::int32_t d = stamp_diff(recent_[i], base_);
        if (d < best) best = d;
    }
    return best <= 0 ? 0u : static_cast<std::uint32_t>(best);
}

} // namespace utp::proto::detail
