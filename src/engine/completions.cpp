#include "completions.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/post.hpp>

namespace utp::detail {

void completion_list::post(pending_handler<rw_handler>& p, const asio::any_io_executor& io,
                           error_code ec, std::size_t n) {
    item& i = items_.emplace_back();
    i.rw.swap(p.handler);
    i.work = std::move(p.work);
    i.error = ec;
    i.bytes = n;
    i.io = io;
    p.id = 0;
}

void completion_list::post(pending_handler<ec_handler>& p, const asio::any_io_executor& io,
                           error_code ec) {
    item& i = items_.emplace_back();
    i.ec.swap(p.handler);
    i.work = std::move(p.work);
    i.error = ec;
    i.io = io;
    p.id = 0;
}

void completion_list::post(rw_handler h, const asio::any_io_executor& io, error_code ec,
                           std::size_t n) {
    item& i = items_.emplace_back();
    i.rw.swap(h);
    i.error = ec;
    i.bytes = n;
    i.io = io;
}

void completion_list::post(ec_handler h, const asio::any_io_executor& io, error_code ec) {
    item& i = items_.emplace_back();
    i.ec.swap(h);
    i.error = ec;
    i.io = io;
}

void completion_list::discard(pending_handler<rw_handler>& p) {
    item& i = items_.emplace_back();
    i.rw.swap(p.handler);
    i.work = std::move(p.work);
    p.id = 0;
}

void completion_list::discard(pending_handler<ec_handler>& p) {
    item& i = items_.emplace_back();
    i.ec.swap(p.handler);
    i.work = std::move(p.work);
    p.id = 0;
}

void completion_list::deliver() noexcept {
    for (item& i : items_) {
        if (i.io) {
            // Posted through the I/O executor, which promises never to run it inline; it
            // then runs on the handler's associated executor, if it has one. The work the
            // pending operation held is released only after the post holds its own.
            try {
                if (i.rw)
                    asio::post(i.io, asio::append(std::move(i.rw), i.error, i.bytes));
                else if (i.ec)
                    asio::post(i.io, asio::append(std::move(i.ec), i.error));
            } catch (...) {
                // Out of memory while posting: the handler is lost with its operation, as
                // it would be inside Asio. Nothing else can be done here.
            }
        }
        // Destroy in place: any_completion_handler's move-assignment recurses (Boost 1.81).
        rw_handler().swap(i.rw);
        ec_handler().swap(i.ec);
        i.work = asio::any_completion_executor();
        i.io = asio::any_io_executor();
    }
    items_.clear();
    keep_.clear();
}

void post_error(rw_handler h, const asio::any_io_executor& io, error_code ec) {
    completion_list out;
    out.post(std::move(h), io, ec, 0);
}

void post_error(ec_handler h, const asio::any_io_executor& io, error_code ec) {
    completion_list out;
    out.post(std::move(h), io, ec);
}

} // namespace utp::detail
