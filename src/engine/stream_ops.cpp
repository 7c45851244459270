// The operations of sockets: connect, read, write, wait, shutdown, cancel, close; how they
// complete when their connection's state changes; their cancellation handlers.

#include "addresses.hpp"
#include "engine.hpp"

#include <utp/error.hpp>

#include <algorithm>

namespace utp::detail {
namespace {

error_code to_error_code(proto::conn_error e) {
    switch (e) {
    case proto::conn_error::none:
        return {};
    case proto::conn_error::refused:
        return asio::error::connection_refused;
    case proto::conn_error::reset:
        return asio::error::connection_reset;
    case proto::conn_error::timed_out:
        return asio::error::timed_out;
    case proto::conn_error::aborted:
        return asio::error::operation_aborted;
    }
    return asio::error::fault;
}

udp::endpoint any_address_like(const udp::endpoint& peer) {
    if (peer.address().is_v6()) return {asio::ip::address_v6::any(), 0};
    return {asio::ip::address_v4::any(), 0};
}

} // namespace

void stream_canceller::operator()(asio::cancellation_type_t t) const {
    if (!cancels(t)) return;
    if (auto s = state.lock())
        if (auto m = s->mux) m->cancel_op(*s, kind, id, t);
}

// ---------------------------------------------------------------------------------------
// starting operations

void engine::connect(const std::shared_ptr<stream_state>& sp, const udp::endpoint& peer,
                     ec_handler h) {
    stream_state& s = *sp;
    const std::uint64_t id = next_op_id();
    bind_canceller<ec_handler, stream_canceller>(h, sp, op_kind::connect, id);
    completion_list out;
    lock_type lock(mutex_);
    error_code ec;
    proto::connection_handle ch;
    if (dead_ || !port_.is_open())
        ec = asio::error::bad_descriptor;
    else if (s.connect.pending())
        ec = asio::error::in_progress;
    else if (s.conn)
        ec = asio::error::already_connected;
    else if (peer.address().is_v6() && port_.family() == AF_INET)
        ec = error::address_family_mismatch;
    else if (!(ch = endpoint_.connect(to_peer(peer), now())))
        ec = error::no_connection_id;
    if (ec) return out.post(std::move(h), s.io, ec);
    attach(s, ch);
    s.remote = peer;
    s.send_shut = false;
    s.connect.assign(std::move(h), s.io, id);
    op_started();
    watch_context(s.context);
    schedule_pump();
}

template <class Buffers>
void engine::start_transfer(const std::shared_ptr<stream_state>& sp,
                            pending_transfer<Buffers> stream_state::*member, op_kind kind,
                            const Buffers& b, rw_handler h) {
    stream_state& s = *sp;
    pending_transfer<Buffers>& op = s.*member;
    const std::uint64_t id = next_op_id();
    bind_canceller<rw_handler, stream_canceller>(h, sp, kind, id);
    completion_list out;
    lock_type lock(mutex_);
    if (op.pending()) return out.post(std::move(h), s.io, error::operation_in_progress, 0);
    if (dead_ || !port_.is_open())
        return out.post(std::move(h), s.io, asio::error::bad_descriptor, 0);
    if (!s.conn) return out.post(std::move(h), s.io, asio::error::not_connected, 0);
    if (b.total == 0) return out.post(std::move(h), s.io, error_code{}, 0);
    op.buffers = b;
    op.assign(std::move(h), s.io, id);
    op_started();
    watch_context(s.context);
    service(s, out);
    // Reading may open the window, writing may give the sender data: the peer must hear.
    schedule_pump();
}

void engine::read_some(const std::shared_ptr<stream_state>& sp, const mutable_buffers& b,
                       rw_handler h) {
    start_transfer(sp, &stream_state::read, op_kind::read, b, std::move(h));
}

void engine::write_some(const std::shared_ptr<stream_state>& sp, const const_buffers& b,
                        rw_handler h) {
    start_transfer(sp, &stream_state::write, op_kind::write, b, std::move(h));
}

void engine::wait(const std::shared_ptr<stream_state>& sp, asio::socket_base::wait_type w,
                  ec_handler h) {
    stream_state& s = *sp;
    const std::uint64_t id = next_op_id();
    bind_canceller<ec_handler, stream_canceller>(h, sp, op_kind::wait, id);
    completion_list out;
    lock_type lock(mutex_);
    if (!s.conn || dead_ || !port_.is_open())
        return out.post(std::move(h), s.io, asio::error::bad_descriptor);
    pending_wait& pw = s.waits.emplace_back();
    pw.type = w;
    pw.assign(std::move(h), s.io, id);
    op_started();
    watch_context(s.context);
    service(s, out);
}

// ---------------------------------------------------------------------------------------
// completing operations

void engine::service(stream_state& s, completion_list& out) {
    proto::connection* c = endpoint_.get(s.conn);
    if (!c) {
        complete_all(s, asio::error::operation_aborted, out);
        return;
    }
    const bool failed = c->state() == proto::conn_state::failed;
    const error_code err = failed ? to_error_code(c->error()) : error_code{};
    if (s.connect.pending()) {
        if (failed) {
            // The attempt is over: forget it, so that the socket may dial again (as a TCP
            // socket may after a failed connect).
            out.post(s.connect, s.io, err);
            op_ended();
            complete_all(s, err, out);
            endpoint_.release(s.conn, now());
            detach(s);
            return;
        }
        if (c->state() != proto::conn_state::syn_sent) {
            out.post(s.connect, s.io, error_code{});
            op_ended();
        }
    }
    if (s.read.pending()) {
        std::size_t n = 0;
        const proto::instant t = now();
        for (std::size_t i = 0; i < s.read.buffers.count; ++i) {
            auto& b = s.read.buffers.items[i];
            const std::size_t k =
                endpoint_.read(s.conn, {static_cast<std::uint8_t*>(b.data()), b.size()}, t);
            n += k;
            if (k < b.size()) break;
        }
        // Bytes first; then end of stream or the error, on the next read.
        bool done = true;
        if (n > 0)
            out.post(s.read, s.io, error_code{}, n);
        else if (c->eof())
            out.post(s.read, s.io, asio::error::eof, 0);
        else if (failed || c->state() == proto::conn_state::closed)
            out.post(s.read, s.io, failed ? err : error_code(asio::error::eof), 0);
        else
            done = false;
        if (done) op_ended();
    }
    if (s.write.pending()) {
        bool done = true;
        if (failed) {
            out.post(s.write, s.io, err, 0);
        } else if (s.send_shut || c->send_shutdown()) {
            out.post(s.write, s.io, asio::error::shut_down, 0);
        } else if (c->writable() > 0) {
            std::size_t n = 0;
            const proto::instant t = now();
            for (std::size_t i = 0; i < s.write.buffers.count; ++i) {
                auto& b = s.write.buffers.items[i];
                const std::size_t k = endpoint_.write(
                    s.conn, {static_cast<const std::uint8_t*>(b.data()), b.size()}, t);
                n += k;
                if (k < b.size()) break;
            }
            if (n > 0)
                out.post(s.write, s.io, error_code{}, n);
            else
                done = false;
        } else {
            done = false;
        }
        if (done) op_ended();
    }
    if (!s.waits.empty()) service_waits(s, c, out);
}

void engine::service_waits(stream_state& s, const proto::connection* c, completion_list& out) {
    // Ready means what poll() means for a TCP socket: the operation would not block (it
    // may fail at once). Readiness, not the error, is the wait's result.
    const bool failed = c->state() == proto::conn_state::failed;
    const bool connecting = c->state() == proto::conn_state::syn_sent;
    const bool readable =
        c->readable() > 0 || c->eof() || failed || c->state() == proto::conn_state::closed;
    const bool writable =
        failed || s.send_shut || c->send_shutdown() || (!connecting && c->writable() > 0);
    for (auto& w : s.waits) {
        bool ready = false;
        switch (w.type) {
        case asio::socket_base::wait_read:
            ready = readable;
            break;
        case asio::socket_base::wait_write:
            ready = writable;
            break;
        case asio::socket_base::wait_error:
            ready = failed;
            break;
        }
        if (!ready) continue;
        out.post(w, s.io, error_code{});
        op_ended();
    }
    std::erase_if(s.waits, [](const pending_wait& w) { return !w.pending(); });
}

void engine::complete_all(stream_state& s, const error_code& ec, completion_list& out) {
    if (s.connect.pending()) {
        out.post(s.connect, s.io, ec);
        op_ended();
    }
    if (s.read.pending()) {
        out.post(s.read, s.io, ec, 0);
        op_ended();
    }
    if (s.write.pending()) {
        out.post(s.write, s.io, ec, 0);
        op_ended();
    }
    for (auto& w : s.waits) {
        out.post(w, s.io, ec);
        op_ended();
    }
    s.waits.clear();
}

void engine::discard_all(stream_state& s, completion_list& out) {
    auto drop = [&](auto& p) {
        if (!p.pending()) return;
        out.discard(p);
        op_ended();
    };
    drop(s.connect);
    drop(s.read);
    drop(s.write);
    for (auto& w : s.waits)
        drop(w);
    s.waits.clear();
}

// ---------------------------------------------------------------------------------------
// the socket's synchronous functions

void engine::attach(stream_state& s, proto::connection_handle h) {
    s.conn = h;
    s.local.reset();
    streams_[h.index] = &s;
    apply_options(s);
}

void engine::detach(stream_state& s) {
    if (!s.conn) return;
    if (auto it = streams_.find(s.conn.index); it != streams_.end() && it->second == &s)
        streams_.erase(it);
    s.conn = {};
    s.local.reset();
}

void engine::apply_options(stream_state& s) {
    proto::connection* c = s.conn ? endpoint_.get(s.conn) : nullptr;
    if (!c) return;
    const stream_options& o = s.options;
    if (o.no_delay) c->set_no_delay(*o.no_delay);
    if (o.send_buffer_size) c->set_send_buffer_size(*o.send_buffer_size);
    if (o.receive_buffer_size) c->set_recv_buffer_size(*o.receive_buffer_size);
    if (o.target_delay) c->set_target_delay(*o.target_delay);
    if (o.congestion) c->set_congestion_control(*o.congestion);
    if (o.trace) c->set_trace(*o.trace);
    endpoint_.touch(s.conn, now());
    schedule_pump();
}

void engine::shutdown_send(stream_state& s, error_code& ec) {
    completion_list out;
    lock_type lock(mutex_);
    if (!s.conn) {
        ec = asio::error::not_connected;
        return;
    }
    ec = {};
    s.send_shut = true;
    endpoint_.shutdown_send(s.conn, now());
    if (s.write.pending()) {
        out.post(s.write, s.io, asio::error::shut_down, 0);
        op_ended();
    }
    if (auto* c = endpoint_.get(s.conn); c && !s.waits.empty()) service_waits(s, c, out);
    schedule_pump();
}

void engine::cancel(stream_state& s) {
    completion_list out;
    lock_type lock(mutex_);
    // A connect cannot be half-cancelled: the attempt is abandoned (RESET to the peer).
    if (s.connect.pending()) {
        endpoint_.abort(s.conn, now());
        detach(s);
    }
    complete_all(s, asio::error::operation_aborted, out);
    schedule_pump();
}

void engine::cancel_op(stream_state& s, op_kind k, std::uint64_t id, asio::cancellation_type_t) {
    completion_list out;
    lock_type lock(mutex_);
    switch (k) {
    case op_kind::read:
        if (!s.read.pending() || s.read.id != id) return;
        out.post(s.read, s.io, asio::error::operation_aborted, 0);
        break;
    case op_kind::write:
        if (!s.write.pending() || s.write.id != id) return;
        out.post(s.write, s.io, asio::error::operation_aborted, 0);
        break;
    case op_kind::connect:
        if (!s.connect.pending() || s.connect.id != id) return;
        // Abandoned: the peer is told with a RESET; the socket may dial again.
        endpoint_.abort(s.conn, now());
        detach(s);
        complete_all(s, asio::error::operation_aborted, out); // the connect and all on it
        schedule_pump();
        return;
    case op_kind::wait: {
        auto it = std::find_if(s.waits.begin(), s.waits.end(),
                               [id](const pending_wait& w) { return w.id == id; });
        if (it == s.waits.end()) return;
        out.post(*it, s.io, asio::error::operation_aborted);
        s.waits.erase(it);
        break;
    }
    }
    op_ended();
    schedule_pump();
}

void engine::close(stream_state& s) {
    completion_list out;
    lock_type lock(mutex_);
    complete_all(s, asio::error::operation_aborted, out);
    if (s.conn) {
        // Graceful, like closing a TCP socket: buffered data and the FIN still go out.
        endpoint_.release(s.conn, now());
        detach(s);
        schedule_pump();
    }
}

void engine::abort(stream_state& s) {
    completion_list out;
    lock_type lock(mutex_);
    complete_all(s, asio::error::operation_aborted, out);
    if (s.conn) {
        endpoint_.abort(s.conn, now());
        detach(s);
        schedule_pump();
    }
}

bool engine::is_open(const stream_state& s) const noexcept {
    lock_type lock(mutex_);
    return static_cast<bool>(s.conn);
}

std::size_t engine::available(const stream_state& s, error_code& ec) const {
    lock_type lock(mutex_);
    const proto::connection* c = s.conn ? endpoint_.get(s.conn) : nullptr;
    if (!c) {
        ec = asio::error::not_connected;
        return 0;
    }
    ec = {};
    return c->readable();
}

udp::endpoint engine::local_endpoint(stream_state& s, error_code& ec) {
    lock_type lock(mutex_);
    if (s.local) {
        ec = {};
        return *s.local;
    }
    const udp::endpoint bound = port_.local_endpoint(ec);
    if (ec || !s.conn || !bound.address().is_unspecified()) return bound;
    // Bound to the wildcard: report the address the connection's datagrams leave from,
    // as getsockname() on a connected TCP socket does.
    const auto addr = port_.source_address_for(s.remote, ec);
    if (ec) return {};
    s.local.emplace(addr, bound.port());
    return *s.local;
}

udp::endpoint engine::remote_endpoint(const stream_state& s, error_code& ec) const {
    lock_type lock(mutex_);
    if (!s.conn) {
        ec = asio::error::not_connected;
        return {};
    }
    ec = {};
    return s.remote;
}

proto::settings engine::settings(const stream_state& s) const {
    lock_type lock(mutex_);
    const proto::connection* c = s.conn ? endpoint_.get(s.conn) : nullptr;
    proto::settings r = c ? c->settings() : options_.protocol.connection;
    s.options.apply_to(r); // options set but not applied yet read back as set
    return r;
}

std::optional<proto::setting_violation> engine::set_options(stream_state& s,
                                                            const stream_options& o) {
    proto::settings would = settings(s);
    o.apply_to(would);
    if (auto bad = proto::check(would)) return bad;
    lock_type lock(mutex_);
    s.options.merge(o);
    apply_options(s);
    return std::nullopt;
}

proto::connection_stats engine::stats(const stream_state& s) const {
    lock_type lock(mutex_);
    const proto::connection* c = s.conn ? endpoint_.get(s.conn) : nullptr;
    return c ? c->stats() : proto::connection_stats{};
}

// ---------------------------------------------------------------------------------------
// the socket's API

std::shared_ptr<stream_state> make_stream(const asio::any_io_executor& ex,
                                          std::shared_ptr<engine> mux) {
    return std::make_shared<stream_state>(ex, std::move(mux));
}

void async_connect(const std::shared_ptr<stream_state>& s, const udp::endpoint& peer,
                   ec_handler h) {
    if (!s->mux) {
        // No multiplexer given: a private one on an ephemeral port of the peer's family.
        error_code ec;
        std::string what;
        auto e = engine::create(s->io, any_address_like(peer), {}, ec, what);
        if (ec) {
            completion_list out;
            return out.post(std::move(h), s->io, ec);
        }
        s->mux = std::move(e);
    }
    s->mux->connect(s, peer, std::move(h));
}

void async_read_some(const std::shared_ptr<stream_state>& s, const mutable_buffers& b,
                     rw_handler h) {
    if (!s->mux) {
        completion_list out;
        return out.post(std::move(h), s->io, asio::error::not_connected, 0);
    }
    s->mux->read_some(s, b, std::move(h));
}

void async_write_some(const std::shared_ptr<stream_state>& s, const const_buffers& b,
                      rw_handler h) {
    if (!s->mux) {
        completion_list out;
        return out.post(std::move(h), s->io, asio::error::not_connected, 0);
    }
    s->mux->write_some(s, b, std::move(h));
}

void async_wait(const std::shared_ptr<stream_state>& s, asio::socket_base::wait_type w,
                ec_handler h) {
    if (!s->mux) {
        completion_list out;
        return out.post(std::move(h), s->io, asio::error::bad_descriptor);
    }
    s->mux->wait(s, w, std::move(h));
}

void shutdown(stream_state& s, asio::socket_base::shutdown_type what, error_code& ec) {
    if (!s.mux) {
        ec = asio::error::not_connected;
        return;
    }
    // µTP cannot tell the peer to stop sending: shutdown_receive changes nothing on the wire.
    if (what == asio::socket_base::shutdown_receive) {
        ec = s.mux->is_open(s) ? error_code{} : error_code(asio::error::not_connected);
        return;
    }
    s.mux->shutdown_send(s, ec);
}

void cancel(stream_state& s) {
    if (s.mux) s.mux->cancel(s);
}

void close(stream_state& s) {
    if (s.mux) s.mux->close(s);
}

void abort(stream_state& s) {
    if (s.mux) s.mux->abort(s);
}

bool is_open(const stream_state& s) noexcept {
    return s.mux && s.mux->is_open(s);
}

std::size_t available(const stream_state& s, error_code& ec) {
    if (!s.mux) {
        ec = asio::error::not_connected;
        return 0;
    }
    return s.mux->available(s, ec);
}

udp::endpoint local_endpoint(const stream_state& s, error_code& ec) {
    if (!s.mux) {
        ec = asio::error::bad_descriptor;
        return {};
    }
    // The cached address is the engine's to fill (under its lock).
    return s.mux->local_endpoint(const_cast<stream_state&>(s), ec);
}

udp::endpoint remote_endpoint(const stream_state& s, error_code& ec) {
    if (!s.mux) {
        ec = asio::error::not_connected;
        return {};
    }
    return s.mux->remote_endpoint(s, ec);
}

std::optional<proto::setting_violation> set_options(stream_state& s, const stream_options& o) {
    if (s.mux) return s.mux->set_options(s, o);
    // No engine yet: check against the defaults; the connection takes them when it exists.
    proto::settings would;
    o.apply_to(would);
    if (auto bad = proto::check(would)) return bad;
    s.options.merge(o);
    return std::nullopt;
}

proto::settings settings(const stream_state& s) {
    if (s.mux) return s.mux->settings(s);
    proto::settings r;
    s.options.apply_to(r);
    return r;
}

proto::connection_stats stats(const stream_state& s) {
    return s.mux ? s.mux->stats(s) : proto::connection_stats{};
}

std::shared_ptr<engine> engine_of(const stream_state& s) {
    return s.mux;
}

} // namespace utp::detail
