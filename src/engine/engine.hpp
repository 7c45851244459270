//
// src/engine/engine.hpp — one UDP port: the protocol endpoint of every connection on it, the
// datagram I/O that feeds it, one timer, and the pending operations of every socket,
// acceptor and raw datagram on it.
//
// Where each concern lives:
//   datagram_port.*  OS datagram I/O (batches, truncation, ICMP errors)
//   engine.cpp       driving the core: life and death, the pump (receive, timers, transmit)
//   completions.*    Asio operation bookkeeping: handlers, work, delivery outside the lock
//   stream_ops.cpp, acceptor_ops.cpp, raw_ops.cpp
//                    the operations of sockets, acceptors and raw datagrams
//   context_registry.*  execution-context shutdown reaching every engine that holds work
//
// Threading: every member that touches state takes `mutex_`, so sockets, acceptors and the
// multiplexer may be used from any thread, as Asio's own I/O objects may (distinct objects
// safe, shared objects not). Handlers are posted after the lock is released. No function
// holds two engines' locks at once.
//
#ifndef UTP_SRC_ENGINE_ENGINE_HPP
#define UTP_SRC_ENGINE_ENGINE_HPP

#include "completions.hpp"
#include "datagram_port.hpp"

#include <utp/detail/engine_api.hpp>
#include <utp/proto/endpoint.hpp>

#include <boost/asio/cancellation_type.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <deque>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <vector>

namespace utp::detail {

/// A pending read or write: where the bytes go or come from, and whom to tell.
template <class Buffers>
struct pending_transfer : pending_handler<rw_handler> {
    Buffers buffers;
};

/// A pending `async_wait` on a socket.
struct pending_wait : pending_handler<ec_handler> {
    asio::socket_base::wait_type type = asio::socket_base::wait_read;
};

/** The state behind one `utp::basic_socket`, shared with the cancellation handlers of its
    operations (which hold it weakly). Its destruction closes its connection gracefully. */
struct stream_state {
    stream_state(asio::any_io_executor ex, std::shared_ptr<engine> m);
    ~stream_state();
    stream_state(const stream_state&) = delete;
    stream_state& operator=(const stream_state&) = delete;

    /// The engine its connections go through. Set once: at construction, by the first
    /// connect (a private engine), or by the accept that fills this socket (before that
    /// accept's handler is posted). Read without a lock by the socket's own thread.
    std::shared_ptr<engine> mux;
    asio::any_io_executor io;         ///< the socket's executor: default for handlers
    asio::execution_context* context; ///< io's execution context

    // Everything below is guarded by mux's lock.
    proto::connection_handle conn{};
    bool send_shut = false;
    udp::endpoint remote;
    std::optional<udp::endpoint> local; ///< found on first request
    stream_options options;
    pending_transfer<mutable_buffers> read;
    pending_transfer<const_buffers> write;
    pending_handler<ec_handler> connect;
    std::vector<pending_wait> waits;
};

struct pending_accept : pending_handler<ec_handler> {
    std::shared_ptr<stream_state> target;
    udp::endpoint* peer_endpoint = nullptr;
};

/** The state behind one `utp::basic_acceptor`. */
struct acceptor_state {
    acceptor_state(asio::any_io_executor ex, std::shared_ptr<engine> m);
    ~acceptor_state();
    acceptor_state(const acceptor_state&) = delete;
    acceptor_state& operator=(const acceptor_state&) = delete;

    const std::shared_ptr<engine> mux;
    asio::any_io_executor io;
    asio::execution_context* context;
    // Guarded by mux's lock.
    bool open = false;
    std::list<pending_accept> accepts;
};

enum class op_kind : std::uint8_t { read, write, connect, wait };

/** The engine's lock: a std::mutex, unless the engine's io_context was told that its I/O
    objects are only ever used from one thread (BOOST_ASIO_CONCURRENCY_HINT_UNSAFE or
    BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO), in which case Asio's own reactor drops its
    descriptor locks, and so does this. */
class engine_mutex {
public:
    explicit engine_mutex(bool enabled) noexcept : enabled_(enabled) {}
    void lock() {
        if (enabled_) m_.lock();
    }
    void unlock() {
        if (enabled_) m_.unlock();
    }

private:
    std::mutex m_;
    const bool enabled_;
};

class engine : public std::enable_shared_from_this<engine> {
    struct private_tag {};

public:
    static std::shared_ptr<engine> create(const asio::any_io_executor& ex,
                                          const udp::endpoint& local,
                                          const multiplexer_options& opt, error_code& ec,
                                          std::string& what);
    engine(private_tag, const asio::any_io_executor& ex, const multiplexer_options& opt);
    ~engine();

