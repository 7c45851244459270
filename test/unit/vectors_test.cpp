// Golden vectors: real µTP datagrams captured between libtorrent-rasterbar 2.0.8 and
// Transmission 3.00 (libutp), see test/data/vectors/README.md.
#include "util.hpp"

#include <utp/proto/packet.hpp>
#include <utp/proto/seq.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace proto = utp::proto;

namespace {

enum class stack { unknown, libtorrent, libutp };

struct datagram {
    std::string file;
    int line = 0;
    bool from_initiator = false;
    stack sender = stack::unknown;
    std::string type; // the type column: SYN, STATE, DATA, FIN, RESET or vN
    std::vector<std::uint8_t> bytes;

    std::string where() const { return file + ":" + std::to_string(line); }
};

// Two datagrams in the captures are not well-formed µTP: they claim a first extension
// of type 3 whose chain link asks for 20 and 21 bytes where one is left. Both are
// attributed to the libutp side of libtorrent-to-transmission-ipv4.txt, have zero
// timestamps and window, and carry the connection id of the *other* direction. Neither
// deployed stack would accept them (both drop a chain that runs past the datagram, as
// PROTOCOL.md requires), so the codec must reject them, and nothing else.
struct known_malformed {
    const char* hex;
    proto::decode_error error;
};
constexpr known_malformed malformed_vectors[] = {
    {"11030830000000000000000000000000000003ec431400", proto::decode_error::truncated_extension},
    {"210308300000000000000000000000000000030e7f1500", proto::decode_error::truncated_extension},
};

const known_malformed* find_malformed(std::span<const std::uint8_t> bytes) {
    const std::string hex = utp_test::to_hex(bytes);
    for (const auto& m : malformed_vectors)
        if (hex == m.hex) return &m;
    return nullptr;
}

stack stack_of(const std::string& text) {
    if (text.find("libutp") != std::string::npos || text.find("Transmission") != std::string::npos)
        return stack::libutp;
    if (text.find("libtorrent") != std::string::npos) return stack::libtorrent;
    return stack::unknown;
}

std::vector<datagram> load_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
    std::vector<datagram> out;
    stack initiator = stack::unknown, acceptor = stack::unknown;
    std::string text;
    int line = 0;
    while (std::getline(in, text)) {
        ++line;
        if (text.empty()) continue;
        if (text[0] == '#') {
            // The first comment names the stacks: "<a> (initiator) <- <b> (acceptor)".
            const auto i = text.find("(initiator)");
            const auto a = text.find("(acceptor)");
            if (initiator == stack::unknown && i != std::string::npos && a != std::string::npos &&
                i < a) {
                initiator = stack_of(text.substr(0, i));
                acceptor = stack_of(text.substr(i, a - i));
            }
            continue;
        }
        std::istringstream fields(text);
        double seconds = 0;
        std::string who, type, hex, extra;
        fields >> seconds >> who >> type >> hex;
        BOOST_REQUIRE_MESSAGE(fields && !(fields >> extra),
                              path.filename() << ":" << line << ": bad line: " << text);
        BOOST_REQUIRE_MESSAGE(who == "initiator" || who == "acceptor",
                              path.filename() << ":" << line << ": bad sender " << who);
        auto bytes = utp_test::from_hex(hex);
        BOOST_REQUIRE_MESSAGE(bytes, path.filename() << ":" << line << ": bad hex");
        datagram d;
        d.file = path.filename().string();
        d.line = line;
        d.from_initiator = who == "initiator";
        d.type = type;
        d.bytes = std::move(*bytes);
        out.push_back(std::move(d));
    }
    BOOST_REQUIRE_MESSAGE(initiator != stack::unknown && acceptor != stack::unknown,
                          path << ": the header comment does not name both stacks");
    for (auto& d : out)
        d.sender = d.from_initiator ? initiator : acceptor;
    return out;
}

const std::vector<datagram>& all_vectors() {
    static const std::vector<datagram> all = [] {
        const std::filesystem::path dir = std::filesystem::path(UTP_TEST_DATA_DIR) / "vectors";
        std::vector<std::filesystem::path> files;
        for (const auto& e : std::filesystem::directory_iterator(dir))
            if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path());
        std::sort(files.begin(), files.end());
        BOOST_REQUIRE_MESSAGE(!files.empty(), "no vectors in " << dir);
        std::vector<datagram> v;
        for (const auto& f : files) {
            auto one = load_file(f);
            v.insert(v.end(), one.begin(), one.end());
        }
        return v;
    }();
    return all;
}

