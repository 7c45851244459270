//
// utp/socket.hpp — a µTP connection as an Asio AsyncReadStream / AsyncWriteStream.
//
#ifndef UTP_SOCKET_HPP
#define UTP_SOCKET_HPP

#include <utp/detail/multiplexer_impl.hpp>
#include <utp/error.hpp>
#include <utp/multiplexer.hpp>
#include <utp/options.hpp>
#include <utp/proto/stats.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/system_error.hpp>

#include <memory>
#include <type_traits>

namespace utp {

template <class Executor>
class basic_acceptor;

/** A µTP stream socket: a reliable, ordered byte stream over a shared UDP port.

    It models Asio's AsyncReadStream and AsyncWriteStream, so `asio::async_read`,
    `asio::async_write`, `asio::ssl::stream` and Boost.Beast work on it as on a TCP socket.
    An outgoing socket made from a `multiplexer` shares that multiplexer's port; one made
    from an executor or context gets a private multiplexer on an ephemeral port when it
    connects.

    Closing (or destroying) the socket is graceful, like closing a TCP socket: data already
    written and the FIN still go out; the connection lingers in the multiplexer until its
    FIN exchange completes or it stops making progress for the linger time. Also as in
    TCP, closing with received data still unread, or receiving new data after the close,
    aborts the connection with RESET (the peer gets `connection_reset`).

    @par Thread Safety
    Distinct objects: Safe.@n
    Shared objects: Unsafe. Use the socket from its multiplexer's thread (or strand).
*/
template <class Executor = asio::any_io_executor>
class basic_socket {
public:
    /// The type of the executor associated with the object.
    using executor_type = Executor;

    /// Rebinds the socket type to another executor.
    template <class Executor1>
    struct rebind_executor {
        using other = basic_socket<Executor1>;
    };

    /// The type of an endpoint: µTP runs over UDP.
    using endpoint_type = asio::ip::udp::endpoint;
    /// The lowest layer is the socket itself (for `asio::ssl::stream` and Beast).
    using lowest_layer_type = basic_socket;
    /// Shutdown directions, as for TCP.
    using shutdown_type = asio::socket_base::shutdown_type;

    /// Construct a socket that is not open; `async_connect` opens it.
    explicit basic_socket(const executor_type& ex) : ex_(ex), state_(make_state()) {}

    /// Construct a socket that is not open, using the context's executor.
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
    explicit basic_socket(ExecutionContext& ctx)
        : basic_socket(executor_type(ctx.get_executor())) {}

    /// Construct a socket whose connections go out through `mux`'s port.
    explicit basic_socket(
        multiplexer& mux) requires std::is_constructible_v<executor_type, asio::any_io_executor>
        : basic_socket(executor_type(mux.get_executor()), mux) {}

    /// Construct a socket on executor `ex` whose connections go out through `mux`'s port.
    basic_socket(const executor_type& ex, multiplexer& mux) : ex_(ex), state_(make_state()) {
        state_->mux = mux.impl();
    }

    /// Move-construct; `other` is left as if constructed from its executor.
    basic_socket(basic_socket&& other) noexcept(false)
        : ex_(other.ex_), state_(std::move(other.state_)) {
        other.state_ = other.make_state();
    }

    /// Move-assign; the socket this one held is closed first.
    basic_socket& operator=(basic_socket&& other) {
        if (this != &other) {
            state_.reset();
            ex_ = other.ex_;
            state_ = std::move(other.state_);
            other.state_ = other.make_state();
        }
        return *this;
    }

    /// Closes the socket (gracefully, see the class description).
    ~basic_socket() = default;

    /// Get the executor associated with the object.
    executor_type get_executor() const noexcept { return ex_; }

    /// Get a reference to the lowest layer: the socket itself.
    lowest_layer_type& lowest_layer() noexcept { return *this; }
    const lowest_layer_type& lowest_layer() const noexcept { return *this; }

