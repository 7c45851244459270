#include "transfer.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace utp::sim {

// -- byte_stream -------------------------------------------------------------------------

std::uint64_t byte_stream::word(std::uint64_t index) const noexcept {
    return splitmix64(seed_ + index * 0xd1342543de82ef95ull);
}

std::uint8_t byte_stream::at(std::uint64_t offset) const noexcept {
    return static_cast<std::uint8_t>(word(offset >> 3) >> (8 * (offset & 7)));
}

void byte_stream::fill(std::uint64_t offset, std::span<std::uint8_t> out) const noexcept {
    std::size_t i = 0;
    const std::size_t n = out.size();
    while (i < n && ((offset + i) & 7) != 0) {
        out[i] = at(offset + i);
        ++i;
    }
    while (n - i >= 8) {
        const std::uint64_t w = word((offset + i) >> 3);
        for (int k = 0; k < 8; ++k)
            out[i + k] = static_cast<std::uint8_t>(w >> (8 * k));
        i += 8;
    }
    for (; i < n; ++i)
        out[i] = at(offset + i);
}

std::size_t byte_stream::mismatch(std::uint64_t offset,
                                  std::span<const std::uint8_t> data) const noexcept {
    std::uint8_t buf[4096];
    for (std::size_t done = 0; done < data.size();) {
        const std::size_t n = std::min(sizeof buf, data.size() - done);
        fill(offset + done, std::span<std::uint8_t>(buf, n));
        if (std::memcmp(buf, data.data() + done, n) != 0) {
            for (std::size_t k = 0; k < n; ++k)
                if (buf[k] != data[done + k]) return done + k;
        }
        done += n;
    }
    return data.size();
}

// -- transfer_result ---------------------------------------------------------------------

std::string transfer_result::summary() const {
    char rev[64] = "";
    if (reverse_data_time.count() > 0)
        std::snprintf(rev, sizeof rev, " (reverse %.2f)", reverse_goodput_bps / 1e6);
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s: %.3f s (data %.3f s), goodput %.2f Mbit/s%s, rtx %llu (fast %llu), "
                  "timeouts %llu, cuts %llu, cwnd %u, qdelay avg %.1f ms max %.1f ms, events %llu",
                  ok ? "ok" : "FAILED", static_cast<double>(elapsed.count()) / 1e6,
                  static_cast<double>(data_time.count()) / 1e6, goodput_bps / 1e6, rev,
                  static_cast<unsigned long long>(retransmits()),
                  static_cast<unsigned long long>(fast_retransmits()),
                  static_cast<unsigned long long>(timeouts()),
                  static_cast<unsigned long long>(window_cuts()), a.stats.cwnd,
                  static_cast<double>(avg_queuing_delay.count()) / 1e3,
                  static_cast<double>(max_queuing_delay.count()) / 1e3,
                  static_cast<unsigned long long>(events));
    std::string s = buf;
    if (!ok) s += " -- " + failure;
    return s;
}

// -- run_transfer ------------------------------------------------------------------------

namespace {

struct side_state {
    const char* name;
    node* n;
    proto::connection_handle h{};
    bool have = false;
    std::uint64_t to_send = 0;
    std::uint64_t to_recv = 0;
    byte_stream out;
    byte_stream in;
    bool shut = false;
    instant released_at{};
    transfer_side r;
};

struct transfer_state {
    network* net;
    const transfer_options* opt;
    instant start;
    side_state a, b;
    std::string failure;
    bool failed = false;
    std::vector<std::uint8_t> wbuf, rbuf;
    bool alive = true;
    // A's LEDBAT delay estimate
    std::uint64_t samples = 0;
    std::int64_t delay_sum = 0;
    duration delay_max{0};

    void fail(std::string why) {
        if (failed) return;
        failed = true;
        failure = std::move(why);
    }

