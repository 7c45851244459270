// libFuzzer target: the demultiplexer under an off-path attacker (issue 11).
//
// Two endpoints run a live transfer both ways over an in-memory path that the input
// delays, reorders and drops. Between their packets the input injects what a spoofer can
// send without seeing that path: SYNs, RESETs, DATA, STATE and FIN with guessed ids and
// numbers, raw bytes, from spoofed addresses and from the real peers' own addresses, and
// ICMP errors without a quote, with a forged one, or quoting a datagram really sent.
//
// Properties:
// - no crash or sanitizer report; every poll and timer loop ends;
// - no byte is read that was not sent: the real streams carry bytes below 0x80 at known
//   offsets, the attacker's payload bytes 0x80 and up. Until an attacker byte has come
//   out of a connection, every byte read from it is the real stream's byte at that
//   offset, and no side reads more real or attacker bytes than were sent to it;
// - anti-amplification (RFC 9000 §8.1): towards a spoofed address that has not
//   acknowledged a sequence number the server sent it, the server sends at most 3× the
//   bytes it received from that address.
#include <utp/proto/endpoint.hpp>

#include "fuzz_reader.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <vector>

namespace {

using namespace utp::proto;

using utp_fuzz::reader;

/// DEMUX_TRACE=1 prints each step of a run: for reading a reproducer, not for fuzzing.
const bool tracing = std::getenv("DEMUX_TRACE") != nullptr;

template <class... Args>
void trace(const char* format, Args... args) {
    if (tracing) std::fprintf(stderr, format, args...);
}

const peer_address addr_a = peer_address::v4(10, 0, 0, 1, 4000);
const peer_address addr_b = peer_address::v4(10, 0, 0, 2, 5000);

/// The real streams' byte at `offset`: below 0x80, so that no attacker byte passes for it.
std::uint8_t stream_byte(std::uint64_t offset) {
    return static_cast<std::uint8_t>((offset * 7 + offset / 251) & 0x7f);
}

constexpr std::uint64_t stream_cap = 64 * 1024; ///< real bytes each side writes at most
constexpr std::size_t path_cap = 256;           ///< datagrams queued per direction

/// One connection's reading side: what came out of it so far.
struct read_state {
    connection_handle h;
    std::uint64_t offset = 0; ///< bytes read from it
    std::uint64_t wrote = 0;  ///< stream bytes written to it
    bool tainted = false;     ///< an attacker byte came out: offsets no longer line up
};

/// One endpoint and the application on it.
struct side {
    endpoint ep;
    peer_address self;
    std::vector<read_state> conns;
    std::uint64_t real_sent_to = 0;     ///< real stream bytes the other side wrote to it
    std::uint64_t attacker_sent_to = 0; ///< attacker payload bytes injected into it
    std::uint64_t real_read = 0, attacker_read = 0;
    std::uint64_t written = 0; ///< real stream bytes this side's application wrote
    // The last packet this side sent to its peer, for guesses an on-path quote would use.
    std::vector<std::uint8_t> last_to_peer;
    header last_hdr{};

    side(const endpoint_settings& s, std::uint64_t seed, peer_address a) : ep(s, seed), self(a) {}

    void read_all(instant now) {
        std::uint8_t buf[2048];
        for (auto& rs : conns) {
            for (int i = 0; i < 4000; ++i) {
                const std::size_t k = ep.read(rs.h, buf, now);
                if (k == 0) break;
                for (std::size_t j = 0; j < k; ++j, ++rs.offset) {
                    if (buf[j] & 0x80) {
                        rs.tainted = true;
                        if (++attacker_read > attacker_sent_to) std::abort();
                        continue;
                    }
                    if (!rs.tainted && buf[j] != stream_byte(rs.offset)) {
                        trace("port %d, connection %u: byte %u at offset %llu, expected %u\n",
                              self.port, rs.h.index, buf[j], (unsigned long long)rs.offset,
                              stream_byte(rs.offset));
                        std::abort();
                    }
                    if (++real_read > real_sent_to) std::abort();
                }
            }
        }
    }