    /** Connect to a µTP peer.

        @param peer the remote endpoint (its UDP address and port).

        @par Completion Signature
        @code void(boost::system::error_code) @endcode
        `connection_refused` if the peer answers with RESET (nobody accepts there),
        `timed_out` after the SYN's retransmissions.

        @par Per-Operation Cancellation
        `terminal`, `partial` and `total`: the connection attempt is abandoned (a RESET
        tells the peer) and the operation completes with `operation_aborted`.
    */
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_connect(const endpoint_type& peer,
                       Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_initiate<Token, void(boost::system::error_code)>(initiate_connect{this},
                                                                            token, peer);
    }

    /** Read some bytes.

        Completes as soon as at least one byte is available, with `asio::error::eof` once
        the peer has shut down its sending side and every byte before it was read.

        @par Completion Signature
        @code void(boost::system::error_code, std::size_t) @endcode

        @par Per-Operation Cancellation
        `terminal`, `partial` and `total`: completes with `operation_aborted`, nothing read.
    */
    template <class MutableBufferSequence,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code, std::size_t))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_read_some(const MutableBufferSequence& buffers,
                         Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            initiate_read{this}, token, buffers);
    }

    /** Write some bytes: copies as many as the send buffer takes (at least one).

        @par Completion Signature
        @code void(boost::system::error_code, std::size_t) @endcode

        @par Per-Operation Cancellation
        `terminal`, `partial` and `total`: completes with `operation_aborted`, nothing
        written.
    */
    template <class ConstBufferSequence,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code, std::size_t))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_write_some(const ConstBufferSequence& buffers,
                          Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            initiate_write{this}, token, buffers);
    }

    /// True if the socket has a connection (connecting, open or half-closed).
    bool is_open() const noexcept { return static_cast<bool>(state_->conn); }

    /** Shut down one or both directions. `shutdown_send` sends FIN after the buffered
        data: the peer reads `eof`, and may go on sending. `shutdown_receive` is accepted
        and has no effect on the wire (µTP has no way to say it).
    */
    void shutdown(shutdown_type what) {
        boost::system::error_code ec;
        shutdown(what, ec);
        throw_if(ec, "utp::socket::shutdown");
    }
    void shutdown(shutdown_type what, boost::system::error_code& ec) {
        ec = {};
        if (!state_->mux || !state_->conn) {
            ec = asio::error::not_connected;
            return;
        }
        if (what != asio::socket_base::shutdown_receive) state_->mux->shutdown_send(*state_, ec);
    }

    /// Close the socket (gracefully); pending operations complete with operation_aborted.
    void close() {
        boost::system::error_code ec;
        close(ec);
        throw_if(ec, "utp::socket::close");
    }
    void close(boost::system::error_code& ec) {
        ec = {};
        if (state_->mux) state_->mux->close(*state_);
    }

    /// Abort the connection with a RESET (the peer gets `connection_reset`).
    void abort() {
        if (state_->mux) state_->mux->abort(*state_);
    }

    /// Cancel pending operations: they complete with operation_aborted.
    void cancel() {
        boost::system::error_code ec;
        cancel(ec);
        throw_if(ec, "utp::socket::cancel");
    }
    void cancel(boost::system::error_code& ec) {
        ec = {};
        if (state_->mux) state_->mux->cancel(*state_);
    }

    /// The local UDP endpoint (the multiplexer's).
    endpoint_type local_endpoint() const {
        boost::system::error_code ec;
        auto e = local_endpoint(ec);
        throw_if(ec, "utp::socket::local_endpoint");
        return e;
    }
    endpoint_type local_endpoint(boost::system::error_code& ec) const {
        if (!state_->mux) {
            ec = asio::error::bad_descriptor;
            return {};
        }
        return state_->mux->local_endpoint(ec);
    }

    /// The peer's UDP endpoint.
    endpoint_type remote_endpoint() const {
        boost::system::error_code ec;
        auto e = remote_endpoint(ec);
        throw_if(ec, "utp::socket::remote_endpoint");
        return e;
    }
    endpoint_type remote_endpoint(boost::system::error_code& ec) const {
        ec = {};
        if (!state_->conn) ec = asio::error::not_connected;
        return state_->remote;
    }

    /** Set an option: `utp::no_delay`, `utp::send_buffer_size`,
        `utp::receive_buffer_size`, `utp::target_delay`. May be set before connecting. */
    template <class Option>
    void set_option(const Option& o) {
        boost::system::error_code ec;
        set_option(o, ec);
        throw_if(ec, "utp::socket::set_option");
    }
    template <class Option>
    void set_option(const Option& o, boost::system::error_code& ec) {
        ec = {};
        o.apply(state_->options);
        if (state_->mux) state_->mux->apply_options(*state_);
    }

    /// Get an option's current value (the connection's, once there is one).
    template <class Option>
    void get_option(Option& o) const {
        boost::system::error_code ec;
        get_option(o, ec);
        throw_if(ec, "utp::socket::get_option");
    }
    template <class Option>
    void get_option(Option& o, boost::system::error_code& ec) const {
        ec = {};
        proto::settings s;
        if (auto* c = connection()) s = c->settings();
        detail::stream_options so = state_->options;
        // Options set but not applied yet still read back as set.
        if (so.no_delay) s.no_delay = *so.no_delay;
        if (so.send_buffer_size) s.send_buffer_size = *so.send_buffer_size;
        if (so.receive_buffer_size) s.recv_buffer_size = *so.receive_buffer_size;
        if (so.target_delay) s.target_delay = *so.target_delay;
        o.load(s);
    }

    /// Counters and estimates of the connection (zero if there is none).
    proto::connection_stats stats() const {
        auto* c = connection();
        return c ? c->stats() : proto::connection_stats{};
    }

