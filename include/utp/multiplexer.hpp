//
// utp/multiplexer.hpp — one UDP port shared by every µTP connection on it.
//
#ifndef UTP_MULTIPLEXER_HPP
#define UTP_MULTIPLEXER_HPP

#include <utp/detail/multiplexer_impl.hpp>
#include <utp/multiplexer_stats.hpp>
#include <utp/options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/system/system_error.hpp>

#include <memory>
#include <type_traits>

namespace utp {

namespace asio = boost::asio;

/** A UDP socket and the engine that runs every µTP connection on it.

    Sockets and acceptors made from a multiplexer share its port: connections are told
    apart by connection id, as the protocol intends. The multiplexer receives in batches
    (`recvmmsg`), sends in batches (`sendmmsg`) and runs one timer for all of them.
    Datagrams that are not µTP (a DHT on the same port) are handed to
    `async_receive_from`; `async_send_to` sends raw datagrams through the same port.

    The engine lives as long as any handle to it (this object, a socket or acceptor made
    from it) or any connection still finishing its close: destroying the multiplexer object
    does not cut off connections.

    @par Thread Safety
    Distinct objects: Safe.@n
    Shared objects: Unsafe. Run each multiplexer on one thread (or strand); to use several
    cores, run several multiplexers.
*/
class multiplexer {
public:
    /// The type of the executor associated with the object.
    using executor_type = asio::any_io_executor;
    /// The type of an endpoint.
    using endpoint_type = asio::ip::udp::endpoint;

    /** Bind a UDP socket at `local` (port 0 picks a free one).

        @throws boost::system::system_error on failure to open or bind.
    */
    multiplexer(const executor_type& ex, const endpoint_type& local,
                const multiplexer_options& options = {})
        : impl_(make(ex, local, options)) {}

    /// Bind a UDP socket at `local`, using the context's executor.
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
    multiplexer(ExecutionContext& ctx, const endpoint_type& local,
                const multiplexer_options& options = {})
        : multiplexer(executor_type(ctx.get_executor()), local, options) {}

    /// @internal Another handle to an existing engine.
    explicit multiplexer(std::shared_ptr<detail::multiplexer_impl> impl) noexcept
        : impl_(std::move(impl)) {}

    multiplexer(multiplexer&&) noexcept = default;
    multiplexer& operator=(multiplexer&&) noexcept = default;
    ~multiplexer() = default;

    /// Get the executor associated with the object.
    executor_type get_executor() const noexcept { return impl_->get_executor(); }

    /// The local address and port.
    endpoint_type local_endpoint() const {
        boost::system::error_code ec;
        auto e = local_endpoint(ec);
        if (ec) throw boost::system::system_error(ec, "utp::multiplexer::local_endpoint");
        return e;
    }
    /// The local address and port.
    endpoint_type local_endpoint(boost::system::error_code& ec) const {
        return impl_->local_endpoint(ec);
    }

    bool is_open() const noexcept { return impl_ && impl_->is_open(); }

    /** Close the UDP socket: every pending operation of every socket, acceptor and raw
        receive on it fails with `operation_aborted`; connections are dropped. */
    void close() { impl_->close(); }

    /// Counters: datagrams, batching, drops by reason, RESETs.
    multiplexer_stats stats() const { return impl_->stats(); }

    /** Receive one datagram that is not µTP.

        @param buffer where the datagram goes (truncated if larger).
        @param sender set to the datagram's source.

        @par Completion Signature
        @code void(boost::system::error_code, std::size_t) @endcode

        @par Per-Operation Cancellation
        Not supported (close the multiplexer).
    */
    template <class MutableBuffer,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code, std::size_t))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_receive_from(const MutableBuffer& buffer, endpoint_type& sender,
                            Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [impl = impl_](auto handler, asio::mutable_buffer b, endpoint_type* from) {
                impl->async_receive_from(b, *from, detail::rw_handler(std::move(handler)));
            },
            token, asio::mutable_buffer(buffer), &sender);
    }

    /** Send one raw datagram through the port.

        @par Completion Signature
        @code void(boost::system::error_code, std::size_t) @endcode
    */
    template <class ConstBuffer,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code, std::size_t))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_send_to(const ConstBuffer& buffer, const endpoint_type& to,
                       Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            [impl = impl_](auto handler, asio::const_buffer b, const endpoint_type& dest) {
                impl->async_send_to(b, dest, detail::rw_handler(std::move(handler)));
            },
            token, asio::const_buffer(buffer), to);
    }

    /// @internal The engine.
    const std::shared_ptr<detail::multiplexer_impl>& impl() const noexcept { return impl_; }

private:
    static std::shared_ptr<detail::multiplexer_impl>
    make(const executor_type& ex, const endpoint_type& local, const multiplexer_options& o) {
        boost::system::error_code ec;
        auto m = detail::multiplexer_impl::create(ex, local, o, ec);
        if (ec) throw boost::system::system_error(ec, "utp::multiplexer");
        return m;
    }

    std::shared_ptr<detail::multiplexer_impl> impl_;
};

} // namespace utp

#endif
