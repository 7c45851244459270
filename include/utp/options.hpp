//
// utp/options.hpp — socket options, set with `socket.set_option(utp::no_delay(true))`.
//
#ifndef UTP_OPTIONS_HPP
#define UTP_OPTIONS_HPP

#include <utp/detail/multiplexer_impl.hpp>
#include <utp/proto/settings.hpp>

#include <chrono>
#include <cstddef>

namespace utp {

/** Disable Nagle's algorithm: send undersized packets at once (default: off, as in TCP).

    @par Example
    @code
    sock.set_option(utp::no_delay(true));
    @endcode
*/
class no_delay {
public:
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

/// Bytes the application may queue for sending (unsent plus unacknowledged).
class send_buffer_size {
public:
    explicit send_buffer_size(std::size_t v = 0) noexcept : v_(v) {}
    std::size_t value() const noexcept { return v_; }
    /// @internal
    void apply(detail::stream_options& o) const { o.send_buffer_size = v_; }
    /// @internal
    void load(const proto::settings& s) { v_ = s.send_buffer_size; }

private:
    std::size_t v_;
};

/// The receive buffer; its free space is the window advertised to the peer.
class receive_buffer_size {
public:
    explicit receive_buffer_size(std::size_t v = 0) noexcept : v_(v) {}
    std::size_t value() const noexcept { return v_; }
    /// @internal
    void apply(detail::stream_options& o) const { o.receive_buffer_size = v_; }
    /// @internal
    void load(const proto::settings& s) { v_ = s.recv_buffer_size; }

private:
    std::size_t v_;
};

/// LEDBAT's target queueing delay (default 100 ms): lower yields sooner to other traffic.
class target_delay {
public:
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

/// Options of a multiplexer: UDP buffer sizes and the protocol settings of its connections.
using multiplexer_options = detail::multiplexer_options;

} // namespace utp

#endif