    /// The application writes the next `n` bytes of its stream to every connection.
    void write(std::size_t n, instant now, side& peer) {
        for (auto& rs : conns) {
            const connection* c = ep.get(rs.h);
            if (!c) continue;
            std::vector<std::uint8_t> b(n);
            for (std::size_t i = 0; i < n; ++i)
                b[i] = stream_byte(rs.wrote + i);
            const std::size_t k = ep.write(rs.h, b, now);
            rs.wrote += k;
            written += k;
            // Only bytes to the real peer count as sent to it: the rest go to spoofers.
            if (ep.remote(rs.h) == peer.self) peer.real_sent_to += k;
        }
    }
};

/// What the server sent to, and received from, one spoofed address.
struct spoofed_account {
    std::uint64_t received = 0, sent = 0;
    bool proved = false;
    /// Per id the spoofer would use (the server's send id + 1): sequence numbers sent.
    std::map<std::uint16_t, std::pair<std::uint16_t, std::uint16_t>> seqs;
};

struct harness {
    instant now{std::chrono::seconds(4290)}; // near the 32-bit µs wrap
    side a, b;
    std::deque<std::vector<std::uint8_t>> ab, ba; ///< the path, each way
    std::map<peer_address, spoofed_account> spoofed;
    std::vector<std::uint8_t> out = std::vector<std::uint8_t>(70000);

    harness(const endpoint_settings& sa, const endpoint_settings& sb)
        : a(sa, 7, addr_a), b(sb, 42, addr_b) {}

    static peer_address spoofer(std::uint8_t k) {
        return peer_address::v4(10, 0, 1, static_cast<std::uint8_t>(k % 8), 6000);
    }

    void flush_side(side& s, std::deque<std::vector<std::uint8_t>>& path, const side& peer) {
        for (int i = 0; i < 20000; ++i) {
            auto t = s.ep.poll_transmit(now, out);
            if (!t) return;
            packet p;
            if (t->size > s.ep.settings().connection.packet_size + 200) std::abort();
            if (decode(std::span(out.data(), t->size), p) != decode_error::ok) std::abort();
            trace("  port %d -> 10.0.%d.%d: type %d id %u seq %u ack %u, %zu B\n", s.self.port,
                  t->to.bytes[2], t->to.bytes[3], int(p.hdr.type), p.hdr.connection_id,
                  p.hdr.seq_nr, p.hdr.ack_nr, t->size);
            if (t->to == peer.self) {
                s.last_to_peer.assign(out.begin(),
                                      out.begin() + static_cast<std::ptrdiff_t>(t->size));
                s.last_hdr = p.hdr;
                if (path.size() < path_cap) path.emplace_back(s.last_to_peer);
                continue;
            }
            if (&s != &b) continue; // the client answers spoofers with RESETs at most
            spoofed_account& acc = spoofed[t->to];
            acc.sent += t->size;
            const auto id = static_cast<std::uint16_t>(p.hdr.connection_id + 1);
            auto [it, fresh] = acc.seqs.try_emplace(id, p.hdr.seq_nr, p.hdr.seq_nr);
            if (!fresh) {
                auto& [lo, hi] = it->second;
                if (static_cast<std::int16_t>(p.hdr.seq_nr - lo) < 0) lo = p.hdr.seq_nr;
                if (static_cast<std::int16_t>(p.hdr.seq_nr - hi) > 0) hi = p.hdr.seq_nr;
            }
            if (!acc.proved && acc.sent > 3 * acc.received) std::abort();
        }
        std::abort(); // a poll loop that never runs dry
    }

    void flush() {
        for (int round = 0; round < 4; ++round) {
            flush_side(a, ab, b);
            flush_side(b, ba, a);
            while (a.ep.poll_wakeup()) {
            }
            while (b.ep.poll_wakeup()) {
            }
        }
    }

    void timers(side& s) {
        for (int i = 0; i < 1000; ++i) {
            auto t = s.ep.next_timeout();
            if (!t || *t > now) return;
            s.ep.handle_timeout(now);
            flush();
        }
        if (auto t = s.ep.next_timeout(); t && *t <= now) std::abort();
    }

    void accept_all() {
        while (auto h = b.ep.accept())
            b.conns.push_back({*h});
    }

    void deliver(std::deque<std::vector<std::uint8_t>>& path, side& to, const peer_address& from,
                 std::uint8_t how) {
        if (path.empty()) return;
        if (how % 8 == 0 && path.size() >= 2) std::swap(path[0], path[1]); // reorder
        trace("path to port %d: %s\n", to.self.port,
              how % 8 == 1   ? "lost"
              : how % 8 == 0 ? "reordered"
                             : "delivered");
        if (how % 8 != 1) to.ep.handle_datagram(from, path.front(), now); // else lost
        path.pop_front();
    }

