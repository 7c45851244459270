//
// utp/acceptor.hpp — accepts inbound µTP connections on a multiplexer's port.
//
#ifndef UTP_ACCEPTOR_HPP
#define UTP_ACCEPTOR_HPP

#include <utp/detail/engine_api.hpp>
#include <utp/multiplexer.hpp>
#include <utp/socket.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/execution/executor.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/is_executor.hpp>
#include <boost/system/system_error.hpp>

#include <memory>
#include <type_traits>
#include <utility>

namespace utp {

// The accept overloads are told apart by these cheap concepts, checked before Asio's
// completion_token_for (which instantiates the token's machinery for the signature).
namespace detail {
template <class T>
concept executor_like = asio::execution::is_executor<std::decay_t<T>>::value ||
    asio::is_executor<std::decay_t<T>>::value;
template <class T>
concept context_like = std::is_convertible_v<T&, asio::execution_context&>;
/// A completion token, and not one of the other first arguments of async_accept.
template <class T>
concept accept_token = !executor_like<T> && !context_like<std::remove_reference_t<T>> &&
                       !std::is_same_v<std::decay_t<T>, asio::ip::udp::endpoint>;
} // namespace detail

/** Accepts µTP connections arriving at a multiplexer's UDP port.

    One acceptor per multiplexer. SYNs wait in a bounded backlog until accepted; beyond it
    they are dropped (and counted in the multiplexer's stats), so the initiator retries.
    Outgoing sockets made from the same multiplexer (`get_multiplexer()`) share the port.

    Accepted sockets may live on any executor, even of another `io_context`: their
    connection still runs in this acceptor's multiplexer. The acceptor's and the sockets'
    objects may then be destroyed in any order, their contexts too: when the multiplexer's
    context is destroyed first, the sockets find their connections closed.

    @par Concepts
    None of Asio's; it mirrors `asio::basic_socket_acceptor`'s accept operations.

    @par Thread Safety
    @e Distinct @e objects: Safe.@n
    @e Shared @e objects: Unsafe.
*/
template <class Executor = asio::any_io_executor>
class basic_acceptor {
public:
    /// The type of the executor associated with the object.
    using executor_type = Executor;

    /// Rebinds the acceptor type to another executor.
    template <class Executor1>
    struct rebind_executor {
        /// The acceptor type when rebound to the specified executor.
        using other = basic_acceptor<Executor1>;
    };

    /// The type of an endpoint: µTP runs over UDP.
    using endpoint_type = asio::ip::udp::endpoint;
    /// The socket type the move-accept produces.
    using socket_type = basic_socket<executor_type>;

    /// Default accept backlog.
    static constexpr std::size_t default_backlog = 128;

    /** Accept on `mux`'s port, completing on the multiplexer's executor.

        @param backlog SYNs held until accepted (at least 1).

        @throws boost::system::system_error: `address_in_use` if the multiplexer already has
        an acceptor, `bad_descriptor` if it is closed, `invalid_argument` for a backlog of 0.
    */
    explicit basic_acceptor(multiplexer& mux, std::size_t backlog = default_backlog) requires
        std::is_constructible_v<executor_type, asio::any_io_executor>
        : basic_acceptor(executor_type(mux.get_executor()), mux, backlog) {}

    /// Accept on `mux`'s port, completing on executor `ex` (see above).
    basic_acceptor(const executor_type& ex, multiplexer& mux, std::size_t backlog = default_backlog)
        : ex_(ex), mux_(mux.get_executor(), mux.impl()), state_(make_state(backlog)) {}

    /** Bind a new multiplexer at `local` and accept on it.

        @throws boost::system::system_error on failure to bind, or `invalid_argument` for an
        option out of range (the text names it).
    */
    basic_acceptor(const executor_type& ex, const endpoint_type& local,
                   std::size_t backlog = default_backlog, const multiplexer_options& opt = {})
        : ex_(ex), mux_(asio::any_io_executor(ex), local, opt), state_(make_state(backlog)) {}

    /// Bind a new multiplexer at `local` (on the context's executor) and accept on it.
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
    basic_acceptor(ExecutionContext& ctx, const endpoint_type& local,
                   std::size_t backlog = default_backlog, const multiplexer_options& opt = {})
        : basic_acceptor(executor_type(ctx.get_executor()), local, backlog, opt) {}

    /** Move-construct. `other` keeps its executor and is closed: `is_open()` is false,
        its accepts fail with `bad_descriptor`. Pending accepts stay with the moved acceptor. */
    basic_acceptor(basic_acceptor&& other) noexcept(std::is_nothrow_copy_constructible_v<Executor>)
        : ex_(other.ex_), mux_(std::move(other.mux_)), state_(std::move(other.state_)) {}

