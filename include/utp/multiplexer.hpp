//
// utp/multiplexer.hpp — one UDP port shared by every µTP connection on it.
//
#ifndef UTP_MULTIPLEXER_HPP
#define UTP_MULTIPLEXER_HPP

#include <utp/detail/engine_api.hpp>
#include <utp/multiplexer_options.hpp>
#include <utp/multiplexer_stats.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/system/system_error.hpp>

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

namespace utp {

namespace asio = boost::asio;

/** A UDP socket and the engine that runs every µTP connection on it.

    Sockets and acceptors made from a multiplexer share its port: connections are told
    apart by connection id, as the protocol intends (BEP-29). The engine receives in
    batches (`recvmmsg`), sends in batches (`sendmmsg`) and runs one timer for all of
    them. Datagrams that are not µTP (a DHT on the same port) are handed to
    `async_receive_from`; `async_send_to` sends raw datagrams through the same port.

    The object is a handle. The engine lives as long as any handle to it (this object, a
    socket or acceptor made from it) or any connection still finishing its close:
    destroying the multiplexer object does not cut off connections. `close()` does.

    An idle multiplexer (no connection, no pending operation) does not read its port, so
    that `io_context::run()` returns as it would with idle Asio sockets; datagrams then
    wait in the kernel's buffer. Keep an accept or a raw receive pending to answer at once.

    @par Concepts
    None of Asio's stream concepts: a multiplexer is the shared transport beneath
    `utp::basic_socket` and `utp::basic_acceptor`.

    @par Thread Safety
    @e Distinct @e objects: Safe. Sockets, acceptors and the multiplexer that share an
    engine may be used from different threads at once, and `run()` may be called on any
    number of threads: the engine serialises itself.@n
    @e Shared @e objects: Unsafe, as for Asio's I/O objects: one object's functions must
    not be called concurrently (use a strand, or one thread).
*/
class multiplexer {
public:
    /// The type of the executor associated with the object.
    using executor_type = asio::any_io_executor;
    /// The type of an endpoint: µTP runs over UDP.
    using endpoint_type = asio::ip::udp::endpoint;

    /** Bind a UDP socket at `local` (port 0 picks a free one; `[::]` is dual-stack where
        the system allows).

        @param ex the executor that runs the engine and completes raw datagram operations.
        @param local the address and port to bind.
        @param options UDP buffer sizes and protocol settings, checked here.

        @throws boost::system::system_error on failure to open or bind, or
        `asio::error::invalid_argument` for an option out of range (its text names it).
    */
    multiplexer(const executor_type& ex, const endpoint_type& local,
                const multiplexer_options& options = {})
        : ex_(ex), impl_(make(ex, local, options)) {}

    /// Bind a UDP socket at `local`, using the context's executor (see above).
    template <class ExecutionContext>
    requires std::is_convertible_v<ExecutionContext&, asio::execution_context&>
    multiplexer(ExecutionContext& ctx, const endpoint_type& local,
                const multiplexer_options& options = {})
        : multiplexer(executor_type(ctx.get_executor()), local, options) {}

    /// @internal Another handle to an existing engine.
    multiplexer(const executor_type& ex, std::shared_ptr<detail::engine> impl) noexcept
        : ex_(ex), impl_(std::move(impl)) {}

    /** Move-construct. `other` keeps its executor and is closed (no engine): its functions
        report `bad_descriptor` and its operations fail with it. */
    multiplexer(multiplexer&& other) noexcept
        : ex_(other.ex_), impl_(std::exchange(other.impl_, nullptr)) {}

    /// Move-assign: this handle lets go of its engine (see the class description) and
    /// takes `other`'s; `other` is left as after a move-construction.
    multiplexer& operator=(multiplexer&& other) noexcept {
        if (this != &other) {
            ex_ = other.ex_;
            impl_ = std::exchange(other.impl_, nullptr);
        }
        return *this;
    }

    /// Lets go of the engine: connections and operations on it carry on (see above).
    ~multiplexer() = default;

    /// Get the executor associated with the object.
    executor_type get_executor() const noexcept { return ex_; }

    /** The local address and port the UDP socket is bound to.
        @throws boost::system::system_error (`bad_descriptor` if closed). */
    endpoint_type local_endpoint() const {
        boost::system::error_code ec;
        auto e = local_endpoint(ec);
        if (ec) throw boost::system::system_error(ec, "utp::multiplexer::local_endpoint");
        return e;
    }
    /// The local address and port; `bad_descriptor` if closed.
    endpoint_type local_endpoint(boost::system::error_code& ec) const {
        if (!impl_) {
            ec = asio::error::bad_descriptor;
            return {};
        }
        return detail::local_endpoint(*impl_, ec);
    }

    /// Whether the UDP socket is open.
    bool is_open() const noexcept { return impl_ && detail::is_open(*impl_); }

