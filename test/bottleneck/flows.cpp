#include "flows.hpp"

#include <utp.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <list>
#include <optional>
#include <system_error>

#if defined(__GNUC__) && !defined(__clang__)
// GCC 12 takes the allocation and deallocation of an awaitable's frame for a mismatched
// pair (GCC PR 109224), as test/asio/common.hpp says.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace utp_bottleneck {

using asio::use_awaitable;

namespace {

/// What a sender writes: its content does not matter, only how much of it arrives.
const std::vector<std::uint8_t>& chunk() {
    static const std::vector<std::uint8_t> c(64 * 1024, 0x5a);
    return c;
}

/// A completion for co_spawn: an exception is an error unless the scenario is ending or
/// `quiet` says the end was planned.
auto log_failure(error_log& log, const std::atomic<bool>& ending, std::string what,
                 const std::atomic<bool>* quiet = nullptr) {
    return [&log, &ending, what = std::move(what), quiet](std::exception_ptr e) {
        if (!e || ending || (quiet && *quiet)) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            log.add(what + ": " + x.what());
        }
    };
}

/// Joins the worker, then destroys the objects it ran. If it had to be stopped with
/// handlers pending, they still refer to those objects, and destroying either first is
/// undefined: the objects are leaked instead, and the failure logged.
template <class State>
void end_worker(ns_worker& w, std::unique_ptr<State>& st, error_log& log, const char* who) {
    if (w.finish()) {
        st.reset();
        return;
    }
    log.add(std::string(who) + ": operations still pending 5 s after closing everything");
    (void)st.release();
}

} // namespace

void set_tcp_congestion(int fd, const std::string& name) {
    if (::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name.c_str(),
                     static_cast<socklen_t>(name.size())) != 0)
        throw std::system_error(errno, std::generic_category(), "TCP_CONGESTION " + name);
}

bool tcp_congestion_available(const std::string& name) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const bool ok = ::setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, name.c_str(),
                                 static_cast<socklen_t>(name.size())) == 0;
    ::close(fd);
    return ok;
}

// ---------------------------------------------------------------------------------------
// receiver

struct receiver::state {
    std::optional<utp::multiplexer> mux;
    std::optional<utp::acceptor> utp_acceptor;
    std::optional<tcp::acceptor> tcp_acceptor;
    std::list<std::shared_ptr<tcp::socket>> tcp_sockets;
};

receiver::receiver(const std::string& ns, const std::string& address, std::uint16_t utp_port,
                   std::uint16_t tcp_port, error_log& log, const std::atomic<bool>& ending)
    : log_(log), ending_(ending), worker_(ns, log), st_(std::make_unique<state>()) {
    const auto a = asio::ip::make_address_v4(address);
    try {
        worker_.call([&] {
            auto& ioc = worker_.context();
            st_->mux.emplace(ioc, udp::endpoint(a, utp_port));
            st_->utp_acceptor.emplace(*st_->mux);
            st_->tcp_acceptor.emplace(ioc, tcp::endpoint(a, tcp_port));
            // Accepted sockets inherit it; only the data's direction matters, set anyway.
            set_tcp_congestion(st_->tcp_acceptor->native_handle(), "cubic");
            asio::co_spawn(ioc, accept_utp(), log_failure(log_, ending_, "µTP accept"));
            asio::co_spawn(ioc, accept_tcp(), log_failure(log_, ending_, "TCP accept"));
        });
    } catch (...) {
        stop(); // no destructor runs: close and join here, before the members go
        throw;
    }
}

receiver::~receiver() {
    stop();
}

void receiver::stop() {
    if (!st_) return;
    try {
        worker_.call([this] {
            if (st_->mux) st_->mux->close(); // every µTP operation ends with operation_aborted
            boost::system::error_code ignored;
            if (st_->tcp_acceptor) st_->tcp_acceptor->close(ignored);
            for (auto& s : st_->tcp_sockets)
                s->close(ignored);
        });
    } catch (const std::exception& e) {
        log_.add(std::string("receiver stop: ") + e.what());
    }
    end_worker(worker_, st_, log_, "receiver");
}

asio::awaitable<void> receiver::accept_utp() {
    for (;;) {
        utp::socket s = co_await st_->utp_acceptor->async_accept(use_awaitable);
        auto read = [](utp::socket s, receiver* self) -> asio::awaitable<void> {
            std::uint8_t flow = 0;
            co_await asio::async_read(s, asio::buffer(&flow, 1), use_awaitable);
            if (flow >= max_utp_flows) throw std::runtime_error("bad flow id");
            std::vector<std::uint8_t> buf(64 * 1024);
            for (;;)
                self->utp_[flow] += co_await s.async_read_some(asio::buffer(buf), use_awaitable);
        };
        asio::co_spawn(worker_.context(), read(std::move(s), this),
                       log_failure(log_, ending_, "µTP receive"));
    }
}

