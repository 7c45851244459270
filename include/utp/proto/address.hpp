//
// utp/proto/address.hpp — a transport address the core can key connections by.
//
// The core knows nothing of sockets; the engine converts its endpoints to this.
//
#ifndef UTP_PROTO_ADDRESS_HPP
#define UTP_PROTO_ADDRESS_HPP

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>

namespace utp::proto {

/// An IPv4 or IPv6 address and a port, as plain bytes.
struct peer_address {
    /// The address in network byte order; IPv4 uses the first 4 bytes.
    std::array<std::uint8_t, 16> bytes{};
    std::uint16_t port = 0;
    /// 4 or 6.
    std::uint8_t family = 4;

    friend auto operator<=>(const peer_address&, const peer_address&) = default;

    /// An IPv4 address from four octets and a port.
    static constexpr peer_address v4(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d,
                                     std::uint16_t port) noexcept {
        peer_address r;
        r.bytes[0] = a;
        r.bytes[1] = b;
        r.bytes[2] = c;
        r.bytes[3] = d;
        r.port = port;
        r.family = 4;
        return r;
    }
};

/// A hash of `peer_address` for unordered containers.
struct peer_address_hash {
    std::size_t operator()(const peer_address& a) const noexcept {
        // FNV-1a over the significant bytes: cheap, and good enough for a map key.
        std::uint64_t h = 1469598103934665603ull;
        const std::size_t n = a.family == 6 ? 16 : 4;
        for (std::size_t i = 0; i < n; ++i)
            h = (h ^ a.bytes[i]) * 1099511628211ull;
        h = (h ^ a.port) * 1099511628211ull;
        h = (h ^ a.family) * 1099511628211ull;
        return static_cast<std::size_t>(h);
    }
};

} // namespace utp::proto

#endif
