//
// utp/multiplexer_options.hpp — settings of a multiplexer: its UDP socket and the protocol
// settings of the connections on it.
//
#ifndef UTP_MULTIPLEXER_OPTIONS_HPP
#define UTP_MULTIPLEXER_OPTIONS_HPP

#include <utp/proto/settings.hpp>

#include <cstddef>

namespace utp {

/** Settings of a `utp::multiplexer` (one UDP socket and every connection on it).

    Checked when the multiplexer is made: a value the engine cannot work with is refused
    with `asio::error::invalid_argument` (the exception's text names the setting), never
    silently clamped. `proto::check(const endpoint_settings&)` gives the same verdict.
*/
struct multiplexer_options {
    /// SO_RCVBUF to request, in bytes. The kernel's default (~208 KiB) caps µTP near
    /// 12 MB/s and overflows under a burst, so the default is large; 0 keeps the kernel's.
    std::size_t udp_receive_buffer = 4 * 1024 * 1024;
    /// SO_SNDBUF to request, in bytes; 0 keeps the kernel's.
    std::size_t udp_send_buffer = 4 * 1024 * 1024;
    /** Largest datagram received whole, in bytes: from 1 500 to 65 536 (the default, the
        largest a UDP datagram can be). A longer one is dropped unread and counted
        (`multiplexer_stats::truncated`); neither its µTP payload nor its bytes are ever
        acknowledged. Lower it only to save memory on many idle multiplexers (the receive
        batch holds 32 such buffers, touched only as far as datagrams fill them). */
    std::size_t max_datagram_size = 65536;
    /// Settings of the protocol endpoint, and of every connection made on this port.
    proto::endpoint_settings protocol;
};

} // namespace utp

#endif
