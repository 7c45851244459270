//
// src/engine/addresses.hpp — conversions between Asio's and the kernel's socket addresses and
// the core's `proto::peer_address`.
//
#ifndef UTP_SRC_ENGINE_ADDRESSES_HPP
#define UTP_SRC_ENGINE_ADDRESSES_HPP

#include <utp/proto/address.hpp>

#include <boost/asio/ip/udp.hpp>

#include <sys/socket.h>

namespace utp::detail {

/// The peer a kernel address names. A v4-mapped IPv6 address (a v4 peer on a dual-stack
/// socket) is keyed as v4, as a v4 socket would see it.
proto::peer_address to_peer(const sockaddr_storage& ss) noexcept;
proto::peer_address to_peer(const boost::asio::ip::udp::endpoint& e) noexcept;
/// `p` as a kernel address for a socket of `family` (v4 peers map into v6 sockets).
socklen_t to_sockaddr(const proto::peer_address& p, int family, sockaddr_storage& ss) noexcept;
boost::asio::ip::udp::endpoint to_udp(const proto::peer_address& p);

} // namespace utp::detail

#endif
