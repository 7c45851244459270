//
// utp/socket.hpp — a µTP connection as an Asio AsyncReadStream / AsyncWriteStream.
//
#ifndef UTP_SOCKET_HPP
#define UTP_SOCKET_HPP

#include <utp/detail/engine_api.hpp>
#include <utp/error.hpp>
#include <utp/multiplexer.hpp>
#include <utp/options.hpp>
#include <utp/proto/stats.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/system_error.hpp>

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace utp {

template <class Executor>
class basic_acceptor;

/** A µTP stream socket: a reliable, ordered byte stream over a shared UDP port (BEP-29).

    It models Asio's AsyncReadStream and AsyncWriteStream, and derives from
    `asio::socket_base` as Asio's sockets do (`utp::socket::shutdown_send`,
    `utp::socket::wait_read`), so `asio::async_read`,
    `asio::async_write`, `asio::ssl::stream` and Boost.Beast work on it as on a TCP socket.
    An outgoing socket made from a `multiplexer` shares that multiplexer's port; one made
    from an executor or context gets a private multiplexer on an ephemeral port when it
    first connects.

    There is no synchronous `read_some`, `write_some` or `connect`: µTP runs in user space,
    so no kernel would move the bytes while the caller blocked; the engine needs its
    executor to run. Use the asynchronous operations (with `asio::use_future` from a
    thread that does not run the executor, if blocking is what you want).

    Closing (or destroying) the socket is graceful, like closing a TCP socket: data already
    written and the FIN still go out; the connection lingers in the multiplexer until its
    FIN exchange completes or it stops making progress for the linger time. Also as in
    TCP, closing with received data still unread, or receiving new data after the close,
    aborts the connection with RESET (the peer gets `connection_reset`).

    One read and one write (and any number of waits) may be pending at a time; a second
    read or write while one is pending fails with `utp::error::operation_in_progress`.
    Buffers passed to an operation are owned by the caller and must stay valid until its
    handler is called; at most 16 non-empty buffers of a sequence are used per operation.

    @par Concepts
    AsyncReadStream, AsyncWriteStream.

    @par Thread Safety
    @e Distinct @e objects: Safe, even when they share a multiplexer, with `run()` on any
    number of threads.@n
    @e Shared @e objects: Unsafe: do not call one socket's functions concurrently (one
    pending read and one pending write from a single strand or coroutine is the usual
    pattern). Completion handlers run on their associated executor (default: the socket's).
*/
template <class Executor = asio::any_io_executor>
class basic_socket : public asio::socket_base {
public:
    /// The type of the executor associated with the object.
    using executor_type = Executor;

    /// Rebinds the socket type to another executor.
    template <class Executor1>
    struct rebind_executor {
        /// The socket type when rebound to the specified executor.
        using other = basic_socket<Executor1>;
    };

    /// The type of an endpoint: µTP runs over UDP.
    using endpoint_type = asio::ip::udp::endpoint;
    /// The lowest layer is the socket itself (for `asio::ssl::stream` and Beast).
    using lowest_layer_type = basic_socket;

    /// Construct a socket that is not open; `async_connect` opens it, on a private
    /// multiplexer (an ephemeral port of the peer's address family).
    explicit basic_socket(const executor_type& ex) : ex_(ex), state_(make_state(nullptr)) {}

    /// Construct a socket that is not open, using the context's executor.
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
    explicit basic_socket(ExecutionContext& ctx)
        : basic_socket(executor_type(ctx.get_executor())) {}

    /// Construct a socket whose connections go out through `mux`'s port, completing on
    /// the multiplexer's executor.
    explicit basic_socket(
        multiplexer& mux) requires std::is_constructible_v<executor_type, asio::any_io_executor>
        : basic_socket(executor_type(mux.get_executor()), mux) {}

    /// Construct a socket on executor `ex` whose connections go out through `mux`'s port.
    basic_socket(const executor_type& ex, multiplexer& mux)
        : ex_(ex), state_(make_state(mux.impl())) {}

    /** Move-construct. `other` is left as if constructed from its executor (not open, no
        multiplexer), and may be used again. Pending operations stay with the moved socket. */
    basic_socket(basic_socket&& other) noexcept(std::is_nothrow_copy_constructible_v<Executor>)
        : ex_(other.ex_), state_(std::move(other.state_)) {}

    /// Move-construct from a socket of another executor type (convertible to this one).
    template <class Executor1>
    requires std::is_convertible_v<const Executor1&, Executor>
    basic_socket(basic_socket<Executor1>&& other)
    noexcept(std::is_nothrow_constructible_v<Executor, const Executor1&>)
        : ex_(other.ex_), state_(std::move(other.state_)) {}

    /// Move-assign. The connection this socket held is closed first (gracefully).
    basic_socket&
    operator=(basic_socket&& other) noexcept(std::is_nothrow_copy_assignable_v<Executor>) {
        if (this != &other) {
            ex_ = other.ex_;
            state_ = std::move(other.state_);
        }
        return *this;
    }

    /// Closes the socket (gracefully, see the class description).
    ~basic_socket() = default;

    /// Get the executor associated with the object.
    executor_type get_executor() const noexcept { return ex_; }

    /// Get a reference to the lowest layer: the socket itself.
    lowest_layer_type& lowest_layer() noexcept { return *this; }
    /// Get a const reference to the lowest layer: the socket itself.
    const lowest_layer_type& lowest_layer() const noexcept { return *this; }

    /** Connect to a µTP peer.

        A socket whose connect failed may connect again (as a TCP socket may); so may one
        whose connect was cancelled. See also `utp::async_connect` to try a list of
        endpoints (a resolver's results).

        @param peer the remote endpoint (its UDP address and port).

        @par Completion Signature
        @code void(boost::system::error_code) @endcode
        `connection_refused` if the peer answers with RESET or ICMP port unreachable
        (nobody accepts there), `timed_out` after the SYN's retransmissions,
        `already_connected` if the socket has a connection, `in_progress` if a connect is
        pending, `utp::error::address_family_mismatch` for an IPv6 peer on an IPv4
        multiplexer, `utp::error::no_connection_id`, `bad_descriptor` if the multiplexer is
        closed, `operation_aborted` if cancelled or closed.

        @par Per-Operation Cancellation
        `terminal`, `partial` and `total`: the connection attempt is abandoned (a RESET
        tells the peer), the socket is left not open, and the operation completes with
        `operation_aborted`.
    */
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_connect(const endpoint_type& peer,
                       Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_initiate<Token, void(boost::system::error_code)>(
            initiate_connect{{this}}, token, peer);
    }

    /** Read some bytes.

        Completes as soon as at least one byte is available, with `asio::error::eof` once
        the peer has shut down its sending side and every byte before it was read. Reading
        frees receive buffer, and the peer hears of the larger window at once.

        @param buffers where the bytes go; owned by the caller, valid until the handler runs.

        @par Completion Signature
        @code void(boost::system::error_code, std::size_t) @endcode
        The bytes read; `eof`; `connection_reset` (the peer aborted), `timed_out` (the peer
        went silent), `not_connected`, `operation_aborted` (cancelled, or the socket or its
        multiplexer closed), `bad_descriptor` (the multiplexer is closed),
        `utp::error::operation_in_progress` (a read is already pending). An empty buffer
        sequence completes at once with 0 bytes.

        @par Per-Operation Cancellation
        `terminal`, `partial` and `total`: completes with `operation_aborted`, nothing read
        (bytes that arrive stay in the socket for the next read).
    */
    template <class MutableBufferSequence,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code, std::size_t))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_read_some(const MutableBufferSequence& buffers,
                         Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            initiate_read{{this}}, token, buffers);
    }

    /** Write some bytes: copies as many as the send buffer takes (at least one), which
        the engine then sends as the congestion and flow-control windows allow.

        @param buffers the bytes; owned by the caller, valid until the handler runs.

        @par Completion Signature
        @code void(boost::system::error_code, std::size_t) @endcode
        The bytes taken; `shut_down` after `shutdown(shutdown_send)`; `connection_reset`,
        `timed_out`, `not_connected`, `operation_aborted`, `bad_descriptor`,
        `utp::error::operation_in_progress` as for reads.

        @par Per-Operation Cancellation
        `terminal`, `partial` and `total`: completes with `operation_aborted`, nothing
        written (bytes are copied only when the operation completes).
    */
    template <class ConstBufferSequence,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code, std::size_t))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_write_some(const ConstBufferSequence& buffers,
                          Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            initiate_write{{this}}, token, buffers);
    }

    /** Wait until the socket is ready, as `poll()` would say of a TCP socket.

        `wait_read`: a read would not wait (bytes, end of stream, or an error to report).
        `wait_write`: a write would not wait (room in the send buffer, or it would fail).
        `wait_error`: the connection has failed. While connecting, the waits wait for the
        outcome.

        @par Completion Signature
        @code void(boost::system::error_code) @endcode
        Success when ready; `bad_descriptor` if the socket has no connection;
        `operation_aborted` if cancelled or closed.

        @par Per-Operation Cancellation
        `terminal`, `partial` and `total`: completes with `operation_aborted`.
    */
    template <BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_wait(wait_type w,
                    Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_initiate<Token, void(boost::system::error_code)>(initiate_wait{{this}},
                                                                            token, w);
    }

    /// True if the socket has a connection (connecting, open or half-closed).
    bool is_open() const noexcept { return state_ && detail::is_open(*state_); }

    /** Bytes that can be read without waiting.
        @throws boost::system::system_error (`not_connected` without a connection). */
    std::size_t available() const {
        boost::system::error_code ec;
        auto n = available(ec);
        throw_if(ec, "utp::socket::available");
        return n;
    }
    /// Bytes that can be read without waiting; `not_connected` without a connection.
    std::size_t available(boost::system::error_code& ec) const {
        if (!state_) {
            ec = asio::error::not_connected;
            return 0;
        }
        return detail::available(*state_, ec);
    }

    /** Shut down one or both directions. `shutdown_send` (and `shutdown_both`) sends FIN
        after the buffered data: the peer reads `eof`, and may go on sending; a pending or
        later write fails with `shut_down`. `shutdown_receive` is accepted and changes
        nothing on the wire (µTP has no way to say it).
        @throws boost::system::system_error (`not_connected` without a connection). */
    void shutdown(shutdown_type what) {
        boost::system::error_code ec;
        shutdown(what, ec);
        throw_if(ec, "utp::socket::shutdown");
    }
    /// Shut down, as above; `not_connected` without a connection.
    void shutdown(shutdown_type what, boost::system::error_code& ec) {
        if (!state_) {
            ec = asio::error::not_connected;
            return;
        }
        detail::shutdown(*state_, what, ec);
    }

    /** Close the socket gracefully (see the class description); pending operations
        complete with `operation_aborted`. The socket may connect again afterwards. */
    void close() {
        boost::system::error_code ec;
        close(ec);
    }
    /// Close, as above; never fails.
    void close(boost::system::error_code& ec) {
        ec = {};
        if (state_) detail::close(*state_);
    }

    /// Abort the connection with a RESET (the peer gets `connection_reset`); pending
    /// operations complete with `operation_aborted`.
    void abort() {
        if (state_) detail::abort(*state_);
    }

    /** Cancel pending operations: they complete with `operation_aborted`. A pending connect
        is abandoned (the peer is told with a RESET). */
    void cancel() {
        boost::system::error_code ec;
        cancel(ec);
    }
    /// Cancel, as above; never fails.
    void cancel(boost::system::error_code& ec) {
        ec = {};
        if (state_) detail::cancel(*state_);
    }

    /** The local endpoint: the multiplexer's port, and the address the connection's
        datagrams leave from (the route's source address when the multiplexer is bound to
        a wildcard address, as `getsockname` reports for a connected TCP socket).
        @throws boost::system::system_error (`bad_descriptor` without a multiplexer). */
    endpoint_type local_endpoint() const {
        boost::system::error_code ec;
        auto e = local_endpoint(ec);
        throw_if(ec, "utp::socket::local_endpoint");
        return e;
    }
    /// The local endpoint, as above; `bad_descriptor` without a multiplexer.
    endpoint_type local_endpoint(boost::system::error_code& ec) const {
        if (!state_) {
            ec = asio::error::bad_descriptor;
            return {};
        }
        return detail::local_endpoint(*state_, ec);
    }

    /** The peer's UDP endpoint.
        @throws boost::system::system_error (`not_connected` without a connection). */
    endpoint_type remote_endpoint() const {
        boost::system::error_code ec;
        auto e = remote_endpoint(ec);
        throw_if(ec, "utp::socket::remote_endpoint");
        return e;
    }
    /// The peer's UDP endpoint; `not_connected` without a connection.
    endpoint_type remote_endpoint(boost::system::error_code& ec) const {
        if (!state_) {
            ec = asio::error::not_connected;
            return {};
        }
        return detail::remote_endpoint(*state_, ec);
    }

    /** Set an option: `utp::no_delay`, `utp::send_buffer_size`, `utp::receive_buffer_size`,
        `utp::target_delay`, `utp::congestion_control`, `utp::trace`. May be set before connecting;
        kept across reconnects. Asio's
        TCP and `socket_base` options do not apply to µTP and fail to compile, saying so.
        @throws boost::system::system_error (`invalid_argument`, its text naming the option
        and its range, for a value out of range: nothing is changed). */
    template <class Option>
    void set_option(const Option& o) {
        boost::system::error_code ec;
        std::string what;
        set_option_impl(o, ec, what);
        if (ec) throw boost::system::system_error(ec, what);
    }
    /// Set an option, as above; `invalid_argument` for a value out of range.
    template <class Option>
    void set_option(const Option& o, boost::system::error_code& ec) {
        std::string what;
        set_option_impl(o, ec, what);
    }

    /// Get an option's current value (the connection's, once there is one; set values
    /// read back as set before that).
    template <class Option>
    void get_option(Option& o) const {
        boost::system::error_code ec;
        get_option(o, ec);
    }
    /// Get an option's current value, as above; never fails.
    template <class Option>
    void get_option(Option& o, boost::system::error_code& ec) const {
        static_assert(is_socket_option<Option>::value, UTP_DETAIL_NOT_AN_OPTION_MESSAGE);
        if constexpr (is_socket_option<Option>::value) {
            ec = {};
            o.load(state_ ? detail::settings(*state_) : proto::settings{});
        }
    }

    /// Counters and estimates of the connection (zero if there is none).
    proto::connection_stats stats() const {
        return state_ ? detail::stats(*state_) : proto::connection_stats{};
    }

