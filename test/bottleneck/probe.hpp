//
// test/bottleneck/probe.hpp — an independent delay probe: a small UDP datagram every 10 ms
// from the sender's namespace to an echo in the receiver's, through the bottleneck, and
// back. It shares tbf's queue with the flows, so its round-trip time minus the smallest
// seen is the queueing delay the flows cause, measured by nobody's congestion controller.
//
#ifndef UTP_BOTTLENECK_PROBE_HPP
#define UTP_BOTTLENECK_PROBE_HPP

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace utp_bottleneck {

using clock = std::chrono::steady_clock;

class delay_probe {
public:
    struct sample {
        double sent_s; ///< seconds since `start`
        double rtt_ms; ///< round-trip time
    };

    /// Starts the echo (in `receiver_ns`, UDP port `port` of `receiver_address`) and the
    /// sender (in `sender_ns`); probes are timed from `start`. Throws if either cannot
    /// open its socket.
    delay_probe(const std::string& sender_ns, const std::string& receiver_ns,
                const std::string& receiver_address, std::uint16_t port, clock::time_point start,
                std::chrono::milliseconds interval = std::chrono::milliseconds(10));
    ~delay_probe(); ///< stops both threads
    delay_probe(const delay_probe&) = delete;
    delay_probe& operator=(const delay_probe&) = delete;

    /// Replies so far, in the order they came back.
    std::vector<sample> samples() const;
    std::uint64_t sent() const { return sent_; }

private:
    void echo(int fd);
    void send_loop(int fd);

    clock::time_point start_;
    std::chrono::milliseconds interval_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> sent_{0};
    mutable std::mutex m_;
    std::vector<sample> samples_;
    std::thread echo_, sender_;
};

} // namespace utp_bottleneck

#endif
