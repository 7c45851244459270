//
// utp/proto/seq.hpp — wrap-aware 16-bit sequence and 32-bit timestamp arithmetic.
//
// Every comparison of seq_nr / ack_nr on the wire must go through these: a connection
// routinely sends far more than 65 535 packets, and a plain `<` breaks at the wrap.
//
#ifndef UTP_PROTO_SEQ_HPP
#define UTP_PROTO_SEQ_HPP

#include <cstdint>

namespace utp::proto {

/// `a - b` as a signed distance in the 16-bit sequence space.
constexpr std::int16_t seq_diff(std::uint16_t a, std::uint16_t b) noexcept {
    return static_cast<std::int16_t>(static_cast<std::uint16_t>(a - b));
}

/// True if `a` comes strictly before `b` (within half the sequence space).
constexpr bool seq_less(std::uint16_t a, std::uint16_t b) noexcept {
    return seq_diff(a, b) < 0;
}

/// True if `a` comes before or is `b`.
constexpr bool seq_less_equal(std::uint16_t a, std::uint16_t b) noexcept {
    return seq_diff(a, b) <= 0;
}

/// `a + n` in the 16-bit sequence space.
constexpr std::uint16_t seq_add(std::uint16_t a, int n) noexcept {
    return static_cast<std::uint16_t>(a + n);
}

/// `a - b` of two 32-bit microsecond stamps, signed, valid across the 32-bit wrap.
constexpr std::int32_t stamp_diff(std::uint32_t a, std::uint32_t b) noexcept {
    return static_cast<std::int32_t>(a - b);
}

} // namespace utp::proto

#endif
