// Suite `cancellation`: a pending connect (to a port that silently drops), accept, read and
// write (the send buffer full because the peer does not read) cancelled by cancel(), by a
// bound cancellation slot (terminal, partial, total), and by the awaitable-operators race
// with a timer. After each cancellation the operation completed with operation_aborted,
// nothing was lost or duplicated, and the object is still usable.
#include "common.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>

#include <functional>
#include <optional>

using namespace utp_test;
using namespace boost::asio::experimental::awaitable_operators;
namespace utf = boost::unit_test;

namespace {

enum class how { cancel_member, slot_terminal, slot_partial, slot_total, timer_race };
std::ostream& operator<<(std::ostream& os, how h) {
    switch (h) {
    case how::cancel_member:
        return os << "cancel()";
    case how::slot_terminal:
        return os << "slot, terminal";
    case how::slot_partial:
        return os << "slot, partial";
    case how::slot_total:
        return os << "slot, total";
    case how::timer_race:
        return os << "op || timer";
    }
    return os;
}

asio::cancellation_type_t type_of(how h) {
    switch (h) {
    case how::slot_terminal:
        return asio::cancellation_type::terminal;
    case how::slot_partial:
        return asio::cancellation_type::partial;
    case how::slot_total:
        return asio::cancellation_type::total;
    default:
        return asio::cancellation_type::none;
    }
}

/// Bind `h` to the signal's slot when the way of cancelling is a slot.
template <class Handler>
auto with_slot(how way, asio::cancellation_signal& sig, Handler h) {
    using bound = decltype(asio::bind_cancellation_slot(sig.slot(), std::move(h)));
    if (way == how::cancel_member) return bound(asio::cancellation_slot(), std::move(h));
    return asio::bind_cancellation_slot(sig.slot(), std::move(h));
}

/// An acceptor, a client multiplexer and one established connection between them.
struct connected_pair {
    asio::io_context& ioc;
    utp::acceptor acc;
    utp::multiplexer client_mux;
    utp::socket srv, cli;
    explicit connected_pair(asio::io_context& io)
        : ioc(io), acc(io, loopback_v4()), client_mux(io, loopback_v4()), srv(io), cli(client_mux) {
        std::optional<error_code> a, c;
        acc.async_accept(srv, [&](error_code ec) { a = ec; });
        cli.async_connect(acc.local_endpoint(), [&](error_code ec) { c = ec; });
        require_run_until(
            ioc, [&] { return a && c; }, 5s, "connect the pair");
        BOOST_REQUIRE(!*a);
        BOOST_REQUIRE(!*c);
    }
};

/// Race `op` (a function returning an awaitable) with a timer that must win.
template <class Op>
void race_timer_and_lose(asio::io_context& ioc, Op op, const char* what) {
    tasks t;
    t.spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            asio::steady_timer timer(ioc, 150ms);
            auto r = co_await (op() || timer.async_wait(asio::use_awaitable));
            EXPECT(r.index() == 1, what << ": the operation completed instead of being cancelled");
        },
        what);
    require_run_until(
        ioc, [&] { return t.all_done(); }, 5s, what, t);
}

