//
// utp/detail/multiplexer_impl.hpp — the Asio engine: one UDP socket, one protocol endpoint,
// one timer, and the pending operations of every socket and acceptor on that port.
//
// Non-template and compiled once (src/multiplexer_impl.cpp). The public templates hand it
// type-erased handlers; it completes them by posting to their associated executors.
//
// Threading: like an Asio I/O object, an engine is used from one thread at a time (its
// executor's). Distinct engines share nothing.
//
#ifndef UTP_DETAIL_MULTIPLEXER_IMPL_HPP
#define UTP_DETAIL_MULTIPLEXER_IMPL_HPP

#include <utp/error.hpp>
#include <utp/multiplexer_stats.hpp>
#include <utp/proto/endpoint.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <array>
#include <cstddef>
#include <deque>
#include <list>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

namespace utp::detail {

namespace asio = boost::asio;
using boost::system::error_code;
using udp = asio::ip::udp;

using rw_handler = asio::any_completion_handler<void(error_code, std::size_t)>;
using ec_handler = asio::any_completion_handler<void(error_code)>;

class multiplexer_impl;
struct multiplexer_impl_io;

/// Complete `h` on its associated executor (default `io`), never inside the caller.
void post_result(rw_handler h, const asio::any_io_executor& io, error_code ec, std::size_t n);
void post_result(ec_handler h, const asio::any_io_executor& io, error_code ec);

/// Up to this many buffers of a sequence are used per operation (like an iovec limit).
inline constexpr std::size_t max_buffers = 16;

/// A pending read or write: where the bytes go or come from, and whom to tell.
template <class Buffer>
struct io_op {
    std::array<Buffer, max_buffers> buffers{};
    std::size_t count = 0;
    std::size_t total = 0;
    rw_handler handler;
    asio::any_completion_executor work; ///< keeps the handler's executor busy while pending
    bool pending() const noexcept { return static_cast<bool>(handler); }

    template <class Sequence>
    void assign(const Sequence& seq) {
        count = 0;
        total = 0;
        for (auto it = asio::buffer_sequence_begin(seq);
             it != asio::buffer_sequence_end(seq) && count < max_buffers; ++it) {
            Buffer b(*it);
            if (b.size() == 0) continue;
            buffers[count++] = b;
            total += b.size();
        }
    }
};

/// Settings a socket applies to its connection (before or after it exists).
struct stream_options {
    std::optional<bool> no_delay;
    std::optional<std::size_t> send_buffer_size;
    std::optional<std::size_t> receive_buffer_size;
    std::optional<proto::duration> target_delay;
};

/** The state behind one `utp::basic_socket`: its connection (if any) and its pending
    operations. Owned by the socket object; its address is stable across moves. */
struct stream_state {
    std::shared_ptr<multiplexer_impl> mux;
    proto::connection_handle conn{};
    asio::any_io_executor io_executor; ///< the socket's executor: default for handlers
    bool connected = false;
    bool send_shut = false;
    udp::endpoint remote;
    stream_options options;

    io_op<asio::mutable_buffer> read;
    io_op<asio::const_buffer> write;
    ec_handler connect;
    asio::any_completion_executor connect_work;

    explicit stream_state(asio::any_io_executor ex) : io_executor(std::move(ex)) {}
    ~stream_state();
    stream_state(const stream_state&) = delete;
    stream_state& operator=(const stream_state&) = delete;
};

/** The state behind one `utp::basic_acceptor`. */
struct acceptor_state {
    std::shared_ptr<multiplexer_impl> mux;
    asio::any_io_executor io_executor;
    bool open = false;
    struct pending_accept {
        stream_state* target;
        ec_handler handler;
        asio::any_completion_executor work;
    };
    std::list<pending_accept> accepts;

    explicit acceptor_state(asio::any_io_executor ex) : io_executor(std::move(ex)) {}
    ~acceptor_state();
    acceptor_state(const acceptor_state&) = delete;
    acceptor_state& operator=(const acceptor_state&) = delete;
};

/// Options of the UDP socket and engine.
struct multiplexer_options {
    /// SO_RCVBUF / SO_SNDBUF to request. The kernel default (~208 KiB) caps µTP near
    /// 12 MB/s, so the default is large; 0 leaves the kernel's value.
    std::size_t udp_receive_buffer = 4 * 1024 * 1024;
    std::size_t udp_send_buffer = 4 * 1024 * 1024;
    /// Settings given to every connection on this port.
    proto::endpoint_settings protocol;
};

class multiplexer_impl : public std::enable_shared_from_this<multiplexer_impl> {
    struct private_tag {};

public:
    /// Bind a UDP socket at `local` and start the engine on `ex`.
    static std::shared_ptr<multiplexer_impl> create(const asio::any_io_executor& ex,
                                                    const udp::endpoint& local,
                                                    const multiplexer_options& opt, error_code& ec);

    multiplexer_impl(private_tag, const asio::any_io_executor& ex, const multiplexer_options& opt);
    ~multiplexer_impl();

    const asio::any_io_executor& get_executor() const noexcept { return executor_; }
    udp::endpoint local_endpoint(error_code& ec) const;
    bool is_open() const noexcept { return socket_.is_open(); }
    multiplexer_stats stats() const;
    /// Close the UDP socket: every pending operation fails, connections are dropped.
    void close();

