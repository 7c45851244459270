// utp-half-open-bench — what a SYN flood costs an acceptor in memory (issue 11 item 5).
//
// Drives the sans-I/O endpoint directly (no sockets, no clock): spoofed SYNs from distinct
// addresses, every SYN-ACK polled and dropped as on a black-holed path. Prints the heap in
// use (glibc mallinfo2) as the flood goes on, the cost per half-open connection, and,
// beside it as the baseline, the cost per idle established connection (a real handshake
// with a second endpoint).
//
//   utp-half-open-bench [syns]      (default 100 000)
#include <utp/proto/endpoint.hpp>

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

using namespace utp::proto;

std::size_t heap_in_use() {
    return mallinfo2().uordblks;
}

std::vector<std::uint8_t> syn(std::uint16_t id) {
    header h;
    h.type = packet_type::syn;
    h.connection_id = id;
    h.seq_nr = 1;
    h.wnd_size = 1 << 20;
    std::vector<std::uint8_t> d(header_size);
    encode(h, {}, {}, d);
    return d;
}

peer_address spoofed(std::uint32_t i) {
    return peer_address::v4(10, static_cast<std::uint8_t>(i >> 16),
                            static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i),
                            static_cast<std::uint16_t>(1024 + i % 50000));
}

void drain(endpoint& ep, instant now, std::vector<std::uint8_t>& out,
           endpoint* deliver_to = nullptr, const peer_address* from = nullptr) {
    while (auto t = ep.poll_transmit(now, out))
        if (deliver_to) deliver_to->handle_datagram(*from, std::span(out.data(), t->size), now);
}

} // namespace

int main(int argc, char** argv) {
    const std::uint32_t syns = argc > 1 ? static_cast<std::uint32_t>(std::atol(argv[1])) : 100'000;
    std::vector<std::uint8_t> out(2048);
    instant now{std::chrono::seconds(1)};

    endpoint_settings es;
    es.listening = true;
    const std::size_t empty = heap_in_use();
    std::size_t at_cap = 0, held_at_cap = 0;
    {
        endpoint server(es, 1);
        const std::size_t start = heap_in_use();
        std::printf("SYN flood, %u spoofed SYNs, replies black-holed; max_half_open %zu\n", syns,
                    es.max_half_open);
        std::printf("%10s %12s %14s %12s\n", "SYNs", "held", "heap in use", "evicted");
        for (std::uint32_t i = 0; i < syns; ++i) {
            const auto d = syn(static_cast<std::uint16_t>(i * 7));
            server.handle_datagram(spoofed(i), d, now);
            drain(server, now, out);
            now += std::chrono::microseconds(10);
            if (i + 1 == es.max_half_open) {
                at_cap = heap_in_use() - start;
                held_at_cap = server.connection_count();
            }
            if ((i + 1) % (syns / 10 ? syns / 10 : 1) == 0)
                std::printf("%10u %12zu %11.2f MiB %12llu\n", i + 1, server.connection_count(),
                            double(heap_in_use() - empty) / (1 << 20),
                            static_cast<unsigned long long>(server.stats().half_open_evicted));
        }
    }
    std::printf("per half-open connection: %zu bytes (%zu held at the cap: %.2f MiB)\n",
                held_at_cap ? at_cap / held_at_cap : 0, held_at_cap, double(at_cap) / (1 << 20));

    // Baseline: the same number of idle established connections, handshakes completed.
    {
        endpoint server(es, 2);
        endpoint_settings cs;
        endpoint client(cs, 3);
        const peer_address server_addr = peer_address::v4(10, 255, 0, 1, 6881);
        const peer_address client_addr = peer_address::v4(10, 255, 0, 2, 6881);
        const std::size_t start = heap_in_use();
        std::size_t accepted = 0;
        for (std::size_t i = 0; i < es.max_half_open; ++i) {
            const auto h = client.connect(server_addr, now);
            drain(client, now, out, &server, &client_addr);
            drain(server, now, out, &client, &server_addr);
            // The initiator's first packet proves its address: a 1-byte write.
            const std::uint8_t b = 'x';
            client.write(h, std::span(&b, 1), now);
            drain(client, now, out, &server, &client_addr);
            drain(server, now, out, &client, &server_addr);
            while (server.accept())
                ++accepted;
            now += std::chrono::microseconds(10);
        }
        const std::size_t used = heap_in_use() - start;
        std::printf("baseline, idle established connections (both ends' state on one heap, "
                    "halved): %zu accepted, %zu bytes each\n",
                    accepted, accepted ? used / accepted / 2 : 0);
    }
    return 0;
}