// A dial to a UDP socket that never reads (no ICMP comes back, no answer either): the
// connect stays pending until cancelled; the peer is told with a RESET; the same socket
// object then connects elsewhere.
void pending_connect(how way) {
    BOOST_TEST_MESSAGE("cancelled by " << way);
    asio::io_context ioc;
    udp::socket silent(ioc, loopback_v4());
    utp::multiplexer mux(ioc, loopback_v4());
    utp::acceptor acc(ioc, loopback_v4());
    utp::socket s(mux);

    // The SYN reaching the silent socket (readiness only: it never reads while dialled).
    bool syn_arrived = false;
    silent.async_wait(udp::socket::wait_read, [&](error_code) { syn_arrived = true; });

    if (way == how::timer_race) {
        race_timer_and_lose(
            ioc, [&] { return s.async_connect(silent.local_endpoint(), asio::use_awaitable); },
            "connect || timer");
        BOOST_TEST(syn_arrived);
    } else {
        asio::cancellation_signal sig;
        std::optional<error_code> result;
        s.async_connect(silent.local_endpoint(),
                        with_slot(way, sig, [&](error_code ec) { result = ec; }));
        require_run_until(
            ioc, [&] { return syn_arrived; }, 5s, "SYN sent");
        BOOST_REQUIRE(!result.has_value());
        if (way == how::cancel_member)
            s.cancel();
        else
            sig.emit(type_of(way));
        require_run_until(
            ioc, [&] { return result.has_value(); }, 2s, "cancelled connect");
        BOOST_TEST(*result == asio::error::operation_aborted, result->message());
    }
    BOOST_TEST(!s.is_open());

    // The silent peer got the SYN, then a RESET for the abandoned attempt.
    std::array<std::uint8_t, 2048> d;
    udp::endpoint from;
    bool reset_seen = false;
    int datagrams = 0;
    std::function<void()> next = [&] {
        silent.async_receive_from(asio::buffer(d), from, [&](error_code ec, std::size_t n) {
            if (ec || n < 20) return;
            ++datagrams;
            if (d[0] == 0x31) // type 3 (ST_RESET), version 1
                reset_seen = true;
            else
                next();
        });
    };
    next();
    require_run_until(
        ioc, [&] { return reset_seen; }, 2s, "RESET to the abandoned peer");
    BOOST_TEST(from == mux.local_endpoint());
    silent.close();

    // Still usable: the same object connects to a real acceptor.
    utp::socket srv(ioc);
    std::optional<error_code> a, c;
    acc.async_accept(srv, [&](error_code ec) { a = ec; });
    s.async_connect(acc.local_endpoint(), [&](error_code ec) { c = ec; });
    require_run_until(
        ioc, [&] { return a && c; }, 5s, "connect after cancel");
    BOOST_TEST(!*c, c->message());
    exchange(ioc, s, srv, 1);
    exchange(ioc, srv, s, 2);
}

// A pending accept (nobody dials) cancelled; the same acceptor then accepts into the same
// socket object.
void pending_accept(how way) {
    BOOST_TEST_MESSAGE("cancelled by " << way);
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client_mux(ioc, loopback_v4());
    utp::socket target(ioc);

    if (way == how::timer_race) {
        race_timer_and_lose(
            ioc, [&] { return acc.async_accept(target, asio::use_awaitable); }, "accept || timer");
    } else {
        asio::cancellation_signal sig;
        std::optional<error_code> result;
        acc.async_accept(target, with_slot(way, sig, [&](error_code ec) { result = ec; }));
        ioc.poll(); // let the engine take the operation in; nothing can complete it
        BOOST_REQUIRE(!result.has_value());
        if (way == how::cancel_member)
            acc.cancel();
        else
            sig.emit(type_of(way));
        require_run_until(
            ioc, [&] { return result.has_value(); }, 2s, "cancelled accept");
        BOOST_TEST(*result == asio::error::operation_aborted, result->message());
    }
    BOOST_TEST(!target.is_open());
    BOOST_TEST(acc.is_open());

    utp::socket c(client_mux);
    std::optional<error_code> a, cc;
    acc.async_accept(target, [&](error_code ec) { a = ec; });
    c.async_connect(acc.local_endpoint(), [&](error_code ec) { cc = ec; });
    require_run_until(
        ioc, [&] { return a && cc; }, 5s, "accept after cancel");
    BOOST_TEST(!*a, a->message());
    BOOST_TEST(!*cc, cc->message());
    exchange(ioc, c, target, 3);
}

// A pending read (the peer sends nothing yet) cancelled; the bytes sent afterwards are all
// read by a later read.
void pending_read(how way) {
    BOOST_TEST_MESSAGE("cancelled by " << way);
    asio::io_context ioc;
    connected_pair p(ioc);
    std::array<std::uint8_t, 4096> buf;

    if (way == how::timer_race) {
        race_timer_and_lose(
            ioc, [&] { return p.cli.async_read_some(asio::buffer(buf), asio::use_awaitable); },
            "read || timer");
    } else {
        asio::cancellation_signal sig;
        std::optional<error_code> result;
        std::size_t n = 99;
        p.cli.async_read_some(asio::buffer(buf),
                              with_slot(way, sig, [&](error_code ec, std::size_t k) {
                                  result = ec;
                                  n = k;
                              }));
        ioc.poll();
        BOOST_REQUIRE(!result.has_value());
        if (way == how::cancel_member)
            p.cli.cancel();
        else
            sig.emit(type_of(way));
        require_run_until(
            ioc, [&] { return result.has_value(); }, 2s, "cancelled read");
        BOOST_TEST(*result == asio::error::operation_aborted, result->message());
        BOOST_TEST(n == 0u);
    }
    BOOST_TEST(p.cli.is_open());
    exchange(ioc, p.srv, p.cli, 5, 30000);
    exchange(ioc, p.cli, p.srv, 6, 30000);
}