    /// The attacker injects into `to`, from a spoofed address or from `to`'s real peer.
    void inject(reader& r, side& to, const side& peer) {
        const std::uint8_t kind = r.u8();
        const bool from_peer = kind & 1;
        const peer_address from = from_peer ? peer.self : spoofer(r.u8());
        header h;
        switch ((kind >> 1) % 4) {
        case 0:
            h.type = packet_type::syn;
            break;
        case 1:
            h.type = packet_type::reset;
            break;
        case 2:
            h.type = packet_type::data;
            break;
        default:
            h.type = (kind & 0x80) ? packet_type::fin : packet_type::state;
            break;
        }
        // Ids next to the live connection's (known to no off-path attacker, but the fuzzer
        // may learn them), or any.
        const std::uint16_t live = peer.last_hdr.connection_id;
        switch ((kind >> 3) % 4) {
        case 0:
            h.connection_id = live;
            break;
        case 1:
            h.connection_id = static_cast<std::uint16_t>(live - 1);
            break;
        case 2:
            h.connection_id = static_cast<std::uint16_t>(live + 1);
            break;
        default:
            h.connection_id = r.u16();
            break;
        }
        h.timestamp = wire_timestamp(now) - r.u16();
        h.timestamp_difference = r.u16();
        h.wnd_size = (kind & 0x20) ? r.u32() : 1 << 20;
        // Sequence numbers near what the peer really uses, or guessed outright.
        if (kind & 0x40) {
            h.seq_nr =
                static_cast<std::uint16_t>(peer.last_hdr.seq_nr + static_cast<std::int8_t>(r.u8()));
            h.ack_nr =
                static_cast<std::uint16_t>(peer.last_hdr.ack_nr + static_cast<std::int8_t>(r.u8()));
        } else {
            h.seq_nr = r.u16();
            h.ack_nr = r.u16();
        }
        std::uint8_t payload[700];
        std::size_t plen = 0;
        if (h.type == packet_type::data) {
            // At least one byte: an empty DATA carries no mark to find it by.
            plen = 1 + r.u16() % (sizeof payload - 1);
            for (std::size_t i = 0; i < plen; ++i)
                payload[i] = static_cast<std::uint8_t>(0x80 | i);
            to.attacker_sent_to += plen;
        }
        std::vector<std::uint8_t> d(header_size + plen);
        const std::size_t n = encode(h, {}, std::span<const std::uint8_t>(payload, plen), d);
        if (&to == &b && !from_peer) {
            spoofed_account& acc = spoofed[from];
            acc.received += n;
            // Acknowledging a number the server sent there proves the address (conservatively:
            // anything from the SYN-ACK's number less one to the newest).
            if (auto it = acc.seqs.find(h.connection_id); it != acc.seqs.end()) {
                const auto [lo, hi] = it->second;
                if (static_cast<std::uint16_t>(h.ack_nr - (lo - 1)) <=
                    static_cast<std::uint16_t>(hi - (lo - 1)))
                    acc.proved = true;
            }
        }
        const auto verdict = to.ep.handle_datagram(from, std::span(d.data(), n), now);
        trace("inject to port %d from 10.0.%d.%d: type %d id %u seq %u ack %u payload %zu -> %d\n",
              to.self.port, from.bytes[2], from.bytes[3], int(h.type), h.connection_id, h.seq_nr,
              h.ack_nr, plen, int(verdict));
    }

    /// A forged (or, now and then, genuine) ICMP error arrives at `at` about `about`.
    void icmp(reader& r, side& at, const peer_address& about) {
        const std::uint8_t kind = r.u8();
        const bool port_gone = kind & 1;
        std::vector<std::uint8_t> quote;
        switch ((kind >> 1) % 4) {
        case 0: // no quote, as a router may send
            break;
        case 1: { // a forged quote: a header with guessed fields
            header h = at.last_hdr;
            h.connection_id = (kind & 0x10) ? r.u16() : h.connection_id;
            h.seq_nr = static_cast<std::uint16_t>(h.seq_nr + static_cast<std::int8_t>(r.u8()) * 97);
            quote.resize(header_size);
            encode_header(h, 0, quote.data());
            break;
        }
        case 2: // the datagram really sent, as the kernel quotes it when the peer is gone
            quote = at.last_to_peer;
            break;
        default: { // bytes
            auto s = r.bytes(r.u8() % 64);
            quote.assign(s.begin(), s.end());
            break;
        }
        }
        at.ep.handle_unreachable(about, now, port_gone, quote);
        trace("icmp at port %d about 10.0.%d.%d, quote kind %d\n", at.self.port, about.bytes[2],
              about.bytes[3], (kind >> 1) % 4);
    }

