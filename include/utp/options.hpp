//
// utp/options.hpp — socket options, set with `socket.set_option(utp::no_delay(true))`.
//
#ifndef UTP_OPTIONS_HPP
#define UTP_OPTIONS_HPP

#include <utp/detail/stream_options.hpp>
#include <utp/multiplexer_options.hpp>
#include <utp/proto/settings.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <type_traits>

namespace utp {

/** Disable Nagle's algorithm: send undersized packets at once (default: off, as in TCP).

    @par Example
    @code
    sock.set_option(utp::no_delay(true));
    @endcode
*/
class no_delay {
public:
    /// The option's name in messages.
    static constexpr const char* name = "utp::no_delay";
    explicit no_delay(bool v = false) noexcept : v_(v) {}
    bool value() const noexcept { return v_; }
    explicit operator bool() const noexcept { return v_; }
    /// @internal
    void apply(detail::stream_options& o) const { o.no_delay = v_; }
    /// @internal
    void load(const proto::settings& s) { v_ = s.no_delay; }

private:
    bool v_;
};

/** Bytes the application may queue for sending (unsent plus unacknowledged): 1 byte to
    2 GiB, default 1 MiB. Writes wait while it is full. */
class send_buffer_size {
public:
    static constexpr const char* name = "utp::send_buffer_size";
    explicit send_buffer_size(std::size_t v = 0) noexcept : v_(v) {}
    std::size_t value() const noexcept { return v_; }
    /// @internal
    void apply(detail::stream_options& o) const { o.send_buffer_size = v_; }
    /// @internal
    void load(const proto::settings& s) { v_ = s.send_buffer_size; }

private:
    std::size_t v_;
};

/** The receive buffer, in bytes: 1 byte to 2 GiB, default 1 MiB. Its free space is the
    window advertised to the peer (BEP-29 `wnd_size`), so it bounds the bytes in flight
    towards this socket. */
class receive_buffer_size {
public:
    static constexpr const char* name = "utp::receive_buffer_size";
    explicit receive_buffer_size(std::size_t v = 0) noexcept : v_(v) {}
    std::size_t value() const noexcept { return v_; }
    /// @internal
    void apply(detail::stream_options& o) const { o.receive_buffer_size = v_; }
    /// @internal
    void load(const proto::settings& s) { v_ = s.recv_buffer_size; }

private:
    std::size_t v_;
};

/** LEDBAT's target queueing delay (RFC 6817 §2.5): 1 ms to 10 s, default 100 ms. Lower
    yields sooner to other traffic. */
class target_delay {
public:
    static constexpr const char* name = "utp::target_delay";
    explicit target_delay(std::chrono::microseconds v = std::chrono::milliseconds(100)) noexcept
        : v_(v) {}
    std::chrono::microseconds value() const noexcept { return v_; }
    /// @internal
    void apply(detail::stream_options& o) const { o.target_delay = v_; }
    /// @internal
    void load(const proto::settings& s) { v_ = s.target_delay; }

private:
    std::chrono::microseconds v_;
};

/** The congestion controller of the connection (default: the multiplexer's
    `protocol.connection.congestion`, itself `ledbat` by default).

    - `proto::congestion_algorithm::ledbat`: RFC 6817 as libutp runs it; yields to TCP.
      Flows that join a busy bottleneck later take more than their share of it.
    - `proto::congestion_algorithm::ledbat_plus_plus`: LEDBAT++
      (draft-irtf-iccrg-ledbat-plus-plus-06); yields to TCP and shares a bottleneck
      fairly with other µTP flows, with a lower queue. The wire is unchanged: any peer.
    - `proto::congestion_algorithm::newreno`: loss-based (RFC 5681, RFC 6582); does
      **not** yield to TCP, it competes as TCP does. For private links and tunnels only.

    May be set before connecting, or on an open connection: the new controller then
    starts afresh from slow start. Only the sender's controller matters: each side's
    governs what it sends. */
class congestion_control {
public:
    static constexpr const char* name = "utp::congestion_control";
    explicit congestion_control(
        proto::congestion_algorithm v = proto::congestion_algorithm::ledbat) noexcept
        : v_(v) {}
    proto::congestion_algorithm value() const noexcept { return v_; }
    /// @internal
    void apply(detail::stream_options& o) const { o.congestion = v_; }
    /// @internal
    void load(const proto::settings& s) { v_ = s.congestion; }

private:
    proto::congestion_algorithm v_;
};

/** A trace of the connection's sending side: one `proto::trace_record` (time, congestion
    window, bytes in flight, smoothed and minimum RTT, queueing-delay estimate, pacing
    rate, bytes acknowledged, retransmissions) per `interval` while ACKs arrive, and one
    at each loss episode and retransmission timeout. Off by default; an empty sink turns
    it off. `proto::to_string(record)` gives the line `tools/plot_trace.py` plots.

    The sink runs on a thread running the multiplexer's I/O, with the multiplexer locked:
    it must be quick (append to a buffer or a file) and must not call into the library
    (it would deadlock). It is copied into the connection and kept across reconnects;
    what it captures must outlive the socket's connection.

    @par Example
    @code
    std::ofstream out("flow.trace");
    out << utp::proto::trace_columns << '\n';
    sock.set_option(utp::trace([&out](const utp::proto::trace_record& r) {
        out << utp::proto::to_string(r) << '\n';
    }));
    @endcode
*/
class trace {
public:
    static constexpr const char* name = "utp::trace";
    using sink_type = std::function<void(const proto::trace_record&)>;
    explicit trace(sink_type sink = {},
                   std::chrono::microseconds interval = std::chrono::milliseconds(10))
        : v_{std::move(sink), interval} {}
    /// The sink (empty: tracing is off).
    const sink_type& sink() const noexcept { return v_.sink; }
    /// Least time between two `sample` records.
    std::chrono::microseconds interval() const noexcept { return v_.interval; }
    explicit operator bool() const noexcept { return static_cast<bool>(v_.sink); }
    /// @internal
    void apply(detail::stream_options& o) const { o.trace = v_; }
    /// @internal
    void load(const proto::settings& s) { v_ = s.trace; }

private:
    proto::trace_options v_;
};

/// Whether `T` is an option of `utp::basic_socket` (`set_option` / `get_option`).
template <class T>
struct is_socket_option : std::false_type {};
template <>
struct is_socket_option<no_delay> : std::true_type {};
template <>
struct is_socket_option<send_buffer_size> : std::true_type {};
template <>
struct is_socket_option<receive_buffer_size> : std::true_type {};
template <>
struct is_socket_option<target_delay> : std::true_type {};
template <>
struct is_socket_option<congestion_control> : std::true_type {};
template <>
struct is_socket_option<trace> : std::true_type {};

} // namespace utp

/// @internal The compile-time message for an option µTP does not have.
#define UTP_DETAIL_NOT_AN_OPTION_MESSAGE                                                           \
    "not a utp::socket option. Asio's TCP and socket_base options (tcp::no_delay, "                \
    "socket_base::send_buffer_size, receive_buffer_size, keep_alive, linger, reuse_address, "      \
    "...) do not apply to uTP: use utp::no_delay, utp::send_buffer_size, "                         \
    "utp::receive_buffer_size, utp::target_delay, utp::congestion_control or utp::trace; the UDP " \
    "socket's "                                                                                    \
    "buffers and the protocol settings are utp::multiplexer_options."

#endif
