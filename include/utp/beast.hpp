//
// utp/beast.hpp — what Boost.Beast needs to know about a µTP socket: how to close it and
// how to tear down a WebSocket connection over it.
//
// <utp/socket.hpp> includes this header, so `beast::websocket::stream<utp::socket>`,
// `websocket::stream<ssl::stream<utp::socket>>` and `beast::close_socket` work with no
// further include. Beast finds these functions by argument-dependent lookup.
//
#ifndef UTP_BEAST_HPP
#define UTP_BEAST_HPP

#include <utp/socket.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <memory>
#include <utility>

namespace utp {

/** Close a µTP socket for Beast: `beast::close_socket(sock)` calls this.

    Beast closes the lowest layer when an operation times out or fails. The close is
    graceful, as `basic_socket::close` is: written data and the FIN still go out.
*/
template <class Executor>
void beast_close_socket(basic_socket<Executor>& sock) {
    boost::system::error_code ignored;
    sock.close(ignored);
}

/** Tear down a WebSocket connection's µTP socket, synchronously.

    A µTP socket has no synchronous reads, so this cannot drain the peer's remaining
    bytes as Beast's TCP teardown does: it shuts down the sending side (the peer reads
    `eof`) and closes the socket gracefully. Beast's synchronous WebSocket `close` is the
    only caller, and it needs a synchronous stream anyway; use `async_close`.

    @param role whether the local end is the WebSocket client or server.
    @param sock the socket.
    @param ec set to `not_connected` if the socket had no connection.
*/
template <class Executor>
void teardown(boost::beast::role_type role, basic_socket<Executor>& sock,
              boost::system::error_code& ec) {
    (void)role;
    sock.shutdown(asio::socket_base::shutdown_send, ec);
    boost::system::error_code ignored;
    sock.close(ignored);
}

namespace detail {

// RFC 6455 §7.1.1: the server closes the TCP connection first, the client waits for that
// (reads to EOF) and then closes. Beast's TCP teardown does this; so does this op, with
// µTP's FIN as the half-close.
template <class Executor>
class teardown_op : asio::coroutine {
public:
    teardown_op(boost::beast::role_type role, basic_socket<Executor>& sock)
        : role_(role), sock_(sock), drain_(std::make_unique<std::array<char, 2048>>()) {}

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}, std::size_t = 0) {
        BOOST_ASIO_CORO_REENTER(*this) {
            if (role_ == boost::beast::role_type::server)
                sock_.shutdown(asio::socket_base::shutdown_send, ec);
            if (ec) {
                // Never complete from inside the initiating function.
                BOOST_ASIO_CORO_YIELD asio::post(sock_.get_executor(),
                                                 asio::append(std::move(self), ec, 0));
                return finish(self, ec);
            }
            // Drain whatever the peer still sends, up to its FIN. The buffer lives on the
            // heap: the op itself moves with every yield.
            for (;;) {
                BOOST_ASIO_CORO_YIELD sock_.async_read_some(asio::buffer(*drain_), std::move(self));
                if (ec) break;
            }
            if (ec != asio::error::eof) return finish(self, ec);
            ec = {};
            if (role_ == boost::beast::role_type::client)
                sock_.shutdown(asio::socket_base::shutdown_send, ec);
            finish(self, ec);
        }
    }

private:
    template <class Self>
    void finish(Self& self, boost::system::error_code ec) {
        boost::system::error_code ignored;
        sock_.close(ignored);
        self.complete(ec);
    }

    boost::beast::role_type role_;
    basic_socket<Executor>& sock_;
    std::unique_ptr<std::array<char, 2048>> drain_;
};

} // namespace detail

/** Tear down a WebSocket connection's µTP socket: Beast's `async_close` calls this.

    Behaves as Beast's teardown of a TCP socket: the server shuts down its sending side
    first; both ends then read until the peer's FIN (`eof`, which is success); the client
    shuts down its sending side after that; the socket is then closed.

    @param role whether the local end is the WebSocket client or server.
    @param sock the socket.
    @param handler called with the result.

    @par Completion Signature
    @code void(boost::system::error_code) @endcode
    Success once the peer's FIN arrived; otherwise the error that ended the connection
    (`connection_reset`, `timed_out`, ...). The socket is closed either way.

    @par Per-Operation Cancellation
    `terminal`, `partial` and `total` (passed to the read that drains the connection):
    completes with `operation_aborted` and closes the socket.
*/
template <class Executor, class TeardownHandler>
void async_teardown(boost::beast::role_type role, basic_socket<Executor>& sock,
                    TeardownHandler&& handler) {
    asio::async_compose<TeardownHandler, void(boost::system::error_code)>(
        detail::teardown_op<Executor>(role, sock), handler, sock);
}

} // namespace utp

#endif