private:
    template <class>
    friend class basic_socket;
    template <class>
    friend class basic_acceptor;

    std::shared_ptr<detail::stream_state> make_state(std::shared_ptr<detail::engine> mux) const {
        return detail::make_stream(asio::any_io_executor(ex_), std::move(mux));
    }

    /// The state, made on first use after a move left this socket without one.
    const std::shared_ptr<detail::stream_state>& state() {
        if (!state_) state_ = make_state(nullptr);
        return state_;
    }

    template <class Option>
    void set_option_impl(const Option& o, boost::system::error_code& ec, std::string& what) {
        static_assert(is_socket_option<Option>::value, UTP_DETAIL_NOT_AN_OPTION_MESSAGE);
        if constexpr (is_socket_option<Option>::value) {
            detail::stream_options so;
            o.apply(so);
            if (auto bad = detail::set_options(*state(), so)) {
                ec = asio::error::invalid_argument;
                what = std::string("utp::socket::set_option(") + Option::name + "): must be " +
                       bad->requirement;
                return;
            }
            ec = {};
        }
    }

    static void throw_if(const boost::system::error_code& ec, const char* what) {
        if (ec) throw boost::system::system_error(ec, what);
    }

    // Initiations carry the socket's executor: asio::cancel_after (Boost >= 1.86) and
    // similar adapters run their timer on the initiation's executor.
    struct initiate_base {
        basic_socket* self;
        using executor_type = Executor;
        executor_type get_executor() const noexcept { return self->ex_; }
    };

    struct initiate_connect : initiate_base {
        using initiate_base::self;
        template <class Handler>
        void operator()(Handler&& h, const endpoint_type& peer) const {
            detail::async_connect(self->state(), peer,
                                  detail::ec_handler(std::forward<Handler>(h)));
        }
    };

    struct initiate_read : initiate_base {
        using initiate_base::self;
        template <class Handler, class Buffers>
        void operator()(Handler&& h, const Buffers& buffers) const {
            detail::async_read_some(self->state(), detail::mutable_buffers::from(buffers),
                                    detail::rw_handler(std::forward<Handler>(h)));
        }
    };

    struct initiate_write : initiate_base {
        using initiate_base::self;
        template <class Handler, class Buffers>
        void operator()(Handler&& h, const Buffers& buffers) const {
            detail::async_write_some(self->state(), detail::const_buffers::from(buffers),
                                     detail::rw_handler(std::forward<Handler>(h)));
        }
    };

    struct initiate_wait : initiate_base {
        using initiate_base::self;
        template <class Handler>
        void operator()(Handler&& h, wait_type w) const {
            detail::async_wait(self->state(), w, detail::ec_handler(std::forward<Handler>(h)));
        }
    };

    executor_type ex_;
    std::shared_ptr<detail::stream_state> state_; ///< null once moved from, until used
};

/// A µTP socket on the polymorphic I/O executor.
using socket = basic_socket<>;

} // namespace utp

// Beast's close and WebSocket teardown hooks, found by ADL: present wherever the socket is.
#include <utp/beast.hpp>

#endif
