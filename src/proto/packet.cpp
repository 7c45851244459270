#include <utp/proto/packet.hpp>

#include <cstring>

namespace utp::proto {
namespace {

std::uint16_t load16(const std::uint8_t* p) noexcept {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

std::uint32_t load32(const std::uint8_t* p) noexcept {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           std::uint32_t{p[3]};
}

void store16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}

void store32(std::uint8_t* p, std::uint32_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 24);
    p[1] = static_cast<std::uint8_t>(v >> 16);
    p[2] = static_cast<std::uint8_t>(v >> 8);
    p[3] = static_cast<std::uint8_t>(v);
}

} // namespace

const char* to_string(decode_error e) noexcept {
    switch (e) {
    case decode_error::ok:
        return "ok";
    case decode_error::too_short:
        return "too_short";
    case decode_error::bad_version:
        return "bad_version";
    case decode_error::bad_type:
        return "bad_type";
    case decode_error::truncated_extension:
        return "truncated_extension";
    case decode_error::too_many_extensions:
        return "too_many_extensions";
    }
    return "unknown";
}

bool is_utp(std::span<const std::uint8_t> d) noexcept {
    return d.size() >= header_size && (d[0] & 0x0f) == protocol_version && (d[0] >> 4) <= 4;
}

decode_error decode(std::span<const std::uint8_t> d, packet& out) noexcept {
    if (d.size() < header_size) return decode_error::too_short;
    if ((d[0] & 0x0f) != protocol_version) return decode_error::bad_version;
    if ((d[0] >> 4) > 4) return decode_error::bad_type;
    const std::uint8_t* p = d.data();
    out.hdr.type = static_cast<packet_type>(p[0] >> 4);
    out.hdr.version = p[0] & 0x0f;
    out.hdr.connection_id = load16(p + 2);
    out.hdr.timestamp = load32(p + 4);
    out.hdr.timestamp_difference = load32(p + 8);
    out.hdr.wnd_size = load32(p + 12);
    out.hdr.seq_nr = load16(p + 16);
    out.hdr.ack_nr = load16(p + 18);
    out.extension_count = 0;
    out.selective_ack = {};

    std::size_t pos = header_size;
    std::uint8_t next = p[1];
    while (next != 0) {
        // Each link is [next type][length][payload]; all of it must be inside the datagram.
        if (d.size() - pos < 2) return decode_error::truncated_extension;
        const std::uint8_t type = next;
        next = p[pos];
        const std::size_t len = p[pos + 1];
        pos += 2;
        if (d.size() - pos < len) return decode_error::truncated_extension;
        if (out.extension_count == max_extensions) return decode_error::too_many_extensions;
        const auto body = d.subspan(pos, len);
        out.extensions[out.extension_count++] = extension{type, body};
        if (type == static_cast<std::uint8_t>(extension_type::selective_ack) &&
            out.selective_ack.empty())
            out.selective_ack = body;
        pos += len;
    }
    out.payload = d.subspan(pos);
    return decode_error::ok;
}

void encode_header(const header& h, std::uint8_t first_extension, std::uint8_t* p) noexcept {
    p[0] = static_cast<std::uint8_t>((static_cast<std::uint8_t>(h.type) << 4) | (h.version & 0x0f));
    p[1] = first_extension;
    store16(p + 2, h.connection_id);
    store32(p + 4, h.timestamp);
    store32(p + 8, h.timestamp_difference);
    store32(p + 12, h.wnd_size);
    store16(p + 16, h.seq_nr);
    store16(p + 18, h.ack_nr);
}

std::size_t encode(const header& h, std::span<const extension> exts,
                   std::span<const std::uint8_t> payload, std::span<std::uint8_t> out) noexcept {
    std::size_t need = header_size + payload.size();
    for (const auto& e : exts) {
        if (e.data.size() > 255) return 0;
        need += 2 + e.data.size();
    }
    if (out.size() < need) return 0;
    std::uint8_t* p = out.data();
    encode_header(h, exts.empty() ? 0 : exts[0].type, p);
    std::size_t pos = header_size;
    for (std::size_t i = 0; i < exts.size(); ++i) {
        p[pos] = i + 1 < exts.size() ? exts[i + 1].type : 0;
        p[pos + 1] = static_cast<std::uint8_t>(exts[i].data.size());
        if (!exts[i].data.empty())
            std::memcpy(p + pos + 2, exts[i].data.data(), exts[i].data.size());
        pos += 2 + exts[i].data.size();
    }
    if (!payload.empty()) std::memcpy(p + pos, payload.data(), payload.size());
    return need;
}

} // namespace utp::proto
