//
// utp/connect.hpp — connect a socket to the first endpoint of a sequence that accepts, as
// `asio::async_connect` does for TCP sockets.
//
#ifndef UTP_CONNECT_HPP
#define UTP_CONNECT_HPP

#include <utp/socket.hpp>

#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/coroutine.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>

#include <iterator>
#include <utility>

namespace utp {

namespace detail {

template <class Executor, class EndpointSequence>
class range_connect_op : asio::coroutine {
public:
    range_connect_op(basic_socket<Executor>& s, const EndpointSequence& endpoints)
        : socket_(s), endpoints_(endpoints) {}

    template <class Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
        BOOST_ASIO_CORO_REENTER(*this) {
            self.reset_cancellation_state(asio::enable_total_cancellation());
            it_ = std::begin(endpoints_);
            if (it_ == std::end(endpoints_)) {
                // Never complete inside the initiating function.
                BOOST_ASIO_CORO_YIELD asio::post(socket_.get_executor(), std::move(self));
                return self.complete(asio::error::not_found, asio::ip::udp::endpoint());
            }
            for (;;) {
                current_ = *it_;
                BOOST_ASIO_CORO_YIELD socket_.async_connect(current_, std::move(self));
                // Connected, or cancelled: either way this is the outcome.
                if (!ec || ec == asio::error::operation_aborted ||
                    self.cancelled() != asio::cancellation_type::none)
                    break;
                if (++it_ == std::end(endpoints_)) break;
            }
            if (ec) current_ = asio::ip::udp::endpoint();
            self.complete(ec, current_);
        }
    }

private:
    basic_socket<Executor>& socket_;
    EndpointSequence endpoints_;
    decltype(std::begin(std::declval<const EndpointSequence&>())) it_{};
    asio::ip::udp::endpoint current_;
};

} // namespace detail

/** Connect `s` to the first endpoint of `endpoints` that accepts, trying them in order.

    µTP's counterpart of `asio::async_connect(socket, endpoints, token)`, which takes only
    Asio's own sockets. `endpoints` may be a `udp::resolver::results_type` (from
    `asio::ip::udp::resolver`) or any range of values convertible to `udp::endpoint`; it
    is copied. A failed attempt leaves the socket ready for the next one.

    @param s the socket; not open. Must stay valid until the handler runs.

    @par Completion Signature
    @code void(boost::system::error_code, asio::ip::udp::endpoint) @endcode
    The endpoint connected to; else the last attempt's error (`connection_refused`,
    `timed_out`, ...) and a default endpoint; `asio::error::not_found` for an empty range.

    @par Per-Operation Cancellation
    `terminal`, `partial` and `total`: the attempt in progress is abandoned and no further
    endpoint is tried; completes with `operation_aborted`.

    @par Example
    @code
    asio::ip::udp::resolver resolver(ex);
    auto endpoints = co_await resolver.async_resolve("peer.example", "6881", asio::use_awaitable);
    utp::socket s(ex);
    asio::ip::udp::endpoint e = co_await utp::async_connect(s, endpoints, asio::use_awaitable);
    @endcode
*/
template <class Executor, class EndpointSequence,
          BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code, asio::ip::udp::endpoint))
              Token = asio::default_completion_token_t<Executor>>
auto async_connect(basic_socket<Executor>& s, const EndpointSequence& endpoints,
                   Token&& token = asio::default_completion_token_t<Executor>()) {
    return asio::async_compose<Token, void(boost::system::error_code, asio::ip::udp::endpoint)>(
        detail::range_connect_op<Executor, EndpointSequence>(s, endpoints), token, s);
}

} // namespace utp

#endif