    void step(reader& r) {
        switch (r.u8() % 12) {
        case 0:
        case 1:
        case 2:
            deliver(ab, b, a.self, r.u8());
            break;
        case 3:
        case 4:
            deliver(ba, a, b.self, r.u8());
            break;
        case 5: { // the clock moves: mostly small steps, now and then a jump
            const std::uint8_t k = r.u8();
            now += k < 220 ? std::chrono::microseconds(std::uint32_t{r.u16()} * (k % 20 + 1))
                           : std::chrono::microseconds(std::chrono::seconds(r.u8()));
            timers(a);
            timers(b);
            break;
        }
        case 6: { // the applications write
            const std::size_t n = r.u16() % 16384;
            if (a.written < stream_cap) a.write(n, now, b);
            if (b.written < stream_cap) b.write(n / 2, now, a);
            break;
        }
        case 7:
            accept_all();
            a.read_all(now);
            b.read_all(now);
            break;
        case 8:
        case 9:
            if (r.u8() & 1)
                inject(r, b, a);
            else
                inject(r, a, b);
            break;
        case 10:
            if (r.u8() & 1)
                icmp(r, b, (r.u8() & 1) ? a.self : spoofer(r.u8()));
            else
                icmp(r, a, b.self);
            break;
        default: { // raw bytes from a spoofer
            auto s = r.bytes(r.u8());
            const peer_address from = spoofer(r.u8());
            spoofed[from].received += s.size();
            b.ep.handle_datagram(from, s, now);
            break;
        }
        }
        flush();
    }

    /// The path delivers in order, time runs, both sides read: whatever is left arrives.
    void drain() {
        for (int i = 0; i < 200 && (!ab.empty() || !ba.empty() || i < 20); ++i) {
            while (!ab.empty())
                deliver(ab, b, a.self, 2);
            while (!ba.empty())
                deliver(ba, a, b.self, 2);
            accept_all();
            a.read_all(now);
            b.read_all(now);
            now += std::chrono::milliseconds(5);
            timers(a);
            timers(b);
            flush();
        }
    }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    reader r{data, size};
    const std::uint8_t setup = r.u8();
    endpoint_settings sa;
    // Every congestion controller: the recovery and slowdown states meet hostile input.
    sa.connection.congestion = static_cast<congestion_algorithm>((setup >> 1) % 3);
    sa.connection.packet_size = 600;
    sa.connection.send_buffer_size = 64 * 1024;
    sa.connection.recv_buffer_size = 32 * 1024;
    endpoint_settings sb = sa;
    sb.listening = true;
    sb.accept_backlog = 4;
    sb.max_half_open = 8; // so that the eviction of the oldest half-open one is reached
    sb.accept_unverified = setup & 1;
    harness h(sa, sb);
    h.a.conns.push_back({h.a.ep.connect(addr_b, h.now)});
    h.flush();
    for (int steps = 0; !r.empty() && steps < 3000; ++steps)
        h.step(r);
    h.drain();
    if (tracing) {
        std::uint64_t to_spoofed = 0, from_spoofed = 0;
        for (const auto& [addr, acc] : h.spoofed) {
            to_spoofed += acc.sent;
            from_spoofed += acc.received;
        }
        std::fprintf(stderr,
                     "read: a %llu real + %llu attacker, b %llu real + %llu attacker; "
                     "spoofed addresses %zu: %llu B in, %llu B out\n",
                     (unsigned long long)h.a.real_read, (unsigned long long)h.a.attacker_read,
                     (unsigned long long)h.b.real_read, (unsigned long long)h.b.attacker_read,
                     h.spoofed.size(), (unsigned long long)from_spoofed,
                     (unsigned long long)to_spoofed);
    }
    return 0;
}