asio::awaitable<void> receiver::accept_tcp() {
    for (;;) {
        auto s = std::make_shared<tcp::socket>(worker_.context());
        co_await st_->tcp_acceptor->async_accept(*s, use_awaitable);
        st_->tcp_sockets.push_back(s);
        auto read = [](std::shared_ptr<tcp::socket> s, receiver* self) -> asio::awaitable<void> {
            std::vector<std::uint8_t> buf(256 * 1024);
            for (;;) {
                auto [ec, n] =
                    co_await s->async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
                self->tcp_ += n;
                // The sender's planned stop is an abort (RST), or an end of stream.
                if (ec == asio::error::connection_reset || ec == asio::error::eof) co_return;
                if (ec) throw boost::system::system_error(ec);
            }
        };
        asio::co_spawn(worker_.context(), read(s, this), log_failure(log_, ending_, "TCP receive"));
    }
}

// ---------------------------------------------------------------------------------------
// sender

struct sender::state {
    std::optional<utp::multiplexer> mux;
    std::array<utp::socket*, max_utp_flows> utp{}; ///< while connected
    std::optional<tcp::socket> tcp_flow;
};

sender::sender(const std::string& ns, const std::string& address, error_log& log,
               const std::atomic<bool>& ending)
    : log_(log), ending_(ending), worker_(ns, log), st_(std::make_unique<state>()) {
    const auto a = asio::ip::make_address_v4(address);
    try {
        worker_.call([&] { st_->mux.emplace(worker_.context(), udp::endpoint(a, 0)); });
    } catch (...) {
        stop(); // no destructor runs: close and join here, before the members go
        throw;
    }
}

sender::~sender() {
    stop();
}

void sender::stop() {
    if (!st_) return;
    try {
        worker_.call([this] {
            if (st_->mux) st_->mux->close();
            if (st_->tcp_flow) {
                boost::system::error_code ignored;
                st_->tcp_flow->close(ignored);
            }
        });
    } catch (const std::exception& e) {
        log_.add(std::string("sender stop: ") + e.what());
    }
    end_worker(worker_, st_, log_, "sender");
}

void sender::start_utp(std::size_t flow, utp::proto::congestion_algorithm cc,
                       const udp::endpoint& peer, utp::proto::trace_options trace) {
    asio::post(worker_.context(), [this, flow, cc, peer, trace = std::move(trace)] {
        asio::co_spawn(worker_.context(), send_utp(flow, cc, peer, trace),
                       log_failure(log_, ending_, "µTP flow " + std::to_string(flow + 1)));
    });
}

asio::awaitable<void> sender::send_utp(std::size_t flow, utp::proto::congestion_algorithm cc,
                                       udp::endpoint peer, utp::proto::trace_options trace) {
    utp::socket s(*st_->mux);
    s.set_option(utp::congestion_control(cc));
    if (trace.sink) s.set_option(utp::trace(std::move(trace.sink), trace.interval));
    co_await s.async_connect(peer, use_awaitable);
    st_->utp[flow] = &s;
    struct forget {
        utp::socket*& slot;
        ~forget() { slot = nullptr; }
    } forget_on_exit{st_->utp[flow]};
    const auto id = static_cast<std::uint8_t>(flow);
    co_await asio::async_write(s, asio::buffer(&id, 1), use_awaitable);
    for (;;)
        co_await s.async_write_some(asio::buffer(chunk()), use_awaitable);
}

void sender::start_tcp(const tcp::endpoint& peer, const std::string& congestion) {
    asio::post(worker_.context(), [this, peer, congestion] {
        asio::co_spawn(worker_.context(), send_tcp(peer, congestion),
                       log_failure(log_, ending_, "TCP flow", &tcp_stopped_));
    });
}

asio::awaitable<void> sender::send_tcp(tcp::endpoint peer, std::string congestion) {
    auto& s = st_->tcp_flow.emplace(worker_.context());
    s.open(tcp::v4()); // here, on the worker: the socket belongs to the sender's namespace
    set_tcp_congestion(s.native_handle(), congestion);
    co_await s.async_connect(peer, use_awaitable);
    for (;;)
        co_await s.async_write_some(asio::buffer(chunk()), use_awaitable);
}

void sender::stop_tcp() {
    tcp_stopped_ = true;
    asio::post(worker_.context(), [this] {
        if (!st_->tcp_flow) return;
        boost::system::error_code ignored;
        st_->tcp_flow->set_option(asio::socket_base::linger(true, 0), ignored);
        st_->tcp_flow->close(ignored);
    });
}

std::vector<utp::proto::connection_stats> sender::utp_stats() {
    std::vector<utp::proto::connection_stats> r(max_utp_flows);
    worker_.call([&] {
        for (std::size_t i = 0; i < max_utp_flows; ++i)
            if (st_->utp[i]) r[i] = st_->utp[i]->stats();
    });
    return r;
}

} // namespace utp_bottleneck
