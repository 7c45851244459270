#include <utp/detail/multiplexer_impl.hpp>

#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <random>

namespace utp::detail {
namespace {

// Non-µTP datagrams kept for a later async_receive_from; beyond this they are dropped.
constexpr std::size_t max_raw_queue = 64;
// Receive batches handled before the engine yields to other work on its executor.
constexpr int max_receive_rounds = 8;

proto::peer_address to_peer(const sockaddr_storage& ss) noexcept {
    proto::peer_address p;
    if (ss.ss_family == AF_INET) {
        const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
        std::memcpy(p.bytes.data(), &a.sin_addr, 4);
        p.port = ntohs(a.sin_port);
        p.family = 4;
    } else {
        const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
        const auto* b = reinterpret_cast<const std::uint8_t*>(&a.sin6_addr);
        static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (std::memcmp(b, mapped, 12) == 0) {
            // A v4 peer on a dual-stack socket: key it as v4, as a v4 socket would.
            std::memcpy(p.bytes.data(), b + 12, 4);
            p.family = 4;
        } else {
            std::memcpy(p.bytes.data(), b, 16);
            p.family = 6;
        }
        p.port = ntohs(a.sin6_port);
    }
    return p;
}

proto::peer_address to_peer(const udp::endpoint& e) noexcept {
    sockaddr_storage ss{};
    std::memcpy(&ss, e.data(), std::min<std::size_t>(e.size(), sizeof ss));
    return to_peer(ss);
}

/// `p` as a sockaddr for a socket of family `family` (v4 peers map into v6 sockets).
socklen_t to_sockaddr(const proto::peer_address& p, int family, sockaddr_storage& ss) noexcept {
    std::memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        auto& a = reinterpret_cast<sockaddr_in&>(ss);
        a.sin_family = AF_INET;
        std::memcpy(&a.sin_addr, p.bytes.data(), 4);
        a.sin_port = htons(p.port);
        return sizeof(sockaddr_in);
    }
    auto& a = reinterpret_cast<sockaddr_in6&>(ss);
    a.sin6_family = AF_INET6;
    auto* b = reinterpret_cast<std::uint8_t*>(&a.sin6_addr);
    if (p.family == 4) {
        b[10] = b[11] = 0xff;
        std::memcpy(b + 12, p.bytes.data(), 4);
    } else {
        std::memcpy(b, p.bytes.data(), 16);
    }
    a.sin6_port = htons(p.port);
    return sizeof(sockaddr_in6);
}

udp::endpoint to_udp(const proto::peer_address& p) {
    if (p.family == 4) {
        asio::ip::address_v4::bytes_type b;
        std::memcpy(b.data(), p.bytes.data(), 4);
        return {asio::ip::address_v4(b), p.port};
    }
    asio::ip::address_v6::bytes_type b;
    std::memcpy(b.data(), p.bytes.data(), 16);
    return {asio::ip::address_v6(b), p.port};
}

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

/// Keep the handler's executor from running out of work while the operation is pending.
template <class Handler>
asio::any_completion_executor track_work(const Handler& h, const asio::any_io_executor& fallback) {
    return asio::prefer(asio::get_associated_executor(h, fallback),
                        asio::execution::outstanding_work.tracked);
}

/// Complete `h` with `args` on its associated executor, never inside the caller.
/// From inside a cancellation handler the slot is left alone: clearing it would destroy
/// the handler that is running.
template <class Handler, class... Args>
void post_completion(bool clear_slot, Handler h, const asio::any_io_executor& fallback,
                     Args... args) {
    if (clear_slot) {
        auto slot = asio::get_associated_cancellation_slot(h);
        if (slot.is_connected()) slot.clear();
    }
    // Posted through the I/O executor (which can promise never to run it inline); it then
    // runs on the handler's own executor, if it has one.
    asio::post(fallback, asio::append(std::move(h), std::move(args)...));
}

template <class Handler, class... Args>
void post_completion(Handler h, const asio::any_io_executor& fallback, Args... args) {
    post_completion(true, std::move(h), fallback, std::move(args)...);
}

bool is_would_block(int e) noexcept {
    return e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS;
}

} // namespace

void post_result(rw_handler h, const asio::any_io_executor& io, error_code ec, std::size_t n) {
    post_completion(std::move(h), io, ec, n);
}

void post_result(ec_handler h, const asio::any_io_executor& io, error_code ec) {
    post_completion(std::move(h), io, ec);
}