// A write that cannot complete: the peer does not read, its receive window closed, and the
// send buffer is full. Cancelled, it wrote nothing: the peer then reads exactly the bytes
// of the writes that completed, and writing goes on.
void pending_write(how way) {
    BOOST_TEST_MESSAGE("cancelled by " << way);
    asio::io_context ioc;
    connected_pair p(ioc);
    p.cli.set_option(utp::send_buffer_size(64 * 1024));
    p.srv.set_option(utp::receive_buffer_size(64 * 1024));
    const pattern pat(7);
    std::uint64_t written = 0; // bytes of completed writes: the stream's length so far
    std::vector<std::uint8_t> chunk(32 * 1024);
    asio::cancellation_signal sig;
    const how fill_way = way == how::timer_race ? how::cancel_member : way;

    // Write until a write stays pending.
    bool pending = false;
    std::optional<error_code> failed;
    std::function<void()> write_next = [&] {
        pat.fill(written, chunk);
        pending = true;
        p.cli.async_write_some(asio::buffer(chunk),
                               with_slot(fill_way, sig, [&](error_code ec, std::size_t n) {
                                   pending = false;
                                   if (ec) {
                                       failed = ec;
                                       return;
                                   }
                                   written += n;
                                   write_next();
                               }));
    };
    write_next();
    // Stalled: a write pending while the peer advertises a zero window. Checked once more
    // from a posted handler, behind any completion already queued.
    bool stalled = false;
    for (int attempt = 0; !stalled; ++attempt) {
        BOOST_REQUIRE(attempt < 100);
        require_run_until(
            ioc, [&] { return failed || (pending && p.cli.stats().peer_window == 0); }, 10s,
            "send buffer full");
        BOOST_REQUIRE_MESSAGE(!failed, "write failed: " << failed->message());
        bool checked = false;
        asio::post(ioc, [&] {
            checked = true;
            stalled = pending && p.cli.stats().peer_window == 0;
        });
        require_run_until(
            ioc, [&] { return checked; }, 5s, "re-check");
    }
    BOOST_TEST_MESSAGE("stalled after " << written << " bytes");
    BOOST_TEST(written >= 64u * 1024);

    // Cancel the pending write.
    if (fill_way == how::cancel_member)
        p.cli.cancel();
    else
        sig.emit(type_of(way));
    require_run_until(
        ioc, [&] { return failed.has_value(); }, 2s, "cancelled write");
    BOOST_TEST(*failed == asio::error::operation_aborted, failed->message());
    BOOST_TEST(!pending);

    if (way == how::timer_race) {
        // Still stalled: a new write raced with a timer loses.
        pat.fill(written, chunk);
        race_timer_and_lose(
            ioc, [&] { return p.cli.async_write_some(asio::buffer(chunk), asio::use_awaitable); },
            "write || timer");
    }
    BOOST_TEST(p.cli.is_open());

    // The peer reads now; the writer goes on with another 200 KiB and shuts down.
    const std::uint64_t total = written + 200 * 1024;
    tasks t;
    t.spawn(
        ioc,
        [&]() -> asio::awaitable<void> {
            std::vector<std::uint8_t> buf(40000);
            while (written < total) {
                const auto n =
                    static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), total - written));
                pat.fill(written, {buf.data(), n});
                co_await asio::async_write(p.cli, asio::buffer(buf.data(), n), asio::use_awaitable);
                written += n;
            }
            p.cli.shutdown(asio::socket_base::shutdown_send);
        },
        "writer");
    t.spawn(
        ioc, [&]() -> asio::awaitable<void> { co_await receive_pattern(p.srv, 7, total); },
        "reader");
    require_run_until(
        ioc, [&] { return t.all_done(); }, 20s, "after the cancelled write", t);
}

// A pending accept cancelled, with nothing else on the io_context: run() must then return
// by itself (the engine lets go of its read wait), the acceptor still open.
void accept_then_run_returns(how way) {
    BOOST_TEST_MESSAGE("cancelled by " << way);
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    std::optional<error_code> result;
    asio::cancellation_signal sig;
    if (way == how::timer_race) {
        asio::co_spawn(
            ioc,
            [&]() -> asio::awaitable<void> {
                asio::steady_timer timer(ioc, 100ms);
                auto r = co_await (acc.async_accept(asio::use_awaitable) ||
                                   timer.async_wait(asio::use_awaitable));
                result = r.index() == 1 ? error_code(asio::error::operation_aborted)
                                        : error_code(asio::error::fault);
            },
            asio::detached);
    } else {
        acc.async_accept(with_slot(way, sig, [&](error_code ec, utp::socket) { result = ec; }));
        ioc.poll();
        BOOST_REQUIRE(!result.has_value());
        if (way == how::cancel_member)
            acc.cancel();
        else
            sig.emit(type_of(way));
    }
    const auto t0 = steady::now();
    ioc.restart();
    ioc.run_for(5s);
    BOOST_TEST(ioc.stopped(), "run() did not return after the cancelled accept");
    BOOST_TEST((steady::now() - t0 < 2s));
    BOOST_REQUIRE(result.has_value());
    BOOST_TEST(*result == asio::error::operation_aborted, result->message());
    BOOST_TEST(acc.is_open());
}

