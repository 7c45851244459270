// test/unit/util.hpp — small helpers shared by the unit tests.
#ifndef UTP_TEST_UNIT_UTIL_HPP
#define UTP_TEST_UNIT_UTIL_HPP

#include <utp/proto/packet.hpp>

#include <cstdint>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace utp_test {

/// Bytes from a hex string ("41 00 ff" or "4100ff"); nullopt if it is not hex.
inline std::optional<std::vector<std::uint8_t>> from_hex(std::string_view s) {
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::vector<std::uint8_t> out;
    int hi = -1;
    for (char c : s) {
        if (c == ' ') continue;
        const int v = nibble(c);
        if (v < 0) return std::nullopt;
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<std::uint8_t>(hi << 4 | v));
            hi = -1;
        }
    }
    if (hi >= 0) return std::nullopt;
    return out;
}

/// Lower-case hex of `bytes`, for messages.
inline std::string to_hex(std::span<const std::uint8_t> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(bytes.size() * 2);
    for (auto b : bytes) {
        s += digits[b >> 4];
        s += digits[b & 15];
    }
    return s;
}

} // namespace utp_test

// Let BOOST_TEST print the codec's enums (found by argument-dependent lookup).
namespace utp::proto {
inline std::ostream& boost_test_print_type(std::ostream& os, decode_error e) {
    return os << to_string(e);
}
inline std::ostream& boost_test_print_type(std::ostream& os, packet_type t) {
    return os << "packet_type(" << static_cast<int>(t) << ")";
}
} // namespace utp::proto

#endif