// ---------------------------------------------------------------------------------------
// the batched-I/O scratch: message headers for recvmmsg/sendmmsg, allocated once

struct multiplexer_impl_io {
    std::array<mmsghdr, 32> rx_msgs{};
    std::array<iovec, 32> rx_iov{};
    std::array<sockaddr_storage, 32> rx_from{};
    std::array<mmsghdr, 32> tx_msgs{};
    std::array<iovec, 32> tx_iov{};
    std::array<sockaddr_storage, 32> tx_to{};
};

// ---------------------------------------------------------------------------------------
// shutdown: an execution-context service that tells every engine on the context

namespace {

class engine_registry final : public asio::execution_context::service {
public:
    using key_type = engine_registry;
    static inline asio::execution_context::id id;

    explicit engine_registry(asio::execution_context& ctx) : service(ctx) {}

    void add(multiplexer_impl* m) {
        std::lock_guard lock(mutex_);
        engines_.push_back(m);
    }
    void remove(multiplexer_impl* m) {
        std::lock_guard lock(mutex_);
        std::erase(engines_, m);
    }

private:
    void shutdown() override {
        std::vector<multiplexer_impl*> engines;
        {
            std::lock_guard lock(mutex_);
            engines = engines_;
        }
        // An engine may be destroyed while another one drops its handlers (a coroutine
        // frame held the last reference): only call the ones still registered.
        for (multiplexer_impl* m : engines) {
            bool alive;
            {
                std::lock_guard lock(mutex_);
                alive = std::find(engines_.begin(), engines_.end(), m) != engines_.end();
            }
            if (alive) m->shutdown();
        }
    }

    std::mutex mutex_;
    std::vector<multiplexer_impl*> engines_;
};

engine_registry& registry_of(const asio::any_io_executor& ex) {
    return asio::use_service<engine_registry>(asio::query(ex, asio::execution::context));
}

} // namespace

void multiplexer_impl::shutdown() {
    if (shut_down_) return;
    shut_down_ = true;
    // Move every handler out first: destroying one may destroy a socket (and its state),
    // which must find nothing left to do.
    std::vector<rw_handler> rw;
    std::vector<ec_handler> ec;
    std::vector<asio::any_completion_executor> work;
    for (auto& [index, s] : streams_) {
        (void)index;
        if (s->read.pending()) rw.push_back(std::move(s->read.handler));
        if (s->write.pending()) rw.push_back(std::move(s->write.handler));
        if (s->connect) ec.push_back(std::move(s->connect));
        work.push_back(std::move(s->read.work));
        work.push_back(std::move(s->write.work));
        work.push_back(std::move(s->connect_work));
    }
    if (acceptor_) {
        for (auto& op : acceptor_->accepts) {
            ec.push_back(std::move(op.handler));
            work.push_back(std::move(op.work));
        }
        acceptor_->accepts.clear();
    }
    for (auto& r : raw_receives_) {
        rw.push_back(std::move(r.handler));
        work.push_back(std::move(r.work));
    }
    raw_receives_.clear();
    for (auto& r : raw_sends_) {
        rw.push_back(std::move(r.handler));
        work.push_back(std::move(r.work));
    }
    raw_sends_.clear();
    pending_ops_ = 0;
    auto keep_alive = shared_from_this(); // the handlers may hold the last other references
    rw.clear();
    ec.clear();
    work.clear();
}

stream_state::~stream_state() {
    if (mux) mux->close(*this);
}

acceptor_state::~acceptor_state() {
    if (mux) mux->close(*this);
}

// ---------------------------------------------------------------------------------------
// life

