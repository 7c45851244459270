//
// test/bottleneck/worker.hpp — a thread inside a network namespace that runs an
// io_context: the sockets made on it live in that namespace. Nothing of the traffic runs
// in a child process, so nothing outlives the test.
//
#ifndef UTP_BOTTLENECK_WORKER_HPP
#define UTP_BOTTLENECK_WORKER_HPP

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace utp_bottleneck {

namespace asio = boost::asio;

/// Failures seen off the test's thread, reported by the test (Boost.Test is not
/// thread-safe).
class error_log {
public:
    void add(std::string what) {
        std::lock_guard g(m_);
        errors_.push_back(std::move(what));
    }
    std::vector<std::string> all() const {
        std::lock_guard g(m_);
        return errors_;
    }

private:
    mutable std::mutex m_;
    std::vector<std::string> errors_;
};

class ns_worker {
public:
    /// Starts the thread and waits until it is inside `ns` (throws if it could not enter).
    /// An exception escaping a handler goes to `log`, and the context runs on.
    ns_worker(const std::string& ns, error_log& log);
    ~ns_worker(); ///< finish()
    ns_worker(const ns_worker&) = delete;
    ns_worker& operator=(const ns_worker&) = delete;

    asio::io_context& context() { return ioc_; }

    /// Runs `fn` on the worker and waits for it at most `limit`; rethrows what it threw.
    void call(std::function<void()> fn, std::chrono::milliseconds limit = std::chrono::seconds(5));

    /// Lets the context run out of work (its owner has closed what it opened) and joins
    /// the thread; after `grace`, stops the context instead and returns false: handlers
    /// are then still pending and may refer to the owner's objects. Idempotent.
    bool finish(std::chrono::milliseconds grace = std::chrono::seconds(5));

private:
    error_log& log_;
    asio::io_context ioc_;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
    std::promise<void> done_;
    std::future<void> finished_;
    std::thread thread_;
};

} // namespace utp_bottleneck

#endif
