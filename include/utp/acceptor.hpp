//
// utp/acceptor.hpp — accepts inbound µTP connections on a multiplexer's port.
//
#ifndef UTP_ACCEPTOR_HPP
#define UTP_ACCEPTOR_HPP

#include <utp/detail/multiplexer_impl.hpp>
#include <utp/multiplexer.hpp>
#include <utp/socket.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/system/system_error.hpp>

#include <memory>
#include <optional>
#include <type_traits>

namespace utp {

/** Accepts µTP connections arriving at a multiplexer's UDP port.

    One acceptor per multiplexer. SYNs wait in a bounded backlog until accepted; beyond
    it they are dropped (and counted in the multiplexer's stats), so the initiator
    retries. Outgoing sockets made from the same multiplexer share the port.

    @par Thread Safety
    Distinct objects: Safe.@n
    Shared objects: Unsafe.
*/
template <class Executor = asio::any_io_executor>
class basic_acceptor {
public:
    /// The type of the executor associated with the object.
    using executor_type = Executor;

    /// Rebinds the acceptor type to another executor.
    template <class Executor1>
    struct rebind_executor {
        using other = basic_acceptor<Executor1>;
    };

    using endpoint_type = asio::ip::udp::endpoint;
    /// The socket type the move-accept produces.
    using socket_type = basic_socket<executor_type>;

    /// Default accept backlog.
    static constexpr std::size_t default_backlog = 128;

    /** Accept on `mux`'s port.

        @throws boost::system::system_error if the multiplexer already has an acceptor.
    */
    explicit basic_acceptor(multiplexer& mux, std::size_t backlog = default_backlog) requires
        std::is_constructible_v<executor_type, asio::any_io_executor>
        : basic_acceptor(executor_type(mux.get_executor()), mux, backlog) {}

    /// Accept on `mux`'s port, completing on executor `ex`.
    basic_acceptor(const executor_type& ex, multiplexer& mux, std::size_t backlog = default_backlog)
        : ex_(ex), mux_(mux.impl()), state_(make_state()) {
        listen(backlog);
    }

    /** Bind a new multiplexer at `local` and accept on it.

        @throws boost::system::system_error on failure to bind.
    */
    basic_acceptor(const executor_type& ex, const endpoint_type& local,
                   std::size_t backlog = default_backlog, const multiplexer_options& opt = {})
        : ex_(ex), owned_(std::in_place, asio::any_io_executor(ex), local, opt),
          mux_(owned_->impl()), state_(make_state()) {
        listen(backlog);
    }

    /// Bind a new multiplexer at `local` (on the context's executor) and accept on it.
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
    basic_acceptor(ExecutionContext& ctx, const endpoint_type& local,
                   std::size_t backlog = default_backlog, const multiplexer_options& opt = {})
        : basic_acceptor(executor_type(ctx.get_executor()), local, backlog, opt) {}

    basic_acceptor(basic_acceptor&&) noexcept = default;
    basic_acceptor& operator=(basic_acceptor&&) noexcept = default;

    /// Stops accepting; pending accepts complete with operation_aborted.
    ~basic_acceptor() = default;

    /// Get the executor associated with the object.
    executor_type get_executor() const noexcept { return ex_; }

    /// The multiplexer this acceptor listens on (to dial out from the same port).
    multiplexer& get_multiplexer() {
        if (!owned_) owned_.emplace(mux_);
        return *owned_;
    }

    bool is_open() const noexcept { return state_ && state_->open; }

    /// The local UDP endpoint.
    endpoint_type local_endpoint() const {
        boost::system::error_code ec;
        auto e = local_endpoint(ec);
        if (ec) throw boost::system::system_error(ec, "utp::acceptor::local_endpoint");
        return e;
    }
    endpoint_type local_endpoint(boost::system::error_code& ec) const {
        return mux_->local_endpoint(ec);
    }

    /// Stop accepting: pending accepts fail with operation_aborted; SYNs get RESET.
    void close() {
        boost::system::error_code ec;
        close(ec);
    }
    void close(boost::system::error_code& ec) {
        ec = {};
        if (state_ && state_->open) mux_->close(*state_);
    }

    /// Cancel pending accepts (operation_aborted).
    void cancel() {
        if (state_) mux_->cancel(*state_);
    }
    void cancel(boost::system::error_code& ec) {
        ec = {};
        cancel();
    }

    /** Accept a connection into `peer`, which must not be open.

        @par Completion Signature
        @code void(boost::system::error_code) @endcode

        @par Per-Operation Cancellation
        `terminal`, `partial` and `total`: completes with `operation_aborted`.
    */
    template <class Executor1, BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code))
                                   Token = asio::default_completion_token_t<executor_type>>
    auto async_accept(basic_socket<Executor1>& peer,
                      Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_initiate<Token, void(boost::system::error_code)>(
            [this](auto handler, detail::stream_state* target) {
                mux_->async_accept(*state_, *target, detail::ec_handler(std::move(handler)));
            },
            token, peer.state_.get());
    }

    /** Accept a connection and hand it over as a new socket.

        @par Completion Signature
        @code void(boost::system::error_code, socket_type) @endcode

        @par Per-Operation Cancellation
        `terminal`: completes with `operation_aborted`.

        @par Example
        @code
        utp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
        @endcode
    */
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code, socket_type))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_accept(Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_compose<Token, void(boost::system::error_code, socket_type)>(
            move_accept_op{this, std::make_unique<socket_type>(ex_)}, token, ex_);
    }

private:
    struct move_accept_op {
        basic_acceptor* self;
        // On the heap: the op moves, the socket being accepted into must not.
        std::unique_ptr<socket_type> peer;
        bool started = false;

        template <class Self>
        void operator()(Self& op, boost::system::error_code ec = {}) {
            if (!started) {
                started = true;
                self->async_accept(*peer, std::move(op));
                return;
            }
            op.complete(ec, std::move(*peer));
        }
    };

    std::unique_ptr<detail::acceptor_state> make_state() const {
        auto s = std::make_unique<detail::acceptor_state>(asio::any_io_executor(ex_));
        s->mux = mux_;
        return s;
    }

    void listen(std::size_t backlog) {
        boost::system::error_code ec;
        mux_->listen(*state_, backlog, ec);
        if (ec) throw boost::system::system_error(ec, "utp::acceptor");
    }

    executor_type ex_;
    std::optional<multiplexer> owned_;
    std::shared_ptr<detail::multiplexer_impl> mux_;
    std::unique_ptr<detail::acceptor_state> state_;
};

/// A µTP acceptor on the polymorphic I/O executor.
using acceptor = basic_acceptor<>;

} // namespace utp

#endif