std::shared_ptr<multiplexer_impl> multiplexer_impl::create(const asio::any_io_executor& ex,
                                                           const udp::endpoint& local,
                                                           const multiplexer_options& opt,
                                                           error_code& ec) {
    auto m = std::make_shared<multiplexer_impl>(private_tag{}, ex, opt);
    registry_of(ex).add(m.get());
    m->socket_.open(local.protocol(), ec);
    if (ec) return nullptr;
    if (local.address().is_v6() && local.address().is_unspecified()) {
        error_code ignored; // dual stack where the system allows it
        m->socket_.set_option(asio::ip::v6_only(false), ignored);
    }
    m->socket_.bind(local, ec);
    if (ec) return nullptr;
    m->family_ = local.protocol().family();
    m->socket_.native_non_blocking(true, ec);
    if (ec) return nullptr;
    const int fd = m->socket_.native_handle();
    auto grow = [fd](int opt, int force_opt, std::size_t want) -> std::size_t {
        if (want > 0) {
            int v = static_cast<int>(std::min<std::size_t>(want, INT32_MAX / 2));
            ::setsockopt(fd, SOL_SOCKET, opt, &v, sizeof v);
            int got = 0;
            socklen_t len = sizeof got;
            ::getsockopt(fd, SOL_SOCKET, opt, &got, &len);
            // The kernel doubles the value it reports; below what we asked, the sysctl cap
            // (net.core.rmem_max) bit. A privileged process may exceed it.
            if (static_cast<std::size_t>(got) < want)
                ::setsockopt(fd, SOL_SOCKET, force_opt, &v, sizeof v);
        }
        int got = 0;
        socklen_t len = sizeof got;
        ::getsockopt(fd, SOL_SOCKET, opt, &got, &len);
        return static_cast<std::size_t>(got);
    };
    // Ask for ICMP errors (an unconnected UDP socket gets none otherwise): a dial to a
    // port nobody listens on is then refused at once.
    const int on = 1;
    if (local.address().is_v6())
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_RECVERR, &on, sizeof on);
    else
        ::setsockopt(fd, IPPROTO_IP, IP_RECVERR, &on, sizeof on);
    m->stats_.udp_receive_buffer = grow(SO_RCVBUF, SO_RCVBUFFORCE, opt.udp_receive_buffer);
    m->stats_.udp_send_buffer = grow(SO_SNDBUF, SO_SNDBUFFORCE, opt.udp_send_buffer);
    return m;
}

multiplexer_impl::multiplexer_impl(private_tag, const asio::any_io_executor& ex,
                                   const multiplexer_options& opt)
    : executor_(ex), socket_(ex), timer_(ex), options_(opt),
      endpoint_(opt.protocol,
                std::random_device{}() ^ (std::uint64_t{std::random_device{}()} << 32)),
      rx_buffers_(batch * slot_size), tx_buffers_(batch * slot_size),
      io_(std::make_unique<multiplexer_impl_io>()) {}

multiplexer_impl::~multiplexer_impl() {
    registry_of(executor_).remove(this);
}

proto::instant multiplexer_impl::now() const noexcept {
    return proto::instant{std::chrono::duration_cast<proto::duration>(
        std::chrono::steady_clock::now().time_since_epoch())};
}

udp::endpoint multiplexer_impl::local_endpoint(error_code& ec) const {
    return socket_.local_endpoint(ec);
}

multiplexer_stats multiplexer_impl::stats() const {
    multiplexer_stats s = stats_;
    s.protocol = endpoint_.stats();
    s.connections = endpoint_.connection_count();
    return s;
}

void multiplexer_impl::close() {
    error_code ignored;
    fail_everything(asio::error::operation_aborted);
    timer_.cancel();
    socket_.close(ignored);
}

bool multiplexer_impl::needed() const noexcept {
    // An open connection must answer its peer, so it keeps the engine (and its
    // io_context) running, as pending operations do; an idle port does not.
    return socket_.is_open() && (pending_ops_ > 0 || endpoint_.live_connection_count() > 0 ||
                                 !raw_sends_.empty() || tx_count_ > tx_sent_);
}

// ---------------------------------------------------------------------------------------
// the loop

void multiplexer_impl::schedule_pump() {
    if (pump_scheduled_ || in_pump_ || shut_down_) return;
    pump_scheduled_ = true;
    // Drain point: everything the application did in this turn goes out in one batch.
    asio::post(executor_, [self = shared_from_this()] {
        self->pump_scheduled_ = false;
        self->pump();
    });
}

void multiplexer_impl::pump() {
    if (in_pump_ || !socket_.is_open()) return;
    in_pump_ = true;
    for (int round = 0; round < 4; ++round) {
        bool any = false;
        while (auto h = endpoint_.poll_wakeup()) {
            any = true;
            if (auto it = streams_.find(h->index); it != streams_.end() && it->second->conn == *h)
                service(*it->second);
        }
        service_acceptors();
        if (!any) break;
    }
    flush();
    arm_timer();
    if (needed()) {
        if (!receiving_) start_receive();
    } else if (receiving_ && !waiting_writable_) {
        // Nothing needs us: let the io_context run out of work, as an idle Asio socket would.
        error_code ignored;
        socket_.cancel(ignored);
    }
    in_pump_ = false;
}

void multiplexer_impl::start_receive() {
    receiving_ = true;
    socket_.async_wait(udp::socket::wait_read, [self = shared_from_this()](const error_code& ec) {
        self->on_readable(ec);
    });
}

