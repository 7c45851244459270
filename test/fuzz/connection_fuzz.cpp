// libFuzzer target: an endpoint with live connections fed a fuzzed script of datagrams,
// clock jumps and application calls.
//
// The script's packets are mostly *crafted* from fields the input chooses, with the
// connection ids and sequence numbers taken from what the endpoint really sent, so the
// fuzzer reaches the state machine instead of bouncing off id lookup. Properties: no
// crash or sanitizer report, every datagram the endpoint emits decodes and fits its
// packet size, every poll and timer loop terminates, and what the application reads is
// payload the script sent (never header bytes or stale memory), never more than was sent.
#include <utp/proto/endpoint.hpp>

#include "fuzz_reader.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

using namespace utp::proto;

using utp_fuzz::reader;

const peer_address peer = peer_address::v4(10, 0, 0, 2, 4000);
const peer_address other = peer_address::v4(10, 0, 0, 3, 4000);

struct harness {
    endpoint ep;
    instant now{std::chrono::seconds(4290)}; // near the 32-bit µs wrap
    std::vector<connection_handle> handles;
    std::uint64_t payload_sent = 0; ///< payload bytes in crafted DATA packets
    std::uint64_t payload_read = 0;
    // What the endpoint last said: the peer-side view used to craft plausible packets.
    std::uint16_t our_id = 0, our_seq = 0, our_ack = 0;
    std::uint16_t peer_seq = 1000;
    std::vector<std::uint8_t> out = std::vector<std::uint8_t>(4096);
    static constexpr std::uint8_t fill = 0xa5;

    explicit harness(const endpoint_settings& s) : ep(s, 42) {}

    void flush() {
        for (int i = 0; i < 20000; ++i) {
            auto t = ep.poll_transmit(now, out);
            if (!t) return;
            packet p;
            if (t->size > ep.settings().connection.packet_size + 200) std::abort();
            if (decode(std::span(out.data(), t->size), p) != decode_error::ok) std::abort();
            if (t->to == peer && p.hdr.type != packet_type::reset) {
                our_id = p.hdr.connection_id;
                our_seq = p.hdr.seq_nr;
                our_ack = p.hdr.ack_nr;
            }
        }
        std::abort(); // a poll loop that never runs dry
    }

    void timers() {
        for (int i = 0; i < 1000; ++i) {
            auto t = ep.next_timeout();
            if (!t || *t > now) return;
            ep.handle_timeout(now);
            flush();
        }
        // Every due timer must disarm or move on after running.
        if (auto t = ep.next_timeout(); t && *t <= now) std::abort();
    }

    void add(connection_handle h) { handles.push_back(h); }
    void forget(std::size_t i) { handles.erase(handles.begin() + static_cast<std::ptrdiff_t>(i)); }

    void read_all() {
        std::uint8_t buf[1500];
        for (auto h : handles) {
            for (int i = 0; i < 2000; ++i) {
                const std::size_t k = ep.read(h, buf, now);
                if (k == 0) break;
                // Only crafted payload (all `fill` bytes) may come out, and never more
                // of it than went in: no header bytes, no stale buffer contents.
                for (std::size_t j = 0; j < k; ++j)
                    if (buf[j] != fill) std::abort();
                payload_read += k;
                if (payload_read > payload_sent) std::abort();
            }
        }
    }

