// The operations of acceptors: listen, accept (into a socket of any executor), cancel, close.

#include "addresses.hpp"
#include "engine.hpp"

#include <algorithm>
#include <utility>

namespace utp::detail {
namespace {

/// The cancellation handler of a pending accept (see stream_canceller).
struct accept_canceller {
    std::weak_ptr<acceptor_state> state;
    std::uint64_t id;
    accept_canceller(std::weak_ptr<acceptor_state> s, std::uint64_t i) noexcept
        : state(std::move(s)), id(i) {}
    void operator()(asio::cancellation_type_t t) const {
        if (!cancels(t)) return;
        if (auto a = state.lock()) a->mux->cancel_accept(*a, id, t);
    }
};

} // namespace

void engine::listen(acceptor_state& a, std::size_t backlog, error_code& ec) {
    lock_type lock(mutex_);
    if (dead_ || !port_.is_open()) {
        ec = asio::error::bad_descriptor;
        return;
    }
    if (acceptor_ && acceptor_ != &a) {
        ec = asio::error::address_in_use;
        return;
    }
    if (backlog < 1) {
        ec = asio::error::invalid_argument;
        return;
    }
    acceptor_ = &a;
    a.open = true;
    endpoint_.set_accept_backlog(backlog);
    endpoint_.listen(true);
    ec = {};
}

void engine::accept(const std::shared_ptr<acceptor_state>& ap,
                    const std::shared_ptr<stream_state>& target, udp::endpoint* peer_endpoint,
                    ec_handler h) {
    acceptor_state& a = *ap;
    const std::uint64_t id = next_op_id();
    bind_canceller<ec_handler, accept_canceller>(h, ap, id);
    // Asked before taking this engine's lock: the target may belong to another engine, and
    // two engines' locks are never held together.
    const bool target_open = target->mux && target->mux->is_open(*target);
    completion_list out;
    lock_type lock(mutex_);
    if (!a.open || acceptor_ != &a || dead_ || !port_.is_open())
        return out.post(std::move(h), a.io, asio::error::bad_descriptor);
    if (target_open) return out.post(std::move(h), a.io, asio::error::already_open);
    pending_accept& op = a.accepts.emplace_back();
    op.target = target;
    op.peer_endpoint = peer_endpoint;
    op.assign(std::move(h), a.io, id);
    op_started();
    watch_context(a.context);
    schedule_pump();
}

void engine::service_acceptor(completion_list& out) {
    if (!acceptor_) return;
    while (!acceptor_->accepts.empty()) {
        const auto h = endpoint_.accept();
        if (!h) return;
        pending_accept& op = acceptor_->accepts.front();
        stream_state& t = *op.target;
        // The socket may be on another executor, even another io_context: it now goes
        // through this engine. Published to its thread by the handler's post.
        out.release(std::exchange(t.mux, shared_from_this()));
        attach(t, *h);
        t.send_shut = false;
        t.remote = to_udp(endpoint_.remote(*h));
        if (op.peer_endpoint) *op.peer_endpoint = t.remote;
        watch_context(t.context);
        out.post(op, acceptor_->io, error_code{});
        out.release(std::move(op.target));
        acceptor_->accepts.pop_front();
        op_ended();
    }
}

void engine::abort_accepts(acceptor_state& a, const error_code& ec, completion_list& out) {
    for (auto& op : a.accepts) {
        out.post(op, a.io, ec);
        out.release(std::move(op.target));
        op_ended();
    }
    a.accepts.clear();
}

void engine::cancel(acceptor_state& a) {
    completion_list out;
    lock_type lock(mutex_);
    abort_accepts(a, asio::error::operation_aborted, out);
}

void engine::cancel_accept(acceptor_state& a, std::uint64_t id, asio::cancellation_type_t) {
    completion_list out;
    lock_type lock(mutex_);
    auto it = std::find_if(a.accepts.begin(), a.accepts.end(),
                           [id](const pending_accept& op) { return op.id == id; });
    if (it == a.accepts.end()) return;
    out.post(*it, a.io, asio::error::operation_aborted);
    out.release(std::move(it->target));
    a.accepts.erase(it);
    op_ended();
}

void engine::close(acceptor_state& a) {
    completion_list out;
    lock_type lock(mutex_);
    abort_accepts(a, asio::error::operation_aborted, out);
    a.open = false;
    if (acceptor_ != &a) return;
    acceptor_ = nullptr;
    endpoint_.listen(false);
    // Connections nobody will accept now: refuse them.
    const proto::instant t = now();
    while (auto h = endpoint_.accept())
        endpoint_.abort(*h, t);
    schedule_pump();
}

bool engine::is_open(const acceptor_state& a) const noexcept {
    lock_type lock(mutex_);
    return a.open;
}

// ---------------------------------------------------------------------------------------
// the acceptor's API

std::shared_ptr<acceptor_state> make_acceptor(const asio::any_io_executor& ex,
                                              std::shared_ptr<engine> mux, std::size_t backlog,
                                              error_code& ec) {
    auto a = std::make_shared<acceptor_state>(ex, std::move(mux));
    a->mux->listen(*a, backlog, ec);
    if (ec) return nullptr;
    return a;
}

void async_accept(const std::shared_ptr<acceptor_state>& a,
                  const std::shared_ptr<stream_state>& target, udp::endpoint* peer_endpoint,
                  ec_handler h) {
    a->mux->accept(a, target, peer_endpoint, std::move(h));
}

void cancel(acceptor_state& a) {
    a.mux->cancel(a);
}

void close(acceptor_state& a) {
    a.mux->close(a);
}

bool is_open(const acceptor_state& a) noexcept {
    return a.mux->is_open(a);
}

} // namespace utp::detail