void multiplexer_impl::on_readable(const error_code& ec) {
    receiving_ = false;
    if (ec) {
        if (ec != asio::error::operation_aborted)
            fail_everything(ec);
        else if (needed())
            pump();
        return;
    }
    receive_batch();
    pump();
}

void multiplexer_impl::receive_batch() {
    auto& io = *io_;
    const int fd = socket_.native_handle();
    for (int round = 0; round < max_receive_rounds; ++round) {
        for (std::size_t i = 0; i < batch; ++i) {
            io.rx_iov[i] = iovec{rx_buffers_.data() + i * slot_size, slot_size};
            io.rx_msgs[i].msg_hdr = msghdr{};
            io.rx_msgs[i].msg_hdr.msg_name = &io.rx_from[i];
            io.rx_msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
            io.rx_msgs[i].msg_hdr.msg_iov = &io.rx_iov[i];
            io.rx_msgs[i].msg_hdr.msg_iovlen = 1;
        }
        const int r = ::recvmmsg(fd, io.rx_msgs.data(), batch, MSG_DONTWAIT, nullptr);
        ++stats_.receive_calls;
        if (r < 0) {
            if (errno == EINTR) continue;
            // An ICMP error queued for the socket: say which peer it was about.
            if (errno != EAGAIN && errno != EWOULDBLOCK && drain_errors()) continue;
            break;
        }
        const proto::instant t = now();
        for (int i = 0; i < r; ++i) {
            const std::size_t len = io.rx_msgs[i].msg_len;
            const auto from = to_peer(io.rx_from[i]);
            const std::span<const std::uint8_t> d(rx_buffers_.data() + i * slot_size, len);
            ++stats_.datagrams_received;
            if (endpoint_.handle_datagram(from, d, t) != proto::datagram_verdict::not_utp) continue;
            // Not µTP: the application's (a DHT on the same port, say).
            if (!raw_receives_.empty()) {
                raw_receive op = std::move(raw_receives_.front());
                raw_receives_.pop_front();
                --pending_ops_;
                const std::size_t n =
                    asio::buffer_copy(op.buffer, asio::buffer(d.data(), d.size()));
                *op.sender = to_udp(from);
                ++stats_.raw_received;
                post_completion(std::move(op.handler), executor_, error_code{}, n);
            } else if (raw_queue_.size() < max_raw_queue) {
                raw_queue_.push_back(raw_datagram{to_udp(from), {d.begin(), d.end()}});
            } else {
                ++stats_.raw_dropped;
            }
        }
        if (static_cast<std::size_t>(r) < batch) break;
    }
}

bool multiplexer_impl::drain_errors() {
    const int fd = socket_.native_handle();
    bool any = false;
    for (int i = 0; i < 64; ++i) {
        sockaddr_storage to{};
        char control[512];
        std::uint8_t scratch[64];
        iovec iov{scratch, sizeof scratch};
        msghdr m{};
        m.msg_name = &to;
        m.msg_namelen = sizeof to;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = control;
        m.msg_controllen = sizeof control;
        if (::recvmsg(fd, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) break;
        any = true;
        for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
            const bool v4 = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
            const bool v6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
            if (!v4 && !v6) continue;
            sock_extended_err e;
            std::memcpy(&e, CMSG_DATA(c), sizeof e);
            // msg_name is the destination of the datagram that drew the error.
            if (e.ee_origin == SO_EE_ORIGIN_ICMP || e.ee_origin == SO_EE_ORIGIN_ICMP6)
                if (e.ee_errno == ECONNREFUSED || e.ee_errno == EHOSTUNREACH ||
                    e.ee_errno == ENETUNREACH)
                    endpoint_.handle_unreachable(to_peer(to), now(), e.ee_errno == ECONNREFUSED);
        }
    }
    return any;
}