std::string err_name(proto::decode_error e) {
    return proto::to_string(e);
}

const char* type_name(proto::packet_type t) {
    switch (t) {
    case proto::packet_type::data:
        return "DATA";
    case proto::packet_type::fin:
        return "FIN";
    case proto::packet_type::state:
        return "STATE";
    case proto::packet_type::reset:
        return "RESET";
    case proto::packet_type::syn:
        return "SYN";
    }
    return "?";
}

// Every well-formed datagram, decoded (the packet's spans view `all_vectors()`).
struct decoded {
    const datagram* d;
    proto::packet p;
};

const std::vector<decoded>& all_decoded() {
    static const std::vector<decoded> all = [] {
        std::vector<decoded> v;
        for (const auto& d : all_vectors()) {
            proto::packet p;
            if (proto::decode(d.bytes, p) == proto::decode_error::ok) v.push_back({&d, p});
        }
        return v;
    }();
    return all;
}

const proto::extension* find_extension(const proto::packet& p, std::uint8_t type) {
    for (const auto& e : p.chain())
        if (e.type == type) return &e;
    return nullptr;
}

/// End of the extension chain (start of the payload) of a well-formed datagram.
std::size_t chain_end(const proto::packet& p) {
    std::size_t n = proto::header_size;
    for (const auto& e : p.chain())
        n += 2 + e.data.size();
    return n;
}

} // namespace

BOOST_AUTO_TEST_SUITE(vectors)

BOOST_AUTO_TEST_CASE(every_datagram_decodes_and_reencodes_exactly) {
    const auto& all = all_vectors();
    std::size_t decoded_ok = 0, rejected = 0;
    for (const auto& d : all) {
        BOOST_TEST_CONTEXT(d.where() << " " << d.type << " " << utp_test::to_hex(d.bytes)) {
            if (d.type.size() == 2 && d.type[0] == 'v') {
                // A packet whose version nibble is not 1: not µTP.
                BOOST_TEST(!proto::is_utp(d.bytes));
                proto::packet p;
                BOOST_TEST(proto::decode(d.bytes, p) == proto::decode_error::bad_version);
                BOOST_TEST((d.bytes[0] & 0x0f) == d.type[1] - '0');
                continue;
            }
            BOOST_TEST(proto::is_utp(d.bytes));
            BOOST_REQUIRE(d.bytes.size() >= proto::header_size);
            BOOST_TEST(type_name(static_cast<proto::packet_type>(d.bytes[0] >> 4)) == d.type);

            proto::packet p;
            const auto err = proto::decode(d.bytes, p);
            if (const auto* m = find_malformed(d.bytes)) {
                BOOST_TEST(err_name(err) == err_name(m->error));
                ++rejected;
                continue;
            }
            BOOST_TEST_REQUIRE(err_name(err) == "ok");
            ++decoded_ok;
            BOOST_TEST(type_name(p.hdr.type) == d.type);
            BOOST_TEST(p.hdr.version == 1);
            BOOST_TEST(chain_end(p) + p.payload.size() == d.bytes.size());
            if (p.extension_count > 0) BOOST_TEST(p.chain()[0].type == d.bytes[1]);

            std::vector<std::uint8_t> out(d.bytes.size() + 16, 0xee);
            const std::size_t n = proto::encode(p.hdr, p.chain(), p.payload, out);
            BOOST_TEST(n == d.bytes.size());
            out.resize(std::min(n, out.size()));
            BOOST_TEST(out == d.bytes, boost::test_tools::per_element());
        }
    }
    BOOST_TEST_MESSAGE("golden vectors: " << all.size() << " datagrams, " << decoded_ok
                                          << " decoded and re-encoded, " << rejected
                                          << " rejected as known malformed");
    BOOST_TEST(all.size() > 300u);
    BOOST_TEST(rejected == std::size(malformed_vectors));
    BOOST_TEST(decoded_ok + rejected == all.size());
}