// A raw receive (nothing arrives) cancelled: by multiplexer::cancel(), a slot, or a timer
// race. run() then returns by itself; a datagram sent afterwards goes to the next receive.
void pending_raw_receive(how way) {
    BOOST_TEST_MESSAGE("cancelled by " << way);
    asio::io_context ioc;
    utp::multiplexer mux(ioc, loopback_v4());
    std::array<char, 64> buf;
    udp::endpoint from;
    if (way == how::timer_race) {
        race_timer_and_lose(
            ioc,
            [&] { return mux.async_receive_from(asio::buffer(buf), from, asio::use_awaitable); },
            "raw receive || timer");
    } else {
        asio::cancellation_signal sig;
        std::optional<error_code> result;
        mux.async_receive_from(
            asio::buffer(buf), from,
            with_slot(way, sig, [&](error_code ec, std::size_t) { result = ec; }));
        ioc.poll();
        BOOST_REQUIRE(!result.has_value());
        if (way == how::cancel_member)
            mux.cancel();
        else
            sig.emit(type_of(way));
        require_run_until(
            ioc, [&] { return result.has_value(); }, 2s, "cancelled raw receive");
        BOOST_TEST(*result == asio::error::operation_aborted, result->message());
    }
    require_run_returns(ioc, 5s, "after the cancelled raw receive");
    BOOST_TEST(mux.is_open());

    udp::socket sender(ioc, loopback_v4());
    const std::string dht = "d1:ad2:id20:abcdefghij0123456789e1:q4:ping1:t2:aa1:y1:qe";
    const std::size_t got =
        send_and_receive_raw(ioc, mux, sender, asio::buffer(dht), asio::buffer(buf));
    BOOST_TEST(got == dht.size());
    BOOST_TEST(std::string(buf.data(), got) == dht);
}

// A stand-in for Boost 1.86's asio::cancel_after (not in 1.81): a token adapter that, like
// the real one, runs its timer on the *initiation's* executor and cancels the operation
// through its slot when the timer fires. It compiles only if our initiation objects carry
// get_executor(), as Asio's do.
template <class Token>
struct cancel_after_t {
    steady::duration after;
    Token token;
};

} // namespace

template <class Token, class... Signatures>
struct boost::asio::async_result<cancel_after_t<Token>, Signatures...> {
    // `void`, not `auto`: the body is instantiated only when used, not when Asio's concepts
    // probe the token with an archetype initiation (which has no executor).
    template <class Initiation, class RawToken, class... Args>
    static void initiate(Initiation&& init, RawToken&& t, Args&&... args) {
        asio::async_initiate<Token, Signatures...>(
            [init = std::forward<Initiation>(init), after = t.after](auto handler,
                                                                     auto&&... a) mutable {
                auto timer = std::make_shared<asio::steady_timer>(init.get_executor(), after);
                auto sig = std::make_shared<asio::cancellation_signal>();
                timer->async_wait([sig](error_code ec) {
                    if (!ec) sig->emit(asio::cancellation_type::terminal);
                });
                std::move(init)(asio::bind_cancellation_slot(
                                    sig->slot(),
                                    [timer, sig, h = std::move(handler)](auto... r) mutable {
                                        timer->cancel();
                                        std::move(h)(std::move(r)...);
                                    }),
                                std::forward<decltype(a)>(a)...);
            },
            t.token, std::forward<Args>(args)...);
    }
};

namespace {

template <class Token>
cancel_after_t<std::decay_t<Token>> cancel_after(steady::duration d, Token&& t) {
    return {d, std::forward<Token>(t)};
}

} // namespace

BOOST_AUTO_TEST_SUITE(cancellation)