void multiplexer_impl::flush() {
    if (waiting_writable_ || !socket_.is_open()) return;
    auto& io = *io_;
    const int fd = socket_.native_handle();
    const int family = family_;
    // Raw datagrams first: they are few, and their handlers wait on them.
    while (!raw_sends_.empty()) {
        raw_send& s = raw_sends_.front();
        error_code ec;
        const std::size_t n = socket_.send_to(asio::buffer(s.data), s.to, 0, ec);
        if (ec == asio::error::would_block || ec == asio::error::no_buffer_space) break;
        if (!ec) ++stats_.raw_sent;
        --pending_ops_;
        post_completion(std::move(s.handler), executor_, ec, n);
        raw_sends_.pop_front();
    }
    const proto::instant t = now();
    for (;;) {
        while (tx_count_ < batch) {
            const std::span<std::uint8_t> out(tx_buffers_.data() + tx_count_ * slot_size,
                                              slot_size);
            const auto tr = endpoint_.poll_transmit(t, out);
            if (!tr) break;
            const socklen_t len = to_sockaddr(tr->to, family, io.tx_to[tx_count_]);
            io.tx_iov[tx_count_] = iovec{out.data(), tr->size};
            io.tx_msgs[tx_count_].msg_hdr = msghdr{};
            io.tx_msgs[tx_count_].msg_hdr.msg_name = &io.tx_to[tx_count_];
            io.tx_msgs[tx_count_].msg_hdr.msg_namelen = len;
            io.tx_msgs[tx_count_].msg_hdr.msg_iov = &io.tx_iov[tx_count_];
            io.tx_msgs[tx_count_].msg_hdr.msg_iovlen = 1;
            ++tx_count_;
        }
        if (tx_sent_ == tx_count_) {
            tx_sent_ = tx_count_ = 0;
            return;
        }
        const int r = ::sendmmsg(fd, io.tx_msgs.data() + tx_sent_,
                                 static_cast<unsigned>(tx_count_ - tx_sent_), 0);
        ++stats_.send_calls;
        if (r < 0) {
            if (errno == EINTR) continue;
            if (is_would_block(errno)) {
                // Not a loss: keep the datagrams and send them when the socket has room.
                ++stats_.send_would_block;
                waiting_writable_ = true;
                socket_.async_wait(
                    udp::socket::wait_write,
                    [self = shared_from_this()](const error_code& ec) { self->on_writable(ec); });
                return;
            }
            // This datagram cannot go (EMSGSIZE, an ICMP error surfacing): skip it; the
            // protocol recovers it like a loss.
            ++tx_sent_;
            continue;
        }
        tx_sent_ += static_cast<std::size_t>(r);
        stats_.datagrams_sent += static_cast<std::uint64_t>(r);
        if (tx_sent_ == tx_count_) tx_sent_ = tx_count_ = 0;
    }
}

void multiplexer_impl::on_writable(const error_code& ec) {
    waiting_writable_ = false;
    if (ec) return;
    pump();
}

void multiplexer_impl::arm_timer() {
    // Only while the engine is needed: a TIME-WAIT entry's timer alone must not keep the
    // io_context running (it is reaped at the next run that has work).
    const std::optional<proto::instant> next = needed() ? endpoint_.next_timeout() : std::nullopt;
    if (!next) {
        if (timer_at_) {
            timer_at_.reset();
            timer_.cancel();
        }
        return;
    }
    // A later deadline leaves the armed wait alone: it fires early, finds nothing due and
    // re-arms. Re-arming on every ACK would cost a cancel and a wait each time.
    if (timer_at_ && *timer_at_ <= *next) return;
    timer_at_ = next;
    timer_.expires_at(std::chrono::steady_clock::time_point(
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(next->time_since_epoch())));
    timer_.async_wait([self = shared_from_this(), at = *next](const error_code& ec) {
        if (ec || self->timer_at_ != at) return; // re-armed or cancelled meanwhile
        self->timer_at_.reset();
        self->endpoint_.handle_timeout(self->now());
        self->pump();
    });
}

// ---------------------------------------------------------------------------------------
// completing operations

void multiplexer_impl::complete_read(stream_state& s, const error_code& ec, std::size_t n,
                                     bool cancelling) {
    if (!s.read.pending()) return;
    --pending_ops_;
    auto work = std::move(s.read.work);
    post_completion(!cancelling, std::move(s.read.handler), s.io_executor, ec, n);
}

void multiplexer_impl::complete_write(stream_state& s, const error_code& ec, std::size_t n,
                                      bool cancelling) {
    if (!s.write.pending()) return;
    --pending_ops_;
    auto work = std::move(s.write.work);
    post_completion(!cancelling, std::move(s.write.handler), s.io_executor, ec, n);
}

void multiplexer_impl::complete_connect(stream_state& s, const error_code& ec, bool cancelling) {
    if (!s.connect) return;
    --pending_ops_;
    auto work = std::move(s.connect_work);
    post_completion(!cancelling, std::move(s.connect), s.io_executor, ec);
}

void multiplexer_impl::complete_all(stream_state& s, const error_code& ec) {
    complete_connect(s, ec);
    complete_read(s, ec, 0);
    complete_write(s, ec, 0);
}

