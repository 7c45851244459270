// The datagram codec's edge cases: malformed input, the extension chain, SACK bits,
// header round trips at the limits of every field.
#include "util.hpp"

#include <utp/proto/packet.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace proto = utp::proto;
using proto::decode_error;

namespace {

using bytes = std::vector<std::uint8_t>;

proto::header sample_header(proto::packet_type t = proto::packet_type::state) {
    proto::header h;
    h.type = t;
    h.connection_id = 0x1234;
    h.timestamp = 0x01020304;
    h.timestamp_difference = 0x05060708;
    h.wnd_size = 0x00100000;
    h.seq_nr = 0xabcd;
    h.ack_nr = 0x4321;
    return h;
}

/// A 20-byte header whose first-extension byte is `first_ext`, followed by `tail`.
bytes datagram(std::uint8_t first_ext, const bytes& tail = {},
               proto::packet_type t = proto::packet_type::state) {
    bytes d(proto::header_size);
    proto::encode_header(sample_header(t), first_ext, d.data());
    d.insert(d.end(), tail.begin(), tail.end());
    return d;
}

decode_error decode(const bytes& d, proto::packet& p) {
    return proto::decode(d, p);
}
decode_error decode(const bytes& d) {
    proto::packet p;
    return proto::decode(d, p);
}

} // namespace

BOOST_AUTO_TEST_SUITE(codec)

