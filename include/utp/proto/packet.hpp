//
// utp/proto/packet.hpp — the µTP datagram codec (BEP-29 header and extension chain).
//
#ifndef UTP_PROTO_PACKET_HPP
#define UTP_PROTO_PACKET_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace utp::proto {

/// Bytes in the fixed µTP header.
inline constexpr std::size_t header_size = 20;

/// The µTP protocol version this codec speaks.
inline constexpr std::uint8_t protocol_version = 1;

/// Packet types, from the high nibble of the first header byte.
enum class packet_type : std::uint8_t { data = 0, fin = 1, state = 2, reset = 3, syn = 4 };

/// Extension types seen on the wire.
enum class extension_type : std::uint8_t {
    none = 0,
    selective_ack = 1,
    /// libutp's legacy extension bits (8 bytes, carried on its SYN-ACK).
    extension_bits = 2,
    /// libtorrent's close reason (4 bytes, carried on its FIN).
    close_reason = 3,
};

/// The fixed 20-byte header, host byte order.
struct header {
    packet_type type = packet_type::data;
    std::uint8_t version = protocol_version;
    std::uint16_t connection_id = 0;
    std::uint32_t timestamp = 0;
    std::uint32_t timestamp_difference = 0;
    std::uint32_t wnd_size = 0;
    std::uint16_t seq_nr = 0;
    std::uint16_t ack_nr = 0;

    friend bool operator==(const header&, const header&) = default;
};

/// One extension of the chain: its type and its payload bytes (viewing the datagram).
struct extension {
    std::uint8_t type = 0;
    std::span<const std::uint8_t> data;
};

/// The most extensions a datagram may carry; a longer chain is treated as malformed.
inline constexpr std::size_t max_extensions = 8;

/** A decoded datagram. Spans view the decoded buffer, which must outlive this object. */
struct packet {
    header hdr;
    std::array<extension, max_extensions> extensions{};
    std::size_t extension_count = 0;
    /// The selective-ACK bitmask if the chain carried one (the first, if several).
    std::span<const std::uint8_t> selective_ack;
    std::span<const std::uint8_t> payload;

    std::span<const extension> chain() const noexcept {
        return {extensions.data(), extension_count};
    }
};

/// Why a datagram did not decode.
enum class decode_error : std::uint8_t {
    ok = 0,
    too_short,           ///< fewer than 20 bytes
    bad_version,         ///< version nibble is not 1
    bad_type,            ///< type nibble above 4
    truncated_extension, ///< the extension chain runs past the datagram
    too_many_extensions, ///< more than `max_extensions` links in the chain
};

/// A short, stable name for `e` (for counters and logs).
const char* to_string(decode_error e) noexcept;

/** Decide whether `datagram` looks like µTP at all.

    Cheap: checks length, version and type only. A DHT message (bencoded, starting with
    'd') fails it, which is how one UDP port is shared with other protocols.
*/
bool is_utp(std::span<const std::uint8_t> datagram) noexcept;

/// Decode `datagram` into `out`; on failure `out` is unspecified.
decode_error decode(std::span<const std::uint8_t> datagram, packet& out) noexcept;

/// Write the 20-byte header into `out` (which must hold `header_size` bytes).
void encode_header(const header& h, std::uint8_t first_extension, std::uint8_t* out) noexcept;

/** Encode a whole datagram: header, extension chain, payload.

    @return bytes written, or 0 if `out` is too small or an extension is over 255 bytes.
*/
std::size_t encode(const header& h, std::span<const extension> extensions,
                   std::span<const std::uint8_t> payload, std::span<std::uint8_t> out) noexcept;

/// True if the selective-ACK mask says packet `ack_nr + 2 + bit` arrived.
inline bool sack_bit(std::span<const std::uint8_t> mask, std::size_t bit) noexcept {
    return bit / 8 < mask.size() && ((mask[bit / 8] >> (bit % 8)) & 1u) != 0;
}

} // namespace utp::proto

#endif