void multiplexer_impl::service(stream_state& s) {
    proto::connection* c = endpoint_.get(s.conn);
    if (!c) {
        complete_all(s, asio::error::operation_aborted);
        return;
    }
    const bool failed = c->state() == proto::conn_state::failed;
    const error_code err = failed ? to_error_code(c->error()) : error_code{};
    if (s.connect) {
        if (failed)
            complete_connect(s, err);
        else if (c->state() != proto::conn_state::syn_sent) {
            s.connected = true;
            complete_connect(s, {});
        }
    }
    if (s.read.pending()) {
        std::size_t n = 0;
        const proto::instant t = now();
        for (std::size_t i = 0; i < s.read.count; ++i) {
            auto& b = s.read.buffers[i];
            const std::size_t k =
                endpoint_.read(s.conn, {static_cast<std::uint8_t*>(b.data()), b.size()}, t);
            n += k;
            if (k < b.size()) break;
        }
        // Bytes first; then end of stream or the error, on the next read.
        if (n > 0)
            complete_read(s, {}, n);
        else if (c->eof())
            complete_read(s, asio::error::eof, 0);
        else if (failed || c->state() == proto::conn_state::closed)
            complete_read(s, failed ? err : asio::error::eof, 0);
    }
    if (s.write.pending()) {
        if (failed) {
            complete_write(s, err, 0);
        } else if (s.send_shut || c->send_shutdown()) {
            complete_write(s, asio::error::shut_down, 0);
        } else if (c->writable() > 0) {
            std::size_t n = 0;
            const proto::instant t = now();
            for (std::size_t i = 0; i < s.write.count; ++i) {
                auto& b = s.write.buffers[i];
                const std::size_t k = endpoint_.write(
                    s.conn, {static_cast<const std::uint8_t*>(b.data()), b.size()}, t);
                n += k;
                if (k < b.size()) break;
            }
            if (n > 0) complete_write(s, {}, n);
        }
    }
}

void multiplexer_impl::service_acceptors() {
    if (!acceptor_) return;
    while (!acceptor_->accepts.empty()) {
        const auto h = endpoint_.accept();
        if (!h) return;
        auto op = std::move(acceptor_->accepts.front());
        acceptor_->accepts.pop_front();
        stream_state& t = *op.target;
        t.mux = shared_from_this();
        attach(t, *h);
        t.connected = true;
        t.remote = to_udp(endpoint_.remote(*h));
        --pending_ops_;
        post_completion(std::move(op.handler), acceptor_->io_executor, error_code{});
    }
}

void multiplexer_impl::fail_everything(const error_code& ec) {
    for (auto& [index, s] : streams_) {
        (void)index;
        complete_all(*s, ec);
    }
    if (acceptor_) {
        for (auto& op : acceptor_->accepts) {
            --pending_ops_;
            post_completion(std::move(op.handler), acceptor_->io_executor, ec);
        }
        acceptor_->accepts.clear();
    }
    for (auto& r : raw_receives_) {
        --pending_ops_;
        post_completion(std::move(r.handler), executor_, ec, std::size_t{0});
    }
    raw_receives_.clear();
    for (auto& r : raw_sends_) {
        --pending_ops_;
        post_completion(std::move(r.handler), executor_, ec, std::size_t{0});
    }
    raw_sends_.clear();
}

// ---------------------------------------------------------------------------------------
// cancellation

void multiplexer_impl::bind_cancellation(stream_state& s, op_kind k, asio::cancellation_slot slot) {
    if (slot.is_connected()) slot.template emplace<stream_canceller>(this, &s, k);
}

void multiplexer_impl::on_cancel(stream_state& s, op_kind k, asio::cancellation_type_t type) {
    // A pending read or write has done nothing observable (a write copies only when it
    // completes), so any cancellation type may abort it. A connect is abandoned.
    if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                 asio::cancellation_type::total)) == asio::cancellation_type::none)
        return;
    switch (k) {
    case op_kind::read:
        complete_read(s, asio::error::operation_aborted, 0, true);
        break;
    case op_kind::write:
        complete_write(s, asio::error::operation_aborted, 0, true);
        break;
    case op_kind::connect:
        if (!s.connect) return;
        if (s.conn) endpoint_.abort(s.conn, now());
        detach(s);
        complete_connect(s, asio::error::operation_aborted, true);
        schedule_pump();
        break;
    }
}