private:
    template <class>
    friend class basic_acceptor;

    std::unique_ptr<detail::stream_state> make_state() const {
        return std::make_unique<detail::stream_state>(asio::any_io_executor(ex_));
    }

    const proto::connection* connection() const noexcept {
        return state_->mux ? state_->mux->connection_of(*state_) : nullptr;
    }

    static void throw_if(const boost::system::error_code& ec, const char* what) {
        if (ec) throw boost::system::system_error(ec, what);
    }

    struct initiate_connect {
        basic_socket* self;
        template <class Handler>
        void operator()(Handler&& h, const endpoint_type& peer) const {
            detail::stream_state& s = *self->state_;
            if (!s.mux) {
                // No multiplexer given: a private one on an ephemeral port of the peer's family.
                boost::system::error_code ec;
                const endpoint_type any(peer.address().is_v6()
                                            ? asio::ip::address(asio::ip::address_v6::any())
                                            : asio::ip::address(asio::ip::address_v4::any()),
                                        0);
                s.mux = detail::multiplexer_impl::create(s.io_executor, any, {}, ec);
                if (ec) {
                    detail::post_result(detail::ec_handler(std::forward<Handler>(h)), s.io_executor,
                                        ec);
                    return;
                }
            }
            s.mux->async_connect(s, peer, detail::ec_handler(std::forward<Handler>(h)));
        }
    };

    struct initiate_read {
        basic_socket* self;
        template <class Handler, class Buffers>
        void operator()(Handler&& h, const Buffers& buffers) const {
            detail::stream_state& s = *self->state_;
            if (!s.mux) return fail(std::forward<Handler>(h));
            if (!s.read.pending()) s.read.assign(buffers);
            s.mux->async_read_some(s, detail::rw_handler(std::forward<Handler>(h)));
        }
        template <class Handler>
        void fail(Handler&& h) const {
            detail::post_result(detail::rw_handler(std::forward<Handler>(h)),
                                self->state_->io_executor, asio::error::not_connected, 0);
        }
    };

    struct initiate_write {
        basic_socket* self;
        template <class Handler, class Buffers>
        void operator()(Handler&& h, const Buffers& buffers) const {
            detail::stream_state& s = *self->state_;
            if (!s.mux) return initiate_read{self}.fail(std::forward<Handler>(h));
            if (!s.write.pending()) s.write.assign(buffers);
            s.mux->async_write_some(s, detail::rw_handler(std::forward<Handler>(h)));
        }
    };

    executor_type ex_;
    std::unique_ptr<detail::stream_state> state_;
};

/// A µTP socket on the polymorphic I/O executor.
using socket = basic_socket<>;

} // namespace utp

// Beast's close and WebSocket teardown hooks, found by ADL: present wherever the socket is.
#include <utp/beast.hpp>

#endif