// Every operation started directly (not composed) works with a cancel_after-style adapter.
BOOST_AUTO_TEST_CASE(timed_cancellation_on_the_initiations_executor, *utf::timeout(30)) {
    asio::io_context ioc;
    connected_pair p(ioc);
    udp::socket silent(ioc, loopback_v4());
    std::array<std::uint8_t, 64> buf;
    udp::endpoint from;
    std::vector<std::pair<std::string, std::optional<error_code>>> r(5);
    p.cli.async_read_some(asio::buffer(buf), cancel_after(100ms, [&](error_code ec, std::size_t) {
                              r[0] = {"read", ec};
                          }));
    p.cli.async_wait(utp::socket::wait_read, cancel_after(100ms, [&](error_code ec) {
                         r[1] = {"wait", ec};
                     }));
    utp::socket dialer(p.client_mux);
    dialer.async_connect(silent.local_endpoint(), cancel_after(100ms, [&](error_code ec) {
                             r[2] = {"connect", ec};
                         }));
    utp::socket target(ioc);
    p.acc.async_accept(target, cancel_after(100ms, [&](error_code ec) { r[3] = {"accept", ec}; }));
    p.client_mux.async_receive_from(asio::buffer(buf), from,
                                    cancel_after(100ms, [&](error_code ec, std::size_t) {
                                        r[4] = {"raw receive", ec};
                                    }));
    require_run_until(
        ioc,
        [&] {
            return std::all_of(r.begin(), r.end(), [](auto& x) { return x.second.has_value(); });
        },
        5s, "timed cancellations");
    for (auto& [what, ec] : r)
        BOOST_TEST(*ec == asio::error::operation_aborted, what << ": " << ec->message());
    exchange(ioc, p.cli, p.srv, 12);
}

// The move-accept form supports terminal cancellation (slot or timer race).
BOOST_AUTO_TEST_CASE(pending_move_accept, *utf::timeout(30)) {
    asio::io_context ioc;
    utp::acceptor acc(ioc, loopback_v4());
    utp::multiplexer client_mux(ioc, loopback_v4());

    asio::cancellation_signal sig;
    std::optional<error_code> result;
    acc.async_accept(asio::bind_cancellation_slot(sig.slot(), [&](error_code ec, utp::socket s) {
        result = ec;
        BOOST_TEST(!s.is_open());
    }));
    ioc.poll();
    BOOST_REQUIRE(!result.has_value());
    sig.emit(asio::cancellation_type::terminal);
    require_run_until(
        ioc, [&] { return result.has_value(); }, 2s, "cancelled move-accept");
    BOOST_TEST(*result == asio::error::operation_aborted, result->message());

    race_timer_and_lose(
        ioc, [&] { return acc.async_accept(asio::use_awaitable); }, "move-accept || timer");

    std::optional<utp::socket> accepted;
    utp::socket c(client_mux);
    acc.async_accept([&](error_code ec, utp::socket s) {
        BOOST_TEST(!ec, ec.message());
        accepted.emplace(std::move(s));
    });
    std::optional<error_code> cc;
    c.async_connect(acc.local_endpoint(), [&](error_code ec) { cc = ec; });
    require_run_until(
        ioc, [&] { return accepted && cc; }, 5s, "move-accept after cancel");
    exchange(ioc, c, *accepted, 4);
}

#define UTP_CANCELLATION_CASES(op)                                                                 \
    BOOST_AUTO_TEST_CASE(op##_by_cancel, *utf::timeout(30)) {                                      \
        op(how::cancel_member);                                                                    \
    }                                                                                              \
    BOOST_AUTO_TEST_CASE(op##_by_slot_terminal, *utf::timeout(30)) {                               \
        op(how::slot_terminal);                                                                    \
    }                                                                                              \
    BOOST_AUTO_TEST_CASE(op##_by_slot_partial, *utf::timeout(30)) {                                \
        op(how::slot_partial);                                                                     \
    }                                                                                              \
    BOOST_AUTO_TEST_CASE(op##_by_slot_total, *utf::timeout(30)) {                                  \
        op(how::slot_total);                                                                       \
    }                                                                                              \
    BOOST_AUTO_TEST_CASE(op##_by_timer_race, *utf::timeout(30)) {                                  \
        op(how::timer_race);                                                                       \
    }

UTP_CANCELLATION_CASES(pending_connect)
UTP_CANCELLATION_CASES(pending_accept)
UTP_CANCELLATION_CASES(pending_read)
UTP_CANCELLATION_CASES(pending_write)
UTP_CANCELLATION_CASES(accept_then_run_returns)
UTP_CANCELLATION_CASES(pending_raw_receive)

BOOST_AUTO_TEST_SUITE_END()