void multiplexer_impl::on_cancel_accept(acceptor_state& a, stream_state* target,
                                        asio::cancellation_type_t type) {
    if ((type & (asio::cancellation_type::terminal | asio::cancellation_type::partial |
                 asio::cancellation_type::total)) == asio::cancellation_type::none)
        return;
    for (auto it = a.accepts.begin(); it != a.accepts.end(); ++it) {
        if (it->target != target) continue;
        auto op = std::move(*it);
        a.accepts.erase(it);
        --pending_ops_;
        post_completion(false, std::move(op.handler), a.io_executor,
                        error_code(asio::error::operation_aborted));
        return;
    }
}

// ---------------------------------------------------------------------------------------
// streams

void multiplexer_impl::attach(stream_state& s, proto::connection_handle h) {
    s.conn = h;
    streams_[h.index] = &s;
    apply_options(s);
}

void multiplexer_impl::detach(stream_state& s) {
    if (!s.conn) return;
    if (auto it = streams_.find(s.conn.index); it != streams_.end() && it->second == &s)
        streams_.erase(it);
    s.conn = {};
}

const proto::connection* multiplexer_impl::connection_of(const stream_state& s) const noexcept {
    return s.conn ? endpoint_.get(s.conn) : nullptr;
}

void multiplexer_impl::apply_options(stream_state& s) {
    proto::connection* c = s.conn ? endpoint_.get(s.conn) : nullptr;
    if (!c) return;
    const stream_options& o = s.options;
    if (o.no_delay) c->set_no_delay(*o.no_delay);
    if (o.send_buffer_size) c->set_send_buffer_size(*o.send_buffer_size);
    if (o.receive_buffer_size) c->set_recv_buffer_size(*o.receive_buffer_size);
    if (o.target_delay) c->set_target_delay(*o.target_delay);
    endpoint_.touch(s.conn, now());
    schedule_pump();
}

void multiplexer_impl::async_connect(stream_state& s, const udp::endpoint& peer, ec_handler h) {
    auto fallback = s.io_executor;
    if (!socket_.is_open())
        return post_completion(std::move(h), fallback, error_code(asio::error::bad_descriptor));
    if (s.connect)
        return post_completion(std::move(h), fallback, error_code(asio::error::in_progress));
    if (s.conn)
        return post_completion(std::move(h), fallback, error_code(asio::error::already_connected));
    if (peer.address().is_v6() && socket_.local_endpoint().address().is_v4())
        return post_completion(std::move(h), fallback, error_code(error::address_family_mismatch));
    const auto ch = endpoint_.connect(to_peer(peer), now());
    if (!ch) return post_completion(std::move(h), fallback, error_code(error::no_connection_id));
    attach(s, ch);
    s.remote = peer;
    s.connect_work = track_work(h, fallback);
    auto slot = asio::get_associated_cancellation_slot(h);
    s.connect.swap(h); // not move-assignment: Boost 1.81's recurses forever
    ++pending_ops_;
    bind_cancellation(s, op_kind::connect, slot);
    schedule_pump();
}

void multiplexer_impl::async_read_some(stream_state& s, rw_handler h) {
    auto fallback = s.io_executor;
    if (s.read.pending())
        return post_completion(std::move(h), fallback, error_code(error::operation_in_progress),
                               std::size_t{0});
    if (!s.conn)
        return post_completion(std::move(h), fallback, error_code(asio::error::not_connected),
                               std::size_t{0});
    if (s.read.total == 0)
        return post_completion(std::move(h), fallback, error_code{}, std::size_t{0});
    s.read.work = track_work(h, fallback);
    auto slot = asio::get_associated_cancellation_slot(h);
    s.read.handler.swap(h); // not move-assignment: Boost 1.81's recurses forever
    ++pending_ops_;
    bind_cancellation(s, op_kind::read, slot);
    service(s);
    schedule_pump(); // reading may open the window: the peer must hear of it
}

void multiplexer_impl::async_write_some(stream_state& s, rw_handler h) {
    auto fallback = s.io_executor;
    if (s.write.pending())
        return post_completion(std::move(h), fallback, error_code(error::operation_in_progress),
                               std::size_t{0});
    if (!s.conn)
        return post_completion(std::move(h), fallback, error_code(asio::error::not_connected),
                               std::size_t{0});
    if (s.write.total == 0)
        return post_completion(std::move(h), fallback, error_code{}, std::size_t{0});
    s.write.work = track_work(h, fallback);
    auto slot = asio::get_associated_cancellation_slot(h);
    s.write.handler.swap(h); // not move-assignment: Boost 1.81's recurses forever
    ++pending_ops_;
    bind_cancellation(s, op_kind::write, slot);
    service(s);
    schedule_pump();
}