    void service(side_state& s) {
        if (failed) return;
        node& n = *s.n;
        while (n.poll_wakeup()) {
        }
        if (!s.have) {
            auto h = n.accept();
            if (!h) return;
            s.h = *h;
            s.have = true;
        }
        if (s.r.gone) return;
        proto::connection* c = n.get(s.h);
        if (!c) {
            if (!s.r.released) {
                fail(std::string(s.name) + ": connection vanished in state " +
                     proto::to_string(s.r.final_state));
                return;
            }
            s.r.gone = true;
            // A linger that runs out fails the connection (timed_out), so `closed` here
            // means the FIN exchange completed.
            if (s.r.final_state != proto::conn_state::closed)
                fail(std::string(s.name) + ": left its endpoint in state " +
                     proto::to_string(s.r.final_state));
            return;
        }
        s.r.final_state = c->state();
        if (c->state() == proto::conn_state::failed) {
            fail(std::string(s.name) + ": connection failed (" + proto::to_string(c->error()) +
                 ")");
            return;
        }
        s.r.stats = c->stats();
        if (s.r.released) return; // lingering: only its state and counters matter now

        // Write as much as the send buffer takes.
        if (c->is_open()) {
            while (s.r.sent < s.to_send) {
                const std::size_t room = c->writable();
                if (room == 0) break;
                const std::size_t len = static_cast<std::size_t>(
                    std::min<std::uint64_t>({room, opt->write_chunk, s.to_send - s.r.sent}));
                s.out.fill(s.r.sent, std::span<std::uint8_t>(wbuf.data(), len));
                const std::size_t w = n.write(s.h, std::span<const std::uint8_t>(wbuf.data(), len));
                if (w == 0) break;
                s.r.sent += w;
            }
            if (s.r.sent == s.to_send && !s.shut) {
                n.shutdown_send(s.h);
                s.shut = true;
            }
        }

        // Read and verify everything available.
        for (;;) {
            const std::size_t got =
                n.read(s.h, std::span<std::uint8_t>(rbuf.data(), opt->read_chunk));
            if (got == 0) break;
            if (s.r.received + got > s.to_recv) {
                fail(std::string(s.name) + ": received " + std::to_string(s.r.received + got) +
                     " bytes, more than the " + std::to_string(s.to_recv) + " sent");
                return;
            }
            const std::size_t bad =
                s.in.mismatch(s.r.received, std::span<const std::uint8_t>(rbuf.data(), got));
            if (bad != got) {
                if (opt->stop_on_wrong_byte) {
                    fail(std::string(s.name) + ": wrong byte at stream offset " +
                         std::to_string(s.r.received + bad));
                    return;
                }
                std::vector<std::uint8_t> expect(got);
                s.in.fill(s.r.received, expect);
                for (std::size_t k = bad; k < got; ++k)
                    s.r.wrong_bytes += expect[k] != rbuf[k];
            }
            s.r.received += got;
        }
        if (s.to_recv > 0 && s.r.received == s.to_recv && !s.r.done_at)
            s.r.done_at = net->now() - start;

        if (c->eof() && !s.r.eof) {
            if (s.r.received != s.to_recv) {
                fail(std::string(s.name) + ": eof after " + std::to_string(s.r.received) + " of " +
                     std::to_string(s.to_recv) + " bytes");
                return;
            }
            s.r.eof = true;
        }
        if (s.r.eof && s.shut && !s.r.released &&
            (opt->release_on_eof || c->state() == proto::conn_state::closed)) {
            s.r.released = true;
            s.released_at = net->now();
            n.release(s.h);
            if (proto::connection* after = n.get(s.h)) {
                s.r.final_state = after->state();
            } else {
                // Closed already (both FINs acknowledged) and forgotten at once.
                s.r.gone = true;
                if (s.r.final_state != proto::conn_state::closed)
                    fail(std::string(s.name) + ": left its endpoint in state " +
                         proto::to_string(s.r.final_state));
            }
        }
    }

    void sample_delay() {
        if (!a.have || a.r.gone) return;
        const proto::connection_stats& st = a.r.stats;
        if (st.bytes_in_flight == 0) return;
        ++samples;
        delay_sum += st.queuing_delay.count();
        delay_max = std::max(delay_max, st.queuing_delay);
    }

    bool finished() const { return failed || (a.r.gone && b.r.gone); }

    std::string progress() const {
        char buf[400];
        std::snprintf(buf, sizeof buf,
                      " [t=%.3f s; A sent %llu/%llu read %llu/%llu eof %d released %d state %s; "
                      "B sent %llu/%llu read %llu/%llu eof %d released %d state %s]",
                      (net->now() - start).count() / 1e6, static_cast<unsigned long long>(a.r.sent),
                      static_cast<unsigned long long>(a.to_send),
                      static_cast<unsigned long long>(a.r.received),
                      static_cast<unsigned long long>(a.to_recv), a.r.eof, a.r.released,
                      proto::to_string(a.r.final_state), static_cast<unsigned long long>(b.r.sent),
                      static_cast<unsigned long long>(b.to_send),
                      static_cast<unsigned long long>(b.r.received),
                      static_cast<unsigned long long>(b.to_recv), b.r.eof, b.r.released,
                      b.have ? proto::to_string(b.r.final_state) : "not accepted");
        return buf;
    }
};

} // namespace

