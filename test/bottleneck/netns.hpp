//
// test/bottleneck/netns.hpp — the real bottleneck: three network namespaces made by the
// test, sender — router — receiver, joined by two veth pairs, with a `tbf` qdisc on the
// router's egress towards the receiver. Removed again by RAII, also when a test throws.
//
#ifndef UTP_BOTTLENECK_NETNS_HPP
#define UTP_BOTTLENECK_NETNS_HPP

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace utp_bottleneck {

using namespace std::chrono_literals;

/// What a program run by run_command() did.
struct command_result {
    bool ok = false;    ///< exited with status 0 within the time allowed
    std::string output; ///< its stdout and stderr, or why it did not run
};

/// Runs `argv` (argv[0] found on PATH or in /usr/sbin, /sbin) and waits at most `limit`;
/// a program still running then is killed.
command_result run_command(const std::vector<std::string>& argv,
                           std::chrono::milliseconds limit = 10s);

/// Moves the calling thread into the named namespace (/run/netns/<name>): the sockets it
/// opens from then on live there, and keep that namespace whoever uses them later.
/// Throws std::system_error.
void enter_namespace(const std::string& name);

/// Runs `fn` on a thread of its own inside the named namespace and waits for it; an
/// exception thrown by `fn` is rethrown here.
void run_in_namespace(const std::string& name, const std::function<void()>& fn);

/// The bottleneck: rate, burst and queue of the `tbf` qdisc.
struct bottleneck_spec {
    std::uint64_t rate_bps = 20'000'000;
    std::uint32_t burst_bytes = 5 * 1024;  ///< about 3 full packets: tbf needs at least one
    std::uint32_t limit_bytes = 2'500'000; ///< 1 s of queue at 20 Mbit/s
};

/** Three namespaces made for one test case, named `utpbn<pid>-<n>-{snd,rtr,rcv}`:

        snd [snd0 10.201.1.2] --- [rtr0 10.201.1.1] rtr [rtr1 10.201.2.1] --- [rcv0 10.201.2.2] rcv
                                                          tbf here, towards rcv

    Only the direction snd -> rcv is shaped: the acknowledgements come back unhindered, as
    they would on an asymmetric access link. The constructor throws std::runtime_error
    (with the failing command's message) after removing what it made; the destructor
    removes the namespaces. */
class topology {
public:
    explicit topology(const bottleneck_spec& spec = {});
    ~topology();
    topology(const topology&) = delete;
    topology& operator=(const topology&) = delete;

    const std::string& sender_ns() const { return names_[0]; }
    const std::string& router_ns() const { return names_[1]; }
    const std::string& receiver_ns() const { return names_[2]; }
    static const char* sender_address() { return "10.201.1.2"; }
    static const char* receiver_address() { return "10.201.2.2"; }
    const bottleneck_spec& spec() const { return spec_; }

    /// Bytes the bottleneck interface has sent (Ethernet frames, as tbf counts them).
    std::uint64_t bottleneck_tx_bytes() const;

private:
    void remove();

    bottleneck_spec spec_;
    std::vector<std::string> names_;
    std::vector<std::string> made_;
    int netlink_ = -1; ///< a NETLINK_ROUTE socket opened inside the router's namespace
};

/// Removes namespaces named `utpbn<pid>-...` whose process is gone (a test killed by a
/// timeout leaves them behind). Those of live processes (a suite running in parallel) stay.
void remove_leftover_namespaces();

/// Whether this process can build a topology: root, `ip`, `tc`, network namespaces and the
/// tbf qdisc. If not, `why` says what is missing.
bool bottleneck_supported(std::string& why);

} // namespace utp_bottleneck

#endif
