//
// utp/proto/congestion.hpp — the congestion-control interface and LEDBAT.
//
#ifndef UTP_PROTO_CONGESTION_HPP
#define UTP_PROTO_CONGESTION_HPP

#include <utp/proto/settings.hpp>

#include <cstdint>
#include <memory>
#include <optional>

namespace utp::proto {

/// What one acknowledgement told the sender.
struct ack_sample {
    std::uint32_t acked = 0; ///< bytes newly acknowledged (cumulatively or selectively)
    /// The one-way queueing delay estimate (µTP's timestamps, BEP-29), if the peer has
    /// echoed any yet.
    std::optional<duration> queuing_delay{};
    bool app_limited = false; ///< the sender was not using its window (no growth then)
    duration srtt{0};         ///< smoothed round-trip time (0: no sample yet)
    duration min_rtt{0};      ///< smallest round-trip time seen (0: no sample yet)
};

/** What a connection tells its congestion controller, and the window it gets back.

    A connection owns one controller; the interface is small so that another algorithm
    (or a test double) can replace LEDBAT.
*/
class congestion_controller {
public:
    virtual ~congestion_controller() = default;

    /// New data was acknowledged.
    virtual void on_ack(const ack_sample& a, instant now) = 0;

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

    /// The target queueing delay changed (`settings::target_delay`; delay-based only).
    virtual void set_target(duration) noexcept {}
};

/// A new controller of the kind `s.congestion` names, for packets of `mss` payload bytes.
std::unique_ptr<congestion_controller> make_congestion_controller(const settings& s,
                                                                  std::uint32_t mss);

/** What the LEDBAT controllers share: a window in bytes that starts at 4 packets in
    slow start, a target delay, and the same reactions to loss (halve with a queue, cut
    to 0.78 without: likely random loss) and to a timeout (one packet, slow start). */
class ledbat_window : public congestion_controller {
public:
    void on_loss(std::optional<duration> queuing_delay, instant now) override;
    void on_timeout(instant now) override;
    void exit_slow_start() noexcept override;
    std::uint32_t window() const noexcept override;
    bool in_slow_start() const noexcept override { return slow_start_; }
    void set_target(duration target) noexcept override { target_ = target; }

protected:
    /// @param mss the largest payload a packet carries, in bytes.
    ledbat_window(const settings& s, std::uint32_t mss) noexcept;

    double cwnd_;
    double ssthresh_;
    std::uint32_t mss_;
    duration target_;
    bool slow_start_ = true;
};

/** LEDBAT (RFC 6817) with slow start, as deployed µTP runs it.

    The window grows by at most `max_cwnd_increase_per_rtt` bytes per round trip, scaled
    by how far the queueing delay is below target, and shrinks when it is above. Slow
    start doubles the window per round trip until the delay reaches half the target or a
    loss occurs.
*/
class ledbat final : public ledbat_window {
public:
    /// @param mss the largest payload a packet carries, in bytes.
    ledbat(const settings& s, std::uint32_t mss) noexcept;

    void on_ack(const ack_sample& a, instant now) override;

private:
    double max_increase_;
};

/** LEDBAT++ (draft-irtf-iccrg-ledbat-plus-plus-06, §4) over µTP's one-way delay.

    - Reduced gain (§4.2): the window grows by at most GAIN = 1 / min(16, ⌈2·target /
      base RTT⌉) packets per round trip, so a short path is no more aggressive in time
      than a long one.
    - Multiplicative decrease (§4.3): above the target the window shrinks by
      W·(delay/target − 1) per round trip (at most W/2), so the larger of two flows
      seeing the same queue gives up more, and the flows converge.
    - Modified slow start (§4.4): growth scaled by GAIN, left when the delay passes ¾ of
      the target; past half of that the growth slows (to a quarter at the exit), since
      the delay answers a round trip late.
    - Periodic slowdowns (§4.5): 2 round trips after slow start ends the window drops
      to 2 packets until the queue has drained (its delay plus 2 base round trips),
      then doubles back towards where it was, stopping early if the delay rises; the
      next slowdown comes 9 slowdown-durations later. The queue drains, so every flow
      (a latecomer too) measures the true base delay.
    - Not in the draft: an empty queue (below ¼ of the target) restarts slow start, so
      the link is taken back within seconds when a TCP flow ends; and below the target
      the window grows by (1 − delay/target) packets per round trip where that is more
      than GAIN, the same for every flow, so flows even out sooner.

    Measured in the simulator (test/sim/fairness_test.cpp): fair among flows joining
    later (Jain ≥ 0.96 for 2 flows, ≥ 0.87 for 4), below the target, under 1 % of a link
    shared with TCP; a lone flow keeps its queue near 60 % of the target. See the
    README's congestion control section.
*/
class ledbat_plus_plus final : public ledbat_window {
public:
    /// @param mss the largest payload a packet carries, in bytes.
    ledbat_plus_plus(const settings& s, std::uint32_t mss) noexcept;

    void on_ack(const ack_sample& a, instant now) override;
    void on_loss(std::optional<duration> queuing_delay, instant now) override;
    void on_timeout(instant now) override;
    void exit_slow_start() noexcept override;

private:
    enum class slowdown : std::uint8_t {
        none,      ///< not scheduled: initial slow start, or after a timeout
        scheduled, ///< the next one starts at `next_slowdown_`
        frozen,    ///< window held at 2 packets until `freeze_end_`
        regrowing, ///< slow start back to the window before the freeze
    };
    void leave_slow_start(instant now) noexcept;

    slowdown phase_ = slowdown::none;
    instant next_slowdown_{};
    instant freeze_end_{};
    instant slowdown_start_{};
    instant slow_start_left_{}; ///< when slow start last ended
    double saved_cwnd_ = 0;
    bool doubling_ = false; ///< slow start doubles (else grows by GAIN)
    duration srtt_{0};      ///< the last ack's, for timing when no ack is at hand
    instant last_now_{};
};

/** NewReno (RFC 5681 §3.1, RFC 6582): slow start, then one packet per round trip;
    halve on a loss episode, one packet after a timeout. Ignores delay, so it does not
    yield to TCP: it competes as TCP does. */
class newreno final : public congestion_controller {
public:
    /// @param mss the largest payload a packet carries, in bytes.
    newreno(std::uint32_t mss) noexcept;

    void on_ack(const ack_sample& a, instant now) override;
    void on_loss(std::optional<duration> queuing_delay, instant now) override;
    void on_timeout(instant now) override;
    void exit_slow_start() noexcept override;
    std::uint32_t window() const noexcept override;
    bool in_slow_start() const noexcept override { return cwnd_ < ssthresh_; }

private:
    double cwnd_;
    double ssthresh_;
    std::uint32_t mss_;
};

} // namespace utp::proto

#endif