    // -- streams --------------------------------------------------------------------------
    void async_connect(stream_state& s, const udp::endpoint& peer, ec_handler h);
    void async_read_some(stream_state& s, rw_handler h);
    void async_write_some(stream_state& s, rw_handler h);
    void shutdown_send(stream_state& s, error_code& ec);
    /// Cancel the socket's pending operations (operation_aborted).
    void cancel(stream_state& s);
    /// Release the connection (graceful close; it lingers in the engine) and cancel ops.
    void close(stream_state& s);
    void abort(stream_state& s);
    void apply_options(stream_state& s);
    const proto::connection* connection_of(const stream_state& s) const noexcept;

    // -- acceptors ------------------------------------------------------------------------
    void listen(acceptor_state& a, std::size_t backlog, error_code& ec);
    void async_accept(acceptor_state& a, stream_state& target, ec_handler h);
    void cancel(acceptor_state& a);
    void close(acceptor_state& a);

    // -- raw datagrams --------------------------------------------------------------------
    void async_receive_from(asio::mutable_buffer b, udp::endpoint& sender, rw_handler h);
    void async_send_to(asio::const_buffer b, const udp::endpoint& to, rw_handler h);

    /** The execution context is shutting down: destroy every pending handler without
        invoking it (as Asio's own I/O objects do), breaking the cycles a suspended
        coroutine forms with the socket it awaits, and post nothing from now on. */
    void shutdown();

private:
    struct raw_receive {
        asio::mutable_buffer buffer;
        udp::endpoint* sender;
        rw_handler handler;
        asio::any_completion_executor work;
    };
    struct raw_datagram {
        udp::endpoint from;
        std::vector<std::uint8_t> data;
    };
    struct raw_send {
        std::vector<std::uint8_t> data;
        udp::endpoint to;
        rw_handler handler;
        asio::any_completion_executor work;
    };
    enum class op_kind : std::uint8_t { read, write, connect };
    struct stream_canceller {
        // A constructor, not aggregate init: emplace() uses parentheses (clang 14).
        stream_canceller(multiplexer_impl* m, stream_state* st, op_kind k) noexcept
            : mux(m), s(st), kind(k) {}
        multiplexer_impl* mux;
        stream_state* s;
        op_kind kind;
        void operator()(asio::cancellation_type_t type) const { mux->on_cancel(*s, kind, type); }
    };
    struct accept_canceller {
        accept_canceller(multiplexer_impl* m, acceptor_state* ac, stream_state* t) noexcept
            : mux(m), a(ac), target(t) {}
        multiplexer_impl* mux;
        acceptor_state* a;
        stream_state* target;
        void operator()(asio::cancellation_type_t type) const {
            mux->on_cancel_accept(*a, target, type);
        }
    };

    void start_receive();
    void on_readable(const error_code& ec);
    void receive_batch();
    bool drain_errors();
    void pump();
    void schedule_pump();
    void flush();
    void on_writable(const error_code& ec);
    void arm_timer();
    void on_timer(const error_code& ec);
    void service(stream_state& s);
    void service_acceptors();
    // `cancelling`: called from a cancellation handler, which must not clear its own slot.
    void complete_read(stream_state& s, const error_code& ec, std::size_t n,
                       bool cancelling = false);
    void complete_write(stream_state& s, const error_code& ec, std::size_t n,
                        bool cancelling = false);
    void complete_connect(stream_state& s, const error_code& ec, bool cancelling = false);
    void on_cancel(stream_state& s, op_kind k, asio::cancellation_type_t type);
    void on_cancel_accept(acceptor_state& a, stream_state* target, asio::cancellation_type_t type);
    void complete_all(stream_state& s, const error_code& ec);
    void fail_everything(const error_code& ec);
    void bind_cancellation(stream_state& s, op_kind k, asio::cancellation_slot slot);
    void attach(stream_state& s, proto::connection_handle h);
    void detach(stream_state& s);
    bool needed() const noexcept;
    proto::instant now() const noexcept;

    asio::any_io_executor executor_;
    udp::socket socket_;
    asio::steady_timer timer_;
    multiplexer_options options_;
    proto::endpoint endpoint_;
    std::unordered_map<std::uint32_t, stream_state*> streams_; ///< by connection slot index
    acceptor_state* acceptor_ = nullptr;
    std::deque<raw_receive> raw_receives_;
    std::deque<raw_datagram> raw_queue_;
    std::deque<raw_send> raw_sends_;

    // batched I/O
    static constexpr std::size_t batch = 32;
    static constexpr std::size_t slot_size = 2048;
    std::vector<std::uint8_t> rx_buffers_;
    std::vector<std::uint8_t> tx_buffers_;
    std::array<udp::endpoint, batch> tx_to_{};
    std::array<std::size_t, batch> tx_size_{};
    std::size_t tx_count_ = 0; ///< datagrams produced but not yet sent
    std::size_t tx_sent_ = 0;  ///< of those, already sent (a partial sendmmsg)

    int family_ = 0; ///< AF_INET or AF_INET6, of the bound socket
    bool receiving_ = false;
    bool waiting_writable_ = false;
    bool pump_scheduled_ = false;
    bool in_pump_ = false;
    std::optional<proto::instant> timer_at_;
    bool shut_down_ = false;
    std::size_t pending_ops_ = 0;
    std::unique_ptr<multiplexer_impl_io> io_;
    multiplexer_stats stats_;
};

} // namespace utp::detail

#endif
