//
// sim_demo.cpp — one bulk µTP transfer through a simulated path, on a virtual clock.
//
// Two protocol cores (utp::proto::endpoint) talk through the discrete-event simulator of
// test/sim/lib: a bottleneck with a rate, a queue, a round-trip time and random loss.
// Every byte is checked on arrival. Simulated time jumps from event to event, so a
// transfer of minutes runs in a moment. Prints progress once per simulated second, then
// the goodput, loss recovery and queueing figures.
//
//   utp_sim_demo [--size MiB] [--rate Mbit/s] [--rtt ms] [--loss %] [--queue ms]
//                [--buffer KiB] [--seed n] [--quiet]
//
#include "sim.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace utp;
using namespace std::chrono_literals;

namespace {

struct options {
    double size_mib = 64;
    double rate_mbit = 100;
    double rtt_ms = 50;
    double loss_percent = 1;
    double queue_ms = 200;
    double buffer_kib = 0; // 0: sized from the path
    std::uint64_t seed = 1;
    bool quiet = false;
};

void usage(const char* argv0) {
    std::printf("usage: %s [options]\n"
                "  --size MiB      bytes to transfer            (default 64)\n"
                "  --rate Mbit/s   bottleneck rate, each way    (default 100)\n"
                "  --rtt ms        base round-trip time         (default 50)\n"
                "  --loss %%        random loss, each way        (default 1)\n"
                "  --queue ms      bottleneck queue, in time    (default 200)\n"
                "  --buffer KiB    send and receive buffers     (default: enough for the path)\n"
                "  --seed n        simulation seed              (default 1)\n"
                "  --quiet         no per-second progress\n",
                argv0);
}

bool parse(int argc, char** argv, options& o) {
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::string value;
        if (const auto eq = arg.find('='); eq != std::string::npos) {
            value = arg.substr(eq + 1);
            arg.resize(eq);
        }
        if (arg == "--help" || arg == "-h") {
            usage(argv[0]);
            std::exit(0);
        }
        if (arg == "--quiet") {
            o.quiet = true;
            continue;
        }
        if (value.empty()) {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", arg.c_str());
                return false;
            }
            value = argv[++i];
        }
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (end == value.c_str() || *end != '\0' || v < 0) {
            std::fprintf(stderr, "bad value for %s: %s\n", arg.c_str(), value.c_str());
            return false;
        }
        if (arg == "--size")
            o.size_mib = v;
        else if (arg == "--rate")
            o.rate_mbit = v;
        else if (arg == "--rtt")
            o.rtt_ms = v;
        else if (arg == "--loss")
            o.loss_percent = v;
        else if (arg == "--queue")
            o.queue_ms = v;
        else if (arg == "--buffer")
            o.buffer_kib = v;
        else if (arg == "--seed")
            o.seed = static_cast<std::uint64_t>(v);
        else {
            std::fprintf(stderr, "unknown option %s (try --help)\n", arg.c_str());
            return false;
        }
    }
    if (o.rate_mbit <= 0 || o.size_mib <= 0 || o.loss_percent >= 100) {
        std::fprintf(stderr, "need --size > 0, --rate > 0 and --loss < 100\n");
        return false;
    }
    return true;
}

double ms(proto::duration d) {
    return static_cast<double>(d.count()) / 1000.0;
}

} // namespace