    /// Move-assign: this acceptor is closed first (see `close`), then takes `other`'s place.
    basic_acceptor&
    operator=(basic_acceptor&& other) noexcept(std::is_nothrow_copy_assignable_v<Executor>) {
        if (this != &other) {
            state_ = std::move(other.state_);
            mux_ = std::move(other.mux_);
            ex_ = other.ex_;
        }
        return *this;
    }

    /// Stops accepting, as `close()` does.
    ~basic_acceptor() = default;

    /// Get the executor associated with the object.
    executor_type get_executor() const noexcept { return ex_; }

    /// The multiplexer this acceptor listens on (to dial out from the same port). A closed
    /// handle once the acceptor was moved from.
    multiplexer& get_multiplexer() noexcept { return mux_; }

    /// Whether the acceptor is accepting.
    bool is_open() const noexcept { return state_ && detail::is_open(*state_); }

    /** The local UDP endpoint.
        @throws boost::system::system_error (`bad_descriptor` if moved from or closed). */
    endpoint_type local_endpoint() const {
        boost::system::error_code ec;
        auto e = local_endpoint(ec);
        if (ec) throw boost::system::system_error(ec, "utp::acceptor::local_endpoint");
        return e;
    }
    /// The local UDP endpoint; `bad_descriptor` if moved from or closed.
    endpoint_type local_endpoint(boost::system::error_code& ec) const {
        if (!state_) {
            ec = asio::error::bad_descriptor;
            return {};
        }
        return mux_.local_endpoint(ec);
    }

    /** Stop accepting: pending accepts complete with `operation_aborted`; SYNs waiting in
        the backlog and arriving later are refused with RESET. The multiplexer stays open
        for its other sockets. */
    void close() {
        if (state_) detail::close(*state_);
    }
    /// Stop accepting, as above; never fails.
    void close(boost::system::error_code& ec) {
        ec = {};
        close();
    }

    /// Cancel pending accepts: they complete with `operation_aborted`. SYNs stay in the
    /// backlog for the next accept.
    void cancel() {
        if (state_) detail::cancel(*state_);
    }
    /// Cancel, as above; never fails.
    void cancel(boost::system::error_code& ec) {
        ec = {};
        cancel();
    }

    /** Accept a connection into `peer`, which must not be open and must stay valid until
        the handler is called. `peer` may be on any executor.

        @par Completion Signature
        @code void(boost::system::error_code) @endcode
        `operation_aborted` if cancelled or closed; `already_open` if `peer` has a
        connection; `bad_descriptor` if the acceptor is closed or moved from.

        @par Per-Operation Cancellation
        `terminal`, `partial` and `total`: completes with `operation_aborted`; the next SYN
        stays for the next accept.
    */
    template <class Executor1, BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code))
                                   Token = asio::default_completion_token_t<executor_type>>
    auto async_accept(basic_socket<Executor1>& peer,
                      Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_initiate<Token, void(boost::system::error_code)>(
            initiate_accept{this}, token, &peer.state(), static_cast<endpoint_type*>(nullptr));
    }

    /** Accept a connection into `peer`, and set `peer_endpoint` to the peer's address
        before the handler is called (both must stay valid until then). As above. */
    template <class Executor1, BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code))
                                   Token = asio::default_completion_token_t<executor_type>>
    auto async_accept(basic_socket<Executor1>& peer, endpoint_type& peer_endpoint,
                      Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_initiate<Token, void(boost::system::error_code)>(
            initiate_accept{this}, token, &peer.state(), &peer_endpoint);
    }

    /** Accept a connection and hand it over as a new socket on the acceptor's executor.

        @par Completion Signature
        @code void(boost::system::error_code, socket_type) @endcode
        As for `async_accept(peer)`; the socket is not open on error.

        @par Per-Operation Cancellation
        `terminal`, `partial` and `total`: completes with `operation_aborted`.

        @par Example
        @code
        utp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
        @endcode
    */
    template <class Token = asio::default_completion_token_t<executor_type>>
    requires detail::accept_token<Token> &&
        asio::completion_token_for<Token, void(boost::system::error_code, socket_type)>
    auto async_accept(Token&& token = asio::default_completion_token_t<executor_type>()) {
        return move_accept<socket_type>(ex_, nullptr, std::forward<Token>(token));
    }

    /// Move-accept, setting `peer_endpoint` (valid until the handler runs). As above.
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code, socket_type))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_accept(endpoint_type& peer_endpoint,
                      Token&& token = asio::default_completion_token_t<executor_type>()) {
        return move_accept<socket_type>(ex_, &peer_endpoint, std::forward<Token>(token));
    }

    /** Move-accept into a socket on executor `ex` (another strand, another io_context).

        @par Completion Signature
        @code void(boost::system::error_code, basic_socket<Executor1>) @endcode
    */
    template <detail::executor_like Executor1,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code,
                                                   basic_socket<Executor1>))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_accept(const Executor1& ex,
                      Token&& token = asio::default_completion_token_t<executor_type>()) {
        return move_accept<basic_socket<Executor1>>(ex, nullptr, std::forward<Token>(token));
    }

    /// Move-accept into a socket on `ex`, setting `peer_endpoint`. As above.
    template <detail::executor_like Executor1,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code,
                                                   basic_socket<Executor1>))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_accept(const Executor1& ex, endpoint_type& peer_endpoint,
                      Token&& token = asio::default_completion_token_t<executor_type>()) {
        return move_accept<basic_socket<Executor1>>(ex, &peer_endpoint, std::forward<Token>(token));
    }

    /** Move-accept into a socket on `ctx`'s executor (another io_context).

        @par Completion Signature
        @code void(boost::system::error_code, basic_socket<typename
       ExecutionContext::executor_type>) @endcode
    */
    template <detail::context_like ExecutionContext,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(
                  void(boost::system::error_code,
                       basic_socket<typename ExecutionContext::executor_type>))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_accept(ExecutionContext& ctx,
                      Token&& token = asio::default_completion_token_t<executor_type>()) {
        return move_accept<basic_socket<typename ExecutionContext::executor_type>>(
            ctx.get_executor(), nullptr, std::forward<Token>(token));
    }

    /// Move-accept into a socket on `ctx`'s executor, setting `peer_endpoint`. As above.
    template <detail::context_like ExecutionContext,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(
                  void(boost::system::error_code,
                       basic_socket<typename ExecutionContext::executor_type>))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_accept(ExecutionContext& ctx, endpoint_type& peer_endpoint,
                      Token&& token = asio::default_completion_token_t<executor_type>()) {
        return move_accept<basic_socket<typename ExecutionContext::executor_type>>(
            ctx.get_executor(), &peer_endpoint, std::forward<Token>(token));
    }