BOOST_AUTO_TEST_CASE(shorter_than_a_header_is_too_short) {
    const bytes full = datagram(0);
    for (std::size_t n = 0; n < proto::header_size; ++n) {
        BOOST_TEST_CONTEXT("length " << n) {
            const bytes d(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
            BOOST_TEST(decode(d) == decode_error::too_short);
            BOOST_TEST(!proto::is_utp(d));
        }
    }
    BOOST_TEST(decode(full) == decode_error::ok);
    BOOST_TEST(proto::is_utp(full));
}

BOOST_AUTO_TEST_CASE(version_other_than_1_is_bad_version) {
    for (std::uint8_t v : {0, 2, 3, 15}) {
        BOOST_TEST_CONTEXT("version " << int(v)) {
            bytes d = datagram(0);
            d[0] = static_cast<std::uint8_t>((d[0] & 0xf0) | v);
            BOOST_TEST(decode(d) == decode_error::bad_version);
            BOOST_TEST(!proto::is_utp(d));
        }
    }
}

BOOST_AUTO_TEST_CASE(type_above_4_is_bad_type) {
    for (std::uint8_t t = 0; t < 16; ++t) {
        BOOST_TEST_CONTEXT("type " << int(t)) {
            bytes d = datagram(0);
            d[0] = static_cast<std::uint8_t>(t << 4 | 1);
            proto::packet p;
            if (t <= 4) {
                BOOST_TEST(decode(d, p) == decode_error::ok);
                BOOST_TEST(p.hdr.type == static_cast<proto::packet_type>(t));
                BOOST_TEST(proto::is_utp(d));
            } else {
                BOOST_TEST(decode(d, p) == decode_error::bad_type);
                BOOST_TEST(!proto::is_utp(d));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(header_fields_decode_big_endian) {
    const bytes d =
        *utp_test::from_hex("41 00 12 34 01 02 03 04 05 06 07 08 00 10 00 00 ab cd 43 21");
    proto::packet p;
    BOOST_TEST_REQUIRE(decode(d, p) == decode_error::ok);
    BOOST_TEST(p.hdr.type == proto::packet_type::syn);
    BOOST_TEST(p.hdr.version == 1);
    BOOST_TEST(p.hdr.connection_id == 0x1234);
    BOOST_TEST(p.hdr.timestamp == 0x01020304u);
    BOOST_TEST(p.hdr.timestamp_difference == 0x05060708u);
    BOOST_TEST(p.hdr.wnd_size == 0x00100000u);
    BOOST_TEST(p.hdr.seq_nr == 0xabcd);
    BOOST_TEST(p.hdr.ack_nr == 0x4321);
    BOOST_TEST(p.extension_count == 0u);
    BOOST_TEST(p.payload.empty());
    BOOST_TEST(p.selective_ack.empty());
}

BOOST_AUTO_TEST_CASE(chain_running_past_the_end_is_truncated) {
    struct variant {
        const char* what;
        std::uint8_t first;
        bytes tail;
    };
    const variant variants[] = {
        {"first extension announced, nothing follows", 1, {}},
        {"next-type byte present, length byte missing", 1, {0}},
        {"length 4, no body", 1, {0, 4}},
        {"length 4, 3 bytes of body", 1, {0, 4, 0xff, 0xff, 0xff}},
        {"length 255, 10 bytes of body", 1, {0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
        {"second link missing entirely", 1, {2, 4, 1, 0, 0, 0}},
        {"second link without length byte", 1, {2, 4, 1, 0, 0, 0, 0}},
        {"second link's length past the end", 1, {2, 4, 1, 0, 0, 0, 0, 8, 1, 2, 3}},
        {"unknown type's length past the end", 77, {0, 200, 1, 2, 3}},
    };
    for (const auto& v : variants) {
        BOOST_TEST_CONTEXT(v.what) {
            const bytes d = datagram(v.first, v.tail);
            BOOST_TEST(decode(d) == decode_error::truncated_extension);
            BOOST_TEST(proto::is_utp(d)); // only decode looks at the chain
        }
    }
}

BOOST_AUTO_TEST_CASE(chain_ending_exactly_at_the_end_is_fine) {
    const bytes d = datagram(1, {0, 4, 0x01, 0x00, 0x00, 0x80});
    proto::packet p;
    BOOST_TEST_REQUIRE(decode(d, p) == decode_error::ok);
    BOOST_TEST(p.extension_count == 1u);
    BOOST_TEST(p.payload.empty());
    BOOST_TEST(p.selective_ack.size() == 4u);
}

BOOST_AUTO_TEST_CASE(zero_length_extension_is_fine) {
    const bytes d = datagram(2, {0, 0, 'x'});
    proto::packet p;
    BOOST_TEST_REQUIRE(decode(d, p) == decode_error::ok);
    BOOST_TEST(p.extension_count == 1u);
    BOOST_TEST(p.chain()[0].type == 2);
    BOOST_TEST(p.chain()[0].data.empty());
    BOOST_TEST(p.payload.size() == 1u);
}

BOOST_AUTO_TEST_CASE(unknown_extension_is_skipped_by_its_length) {
    // [77: 3 bytes] -> [SACK: 4 bytes] -> payload "abc"
    const bytes d = datagram(77, {1, 3, 0xaa, 0xbb, 0xcc, 0, 4, 0x05, 0, 0, 0, 'a', 'b', 'c'},
                             proto::packet_type::data);
    proto::packet p;
    BOOST_TEST_REQUIRE(decode(d, p) == decode_error::ok);
    BOOST_TEST_REQUIRE(p.extension_count == 2u);
    BOOST_TEST(p.chain()[0].type == 77);
    BOOST_TEST(p.chain()[0].data.size() == 3u);
    BOOST_TEST(p.chain()[0].data[0] == 0xaa);
    BOOST_TEST(p.chain()[0].data[2] == 0xcc);
    BOOST_TEST(p.chain()[1].type == 1);
    BOOST_TEST_REQUIRE(p.selective_ack.size() == 4u);
    BOOST_TEST(p.selective_ack[0] == 0x05);
    BOOST_TEST(std::string_view(reinterpret_cast<const char*>(p.payload.data()),
                                p.payload.size()) == "abc");
}

BOOST_AUTO_TEST_CASE(the_first_of_several_selective_acks_is_used) {
    const bytes d = datagram(1, {1, 4, 0x01, 0, 0, 0, 0, 4, 0x02, 0, 0, 0});
    proto::packet p;
    BOOST_TEST_REQUIRE(decode(d, p) == decode_error::ok);
    BOOST_TEST(p.extension_count == 2u);
    BOOST_TEST_REQUIRE(p.selective_ack.size() == 4u);
    BOOST_TEST(p.selective_ack[0] == 0x01);
}

BOOST_AUTO_TEST_CASE(more_than_max_extensions_is_too_many) {
    auto chain = [](std::size_t n) {
        bytes tail;
        for (std::size_t i = 0; i < n; ++i) {
            tail.push_back(i + 1 < n ? 2 : 0); // next type
            tail.push_back(1);                 // length
            tail.push_back(static_cast<std::uint8_t>(i));
        }
        return datagram(2, tail);
    };
    static_assert(proto::max_extensions == 8);
    proto::packet p;
    const bytes eight = chain(8); // p views it: keep it alive
    BOOST_TEST(decode(eight, p) == decode_error::ok);
    BOOST_TEST(p.extension_count == 8u);
    BOOST_TEST(p.chain()[7].data[0] == 7);
    BOOST_TEST(decode(chain(9)) == decode_error::too_many_extensions);
    BOOST_TEST(decode(chain(200)) == decode_error::too_many_extensions);
}

BOOST_AUTO_TEST_CASE(dht_message_is_not_utp) {
    // A bencoded DHT ping: "d1:ad2:id20:<20 bytes>e1:q4:ping1:t2:aa1:y1:qe".
    std::string msg = "d1:ad2:id20:";
    msg += "abcdefghij0123456789";
    msg += "e1:q4:ping1:t2:aa1:y1:qe";
    const bytes d(msg.begin(), msg.end());
    BOOST_TEST(!proto::is_utp(d));
    BOOST_TEST(decode(d) != decode_error::ok);
    // And a DHT reply ('d' is 0x64: version nibble 4).
    const std::string reply = "d1:rd2:id20:abcdefghij0123456789e1:t2:aa1:y1:re";
    BOOST_TEST(!proto::is_utp(bytes(reply.begin(), reply.end())));
}

BOOST_AUTO_TEST_CASE(sack_bit_is_lsb_first_from_ack_nr_plus_2) {
    // Byte 0 = 0b0000'0101: ack_nr+2 and ack_nr+4 arrived; byte 1 = 0x80: ack_nr+17.
    const std::array<std::uint8_t, 4> mask{0x05, 0x80, 0x00, 0x01};
    BOOST_TEST(proto::sack_bit(mask, 0));
    BOOST_TEST(!proto::sack_bit(mask, 1));
    BOOST_TEST(proto::sack_bit(mask, 2));
    for (std::size_t b = 3; b < 15; ++b)
        BOOST_TEST(!proto::sack_bit(mask, b));
    BOOST_TEST(proto::sack_bit(mask, 15));
    BOOST_TEST(!proto::sack_bit(mask, 16));
    BOOST_TEST(proto::sack_bit(mask, 24));
    BOOST_TEST(!proto::sack_bit(mask, 31));
    // Past the mask: not acked, no out-of-bounds read.
    BOOST_TEST(!proto::sack_bit(mask, 32));
    BOOST_TEST(!proto::sack_bit(mask, 1000));
    BOOST_TEST(!proto::sack_bit({}, 0));
}

BOOST_AUTO_TEST_CASE(encode_refuses_a_buffer_too_small) {
    const auto h = sample_header(proto::packet_type::data);
    const std::array<std::uint8_t, 4> mask{1, 0, 0, 0};
    const proto::extension ext[] = {{1, mask}};
    const std::array<std::uint8_t, 5> payload{1, 2, 3, 4, 5};
    const std::size_t need = proto::header_size + 2 + 4 + 5;
    std::vector<std::uint8_t> out(need + 8, 0xee);
    for (std::size_t n = 0; n < need; ++n) {
        BOOST_TEST_CONTEXT("buffer " << n) {
            BOOST_TEST(proto::encode(h, ext, payload, std::span(out).first(n)) == 0u);
        }
    }
    // A refusal writes nothing; an exact fit works and writes nothing past the end.
    BOOST_TEST(std::count(out.begin(), out.end(), 0xee) == static_cast<std::ptrdiff_t>(out.size()));
    BOOST_TEST(proto::encode(h, ext, payload, std::span(out).first(need)) == need);
    BOOST_TEST(out[need] == 0xee);
    proto::packet p;
    BOOST_TEST_REQUIRE(proto::decode(std::span(out).first(need), p) == decode_error::ok);
    BOOST_TEST((p.hdr == h));
    BOOST_TEST(p.selective_ack.size() == 4u);
    BOOST_TEST(p.payload.size() == 5u);
    // An extension longer than its one length byte can say is refused too.
    const std::vector<std::uint8_t> big(256, 0);
    const proto::extension too_big[] = {{1, big}};
    std::vector<std::uint8_t> huge(1024);
    BOOST_TEST(proto::encode(h, too_big, {}, huge) == 0u);
}

BOOST_AUTO_TEST_CASE(header_round_trip_at_field_limits) {
    const std::uint16_t ids[] = {0x0000, 0x0001, 0x7fff, 0x8000, 0xfffe, 0xffff};
    const std::uint16_t seqs[] = {0x0000, 0x0001, 0x8000, 0xffff};
    const std::uint32_t words[] = {0u, 1u, 0x7fffffffu, 0x80000000u, 0xffffffffu};
    for (std::uint8_t t = 0; t <= 4; ++t) {
        for (auto id : ids) {
            for (auto seq : seqs) {
                for (auto w : words) {
                    proto::header h;
                    h.type = static_cast<proto::packet_type>(t);
                    h.connection_id = id;
                    h.seq_nr = seq;
                    h.ack_nr = static_cast<std::uint16_t>(~seq);
                    h.timestamp = w;
                    h.timestamp_difference = ~w;
                    h.wnd_size = w;
                    std::array<std::uint8_t, proto::header_size> buf{};
                    BOOST_TEST_REQUIRE(proto::encode(h, {}, {}, buf) == proto::header_size);
                    BOOST_TEST(buf[0] == (t << 4 | 1));
                    BOOST_TEST(buf[1] == 0);
                    proto::packet p;
                    BOOST_TEST_REQUIRE(proto::decode(buf, p) == decode_error::ok);
                    BOOST_TEST_CONTEXT("type " << int(t) << " id " << id << " seq " << seq
                                               << " word " << w) {
                        BOOST_TEST((p.hdr == h));
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(encode_then_decode_a_full_chain) {
    const std::array<std::uint8_t, 8> bits{};
    const std::array<std::uint8_t, 12> mask{0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80};
    const std::array<std::uint8_t, 4> reason{0, 0, 0, 6};
    const proto::extension chain[] = {{2, bits}, {1, mask}, {3, reason}};
    const std::string text = "hello, world";
    const std::span payload(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
    std::array<std::uint8_t, 1500> out{};
    const auto h = sample_header(proto::packet_type::fin);
    const std::size_t n = proto::encode(h, chain, payload, out);
    BOOST_TEST(n == proto::header_size + 10 + 14 + 6 + text.size());
    BOOST_TEST(out[1] == 2);  // first extension type in the header
    BOOST_TEST(out[20] == 1); // next type after the first link
    proto::packet p;
    BOOST_TEST_REQUIRE(proto::decode(std::span(out).first(n), p) == decode_error::ok);
    BOOST_TEST((p.hdr == h));
    BOOST_TEST_REQUIRE(p.extension_count == 3u);
    BOOST_TEST(p.chain()[0].type == 2);
    BOOST_TEST(p.chain()[1].type == 1);
    BOOST_TEST(p.chain()[2].type == 3);
    BOOST_TEST(p.selective_ack.size() == 12u);
    BOOST_TEST(proto::sack_bit(p.selective_ack, 95));
    BOOST_TEST(!proto::sack_bit(p.selective_ack, 94));
    BOOST_TEST(std::string(p.payload.begin(), p.payload.end()) == text);
}

BOOST_AUTO_TEST_CASE(decode_error_names_are_stable) {
    BOOST_TEST(std::string(proto::to_string(decode_error::ok)) == "ok");
    BOOST_TEST(std::string(proto::to_string(decode_error::too_short)) == "too_short");
    BOOST_TEST(std::string(proto::to_string(decode_error::bad_version)) == "bad_version");
    BOOST_TEST(std::string(proto::to_string(decode_error::bad_type)) == "bad_type");
    BOOST_TEST(std::string(proto::to_string(decode_error::truncated_extension)) ==
               "truncated_extension");
    BOOST_TEST(std::string(proto::to_string(decode_error::too_many_extensions)) ==
               "too_many_extensions");
}

BOOST_AUTO_TEST_SUITE_END()
