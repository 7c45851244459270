//
// utp/proto/time.hpp — the core's notion of time.
//
// The core never reads a clock: every entry point receives `now`. Time is counted in
// microseconds from an arbitrary origin chosen by the caller (the engine uses the steady
// clock, the simulator a virtual one). The low 32 bits are what goes on the wire, so a
// caller may start anywhere, including just before a 32-bit wrap.
//
#ifndef UTP_PROTO_TIME_HPP
#define UTP_PROTO_TIME_HPP

#include <chrono>
#include <cstdint>

namespace utp::proto {

/// Microsecond durations used throughout the core.
using duration = std::chrono::microseconds;

/** A clock tag for the core's time points.

    It has no `now()`: the caller owns the clock and passes time in.
*/
struct clock {
    using rep = std::int64_t;
    using period = std::micro;
    using duration = std::chrono::microseconds;
    using time_point = std::chrono::time_point<clock, duration>;
    static constexpr bool is_steady = true;
};

/// A point in time, microseconds since the caller's origin.
using instant = clock::time_point;

/// The 32-bit microsecond stamp put on the wire for `t` (wraps every ~71.6 minutes).
constexpr std::uint32_t wire_timestamp(instant t) noexcept {
    return static_cast<std::uint32_t>(static_cast<std::uint64_t>(t.time_since_epoch().count()));
}

} // namespace utp::proto

#endif