int main(int argc, char** argv) {
    options o;
    if (!parse(argc, argv, o)) return 2;

    const auto rate = static_cast<std::uint64_t>(o.rate_mbit * 1e6);
    const proto::duration one_way{static_cast<std::int64_t>(o.rtt_ms * 1000.0 / 2.0)};
    const auto bytes = static_cast<std::uint64_t>(o.size_mib * 1024.0 * 1024.0);
    const auto queue = std::max<std::size_t>(
        3000, static_cast<std::size_t>(static_cast<double>(rate) / 8.0 * o.queue_ms / 1000.0));

    // Buffers that cover the path's bandwidth-delay product plus LEDBAT's 100 ms target
    // (and some headroom), so the window, not the buffer, limits the sender.
    proto::settings s;
    const double path_bytes = static_cast<double>(rate) / 8.0 * (o.rtt_ms + 250.0) / 1000.0;
    const auto buffer = o.buffer_kib > 0
                            ? static_cast<std::size_t>(o.buffer_kib * 1024.0)
                            : std::max<std::size_t>(1 << 20, static_cast<std::size_t>(path_bytes));
    s.send_buffer_size = buffer;
    s.recv_buffer_size = buffer;

    sim::network net(o.seed);
    auto& a = net.add_node(sim::address(1), s);
    auto& b = net.add_node(sim::address(2), s);
    const sim::link_config link{
        .delay = one_way, .rate_bps = rate, .queue_bytes = queue, .loss = o.loss_percent / 100.0};
    net.link(a, b, link);

    std::printf("µTP simulation: %.1f MiB over %.1f Mbit/s, RTT %.1f ms, loss %.2f %%, "
                "queue %zu B (%.0f ms), buffers %zu KiB, seed %llu\n",
                o.size_mib, o.rate_mbit, o.rtt_ms, o.loss_percent, queue, o.queue_ms, buffer / 1024,
                static_cast<unsigned long long>(o.seed));

    sim::transfer_options t;
    t.bytes = bytes;
    t.stream_seed = o.seed;
    // Generous: ten times the ideal, plus slack for a very lossy path.
    t.time_limit = proto::duration{static_cast<std::int64_t>(
        (120.0 + 10.0 * static_cast<double>(bytes) * 8.0 / static_cast<double>(rate)) * 1e6)};
    t.event_limit = 500'000'000;
    std::uint64_t last_received = 0;
    if (!o.quiet) {
        t.on_progress = [&](const sim::transfer_progress& p) {
            const double mbit = static_cast<double>(p.b_received - last_received) * 8.0 / 1e6;
            last_received = p.b_received;
            std::printf("  t=%6.1f s  %8.2f MiB (%5.1f %%)  %7.2f Mbit/s  cwnd %7u B  "
                        "rtt %6.1f ms  delay est. %6.1f ms  rtx %llu\n",
                        std::chrono::duration<double>(p.elapsed).count(),
                        static_cast<double>(p.b_received) / 1048576.0,
                        100.0 * static_cast<double>(p.b_received) / static_cast<double>(bytes),
                        mbit, p.a_stats.cwnd, ms(p.a_stats.rtt), ms(p.a_stats.queuing_delay),
                        static_cast<unsigned long long>(p.a_stats.retransmits));
            std::fflush(stdout);
        };
        t.progress_interval = 1s;
    }

    const auto wall_start = std::chrono::steady_clock::now();
    const sim::transfer_result r = sim::run_transfer(net, a, b, t);
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

    const sim::link_stats& bottleneck = net.stats(a, b);
    const double simulated = std::chrono::duration<double>(r.elapsed).count();
    std::printf("\n%s\n", r.ok ? "transfer complete: every byte verified, both sides closed"
                               : ("transfer FAILED: " + r.failure).c_str());
    std::printf("  goodput           %.2f Mbit/s (%.1f %% of the %.1f Mbit/s link), %.2f s "
                "to the last byte\n",
                r.goodput_bps / 1e6, 100.0 * r.goodput_bps / static_cast<double>(rate), o.rate_mbit,
                std::chrono::duration<double>(r.data_time).count());
    std::printf("  retransmits       %llu (fast %llu), timeouts %llu, window cuts %llu\n",
                static_cast<unsigned long long>(r.retransmits()),
                static_cast<unsigned long long>(r.fast_retransmits()),
                static_cast<unsigned long long>(r.timeouts()),
                static_cast<unsigned long long>(r.window_cuts()));
    std::printf("  link              %llu datagrams delivered, %llu lost, %llu tail-dropped\n",
                static_cast<unsigned long long>(bottleneck.packets_delivered),
                static_cast<unsigned long long>(bottleneck.dropped_loss),
                static_cast<unsigned long long>(bottleneck.dropped_queue));
    std::printf("  queueing delay    bottleneck avg %.1f ms, max %.1f ms; sender's LEDBAT "
                "estimate avg %.1f ms, max %.1f ms\n",
                ms(bottleneck.average_queue_delay()), ms(bottleneck.max_queue_delay),
                ms(r.avg_queuing_delay), ms(r.max_queuing_delay));
    std::printf("  final cwnd        %u B, smoothed RTT %.1f ms\n", r.a.stats.cwnd,
                ms(r.a.stats.rtt));
    std::printf("  time              %.2f s simulated in %.3f s of wall time (%.0fx), %llu "
                "events\n",
                simulated, wall, wall > 0 ? simulated / wall : 0.0,
                static_cast<unsigned long long>(r.events));
    return r.ok ? 0 : 1;
}