void multiplexer_impl::shutdown_send(stream_state& s, error_code& ec) {
    if (!s.conn) {
        ec = asio::error::not_connected;
        return;
    }
    s.send_shut = true;
    endpoint_.shutdown_send(s.conn, now());
    complete_write(s, asio::error::shut_down, 0);
    ec = {};
    schedule_pump();
}

void multiplexer_impl::cancel(stream_state& s) {
    // A connect cannot be half-cancelled: the attempt is abandoned (RESET to the peer),
    // as a cancellation through its slot does.
    if (s.connect) {
        if (s.conn) endpoint_.abort(s.conn, now());
        detach(s);
        complete_connect(s, asio::error::operation_aborted);
        schedule_pump();
    }
    complete_all(s, asio::error::operation_aborted);
}

void multiplexer_impl::close(stream_state& s) {
    complete_all(s, asio::error::operation_aborted);
    if (s.conn) {
        // Graceful, like closing a TCP socket: buffered data and the FIN still go out.
        endpoint_.release(s.conn, now());
        detach(s);
        schedule_pump();
    }
    s.connected = false;
}

void multiplexer_impl::abort(stream_state& s) {
    complete_all(s, asio::error::operation_aborted);
    if (s.conn) {
        endpoint_.abort(s.conn, now());
        detach(s);
        schedule_pump();
    }
    s.connected = false;
}

// ---------------------------------------------------------------------------------------
// acceptors

void multiplexer_impl::listen(acceptor_state& a, std::size_t backlog, error_code& ec) {
    if (acceptor_ && acceptor_ != &a) {
        ec = asio::error::address_in_use;
        return;
    }
    acceptor_ = &a;
    a.open = true;
    endpoint_.set_accept_backlog(backlog);
    endpoint_.listen(true);
    ec = {};
}

void multiplexer_impl::async_accept(acceptor_state& a, stream_state& target, ec_handler h) {
    auto fallback = a.io_executor;
    if (!a.open || acceptor_ != &a)
        return post_completion(std::move(h), fallback, error_code(asio::error::bad_descriptor));
    if (target.conn)
        return post_completion(std::move(h), fallback, error_code(asio::error::already_open));
    auto work = track_work(h, fallback);
    auto slot = asio::get_associated_cancellation_slot(h);
    a.accepts.push_back(acceptor_state::pending_accept{&target, std::move(h), std::move(work)});
    ++pending_ops_;
    if (slot.is_connected()) slot.template emplace<accept_canceller>(this, &a, &target);
    schedule_pump();
}

void multiplexer_impl::cancel(acceptor_state& a) {
    for (auto& op : a.accepts) {
        --pending_ops_;
        post_completion(std::move(op.handler), a.io_executor,
                        error_code(asio::error::operation_aborted));
    }
    a.accepts.clear();
}

void multiplexer_impl::close(acceptor_state& a) {
    cancel(a);
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

// ---------------------------------------------------------------------------------------
// raw datagrams

void multiplexer_impl::async_receive_from(asio::mutable_buffer b, udp::endpoint& sender,
                                          rw_handler h) {
    if (!socket_.is_open())
        return post_completion(std::move(h), executor_, error_code(asio::error::bad_descriptor),
                               std::size_t{0});
    if (!raw_queue_.empty()) {
        raw_datagram d = std::move(raw_queue_.front());
        raw_queue_.pop_front();
        sender = d.from;
        ++stats_.raw_received;
        const std::size_t n = asio::buffer_copy(b, asio::buffer(d.data));
        return post_completion(std::move(h), executor_, error_code{}, n);
    }
    auto work = track_work(h, executor_);
    raw_receives_.push_back(raw_receive{b, &sender, std::move(h), std::move(work)});
    ++pending_ops_;
    schedule_pump();
}

void multiplexer_impl::async_send_to(asio::const_buffer b, const udp::endpoint& to, rw_handler h) {
    if (!socket_.is_open())
        return post_completion(std::move(h), executor_, error_code(asio::error::bad_descriptor),
                               std::size_t{0});
    auto work = track_work(h, executor_);
    const auto* p = static_cast<const std::uint8_t*>(b.data());
    raw_sends_.push_back(raw_send{{p, p + b.size()}, to, std::move(h), std::move(work)});
    ++pending_ops_;
    schedule_pump();
}

} // namespace utp::detail