transfer_result run_transfer(network& net, node& a, node& b, const transfer_options& opt) {
    auto st = std::make_shared<transfer_state>(transfer_state{
        &net,
        &opt,
        net.now(),
        side_state{"A",
                   &a,
                   {},
                   false,
                   opt.bytes,
                   opt.reverse_bytes,
                   byte_stream(opt.stream_seed),
                   byte_stream(derive_seed(opt.stream_seed, 2)),
                   false,
                   {},
                   {}},
        side_state{"B",
                   &b,
                   {},
                   false,
                   opt.reverse_bytes,
                   opt.bytes,
                   byte_stream(derive_seed(opt.stream_seed, 2)),
                   byte_stream(opt.stream_seed),
                   false,
                   {},
                   {}},
        {},
        false,
        std::vector<std::uint8_t>(std::max<std::size_t>(opt.write_chunk, 1)),
        std::vector<std::uint8_t>(std::max<std::size_t>(opt.read_chunk, 1)),
    });
    transfer_state& s = *st;
    const std::uint64_t events_before = net.stats().events;

    // Any RESET between the two is a failure of a transfer that should close cleanly.
    auto resets = std::make_shared<std::uint64_t>(0);
    const filter_id tap = net.add_filter(count_into(
        match{.type = proto::packet_type::reset,
              .when =
                  [pa = a.address(), pb = b.address()](const datagram_view& d) {
                      return (d.src == pa && d.dst == pb) || (d.src == pb && d.dst == pa);
                  }},
        resets));

    a.set_handler([&s](node&) {
        s.service(s.a);
        s.sample_delay();
    });
    b.set_handler([&s](node&) { s.service(s.b); });
    b.listen(true);

    s.a.h = a.connect(b);
    s.a.have = static_cast<bool>(s.a.h);
    if (!s.a.have) s.fail("A: connect() returned no handle");

    // Periodic progress reports: events holding `st`, stopped by `alive` once done.
    if (opt.on_progress && opt.progress_interval.count() > 0) {
        struct ticker {
            std::shared_ptr<transfer_state> st;
            void operator()() const {
                if (!st->alive) return;
                transfer_progress p;
                p.elapsed = st->net->now() - st->start;
                p.a_sent = st->a.r.sent;
                p.b_received = st->b.r.received;
                p.b_sent = st->b.r.sent;
                p.a_received = st->a.r.received;
                p.a_stats = st->a.r.stats;
                p.b_stats = st->b.r.stats;
                st->opt->on_progress(p);
                st->net->schedule(st->opt->progress_interval, ticker{st});
            }
        };
        net.schedule(opt.progress_interval, ticker{st});
    }

    const auto outcome =
        net.run_until([&s] { return s.finished(); }, s.start + opt.time_limit, opt.event_limit);
    s.alive = false;

    transfer_result r;
    r.stop = outcome.reason;
    r.events = net.stats().events - events_before;
    r.elapsed = net.now() - s.start;
    r.a = s.a.r;
    r.b = s.b.r;
    r.delay_samples = s.samples;
    if (s.samples)
        r.avg_queuing_delay = duration{s.delay_sum / static_cast<std::int64_t>(s.samples)};
    r.max_queuing_delay = s.delay_max;
    if (r.b.done_at) r.data_time = *r.b.done_at;
    if (r.a.done_at) r.reverse_data_time = *r.a.done_at;
    if (r.data_time.count() > 0)
        r.goodput_bps =
            static_cast<double>(opt.bytes) * 8e6 / static_cast<double>(r.data_time.count());
    if (opt.reverse_bytes && r.reverse_data_time.count() > 0)
        r.reverse_goodput_bps = static_cast<double>(opt.reverse_bytes) * 8e6 /
                                static_cast<double>(r.reverse_data_time.count());

    if (s.failed) {
        r.failure = s.failure + s.progress();
    } else if (!outcome) {
        switch (outcome.reason) {
        case run_reason::deadline:
            r.failure = "virtual time limit exceeded";
            break;
        case run_reason::idle:
            r.failure = "stalled: no event left (no timer armed)";
            break;
        case run_reason::event_limit:
            r.failure = "event limit exceeded";
            break;
        case run_reason::satisfied:
            break;
        }
        r.failure += s.progress();
    } else if (r.a.wrong_bytes || r.b.wrong_bytes) {
        r.failure = std::to_string(r.a.wrong_bytes + r.b.wrong_bytes) + " wrong byte(s) read";
    } else if (*resets) {
        r.failure = std::to_string(*resets) + " RESET(s) exchanged" + s.progress();
    } else if (net.stats().flush_overruns) {
        r.failure = "a node's poll_transmit never ran dry";
    } else {
        r.ok = true;
    }

    a.set_handler(nullptr);
    b.set_handler(nullptr);
    net.remove_filter(tap);
    // A failed run hands its connections back to the endpoints, which close them (or
    // forget them, if they failed): nothing is left behind for the caller to clean up.
    for (side_state* side : {&s.a, &s.b})
        if (side->have && !side->r.released) side->n->release(side->h);
    return r;
}

} // namespace utp::sim
