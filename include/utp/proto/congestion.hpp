//
// utp/proto/congestion.hpp — the congestion-control interface and LEDBAT.
//
#ifndef UTP_PROTO_CONGESTION_HPP
#define UTP_PROTO_CONGESTION_HPP

#include <utp/proto/settings.hpp>

#include <cstdint>
#include <optional>

namespace utp::proto {

/** What a connection tells its congestion controller, and the window it gets back.

    A connection owns one controller; the interface is small so that another algorithm
    (or a test double) can replace LEDBAT.
*/
class congestion_controller {
public:
    virtual ~congestion_controller() = default;

    /** New data was acknowledged.

        @param acked bytes newly acknowledged (cumulatively or selectively).
        @param queuing_delay the current one-way queueing delay estimate, if the peer has
        echoed any timestamps yet.
        @param app_limited true if the sender was not using its window (no growth then).
    */
    virtual void on_ack(std::uint32_t acked, std::optional<duration> queuing_delay,
                        bool app_limited, instant now) = 0;

    /// A packet was found lost by SACK or duplicate ACKs (once per loss event).
    virtual void on_loss(std::optional<duration> queuing_delay, instant now) = 0;

    /// The retransmission timer fired.
    virtual void on_timeout(instant now) = 0;

    /// The path's delay grew during slow start (HyStart++, RFC 9406): stop doubling.
    virtual void exit_slow_start() noexcept {}

    /// The congestion window, in bytes.
    virtual std::uint32_t window() const noexcept = 0;

    /// True while the controller is in slow start.
    virtual bool in_slow_start() const noexcept = 0;
};

/** LEDBAT (RFC 6817) with slow start, as deployed µTP runs it.

    The window grows by at most `max_cwnd_increase_per_rtt` bytes per round trip, scaled
    by how far the queueing delay is below target, and shrinks when it is above. Slow
    start doubles the window per round trip until the delay reaches half the target or a
    loss occurs.
*/
class ledbat final : public congestion_controller {
public:
    /// @param mss the largest payload a packet carries, in bytes.
    ledbat(const settings& s, std::uint32_t mss) noexcept;

    void on_ack(std::uint32_t acked, std::optional<duration> queuing_delay, bool app_limited,
                instant now) override;
    void on_loss(std::optional<duration> queuing_delay, instant now) override;
    void on_timeout(instant now) override;
    void exit_slow_start() noexcept override;
    std::uint32_t window() const noexcept override;
    bool in_slow_start() const noexcept override { return slow_start_; }

    void set_target(duration target) noexcept { target_ = target; }

private:
    double cwnd_;
    double ssthresh_;
    std::uint32_t mss_;
    duration target_;
    double max_increase_;
    bool slow_start_ = true;
};

} // namespace utp::proto

#endif