    /** Close the UDP socket. Every pending operation on the port (of every socket,
        acceptor, raw receive and send) completes with `operation_aborted`; connections are
        dropped without a word to their peers; later operations fail with `bad_descriptor`.
        Does nothing if already closed. */
    void close() {
        if (impl_) detail::close(*impl_);
    }
    /// Close, as above; never fails.
    void close(boost::system::error_code& ec) {
        ec = {};
        close();
    }

    /** Cancel the raw datagram operations (`async_receive_from`, `async_send_to`) pending
        on this multiplexer: they complete with `operation_aborted`. Operations of sockets
        and acceptors are theirs to cancel, as with Asio's sockets. */
    void cancel() {
        if (impl_) detail::cancel(*impl_);
    }
    /// Cancel, as above; never fails.
    void cancel(boost::system::error_code& ec) {
        ec = {};
        cancel();
    }

    /// Counters: datagrams, batching, truncations, drops by reason, RESETs. Zero if closed
    /// by a move.
    multiplexer_stats stats() const { return impl_ ? detail::stats(*impl_) : multiplexer_stats{}; }

    /** Receive one datagram that is not µTP (a DHT's, say).

        Datagrams that arrive while none is pending are queued (up to 64, then dropped and
        counted in `stats().raw_dropped`).

        @param buffer where the datagram goes. Must stay valid until the handler is
        called. A datagram longer than the buffer is truncated to it, as a UDP receive is.
        @param sender set to the datagram's source before the handler is called. Must stay
        valid until then.

        @par Completion Signature
        @code void(boost::system::error_code, std::size_t) @endcode
        The bytes copied into `buffer`; `operation_aborted` if cancelled or closed,
        `bad_descriptor` if the multiplexer is closed.

        @par Per-Operation Cancellation
        `terminal`, `partial` and `total`: completes with `operation_aborted`, nothing
        received (a datagram arriving later is kept for the next receive).
    */
    template <class MutableBuffer,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code, std::size_t))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_receive_from(const MutableBuffer& buffer, endpoint_type& sender,
                            Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            initiate_receive_from{{this}}, token, asio::mutable_buffer(buffer), &sender);
    }

    /** Send one raw datagram through the port.

        The datagram is copied: `buffer` may be reused once the function returns.

        @par Completion Signature
        @code void(boost::system::error_code, std::size_t) @endcode
        The bytes sent, or the error of the UDP send; `address_family_mismatch` for an IPv6
        destination on an IPv4 port; `bad_descriptor` if closed.

        @par Per-Operation Cancellation
        `terminal`, `partial` and `total` while the datagram waits for room in the socket:
        completes with `operation_aborted` and the datagram is not sent.
    */
    template <class ConstBuffer,
              BOOST_ASIO_COMPLETION_TOKEN_FOR(void(boost::system::error_code, std::size_t))
                  Token = asio::default_completion_token_t<executor_type>>
    auto async_send_to(const ConstBuffer& buffer, const endpoint_type& to,
                       Token&& token = asio::default_completion_token_t<executor_type>()) {
        return asio::async_initiate<Token, void(boost::system::error_code, std::size_t)>(
            initiate_send_to{{this}}, token, asio::const_buffer(buffer), to);
    }

    /// @internal The engine (null once moved from).
    const std::shared_ptr<detail::engine>& impl() const noexcept { return impl_; }

private:
    static std::shared_ptr<detail::engine> make(const executor_type& ex, const endpoint_type& local,
                                                const multiplexer_options& o) {
        boost::system::error_code ec;
        std::string what;
        auto m = detail::make_engine(ex, local, o, ec, what);
        if (ec)
            throw boost::system::system_error(ec, what.empty() ? std::string("utp::multiplexer")
                                                               : "utp::multiplexer: " + what);
        return m;
    }

    // Initiations carry the multiplexer's executor, for asio::cancel_after (Boost >= 1.86)
    // and the like.
    struct initiate_base {
        multiplexer* self;
        using executor_type = asio::any_io_executor;
        executor_type get_executor() const noexcept { return self->ex_; }
    };
    struct initiate_receive_from : initiate_base {
        using initiate_base::self;
        template <class Handler>
        void operator()(Handler&& h, asio::mutable_buffer b, endpoint_type* from) const {
            if (!self->impl_) return fail(std::forward<Handler>(h), self->ex_);
            detail::async_receive_from(*self->impl_, b, *from,
                                       detail::rw_handler(std::forward<Handler>(h)));
        }
    };
    struct initiate_send_to : initiate_base {
        using initiate_base::self;
        template <class Handler>
        void operator()(Handler&& h, asio::const_buffer b, const endpoint_type& to) const {
            if (!self->impl_) return fail(std::forward<Handler>(h), self->ex_);
            detail::async_send_to(*self->impl_, b, to,
                                  detail::rw_handler(std::forward<Handler>(h)));
        }
    };
    template <class Handler>
    static void fail(Handler&& h, const executor_type& ex) {
        detail::post_error(detail::rw_handler(std::forward<Handler>(h)), ex,
                           asio::error::bad_descriptor);
    }

    executor_type ex_;
    std::shared_ptr<detail::engine> impl_;
};

} // namespace utp

#endif
