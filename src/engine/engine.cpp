// The engine's life and its loop: receive a batch, feed the core, run its timers, service the
// sockets whose state changed, transmit what the core wants sent, re-arm the one timer.

#include "engine.hpp"

#include "context_registry.hpp"

#include <boost/asio/execution/context.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/strand.hpp>

#include <algorithm>
#include <chrono>
#include <random>

namespace utp::detail {
namespace {

// Receive batches handled before the engine yields to other work on its executor.
constexpr int max_receive_rounds = 8;

asio::execution_context* context_of(const asio::any_io_executor& ex) {
    return &asio::query(ex, asio::execution::context);
}

/// Whether the I/O objects on `ex` may be used from several threads: always, unless it is
/// an io_context's executor (or a strand of one) whose concurrency hint says otherwise
/// (see engine_mutex).
bool needs_locking(const asio::any_io_executor& ex) {
    using io_executor = asio::io_context::executor_type;
    asio::io_context* ctx = nullptr;
    if (const auto* io = ex.target<io_executor>())
        ctx = &io->context();
    else if (const auto* strand = ex.target<asio::strand<io_executor>>())
        ctx = &strand->get_inner_executor().context();
    if (!ctx) return true;
    const int hint = asio::use_service<asio::detail::io_context_impl>(*ctx).concurrency_hint();
    return BOOST_ASIO_CONCURRENCY_HINT_IS_LOCKING(REACTOR_IO, hint);
}

std::uint64_t random_seed() {
    std::random_device rd;
    return rd() ^ (std::uint64_t{rd()} << 32);
}

} // namespace

// ---------------------------------------------------------------------------------------
// life

std::shared_ptr<engine> engine::create(const asio::any_io_executor& ex, const udp::endpoint& local,
                                       const multiplexer_options& opt, error_code& ec,
                                       std::string& what) {
    what.clear();
    if (auto bad = proto::check(opt.protocol)) {
        ec = asio::error::invalid_argument;
        what = std::string("multiplexer_options::protocol: ") + bad->name + " must be " +
               bad->requirement;
        return nullptr;
    }
    if (opt.max_datagram_size < 1500 || opt.max_datagram_size > 65536) {
        ec = asio::error::invalid_argument;
        what = "multiplexer_options::max_datagram_size must be 1500 to 65536 bytes";
        return nullptr;
    }
    auto e = std::make_shared<engine>(private_tag{}, ex, opt);
    e->port_.open(local, opt, ec);
    if (ec) return nullptr;
    // After the engine's socket and timer exist: their services then shut down after the
    // registry, which destroys them first.
    registry_of(*e->context_).add(e);
    return e;
}

engine::engine(private_tag, const asio::any_io_executor& ex, const multiplexer_options& opt)
    : executor_(ex), context_(context_of(ex)), mutex_(needs_locking(ex)), options_(opt),
      port_(ex, stats_), timer_(std::in_place, ex), endpoint_(opt.protocol, random_seed()) {
    watched_.push_back(context_);
}

engine::~engine() = default;

stream_state::stream_state(asio::any_io_executor ex, std::shared_ptr<engine> m)
    : mux(std::move(m)), io(std::move(ex)), context(&asio::query(io, asio::execution::context)) {}

stream_state::~stream_state() {
    if (mux) mux->close(*this);
}

acceptor_state::acceptor_state(asio::any_io_executor ex, std::shared_ptr<engine> m)
    : mux(std::move(m)), io(std::move(ex)), context(&asio::query(io, asio::execution::context)) {}

acceptor_state::~acceptor_state() {
    if (mux) mux->close(*this);
}

void engine::watch_context(asio::execution_context* ctx) {
    if (ctx == context_ || std::find(watched_.begin(), watched_.end(), ctx) != watched_.end())
        return;
    watched_.push_back(ctx);
    registry_of(*ctx).add(shared_from_this());
}

void engine::on_context_shutdown(asio::execution_context& ctx) {
    completion_list out;
    lock_type lock(mutex_);
    std::erase(watched_, &ctx);
    const bool own = &ctx == context_;
    if (own) dead_ = true; // from now on nothing is posted to the engine's own executor
    // Operations whose I/O object lives on the dying context: destroyed, never invoked
    // (the context will run nothing more). Those of objects on other contexts, if this
    // engine dies: aborted, on their own (living) executors.
    auto settle_stream = [&](stream_state& s) {
        if (s.context == &ctx)
            discard_all(s, out);
        else if (own)
            complete_all(s, asio::error::operation_aborted, out);
    };
    for (auto& [index, s] : streams_) {
        (void)index;
        settle_stream(*s);
    }
    if (acceptor_) {
        for (auto& op : acceptor_->accepts) {
            if (acceptor_->context == &ctx)
                out.discard(op);
            else if (own)
                out.post(op, acceptor_->io, asio::error::operation_aborted);
            else
                continue;
            out.release(std::move(op.target));
            op_ended();
        }
        std::erase_if(acceptor_->accepts, [](const pending_accept& op) { return !op.pending(); });
    }
    if (!own) return;
    // Raw operations belong to the multiplexer object, which lives on this context.
    for (auto& r : raw_receives_) {
        out.discard(r);
        op_ended();
    }
    raw_receives_.clear();
    for (auto& r : raw_sends_) {
        out.discard(r);
        op_ended();
    }
    raw_sends_.clear();
    forget_connections();
    // The socket and timer must not outlive their services; the executor (a strand, say)
    // must not outlive its context either. The engine itself may: a socket on another
    // context can still hold it, and finds it closed.
    port_.release();
    timer_.reset();
    timer_at_.reset();
    executor_ = asio::any_io_executor();
}

// ---------------------------------------------------------------------------------------
// the port

udp::endpoint engine::local_endpoint(error_code& ec) const {
    lock_type lock(mutex_);
    return port_.local_endpoint(ec);
}

bool engine::is_open() const noexcept {
    lock_type lock(mutex_);
    return port_.is_open();
}

multiplexer_stats engine::stats() const {
    lock_type lock(mutex_);
    multiplexer_stats s = stats_;
    s.protocol = endpoint_.stats();
    s.connections = endpoint_.connection_count();
    return s;
}

void engine::close() {
    completion_list out;
    lock_type lock(mutex_);
    fail_everything(asio::error::operation_aborted, out);
    forget_connections();
    if (timer_) timer_->cancel();
    timer_at_.reset();
    port_.close();
}

void engine::forget_connections() {
    // The port is gone: sockets and the acceptor on it are closed (is_open() is false, new
    // operations fail with bad_descriptor); their states learn it here, under the lock.
    for (auto& [index, s] : streams_) {
        (void)index;
        s->conn = {};
        s->local.reset();
    }
    streams_.clear();
    if (acceptor_) acceptor_->open = false;
}

void engine::fail_everything(const error_code& ec, completion_list& out) {
    for (auto& [index, s] : streams_) {
        (void)index;
        complete_all(*s, ec, out);
    }
    if (acceptor_) abort_accepts(*acceptor_, ec, out);
    abort_raw(ec, out);
}

bool engine::needed() const noexcept {
    // An open connection must answer its peer, so it keeps the engine (and its
    // io_context) running, as pending operations do; an idle port does not.
    return port_.is_open() && !dead_ &&
           (pending_ops_ > 0 || endpoint_.live_connection_count() > 0 || !raw_sends_.empty() ||
            port_.has_queued());
}

void engine::op_ended() noexcept {
    --pending_ops_;
    // The last operation gone and nothing else to do: the port must stop waiting for
    // datagrams, or run() would never return. Only then: a pump queued here would run
    // before the handler being completed, on the latency path of every read.
    if (pending_ops_ == 0 && receiving_ && !needed()) schedule_pump();
}

proto::instant engine::now() const noexcept {
    return proto::instant{std::chrono::duration_cast<proto::duration>(
        std::chrono::steady_clock::now().time_since_epoch())};
}

// ---------------------------------------------------------------------------------------
// the loop

void engine::schedule_pump() {
    if (pump_scheduled_ || in_pump_ || dead_ || !port_.is_open()) return;
    pump_scheduled_ = true;
    // Drain point: everything the application did in this turn goes out in one batch.
    asio::post(executor_, [self = shared_from_this()] { self->run_pump(); });
}

void engine::run_pump() {
    completion_list out;
    lock_type lock(mutex_);
    pump_scheduled_ = false;
    pump(out);
}

void engine::pump(completion_list& out) {
    if (in_pump_ || dead_ || !port_.is_open()) return;
    in_pump_ = true;
    for (int round = 0; round < 4; ++round) {
        bool any = false;
        while (auto h = endpoint_.poll_wakeup()) {
            any = true;
            if (auto it = streams_.find(h->index); it != streams_.end() && it->second->conn == *h)
                service(*it->second, out);
        }
        service_acceptor(out);
        if (!any) break;
    }
    flush(out);
    // A send consumed the socket's pending error: the reports in the error queue may fail
    // connections, whose operations complete now rather than at the next datagram.
    if (port_.take_error_pending() && drain_unreachable()) {
        while (auto h = endpoint_.poll_wakeup())
            if (auto it = streams_.find(h->index); it != streams_.end() && it->second->conn == *h)
                service(*it->second, out);
        flush(out);
    }
    arm_timer();
    if (needed()) {
        if (!receiving_) start_receive();
    } else if (receiving_ && !waiting_writable_) {
        // Nothing needs us: let the io_context run out of work, as an idle Asio socket would.
        error_code ignored;
        port_.socket().cancel(ignored);
    }
    in_pump_ = false;
}

void engine::start_receive() {
    receiving_ = true;
    port_.socket().async_wait(
        udp::socket::wait_read,
        [self = shared_from_this()](const error_code& ec) { self->on_readable(ec); });
}

void engine::on_readable(const error_code& ec) {
    completion_list out;
    lock_type lock(mutex_);
    receiving_ = false;
    if (dead_) return;
    if (ec) {
        if (ec != asio::error::operation_aborted)
            fail_everything(ec, out);
        else if (needed())
            pump(out);
        return;
    }
    receive(out);
    pump(out);
}

bool engine::drain_unreachable() {
    return port_.drain_errors([&](const unreachable_report& u) {
        endpoint_.handle_unreachable(u.to, now(), u.port_gone, u.quoted());
    });
}

void engine::receive(completion_list& out) {
    for (int round = 0; round < max_receive_rounds; ++round) {
        int err = 0;
        const int r = port_.receive_batch(err);
        if (r < 0) {
            // An ICMP error queued for the socket: say which peer it was about.
            if (drain_unreachable()) continue;
            break;
        }
        const proto::instant t = now();
        for (int i = 0; i < r; ++i) {
            const received_datagram& d = port_.received(static_cast<std::size_t>(i));
            if (d.truncated) {
                // Only its beginning was read: parsing it would deliver (and acknowledge)
                // bytes that never arrived.
                ++stats_.truncated;
                continue;
            }
            if (endpoint_.handle_datagram(d.from, d.data, t) == proto::datagram_verdict::not_utp)
                deliver_raw(d.from, d.data, out);
        }
        if (static_cast<std::size_t>(r) < datagram_port::batch) break;
    }
}

void engine::flush(completion_list& out) {
    if (waiting_writable_ || !port_.is_open()) return;
    // Raw datagrams first: they are few, and their handlers wait on them.
    send_raw(out);
    if (waiting_writable_) return;
    const proto::instant t = now();
    for (;;) {
        for (auto slot = port_.send_slot(); !slot.empty(); slot = port_.send_slot()) {
            const auto tr = endpoint_.poll_transmit(t, slot);
            if (!tr) break;
            port_.commit(tr->to, tr->size);
        }
        if (!port_.has_queued()) return;
        if (!port_.send_queued()) {
            // Not a loss: the datagrams stay queued until the socket has room.
            waiting_writable_ = true;
            port_.socket().async_wait(
                udp::socket::wait_write,
                [self = shared_from_this()](const error_code& ec) { self->on_writable(ec); });
            return;
        }
    }
}

void engine::on_writable(const error_code& ec) {
    completion_list out;
    lock_type lock(mutex_);
    waiting_writable_ = false;
    if (ec || dead_) return;
    pump(out);
}

void engine::arm_timer() {
    // Only while the engine is needed: a TIME-WAIT entry's timer alone must not keep the
    // io_context running (it is reaped at the next run that has work).
    const std::optional<proto::instant> next = needed() ? endpoint_.next_timeout() : std::nullopt;
    if (!next) {
        if (timer_at_) {
            timer_at_.reset();
            timer_->cancel();
        }
        return;
    }
    // A later deadline leaves the armed wait alone: it fires early, finds nothing due and
    // re-arms. Re-arming on every ACK would cost a cancel and a wait each time.
    if (timer_at_ && *timer_at_ <= *next) return;
    timer_at_ = next;
    timer_->expires_at(std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(next->time_since_epoch())));
    timer_->async_wait(
        [self = shared_from_this(), at = *next](const error_code& ec) { self->on_timer(ec, at); });
}

void engine::on_timer(const error_code& ec, proto::instant at) {
    completion_list out;
    lock_type lock(mutex_);
    if (ec || dead_ || timer_at_ != at) return; // re-armed or cancelled meanwhile
    timer_at_.reset();
    endpoint_.handle_timeout(now());
    pump(out);
}

// ---------------------------------------------------------------------------------------
// the multiplexer's API

std::shared_ptr<engine> make_engine(const asio::any_io_executor& ex, const udp::endpoint& local,
                                    const multiplexer_options& opt, error_code& ec,
                                    std::string& what) {
    return engine::create(ex, local, opt, ec, what);
}

udp::endpoint local_endpoint(const engine& e, error_code& ec) {
    return e.local_endpoint(ec);
}

bool is_open(const engine& e) noexcept {
    return e.is_open();
}

void close(engine& e) {
    e.close();
}

multiplexer_stats stats(const engine& e) {
    return e.stats();
}

} // namespace utp::detail
