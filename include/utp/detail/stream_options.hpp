//
// utp/detail/stream_options.hpp — socket options as the engine receives them: each one set
// (or not) by the public option classes of <utp/options.hpp>.
//
#ifndef UTP_DETAIL_STREAM_OPTIONS_HPP
#define UTP_DETAIL_STREAM_OPTIONS_HPP

#include <utp/proto/settings.hpp>

#include <cstddef>
#include <optional>

namespace utp::detail {

/// Settings a socket applies to its connection (before or after the connection exists).
struct stream_options {
    std::optional<bool> no_delay;
    std::optional<std::size_t> send_buffer_size;
    std::optional<std::size_t> receive_buffer_size;
    std::optional<proto::duration> target_delay;
    std::optional<proto::congestion_algorithm> congestion;
    std::optional<proto::trace_options> trace;

    /// Overwrite in `s` every setting these options set.
    void apply_to(proto::settings& s) const {
        if (no_delay) s.no_delay = *no_delay;
        if (send_buffer_size) s.send_buffer_size = *send_buffer_size;
        if (receive_buffer_size) s.recv_buffer_size = *receive_buffer_size;
        if (target_delay) s.target_delay = *target_delay;
        if (congestion) s.congestion = *congestion;
        if (trace) s.trace = *trace;
    }

    /// Take every option `o` sets.
    void merge(const stream_options& o) {
        if (o.no_delay) no_delay = o.no_delay;
        if (o.send_buffer_size) send_buffer_size = o.send_buffer_size;
        if (o.receive_buffer_size) receive_buffer_size = o.receive_buffer_size;
        if (o.target_delay) target_delay = o.target_delay;
        if (o.congestion) congestion = o.congestion;
        if (o.trace) trace = o.trace;
    }
};

} // namespace utp::detail

#endif
