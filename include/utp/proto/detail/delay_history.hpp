//
// utp/proto/detail/delay_history.hpp — LEDBAT's base and current one-way delay.
//
// Samples are the peer's echo of (its receive time − our send stamp): a 32-bit value
// that includes the clocks' offset and may wrap, so every comparison is wrap-aware.
// The base is the minimum over one-minute buckets, which lets it follow clock drift.
//
#ifndef UTP_PROTO_DETAIL_DELAY_HISTORY_HPP
#define UTP_PROTO_DETAIL_DELAY_HISTORY_HPP

#include <utp/proto/seq.hpp>
#include <utp/proto/time.hpp>

#include <array>
#include <cstdint>

namespace utp::proto::detail {

class delay_history {
public:
    static constexpr unsigned max_minutes = 20;

    explicit delay_history(unsigned minutes) noexcept
        : minutes_(minutes == 0 ? 1 : (minutes > max_minutes ? max_minutes : minutes)) {}

    void add(std::uint32_t sample, instant now) noexcept;

    bool empty() const noexcept { return count_ == 0; }

    /// The base delay (valid when not empty).
    std::uint32_t base() const noexcept { return base_; }

    /// Minimum of the last three samples above the base, in µs (0 when empty).
    std::uint32_t current() const noexcept;

private:
    void recompute_base() noexcept;

    unsigned minutes_;
    std::array<std::uint32_t, max_minutes> buckets_{};
    unsigned buckets_used_ = 0;
    unsigned bucket_ = 0;
    instant bucket_start_{};
    std::uint32_t base_ = 0;
    std::array<std::uint32_t, 3> recent_{};
    unsigned count_ = 0;
};

} // namespace utp::proto::detail

#endif
