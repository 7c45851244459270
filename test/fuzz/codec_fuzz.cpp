// libFuzzer target: the datagram codec.
//
// Properties: decode never reads past the datagram; is_utp agrees with decode's verdict on
// the first byte; and whatever decodes re-encodes to exactly the same bytes.
#include <utp/proto/packet.hpp>

#include <cstdlib>
#include <cstring>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace utp::proto;
    const std::span<const std::uint8_t> in(data, size);
    packet p;
    const decode_error e = decode(in, p);
    const bool looks = is_utp(in);
    if (looks != (e != decode_error::too_short && e != decode_error::bad_version &&
                  e != decode_error::bad_type))
        std::abort();
    if (e != decode_error::ok) return 0;

    std::vector<std::uint8_t> out(size + 16);
    const std::size_t n = encode(p.hdr, p.chain(), p.payload, out);
    if (n != size || std::memcmp(out.data(), data, size) != 0) std::abort();
    if (!p.selective_ack.empty() && p.selective_ack.data() < data) std::abort();
    // sack_bit must answer for any index without reading outside the mask.
    volatile bool sink = false;
    for (std::size_t i = 0; i < p.selective_ack.size() * 8 + 8; ++i)
        sink = sink ^ sack_bit(p.selective_ack, i);
    (void)sink;
    return 0;
}
