// Decodes a 20-byte SYN with the installed library; exit status 0 iff it decoded.
#include <utp/proto/packet.hpp>

#include <array>
#include <cstdint>
#include <cstdio>

int main() {
    // libtorrent's SYN from the golden vectors: connection id 0x93a3, seq 0xf402.
    const std::array<std::uint8_t, 20> syn{0x41, 0x00, 0x93, 0xa3, 0x7f, 0x04, 0x61,
                                           0x59, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                           0x00, 0x00, 0xf4, 0x02, 0x00, 0x00};
    utp::proto::packet p;
    const auto err = utp::proto::decode(syn, p);
    const bool ok = err == utp::proto::decode_error::ok &&
                    p.hdr.type == utp::proto::packet_type::syn && p.hdr.connection_id == 0x93a3 &&
                    p.hdr.seq_nr == 0xf402;
    std::printf("consumer: decode -> %s, %s\n", utp::proto::to_string(err),
                ok ? "SYN as expected" : "NOT the expected SYN");
    return ok ? 0 : 1;
}
