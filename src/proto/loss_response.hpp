//
// loss_response.hpp — how the LEDBAT controllers cut their window on a loss episode.
//
#ifndef UTP_PROTO_LOSS_RESPONSE_HPP
#define UTP_PROTO_LOSS_RESPONSE_HPP

#include <utp/proto/time.hpp>

#include <optional>

namespace utp::proto::detail {

/** The factor the window is multiplied by on a loss episode. A loss with no standing
    queue is most likely not our congestion (random loss on the path): cut less, so a
    lossy link stays usable. With a queue, halve like TCP (RFC 5681 §3.1). */
inline double loss_reduction(std::optional<duration> queuing_delay, duration target) noexcept {
    const bool queue_building = queuing_delay && *queuing_delay >= target / 4;
    return queue_building ? 0.5 : 0.78;
}

/// No window beyond what any receive buffer could use; keeps the double arithmetic sane.
inline constexpr double max_cwnd = 64.0 * 1024 * 1024;

} // namespace utp::proto::detail

#endif
