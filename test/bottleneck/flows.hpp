//
// test/bottleneck/flows.hpp — the traffic: bulk µTP flows (our library, one multiplexer
// per side) and a bulk TCP flow (the kernel's cubic), from the sender's namespace to the
// receiver's, each side on a worker thread inside its namespace.
//
#ifndef UTP_BOTTLENECK_FLOWS_HPP
#define UTP_BOTTLENECK_FLOWS_HPP

#include "worker.hpp"

#include <utp/proto/settings.hpp>
#include <utp/proto/stats.hpp>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace utp_bottleneck {

using udp = asio::ip::udp;
using tcp = asio::ip::tcp;

/// µTP flows a scenario may run (flow ids are one byte on the wire).
constexpr std::size_t max_utp_flows = 8;

/// Sinks in the receiver's namespace: a µTP acceptor and a TCP acceptor that read
/// everything and count the bytes of each flow. A µTP flow names itself by its first byte.
class receiver {
public:
    /// Errors are logged unless `ending` is set (the scenario is tearing down).
    receiver(const std::string& ns, const std::string& address, std::uint16_t utp_port,
             std::uint16_t tcp_port, error_log& log, const std::atomic<bool>& ending);
    ~receiver(); ///< stop()
    receiver(const receiver&) = delete;
    receiver& operator=(const receiver&) = delete;

    std::uint64_t utp_bytes(std::size_t flow) const { return utp_[flow]; }
    std::uint64_t tcp_bytes() const { return tcp_; }

    /// Closes everything and joins the worker.
    void stop();

private:
    struct state;
    asio::awaitable<void> accept_utp();
    asio::awaitable<void> accept_tcp();

    error_log& log_;
    const std::atomic<bool>& ending_;
    std::array<std::atomic<std::uint64_t>, max_utp_flows> utp_{};
    std::atomic<std::uint64_t> tcp_{0};
    ns_worker worker_;
    std::unique_ptr<state> st_; ///< used on the worker only
};

/// Bulk senders in the sender's namespace: µTP flows on one multiplexer, one TCP flow.
class sender {
public:
    sender(const std::string& ns, const std::string& address, error_log& log,
           const std::atomic<bool>& ending);
    ~sender(); ///< stop()
    sender(const sender&) = delete;
    sender& operator=(const sender&) = delete;

    /// Connects µTP flow `flow` with controller `cc` and `trace` (set on the socket
    /// before it connects) and writes to it until stopped.
    void start_utp(std::size_t flow, utp::proto::congestion_algorithm cc, const udp::endpoint& peer,
                   utp::proto::trace_options trace = {});
    /// Connects a TCP flow whose ends both run `congestion` (TCP_CONGESTION), and writes.
    void start_tcp(const tcp::endpoint& peer, const std::string& congestion);
    /// Aborts the TCP flow (RST: its unsent buffer goes too, the bottleneck's queue drains).
    void stop_tcp();

    /// Each µTP flow's own view (cwnd, its delay estimate); zeroes before it connects.
    std::vector<utp::proto::connection_stats> utp_stats();

    /// Closes everything and joins the worker.
    void stop();

private:
    struct state;
    asio::awaitable<void> send_utp(std::size_t flow, utp::proto::congestion_algorithm cc,
                                   udp::endpoint peer, utp::proto::trace_options trace);
    asio::awaitable<void> send_tcp(tcp::endpoint peer, std::string congestion);

    error_log& log_;
    const std::atomic<bool>& ending_;
    std::atomic<bool> tcp_stopped_{false};
    ns_worker worker_;
    std::unique_ptr<state> st_; ///< used on the worker only
};

/// Sets the TCP congestion control of an open socket; throws std::system_error.
void set_tcp_congestion(int fd, const std::string& name);

/// Whether a TCP socket can be given congestion control `name`.
bool tcp_congestion_available(const std::string& name);

} // namespace utp_bottleneck

#endif