private:
    std::shared_ptr<detail::acceptor_state> make_state(std::size_t backlog) {
        boost::system::error_code ec;
        auto s = detail::make_acceptor(asio::any_io_executor(ex_), mux_.impl(), backlog, ec);
        if (ec) throw boost::system::system_error(ec, "utp::acceptor");
        return s;
    }

    struct initiate_accept {
        basic_acceptor* self;
        // The acceptor's executor, for asio::cancel_after (Boost >= 1.86) and the like.
        using executor_type = Executor;
        executor_type get_executor() const noexcept { return self->ex_; }
        template <class Handler>
        void operator()(Handler&& h, const std::shared_ptr<detail::stream_state>* target,
                        endpoint_type* peer_endpoint) const {
            if (!self->state_)
                return detail::post_error(detail::ec_handler(std::forward<Handler>(h)),
                                          asio::any_io_executor(self->ex_),
                                          asio::error::bad_descriptor);
            detail::async_accept(self->state_, *target, peer_endpoint,
                                 detail::ec_handler(std::forward<Handler>(h)));
        }
    };

    // Accepts into a socket of its own, then hands it to the handler.
    template <class Socket>
    struct move_accept_op {
        basic_acceptor* self;
        // On the heap: the op moves, the socket being accepted into must not.
        std::unique_ptr<Socket> peer;
        endpoint_type* peer_endpoint;
        bool started = false;

        template <class Self>
        void operator()(Self& op, boost::system::error_code ec = {}) {
            if (!started) {
                started = true;
                // async_compose lets only terminal cancellation through by default; an
                // accept has no side effect before it completes, so all kinds may abort it.
                op.reset_cancellation_state(asio::enable_total_cancellation());
                if (peer_endpoint)
                    self->async_accept(*peer, *peer_endpoint, std::move(op));
                else
                    self->async_accept(*peer, std::move(op));
                return;
            }
            op.complete(ec, std::move(*peer));
        }
    };

    template <class Socket, class SocketExecutor, class Token>
    auto move_accept(const SocketExecutor& ex, endpoint_type* peer_endpoint, Token&& token) {
        return asio::async_compose<Token, void(boost::system::error_code, Socket)>(
            move_accept_op<Socket>{this, std::make_unique<Socket>(ex), peer_endpoint}, token, ex_);
    }

    executor_type ex_;
    multiplexer mux_;
    std::shared_ptr<detail::acceptor_state> state_; ///< null once moved from
};

/// A µTP acceptor on the polymorphic I/O executor.
using acceptor = basic_acceptor<>;

} // namespace utp

#endif
