#include "worker.hpp"

#include "netns.hpp"

#include <boost/asio/post.hpp>

#include <exception>
#include <memory>
#include <stdexcept>

namespace utp_bottleneck {

ns_worker::ns_worker(const std::string& ns, error_log& log)
    : log_(log), work_(ioc_.get_executor()) {
    finished_ = done_.get_future();
    std::promise<void> entered;
    auto in_namespace = entered.get_future();
    thread_ = std::thread([this, ns, entered = std::move(entered)]() mutable {
        try {
            enter_namespace(ns);
            entered.set_value();
        } catch (...) {
            entered.set_exception(std::current_exception());
            done_.set_value();
            return;
        }
        for (;;) {
            try {
                ioc_.run();
                break;
            } catch (const std::exception& e) {
                log_.add(std::string("worker in ") + ns + ": " + e.what());
            }
        }
        done_.set_value();
    });
    try {
        in_namespace.get();
    } catch (...) {
        thread_.join();
        throw;
    }
}

ns_worker::~ns_worker() {
    finish();
}

void ns_worker::call(std::function<void()> fn, std::chrono::milliseconds limit) {
    // Shared, so that a call given up on at `limit` still finds its task when it runs.
    auto task = std::make_shared<std::packaged_task<void()>>(std::move(fn));
    auto result = task->get_future();
    asio::post(ioc_, [task] { (*task)(); });
    if (result.wait_for(limit) != std::future_status::ready)
        throw std::runtime_error("the worker did not answer within " +
                                 std::to_string(limit.count()) + " ms");
    result.get();
}

bool ns_worker::finish(std::chrono::milliseconds grace) {
    if (!thread_.joinable()) return true;
    work_.reset();
    const bool clean = finished_.wait_for(grace) == std::future_status::ready;
    if (!clean) ioc_.stop();
    thread_.join();
    return clean;
}

} // namespace utp_bottleneck
