//
// utp/multiplexer_stats.hpp — counters of one multiplexer (one UDP port).
//
#ifndef UTP_MULTIPLEXER_STATS_HPP
#define UTP_MULTIPLEXER_STATS_HPP

#include <utp/proto/stats.hpp>

#include <cstddef>
#include <cstdint>

namespace utp {

/// What a multiplexer has done: its UDP traffic and the protocol endpoint's counters.
struct multiplexer_stats {
    std::uint64_t datagrams_received = 0; ///< read from the UDP socket
    std::uint64_t datagrams_sent = 0;     ///< written to the UDP socket
    std::uint64_t receive_calls = 0;      ///< recvmmsg calls (datagrams / calls = batching)
    std::uint64_t send_calls = 0;         ///< sendmmsg calls
    std::uint64_t send_would_block = 0;   ///< sends deferred by EAGAIN/ENOBUFS (not loss)
    /// Datagrams longer than `multiplexer_options::max_datagram_size`: dropped unread,
    /// nothing of them acknowledged.
    std::uint64_t truncated = 0;
    std::uint64_t raw_received = 0; ///< non-µTP datagrams handed to async_receive_from
    std::uint64_t raw_dropped = 0;  ///< non-µTP datagrams dropped (nobody receiving, queue full)
    std::uint64_t raw_sent = 0;     ///< datagrams sent by async_send_to
    std::size_t udp_receive_buffer = 0; ///< effective SO_RCVBUF
    std::size_t udp_send_buffer = 0;    ///< effective SO_SNDBUF
    std::size_t connections = 0;        ///< connections held now (lingering ones included)
    proto::endpoint_stats protocol;     ///< datagrams dropped by reason, RESETs, accepts
};

} // namespace utp

#endif
