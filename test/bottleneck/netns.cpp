#include "netns.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>
#include <thread>

extern char** environ;

namespace utp_bottleneck {

namespace {

constexpr const char* prefix = "utpbn";

std::string find_program(const std::string& name) {
    std::vector<std::string> dirs;
    if (const char* path = std::getenv("PATH")) {
        std::stringstream ss(path);
        for (std::string d; std::getline(ss, d, ':');)
            if (!d.empty()) dirs.push_back(d);
    }
    // Root's tools, for a PATH made for an unprivileged user.
    for (const char* d : {"/usr/sbin", "/sbin", "/usr/bin", "/bin"})
        dirs.emplace_back(d);
    for (const auto& d : dirs) {
        const std::string p = d + "/" + name;
        if (::access(p.c_str(), X_OK) == 0) return p;
    }
    return {};
}

std::string joined(const std::vector<std::string>& argv) {
    std::string s;
    for (const auto& a : argv)
        s += (s.empty() ? "" : " ") + a;
    return s;
}

/// Runs a command that must succeed; throws with its message otherwise.
void must(const std::vector<std::string>& argv) {
    const auto r = run_command(argv);
    if (!r.ok) throw std::runtime_error("`" + joined(argv) + "` failed: " + r.output);
}

bool process_alive(pid_t pid) {
    return ::kill(pid, 0) == 0 || errno == EPERM;
}

std::atomic<unsigned> topologies_made{0};

} // namespace

command_result run_command(const std::vector<std::string>& argv, std::chrono::milliseconds limit) {
    command_result r;
    const std::string exe = argv.empty() ? std::string() : find_program(argv[0]);
    if (exe.empty()) {
        r.output = argv.empty() ? "no command" : argv[0] + ": not found";
        return r;
    }
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) {
        r.output = std::string("pipe: ") + std::strerror(errno);
        return r;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, out[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = -1;
    const int err = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    if (err != 0) {
        ::close(out[0]);
        r.output = exe + ": " + std::strerror(err);
        return r;
    }
    const auto deadline = std::chrono::steady_clock::now() + limit;
    int status = 0;
    bool exited = false, timed_out = false;
    std::array<char, 4096> buf;
    while (!exited) {
        pollfd p{out[0], POLLIN, 0};
        if (::poll(&p, 1, 10) > 0) {
            const ssize_t n = ::read(out[0], buf.data(), buf.size());
            if (n > 0) r.output.append(buf.data(), static_cast<std::size_t>(n));
        }
        const pid_t w = ::waitpid(pid, &status, WNOHANG);
        exited = w == pid || (w < 0 && errno != EINTR);
        if (!exited && std::chrono::steady_clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            exited = timed_out = true;
        }
    }
    for (ssize_t n; (n = ::read(out[0], buf.data(), buf.size())) > 0;)
        r.output.append(buf.data(), static_cast<std::size_t>(n));
    ::close(out[0]);
    if (timed_out) r.output += " (killed after " + std::to_string(limit.count()) + " ms)";
    r.ok = !timed_out && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return r;
}

void enter_namespace(const std::string& name) {
    const std::string path = "/run/netns/" + name;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path);
    const int rc = ::setns(fd, CLONE_NEWNET);
    const int err = errno;
    ::close(fd);
    if (rc != 0) throw std::system_error(err, std::generic_category(), "setns " + path);
}

void run_in_namespace(const std::string& name, const std::function<void()>& fn) {
    std::exception_ptr failure;
    std::thread t([&] {
        try {
            enter_namespace(name);
            fn();
        } catch (...) {
            failure = std::current_exception();
        }
    });
    t.join();
    if (failure) std::rethrow_exception(failure);
}

topology::topology(const bottleneck_spec& spec) : spec_(spec) {
    remove_leftover_namespaces();
    const std::string base = std::string(prefix) + std::to_string(::getpid()) + "-" +
                             std::to_string(++topologies_made) + "-";
    names_ = {base + "snd", base + "rtr", base + "rcv"};
    const auto& s = names_[0];
    const auto& r = names_[1];
    const auto& c = names_[2];
    try {
        for (const auto& n : names_) {
            must({"ip", "netns", "add", n});
            made_.push_back(n);
        }
        // Made inside their namespaces: no name in the root namespace that a suite running
        // in parallel could also want.
        must({"ip", "link", "add", "snd0", "netns", s, "type", "veth", "peer", "name", "rtr0",
              "netns", r});
        must({"ip", "link", "add", "rtr1", "netns", r, "type", "veth", "peer", "name", "rcv0",
              "netns", c});
        must({"ip", "-n", s, "addr", "add", "10.201.1.2/24", "dev", "snd0"});
        must({"ip", "-n", r, "addr", "add", "10.201.1.1/24", "dev", "rtr0"});
        must({"ip", "-n", r, "addr", "add", "10.201.2.1/24", "dev", "rtr1"});
        must({"ip", "-n", c, "addr", "add", "10.201.2.2/24", "dev", "rcv0"});
        for (const auto& [ns, dev] : {std::pair{s, "snd0"}, std::pair{r, "rtr0"},
                                      std::pair{r, "rtr1"}, std::pair{c, "rcv0"}})
            must({"ip", "-n", ns, "link", "set", dev, "up"});
        must({"ip", "-n", s, "route", "add", "10.201.2.0/24", "via", "10.201.1.1"});
        must({"ip", "-n", c, "route", "add", "10.201.1.0/24", "via", "10.201.2.1"});
        must({"tc", "-n", r, "qdisc", "add", "dev", "rtr1", "root", "tbf", "rate",
              std::to_string(spec.rate_bps) + "bit", "burst", std::to_string(spec.burst_bytes),
              "limit", std::to_string(spec.limit_bytes)});
        // /proc/sys/net shows the namespace of the thread that opens it.
        run_in_namespace(r, [&] {
            { std::ofstream("/proc/sys/net/ipv4/ip_forward") << "1\n"; }
            std::string v;
            std::ifstream("/proc/sys/net/ipv4/ip_forward") >> v;
            if (v != "1") throw std::runtime_error("could not turn on forwarding in " + r);
            netlink_ = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
            if (netlink_ < 0)
                throw std::system_error(errno, std::generic_category(), "netlink socket");
        });
    } catch (...) {
        remove();
        throw;
    }
}

topology::~topology() {
    remove();
}

void topology::remove() {
    if (netlink_ >= 0) ::close(netlink_);
    netlink_ = -1;
    for (const auto& n : made_)
        run_command({"ip", "netns", "del", n});
    made_.clear();
}

std::uint64_t topology::bottleneck_tx_bytes() const {
    struct {
        nlmsghdr nh;
        ifinfomsg ifi;
        std::array<char, 64> attrs;
    } req{};
    const char dev[] = "rtr1";
    auto* rta = reinterpret_cast<rtattr*>(req.attrs.data());
    rta->rta_type = IFLA_IFNAME;
    rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(sizeof dev));
    std::memcpy(RTA_DATA(rta), dev, sizeof dev);
    req.nh.nlmsg_len =
        static_cast<std::uint32_t>(NLMSG_LENGTH(sizeof(ifinfomsg)) + RTA_ALIGN(rta->rta_len));
    req.nh.nlmsg_type = RTM_GETLINK;
    req.nh.nlmsg_flags = NLM_F_REQUEST;
    req.ifi.ifi_family = AF_UNSPEC;
    if (::send(netlink_, &req, req.nh.nlmsg_len, 0) < 0)
        throw std::system_error(errno, std::generic_category(), "netlink send");
    std::array<char, 16384> buf;
    const ssize_t n = ::recv(netlink_, buf.data(), buf.size(), 0);
    if (n < 0) throw std::system_error(errno, std::generic_category(), "netlink recv");
    auto len = static_cast<int>(n);
    for (auto* nh = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(nh, len);
         nh = NLMSG_NEXT(nh, len)) {
        if (nh->nlmsg_type != RTM_NEWLINK) continue;
        auto* ifi = static_cast<ifinfomsg*>(NLMSG_DATA(nh));
        int alen = static_cast<int>(IFLA_PAYLOAD(nh));
        for (auto* a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
            if (a->rta_type == IFLA_STATS64) {
                rtnl_link_stats64 st;
                std::memcpy(&st, RTA_DATA(a), sizeof st);
                return st.tx_bytes;
            }
    }
    throw std::runtime_error("netlink: no statistics for rtr1");
}

void remove_leftover_namespaces() {
    DIR* d = ::opendir("/run/netns");
    if (!d) return;
    std::vector<std::string> stale;
    while (const dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n.rfind(prefix, 0) != 0) continue;
        const long pid = std::strtol(n.c_str() + std::strlen(prefix), nullptr, 10);
        if (pid > 0 && !process_alive(static_cast<pid_t>(pid))) stale.push_back(n);
    }
    ::closedir(d);
    for (const auto& n : stale)
        run_command({"ip", "netns", "del", n});
}

bool bottleneck_supported(std::string& why) {
    if (::geteuid() != 0) {
        why = "needs root (network namespaces, veth, tc)";
        return false;
    }
    for (const char* tool : {"ip", "tc"})
        if (find_program(tool).empty()) {
            why = std::string("needs `") + tool + "` (iproute2)";
            return false;
        }
    try {
        topology trial; // the same steps as a test's: namespaces, veth, tbf, forwarding
        (void)trial.bottleneck_tx_bytes();
    } catch (const std::exception& e) {
        why = std::string("cannot build the bottleneck: ") + e.what();
        return false;
    }
    return true;
}

} // namespace utp_bottleneck
