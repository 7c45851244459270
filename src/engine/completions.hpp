//
// src/engine/completions.hpp — Asio operation bookkeeping: pending operations, the outstanding
// work they hold, and their completion.
//
// The engine decides under its lock that an operation is done; the handler is posted only
// after the lock is released, and nothing whose destructor may re-enter the engine (a
// handler owning a coroutine frame that owns a socket, a socket's state) is destroyed under
// the lock. This is how Asio's own reactor completes operations (perform under the
// descriptor lock, post after it).
//
#ifndef UTP_SRC_ENGINE_COMPLETIONS_HPP
#define UTP_SRC_ENGINE_COMPLETIONS_HPP

#include <utp/detail/engine_api.hpp>

#include <boost/asio/any_completion_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/execution/outstanding_work.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/container/small_vector.hpp>

#include <cstdint>
#include <memory>
#include <utility>

namespace utp::detail {

/// Keep the handler's executor from running out of work while the operation is pending,
/// as Asio's own operations do.
template <class Handler>
asio::any_completion_executor track_work(const Handler& h, const asio::any_io_executor& io) {
    return asio::prefer(asio::get_associated_executor(h, io),
                        asio::execution::outstanding_work.tracked);
}

/// A pending operation's handler and the work it holds. `id` tells a cancellation that
/// arrives late (the operation completed meanwhile) from one meant for this operation.
template <class Handler>
struct pending_handler {
    Handler handler;
    asio::any_completion_executor work;
    std::uint64_t id = 0;

    pending_handler() = default;
    // Containers move these when they erase from the middle; any_completion_handler's own
    // move-assignment recurses forever in Boost 1.81, so only swap is used.
    pending_handler(pending_handler&& o) noexcept : work(std::move(o.work)), id(o.id) {
        handler.swap(o.handler);
    }
    pending_handler& operator=(pending_handler&& o) noexcept {
        Handler old;
        old.swap(handler);
        handler.swap(o.handler);
        work = std::move(o.work);
        id = o.id;
        return *this;
    }

    bool pending() const noexcept { return static_cast<bool>(handler); }
    /// Take `h` (and its slot's id), start tracking work.
    void assign(Handler h, const asio::any_io_executor& io, std::uint64_t op_id) {
        work = track_work(h, io);
        handler.swap(h); // not move-assignment: Boost 1.81's recurses forever
        id = op_id;
    }
};

/// Completions gathered under the engine's lock, delivered once it is released (see the
/// header comment). Declare one before the lock, so that it is destroyed after the lock.
class completion_list {
public:
    completion_list() = default;
    completion_list(const completion_list&) = delete;
    completion_list& operator=(const completion_list&) = delete;
    ~completion_list() { deliver(); }

    /// Post `p`'s handler with (ec, n) to its associated executor (default `io`).
    void post(pending_handler<rw_handler>& p, const asio::any_io_executor& io, error_code ec,
              std::size_t n);
    void post(pending_handler<ec_handler>& p, const asio::any_io_executor& io, error_code ec);
    void post(rw_handler h, const asio::any_io_executor& io, error_code ec, std::size_t n);
    void post(ec_handler h, const asio::any_io_executor& io, error_code ec);
    /// Destroy `p`'s handler without invoking it: its execution context is shutting down.
    void discard(pending_handler<rw_handler>& p);
    void discard(pending_handler<ec_handler>& p);
    /// Drop a reference outside the lock (the last one runs a destructor that locks).
    void release(std::shared_ptr<void> p) { keep_.push_back(std::move(p)); }

    /// Post every handler, then destroy what was released. Without the engine's lock.
    void deliver() noexcept;

private:
    struct item {
        rw_handler rw;
        ec_handler ec;
        error_code error;
        std::size_t bytes = 0;
        asio::any_io_executor io; ///< empty: discard the handler
        asio::any_completion_executor work;
    };
    boost::container::small_vector<item, 4> items_;
    boost::container::small_vector<std::shared_ptr<void>, 2> keep_;
};

} // namespace utp::detail

#endif