// Cutting a datagram anywhere gives the right verdict: too short inside the header,
// truncated inside the extension chain, and a shorter payload after it.
BOOST_AUTO_TEST_CASE(every_prefix_of_every_datagram) {
    std::size_t checked = 0;
    for (const auto& [d, full] : all_decoded()) {
        const std::size_t end = chain_end(full);
        for (std::size_t n = 0; n < d->bytes.size(); ++n) {
            BOOST_TEST_CONTEXT(d->where() << " prefix " << n) {
                proto::packet p;
                const auto err = proto::decode(std::span(d->bytes).first(n), p);
                if (n < proto::header_size) {
                    BOOST_TEST(err_name(err) == "too_short");
                    BOOST_TEST(!proto::is_utp(std::span(d->bytes).first(n)));
                } else if (n < end) {
                    BOOST_TEST(err_name(err) == "truncated_extension");
                } else {
                    BOOST_TEST_REQUIRE(err_name(err) == "ok");
                    BOOST_TEST((p.hdr == full.hdr));
                    BOOST_TEST(p.extension_count == full.extension_count);
                    BOOST_TEST(p.payload.size() == n - end);
                }
            }
            ++checked;
        }
    }
    BOOST_TEST_MESSAGE("prefixes checked: " << checked);
    BOOST_TEST(checked > 5000u);
}

BOOST_AUTO_TEST_CASE(libtorrent_syn_advertises_zero_window) {
    std::size_t syns = 0;
    for (const auto& [d, p] : all_decoded()) {
        if (p.hdr.type != proto::packet_type::syn) continue;
        BOOST_TEST_CONTEXT(d->where()) {
            BOOST_TEST(d->from_initiator);
            if (d->sender != stack::libtorrent) continue;
            BOOST_TEST(p.hdr.wnd_size == 0u);
            BOOST_TEST(p.extension_count == 0u);
            BOOST_TEST(p.payload.empty());
            BOOST_TEST(p.hdr.timestamp_difference == 0u);
            ++syns;
        }
    }
    BOOST_TEST_MESSAGE("libtorrent SYNs: " << syns);
    BOOST_TEST(syns >= 9u);
}

// The handshake as deployed peers run it: initiator SYN {id X, seq S}; acceptor STATE
// {id X, seq R, ack S} that does not consume R: its first DATA carries seq R; the
// initiator sends with X+1 and, once connected, acks R-1.
BOOST_AUTO_TEST_CASE(syn_ack_seq_is_reused_by_the_acceptors_first_data) {
    const auto& all = all_decoded();
    std::size_t handshakes = 0, data_checked = 0, initiator_data_checked = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        const auto& [syn_d, syn] = all[i];
        if (syn.hdr.type != proto::packet_type::syn) continue;
        const std::uint16_t x = syn.hdr.connection_id;
        const std::uint16_t s = syn.hdr.seq_nr;
        BOOST_TEST_CONTEXT(syn_d->where() << " SYN id " << x << " seq " << s) {
            const decoded* syn_ack = nullptr;
            const decoded* first_data = nullptr;
            const decoded* first_initiator_data = nullptr;
            for (std::size_t j = i + 1; j < all.size() && all[j].d->file == syn_d->file; ++j) {
                const auto& [d, p] = all[j];
                if (!d->from_initiator && p.hdr.connection_id == x) {
                    if (!syn_ack && p.hdr.type == proto::packet_type::state) syn_ack = &all[j];
                    if (!first_data && p.hdr.type == proto::packet_type::data) first_data = &all[j];
                } else if (d->from_initiator && p.hdr.connection_id == proto::seq_add(x, 1) &&
                           !first_initiator_data && p.hdr.type == proto::packet_type::data) {
                    first_initiator_data = &all[j];
                }
            }
            BOOST_TEST_REQUIRE(syn_ack != nullptr);
            ++handshakes;
            const std::uint16_t r = syn_ack->p.hdr.seq_nr;
            BOOST_TEST(syn_ack->p.hdr.ack_nr == s);
            BOOST_TEST(syn_ack->p.payload.empty());
            if (first_data) {
                BOOST_TEST(first_data->p.hdr.seq_nr == r);
                ++data_checked;
            }
            // Only if the capture kept the initiator's very first DATA.
            if (first_initiator_data &&
                first_initiator_data->p.hdr.seq_nr == proto::seq_add(s, 1)) {
                BOOST_TEST(first_initiator_data->p.hdr.ack_nr == proto::seq_add(r, -1));
                ++initiator_data_checked;
            }
        }
    }
    BOOST_TEST_MESSAGE("handshakes: "
                       << handshakes << ", acceptor first DATA checked: " << data_checked
                       << ", initiator first DATA checked: " << initiator_data_checked);
    BOOST_TEST(handshakes >= 9u);
    BOOST_TEST(data_checked >= 6u);
    BOOST_TEST(initiator_data_checked >= 6u);
}

