//
// src/engine/datagram_port.hpp — the OS datagram I/O of one engine: a UDP socket, read and
// written in batches (recvmmsg / sendmmsg), truncation detected (MSG_TRUNC), ICMP errors read
// from the error queue (IP_RECVERR). Knows nothing of µTP; not thread-safe (the engine
// serialises its calls).
//
#ifndef UTP_SRC_ENGINE_DATAGRAM_PORT_HPP
#define UTP_SRC_ENGINE_DATAGRAM_PORT_HPP

#include <utp/multiplexer_options.hpp>
#include <utp/multiplexer_stats.hpp>
#include <utp/proto/address.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/udp.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>

struct mmsghdr;

namespace utp::detail {

namespace asio = boost::asio;
using boost::system::error_code;
using udp = asio::ip::udp;

/// One datagram of a received batch.
struct received_datagram {
    proto::peer_address from;
    std::span<const std::uint8_t> data;
    /// Longer than the receive slot: `data` is only its beginning and must not be parsed.
    bool truncated = false;
};

/// What the error queue said about one destination (an ICMP error).
struct unreachable_report {
    proto::peer_address to;
    bool port_gone; ///< port unreachable: nothing is bound there any more
    /// The start of the datagram that drew the error, as the ICMP message quoted it
    /// (routers quote at least 8 bytes of UDP, Linux up to 576: our header and SACK).
    std::array<std::uint8_t, 256> quote;
    std::size_t quote_size;
    std::span<const std::uint8_t> quoted() const noexcept { return {quote.data(), quote_size}; }
};

class datagram_port {
public:
    /// Datagrams per recvmmsg / sendmmsg.
    static constexpr std::size_t batch = 32;

    datagram_port(const asio::any_io_executor& ex, multiplexer_stats& stats);
    ~datagram_port();
    datagram_port(const datagram_port&) = delete;
    datagram_port& operator=(const datagram_port&) = delete;

    /// Open and bind at `local`: non-blocking, dual-stack for `[::]`, ICMP errors on, the
    /// socket buffers requested; slots for datagrams of up to `opt.max_datagram_size`
    /// received and `opt.protocol.connection.packet_size` sent.
    void open(const udp::endpoint& local, const multiplexer_options& opt, error_code& ec);
    bool is_open() const noexcept { return socket_ && socket_->is_open(); }
    /// Close the socket: waits pending on it complete with operation_aborted.
    void close() noexcept;
    /// Destroy the Asio socket object: its execution context is shutting down, and the
    /// object must not outlive the services it belongs to.
    void release() noexcept;

    /// The Asio socket, for readiness waits (`async_wait`). Only while open.
    udp::socket& socket() noexcept { return *socket_; }
    int family() const noexcept { return family_; }
    udp::endpoint local_endpoint(error_code& ec) const;
    /// The local address the kernel sends from towards `peer` (a route lookup). The bound
    /// address unless it is unspecified.
    asio::ip::address source_address_for(const udp::endpoint& peer, error_code& ec) const;

    // -- receiving ------------------------------------------------------------------------

    /// One recvmmsg into the receive slots. Returns the datagrams read (0: nothing was
    /// waiting); negative: an ICMP error is queued (`drain_errors`) or the socket failed,
    /// with `errno_out` set.
    int receive_batch(int& errno_out) noexcept;
    const received_datagram& received(std::size_t i) const noexcept { return rx_[i]; }
    /// Read the error queue; `report` is called for each ICMP unreachable. Returns whether
    /// anything was queued.
    template <class Report>
    bool drain_errors(Report&& report) {
        bool any = false;
        unreachable_report r;
        for (int i = 0; i < 64; ++i) {
            const int got = read_error(r);
            if (got < 0) break;
            any = true;
            if (got > 0) report(r);
        }
        return any;
    }

    // -- sending --------------------------------------------------------------------------

    /// The next free send slot (room for a datagram of the configured packet size), or an
    /// empty span if a whole batch is waiting to go.
    std::span<std::uint8_t> send_slot() noexcept;
    /// Queue the datagram written into the slot `send_slot` returned.
    void commit(const proto::peer_address& to, std::size_t size) noexcept;
    bool has_queued() const noexcept { return tx_sent_ < tx_count_; }
    /// Whether a send met an ICMP error surfacing (and consumed the socket's pending
    /// error, which a receive would otherwise have reported): the error queue then holds
    /// reports that only `drain_errors` will see. Clears the flag.
    bool take_error_pending() noexcept { return std::exchange(error_pending_, false); }
    /// sendmmsg what is queued. Returns false if the socket is full (EAGAIN, ENOBUFS): the
    /// rest stays queued, not lost. A datagram the kernel refuses (EMSGSIZE, an ICMP error
    /// surfacing) is skipped: the protocol recovers it as a loss.
    bool send_queued() noexcept;
    /// Send one datagram at once (raw datagrams). `would_block` if the socket is full.
    std::size_t send_to(asio::const_buffer b, const udp::endpoint& to, error_code& ec);

private:
    struct io_headers;
    int read_error(unreachable_report& r) noexcept;

    std::optional<udp::socket> socket_;
    multiplexer_stats& stats_;
    int family_ = 0;
    std::size_t rx_slot_ = 0;
    std::size_t tx_slot_ = 0;
    std::unique_ptr<std::uint8_t[]> rx_buffers_;
    std::unique_ptr<std::uint8_t[]> tx_buffers_;
    std::unique_ptr<io_headers> io_;
    std::array<received_datagram, batch> rx_{};
    std::size_t tx_count_ = 0; ///< datagrams queued
    std::size_t tx_sent_ = 0;  ///< of those, already sent (a partial sendmmsg)
    bool error_pending_ = false;
};

} // namespace utp::detail

#endif
