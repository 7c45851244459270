#include "addresses.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace utp::detail {

proto::peer_address to_peer(const sockaddr_storage& ss) noexcept {
    proto::peer_address p;
    if (ss.ss_family == AF_INET) {
        const auto& a = reinterpret_cast<const sockaddr_in&>(ss);
        std::memcpy(p.bytes.data(), &a.sin_addr, 4);
        p.port = ntohs(a.sin_port);
        p.family = 4;
        return p;
    }
    const auto& a = reinterpret_cast<const sockaddr_in6&>(ss);
    const auto* b = reinterpret_cast<const std::uint8_t*>(&a.sin6_addr);
    static constexpr std::uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b, mapped, 12) == 0) {
        std::memcpy(p.bytes.data(), b + 12, 4);
        p.family = 4;
    } else {
        std::memcpy(p.bytes.data(), b, 16);
        p.family = 6;
    }
    p.port = ntohs(a.sin6_port);
    return p;
}

proto::peer_address to_peer(const boost::asio::ip::udp::endpoint& e) noexcept {
    sockaddr_storage ss{};
    std::memcpy(&ss, e.data(), std::min<std::size_t>(e.size(), sizeof ss));
    return to_peer(ss);
}

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

boost::asio::ip::udp::endpoint to_udp(const proto::peer_address& p) {
    namespace ip = boost::asio::ip;
    if (p.family == 4) {
        ip::address_v4::bytes_type b;
        std::memcpy(b.data(), p.bytes.data(), 4);
        return {ip::address_v4(b), p.port};
    }
    ip::address_v6::bytes_type b;
    std::memcpy(b.data(), p.bytes.data(), 16);
    return {ip::address_v6(b), p.port};
}

} // namespace utp::detail