// libtorrent's private extension 3 (close reason, 4 bytes), on its FIN and the ACKs
// after it; libutp never sends it (it drops packets whose first extension is >= 3).
BOOST_AUTO_TEST_CASE(libtorrent_fin_carries_a_4_byte_close_reason) {
    std::size_t fins_with_reason = 0, reasons = 0;
    for (const auto& [d, p] : all_decoded()) {
        const auto* e = find_extension(p, 3);
        if (!e) continue;
        BOOST_TEST_CONTEXT(d->where()) {
            ++reasons;
            BOOST_TEST(e->data.size() == 4u);
            BOOST_TEST((d->sender == stack::libtorrent));
            if (p.hdr.type == proto::packet_type::fin) ++fins_with_reason;
        }
    }
    BOOST_TEST_MESSAGE("close-reason extensions: " << reasons << ", on FIN: " << fins_with_reason);
    BOOST_TEST(fins_with_reason >= 4u);
}

BOOST_AUTO_TEST_CASE(libutp_syn_ack_carries_8_byte_extension_bits) {
    std::size_t syn_acks = 0;
    std::map<std::pair<std::string, std::uint16_t>, bool> syns; // (file, id) of libutp acceptors
    for (const auto& [d, p] : all_decoded()) {
        if (p.hdr.type == proto::packet_type::syn) {
            syns[{d->file, p.hdr.connection_id}] = false;
            continue;
        }
        if (d->from_initiator || d->sender != stack::libutp) continue;
        if (p.hdr.type != proto::packet_type::state) continue;
        const auto it = syns.find({d->file, p.hdr.connection_id});
        if (it == syns.end() || it->second) continue;
        it->second = true; // the first STATE of the acceptor is its SYN-ACK
        BOOST_TEST_CONTEXT(d->where()) {
            BOOST_TEST_REQUIRE(p.extension_count >= 1u);
            BOOST_TEST(p.chain()[0].type == 2);
            BOOST_TEST(p.chain()[0].data.size() == 8u);
            ++syn_acks;
        }
    }
    BOOST_TEST_MESSAGE("libutp SYN-ACKs: " << syn_acks);
    BOOST_TEST(syn_acks >= 7u);
}

BOOST_AUTO_TEST_CASE(selective_acks_of_any_length_are_decoded) {
    std::size_t sacks = 0, unpadded = 0;
    std::map<std::size_t, std::size_t> lengths;
    for (const auto& [d, p] : all_decoded()) {
        const auto* e = find_extension(p, 1);
        if (!e) {
            BOOST_TEST(p.selective_ack.empty());
            continue;
        }
        BOOST_TEST_CONTEXT(d->where()) {
            ++sacks;
            ++lengths[e->data.size()];
            // The packet's selective_ack views the first SACK extension's bytes.
            BOOST_TEST(p.selective_ack.data() == e->data.data());
            BOOST_TEST(p.selective_ack.size() == e->data.size());
            BOOST_TEST(!e->data.empty());
            if (d->sender == stack::libutp) BOOST_TEST(e->data.size() == 4u);
            if (d->sender == stack::libtorrent && e->data.size() % 4 != 0) ++unpadded;
            // Bit 0 stands for ack_nr + 2; ack_nr + 1 is implied missing, so a SACK
            // always has at least one bit set.
            bool any = false;
            for (std::size_t bit = 0; bit < e->data.size() * 8; ++bit)
                any = any || proto::sack_bit(p.selective_ack, bit);
            BOOST_TEST(any);
        }
    }
    std::ostringstream hist;
    for (const auto& [len, n] : lengths)
        hist << " " << len << "B:" << n;
    BOOST_TEST_MESSAGE("selective ACKs: " << sacks << " (" << unpadded
                                          << " not a multiple of 4); lengths" << hist.str());
    BOOST_TEST(sacks >= 100u);
    BOOST_TEST(unpadded >= 50u);
}

BOOST_AUTO_TEST_SUITE_END()
