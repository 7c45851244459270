//
// utp/error.hpp — errors of the µTP library that Asio has no code for.
//
// Where Asio has a code with the right meaning, the library uses it, because
// `asio::ssl::stream` and Boost.Beast branch on them:
//   asio::error::eof                  the peer sent FIN and every byte before it was read
//   asio::error::operation_aborted    the operation was cancelled, or its object closed
//   asio::error::connection_reset     the peer sent RESET on an established connection
//   asio::error::connection_refused   RESET while connecting (nobody accepts there)
//   asio::error::timed_out            retransmissions, the idle timer or linger ran out
//   asio::error::bad_descriptor       the socket is not open
//   asio::error::already_connected    async_connect on a socket that is connected
//   asio::error::shut_down            a write after shutdown(shutdown_send)
//
#ifndef UTP_ERROR_HPP
#define UTP_ERROR_HPP

#include <boost/system/error_code.hpp>

#include <type_traits>

namespace utp {

/// Errors specific to µTP, in the category `utp::error_category()`.
enum class error {
    /// No connection id was free for this peer (65 536 in use).
    no_connection_id = 1,
    /// The socket already has an operation of this kind pending.
    operation_in_progress,
    /// The multiplexer was closed or destroyed while the operation was pending.
    multiplexer_closed,
    /// The remote endpoint's address family does not match the multiplexer's socket.
    address_family_mismatch,
};

/// The category of `utp::error` codes.
const boost::system::error_category& error_category() noexcept;

/// Make an `error_code` from a `utp::error`.
inline boost::system::error_code make_error_code(error e) noexcept {
    return {static_cast<int>(e), error_category()};
}

} // namespace utp

template <>
struct boost::system::is_error_code_enum<utp::error> : std::true_type {};

#endif