    // -- the port (engine.cpp) ------------------------------------------------------------
    udp::endpoint local_endpoint(error_code& ec) const;
    bool is_open() const noexcept;
    multiplexer_stats stats() const;
    void close();
    /** An execution context is shutting down. If it is the engine's own, the engine dies:
        the UDP socket and timer are destroyed while their services still exist, handlers of
        operations on that context are destroyed without being invoked (as Asio does), and
        operations of sockets on other contexts complete with operation_aborted. Otherwise
        only the handlers of operations whose I/O object is on `ctx` are destroyed. */
    void on_context_shutdown(asio::execution_context& ctx);

    // -- streams (stream_ops.cpp) ---------------------------------------------------------
    void connect(const std::shared_ptr<stream_state>& s, const udp::endpoint& peer, ec_handler h);
    void read_some(const std::shared_ptr<stream_state>& s, const mutable_buffers& b, rw_handler h);
    void write_some(const std::shared_ptr<stream_state>& s, const const_buffers& b, rw_handler h);
    void wait(const std::shared_ptr<stream_state>& s, asio::socket_base::wait_type w, ec_handler h);
    void shutdown_send(stream_state& s, error_code& ec);
    void cancel(stream_state& s);
    void close(stream_state& s);
    void abort(stream_state& s);
    bool is_open(const stream_state& s) const noexcept;
    std::size_t available(const stream_state& s, error_code& ec) const;
    udp::endpoint local_endpoint(stream_state& s, error_code& ec);
    udp::endpoint remote_endpoint(const stream_state& s, error_code& ec) const;
    std::optional<proto::setting_violation> set_options(stream_state& s, const stream_options& o);
    proto::settings settings(const stream_state& s) const;
    proto::connection_stats stats(const stream_state& s) const;
    void cancel_op(stream_state& s, op_kind k, std::uint64_t id, asio::cancellation_type_t t);

    // -- acceptors (acceptor_ops.cpp) -----------------------------------------------------
    void listen(acceptor_state& a, std::size_t backlog, error_code& ec);
    void accept(const std::shared_ptr<acceptor_state>& a,
                const std::shared_ptr<stream_state>& target, udp::endpoint* peer_endpoint,
                ec_handler h);
    void cancel(acceptor_state& a);
    void close(acceptor_state& a);
    bool is_open(const acceptor_state& a) const noexcept;
    void cancel_accept(acceptor_state& a, std::uint64_t id, asio::cancellation_type_t t);

    // -- raw datagrams (raw_ops.cpp) ------------------------------------------------------
    void receive_from(asio::mutable_buffer b, udp::endpoint& sender, rw_handler h);
    void send_to(asio::const_buffer b, const udp::endpoint& to, rw_handler h);
    void cancel_raw(); // every raw operation
    void cancel_raw(std::uint64_t id, asio::cancellation_type_t t);

    /// A fresh operation id, never 0 (no operation).
    std::uint64_t next_op_id() noexcept { return next_op_id_.fetch_add(1) + 1; }

private:
    using lock_type = std::unique_lock<engine_mutex>;

    struct raw_receive : pending_handler<rw_handler> {
        asio::mutable_buffer buffer;
        udp::endpoint* sender = nullptr;
    };
    struct raw_datagram {
        udp::endpoint from;
        std::vector<std::uint8_t> data;
    };
    struct raw_send : pending_handler<rw_handler> {
        std::vector<std::uint8_t> data;
        udp::endpoint to;
    };

