// Raw datagrams: what is not µTP on the port goes to async_receive_from; async_send_to sends
// through the same port (a DHT beside the connections).

#include "addresses.hpp"
#include "engine.hpp"

#include <utp/error.hpp>

#include <algorithm>

namespace utp::detail {
namespace {

// Non-µTP datagrams kept for a later async_receive_from; beyond this they are dropped.
constexpr std::size_t max_raw_queue = 64;

/// The cancellation handler of a raw receive or send (see stream_canceller).
struct raw_canceller {
    std::weak_ptr<engine> mux;
    std::uint64_t id;
    raw_canceller(std::weak_ptr<engine> m, std::uint64_t i) noexcept : mux(std::move(m)), id(i) {}
    void operator()(asio::cancellation_type_t t) const {
        if (!cancels(t)) return;
        if (auto m = mux.lock()) m->cancel_raw(id, t);
    }
};

} // namespace

std::uint64_t engine::bind_raw_canceller(const rw_handler& h) {
    const std::uint64_t id = next_op_id();
    bind_canceller<rw_handler, raw_canceller>(h, weak_from_this(), id);
    return id;
}

void engine::receive_from(asio::mutable_buffer b, udp::endpoint& sender, rw_handler h) {
    const std::uint64_t id = bind_raw_canceller(h);
    completion_list out;
    lock_type lock(mutex_);
    if (dead_ || !port_.is_open())
        return out.post(std::move(h), executor_, asio::error::bad_descriptor, 0);
    if (!raw_queue_.empty()) {
        raw_datagram d = std::move(raw_queue_.front());
        raw_queue_.pop_front();
        sender = d.from;
        ++stats_.raw_received;
        const std::size_t n = asio::buffer_copy(b, asio::buffer(d.data));
        return out.post(std::move(h), executor_, error_code{}, n);
    }
    raw_receive& r = raw_receives_.emplace_back();
    r.buffer = b;
    r.sender = &sender;
    r.assign(std::move(h), executor_, id);
    op_started();
    schedule_pump();
}

void engine::send_to(asio::const_buffer b, const udp::endpoint& to, rw_handler h) {
    const std::uint64_t id = bind_raw_canceller(h);
    completion_list out;
    lock_type lock(mutex_);
    if (dead_ || !port_.is_open())
        return out.post(std::move(h), executor_, asio::error::bad_descriptor, 0);
    if (to.address().is_v6() && port_.family() == AF_INET)
        return out.post(std::move(h), executor_, error::address_family_mismatch, 0);
    const auto* p = static_cast<const std::uint8_t*>(b.data());
    raw_send& r = raw_sends_.emplace_back();
    r.data.assign(p, p + b.size());
    r.to = to;
    r.assign(std::move(h), executor_, id);
    op_started();
    schedule_pump();
}

void engine::deliver_raw(const proto::peer_address& from, std::span<const std::uint8_t> d,
                         completion_list& out) {
    if (!raw_receives_.empty()) {
        raw_receive& op = raw_receives_.front();
        // Larger than the caller's buffer: truncated to it, as a UDP receive would be.
        const std::size_t n = asio::buffer_copy(op.buffer, asio::buffer(d.data(), d.size()));
        *op.sender = to_udp(from);
        ++stats_.raw_received;
        out.post(op, executor_, error_code{}, n);
        raw_receives_.pop_front();
        op_ended();
    } else if (raw_queue_.size() < max_raw_queue) {
        raw_queue_.push_back(raw_datagram{to_udp(from), {d.begin(), d.end()}});
    } else {
        ++stats_.raw_dropped;
    }
}

void engine::send_raw(completion_list& out) {
    while (!raw_sends_.empty()) {
        raw_send& s = raw_sends_.front();
        error_code ec;
        const std::size_t n = port_.send_to(asio::buffer(s.data), s.to, ec);
        if (ec == asio::error::would_block) {
            waiting_writable_ = true;
            port_.socket().async_wait(
                udp::socket::wait_write,
                [self = shared_from_this()](const error_code& e) { self->on_writable(e); });
            return;
        }
        if (!ec) ++stats_.raw_sent;
        out.post(s, executor_, ec, n);
        raw_sends_.pop_front();
        op_ended();
    }
}

void engine::abort_raw(const error_code& ec, completion_list& out) {
    for (auto& r : raw_receives_) {
        out.post(r, executor_, ec, 0);
        op_ended();
    }
    raw_receives_.clear();
    for (auto& r : raw_sends_) {
        out.post(r, executor_, ec, 0);
        op_ended();
    }
    raw_sends_.clear();
}

void engine::cancel_raw() {
    completion_list out;
    lock_type lock(mutex_);
    abort_raw(asio::error::operation_aborted, out);
}

void engine::cancel_raw(std::uint64_t id, asio::cancellation_type_t) {
    completion_list out;
    lock_type lock(mutex_);
    auto match = [id](const auto& op) { return op.id == id; };
    if (auto it = std::find_if(raw_receives_.begin(), raw_receives_.end(), match);
        it != raw_receives_.end()) {
        out.post(*it, executor_, asio::error::operation_aborted, 0);
        raw_receives_.erase(it);
        op_ended();
    } else if (auto jt = std::find_if(raw_sends_.begin(), raw_sends_.end(), match);
               jt != raw_sends_.end()) {
        // Still queued, so not sent: nothing of it left the port.
        out.post(*jt, executor_, asio::error::operation_aborted, 0);
        raw_sends_.erase(jt);
        op_ended();
    }
}

// ---------------------------------------------------------------------------------------
// the multiplexer's API

void cancel(engine& e) {
    e.cancel_raw();
}

void async_receive_from(engine& e, asio::mutable_buffer b, udp::endpoint& sender, rw_handler h) {
    e.receive_from(b, sender, std::move(h));
}

void async_send_to(engine& e, asio::const_buffer b, const udp::endpoint& to, rw_handler h) {
    e.send_to(b, to, std::move(h));
}

} // namespace utp::detail