    void step(reader& r) {
        switch (r.u8() % 10) {
        case 0: { // raw datagram
            const auto len = r.u8();
            auto b = r.bytes(len);
            ep.handle_datagram(r.u8() & 1 ? peer : other, b, now);
            break;
        }
        case 1:
        case 2:
        case 3: { // crafted packet
            const std::uint8_t kind = r.u8();
            header h;
            h.type = static_cast<packet_type>(kind % 5);
            switch ((kind >> 3) % 4) {
            case 0:
                h.connection_id = our_id;
                break;
            case 1:
                h.connection_id = static_cast<std::uint16_t>(our_id - 1);
                break;
            case 2:
                h.connection_id = static_cast<std::uint16_t>(our_id + 1);
                break;
            default:
                h.connection_id = r.u16();
                break;
            }
            h.timestamp = wire_timestamp(now) - r.u16();
            h.timestamp_difference = (kind & 0x20) ? r.u32() : r.u16();
            h.wnd_size = (kind & 0x40) ? r.u32() : 1 << 20;
            const auto dseq = static_cast<std::int8_t>(r.u8());
            // Mostly continue from what we last acknowledged: that is the in-order seq.
            if (static_cast<std::uint8_t>(dseq) & 0x40)
                peer_seq = static_cast<std::uint16_t>(our_ack + 1);
            h.seq_nr = static_cast<std::uint16_t>(peer_seq + (dseq % 8));
            h.ack_nr = static_cast<std::uint16_t>(our_seq - 1 - (r.u8() % 4));
            std::uint8_t sack[8];
            std::size_t sack_len = 0;
            if (kind & 0x80) {
                sack_len = 4 + r.u8() % 5;
                for (std::size_t i = 0; i < sack_len; ++i)
                    sack[i] = r.u8();
            }
            const extension ext{1, std::span<const std::uint8_t>(sack, sack_len)};
            std::uint8_t payload[600];
            std::size_t plen = 0;
            if (h.type == packet_type::data) {
                plen = r.u16() % sizeof payload;
                std::memset(payload, fill, plen);
                payload_sent += plen;
            }
            std::vector<std::uint8_t> d(header_size + 2 + sack_len + plen);
            const std::size_t n =
                encode(h, sack_len ? std::span(&ext, 1) : std::span<const extension>{},
                       std::span<const std::uint8_t>(payload, plen), d);
            ep.handle_datagram(peer, std::span(d.data(), n), now);
            if (h.type == packet_type::data && dseq % 8 == 0) ++peer_seq;
            if (h.type == packet_type::syn) peer_seq = h.seq_nr;
            break;
        }
        case 4: { // the clock moves: small steps, and now and then a huge jump
            const std::uint8_t k = r.u8();
            if (k < 200)
                now += std::chrono::microseconds(std::uint32_t{r.u16()} * (k % 50 + 1));
            else
                now += std::chrono::seconds(r.u16());
            timers();
            break;
        }
        case 5: { // application write
            if (handles.empty()) break;
            std::vector<std::uint8_t> b(r.u16() % 20000, 0x5a);
            ep.write(handles[r.u8() % handles.size()], b, now);
            break;
        }
        case 6:
            read_all();
            break;
        case 7: {
            if (handles.empty()) break;
            const std::size_t i = r.u8() % handles.size();
            switch (r.u8() % 4) {
            case 0:
                ep.shutdown_send(handles[i], now);
                break;
            case 1:
                ep.release(handles[i], now);
                forget(i);
                break;
            case 2:
                ep.abort(handles[i], now);
                forget(i);
                break;
            default:
                if (auto* c = ep.get(handles[i])) c->set_no_delay(!c->settings().no_delay);
                ep.touch(handles[i], now);
                break;
            }
            break;
        }
        case 8:
            if (auto h = ep.accept()) add(*h);
            if (handles.size() < 4) add(ep.connect(peer, now));
            break;
        default:
            flush();
            break;
        }
        flush();
        while (ep.poll_wakeup()) {
        }
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    endpoint_settings s;
    s.listening = true;
    s.accept_backlog = 4;
    s.connection.send_buffer_size = 64 * 1024;
    s.connection.recv_buffer_size = 16 * 1024;
    s.connection.packet_size = 600;
    harness h(s);
    reader r{data, size};
    // Start with one outgoing connection, so crafted packets have a target at once.
    h.add(h.ep.connect(peer, h.now));
    h.flush();
    for (int steps = 0; !r.empty() && steps < 4000; ++steps)
        h.step(r);
    h.read_all();
    return 0;
}