    // engine.cpp: driving the core
    void schedule_pump();
    void run_pump();
    void pump(completion_list& out);
    void start_receive();
    void on_readable(const error_code& ec);
    /// Reads the socket's error queue into the endpoint (ICMP unreachable reports);
    /// whether anything was queued.
    bool drain_unreachable();
    void receive(completion_list& out);
    void flush(completion_list& out);
    void on_writable(const error_code& ec);
    void arm_timer();
    void on_timer(const error_code& ec, proto::instant at);
    bool needed() const noexcept;
    proto::instant now() const noexcept;
    void fail_everything(const error_code& ec, completion_list& out);
    void forget_connections();
    /// Make sure `ctx`'s shutdown reaches this engine (the engine holds work for it).
    void watch_context(asio::execution_context* ctx);

    // stream_ops.cpp
    template <class Buffers>
    void start_transfer(const std::shared_ptr<stream_state>& sp,
                        pending_transfer<Buffers> stream_state::*member, op_kind kind,
                        const Buffers& b, rw_handler h);
    void service(stream_state& s, completion_list& out);
    void service_waits(stream_state& s, const proto::connection* c, completion_list& out);
    void complete_all(stream_state& s, const error_code& ec, completion_list& out);
    void discard_all(stream_state& s, completion_list& out);
    void attach(stream_state& s, proto::connection_handle h);
    void detach(stream_state& s);
    void apply_options(stream_state& s);
    /// An operation started (+1) or ended (-1): when none is left, the idle port lets go
    /// of its read wait so that `io_context::run()` can return.
    void op_started() noexcept { ++pending_ops_; }
    void op_ended() noexcept;

    // acceptor_ops.cpp
    void service_acceptor(completion_list& out);
    void abort_accepts(acceptor_state& a, const error_code& ec, completion_list& out);

    // raw_ops.cpp
    void deliver_raw(const proto::peer_address& from, std::span<const std::uint8_t> d,
                     completion_list& out);
    void send_raw(completion_list& out);
    void abort_raw(const error_code& ec, completion_list& out);
    std::uint64_t bind_raw_canceller(const rw_handler& h);

    asio::any_io_executor executor_;
    asio::execution_context* context_;
    mutable engine_mutex mutex_;
    multiplexer_options options_;
    multiplexer_stats stats_;
    datagram_port port_;
    std::optional<asio::steady_timer> timer_;
    proto::endpoint endpoint_;
    std::unordered_map<std::uint32_t, stream_state*> streams_; ///< by connection slot index
    acceptor_state* acceptor_ = nullptr;
    std::deque<raw_receive> raw_receives_;
    std::deque<raw_datagram> raw_queue_;
    std::deque<raw_send> raw_sends_;
    std::vector<asio::execution_context*> watched_; ///< contexts whose shutdown reaches us
    std::atomic<std::uint64_t> next_op_id_{0};

    bool receiving_ = false;
    bool waiting_writable_ = false;
    bool pump_scheduled_ = false;
    bool in_pump_ = false;
    bool dead_ = false; ///< its execution context shut down: no socket, timer or executor
    std::optional<proto::instant> timer_at_;
    std::size_t pending_ops_ = 0;
};

/// The cancellation handler of a socket's operation. Holds the state weakly and names the
/// operation by id: a signal emitted after the operation completed, or after the socket
/// is gone, does nothing. Never cleared by the engine (the slot belongs to the thread that
/// emits), as Asio's own operations leave theirs.
struct stream_canceller {
    std::weak_ptr<stream_state> state;
    op_kind kind;
    std::uint64_t id;
    stream_canceller(std::weak_ptr<stream_state> s, op_kind k, std::uint64_t i) noexcept
        : state(std::move(s)), kind(k), id(i) {}
    void operator()(asio::cancellation_type_t t) const;
};

/// Bind `canceller` to `h`'s cancellation slot, if it has one.
template <class Handler, class Canceller, class... Args>
void bind_canceller(const Handler& h, Args&&... args) {
    auto slot = asio::get_associated_cancellation_slot(h);
    if (slot.is_connected()) slot.template emplace<Canceller>(std::forward<Args>(args)...);
}

/// Cancellation types every operation here honours: none has a side effect before it
/// completes, so terminal, partial and total cancellation may all abort it.
inline bool cancels(asio::cancellation_type_t t) noexcept {
    return (t & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                 asio::cancellation_type::total)) != asio::cancellation_type::none;
}

} // namespace utp::detail

#endif
