//
// utp/detail/engine_api.hpp — what the public templates (socket, acceptor, multiplexer) call
// in the compiled engine.
//
// The engine's types are opaque here: their definitions, and every Asio object they hold
// (the UDP socket, the timer), live in src/engine/, compiled once. A program including the
// public headers sees only these declarations, type-erased handlers and executors, so its
// own Asio configuration macros cannot disagree with the library's layouts.
//
// Thread safety of everything declared here: any function may be called from any thread at
// any time; the engine serialises itself. Completion handlers are never invoked inside the
// call that starts an operation: they are posted to the handler's associated executor (or the
// I/O object's executor, if it has none).
//
#ifndef UTP_DETAIL_ENGINE_API_HPP
#define UTP_DETAIL_ENGINE_API_HPP

#include <utp/detail/stream_options.hpp>
#include <utp/multiplexer_options.hpp>
#include <utp/multiplexer_stats.hpp>
#include <utp/proto/settings.hpp>
#include <utp/proto/stats.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/socket_base.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

namespace utp::detail {

namespace asio = boost::asio;
using boost::system::error_code;
using udp = asio::ip::udp;

using rw_handler = asio::any_completion_handler<void(error_code, std::size_t)>;
using ec_handler = asio::any_completion_handler<void(error_code)>;

/// Up to this many buffers of a sequence are used per operation (like an iovec limit).
inline constexpr std::size_t max_buffers = 16;

/// The non-empty buffers of a sequence, at most `max_buffers` of them.
template <class Buffer>
struct buffer_list {
    std::array<Buffer, max_buffers> items{};
    std::size_t count = 0;
    std::size_t total = 0; ///< bytes in all of them

    template <class Sequence>
    static buffer_list from(const Sequence& seq) {
        buffer_list l;
        for (auto it = asio::buffer_sequence_begin(seq);
             it != asio::buffer_sequence_end(seq) && l.count < max_buffers; ++it) {
            Buffer b(*it);
            if (b.size() == 0) continue;
            l.items[l.count++] = b;
            l.total += b.size();
        }
        return l;
    }
};
using mutable_buffers = buffer_list<asio::mutable_buffer>;
using const_buffers = buffer_list<asio::const_buffer>;

/// Complete `h` with `ec` (and no bytes) on its associated executor (default `io`), never
/// inside the caller: for operations refused before they reach an engine.
void post_error(rw_handler h, const asio::any_io_executor& io, error_code ec);
void post_error(ec_handler h, const asio::any_io_executor& io, error_code ec);

class engine;          // one UDP port: its socket, timer, protocol endpoint and pending operations
struct stream_state;   // behind one utp::basic_socket
struct acceptor_state; // behind one utp::basic_acceptor

// -- multiplexers (engines) ---------------------------------------------------------------

/// Bind a UDP socket at `local` and start an engine on `ex`. Checks `opt` (a bad setting
/// gives `invalid_argument`, and `what` names it). Returns null on failure.
std::shared_ptr<engine> make_engine(const asio::any_io_executor& ex, const udp::endpoint& local,
                                    const multiplexer_options& opt, error_code& ec,
                                    std::string& what);
udp::endpoint local_endpoint(const engine& e, error_code& ec);
bool is_open(const engine& e) noexcept;
/// Close the UDP socket: every pending operation on the port fails, connections are dropped.
void close(engine& e);
/// Cancel the raw datagram operations pending on the port (operation_aborted).
void cancel(engine& e);
multiplexer_stats stats(const engine& e);
void async_receive_from(engine& e, asio::mutable_buffer b, udp::endpoint& sender, rw_handler h);
void async_send_to(engine& e, asio::const_buffer b, const udp::endpoint& to, rw_handler h);

// -- streams (sockets) -------------------------------------------------------------------

/// A socket's state, completing on `ex`; `mux` is the engine to dial from (may be null: a
/// private one is made on the first connect).
std::shared_ptr<stream_state> make_stream(const asio::any_io_executor& ex,
                                          std::shared_ptr<engine> mux);
void async_connect(const std::shared_ptr<stream_state>& s, const udp::endpoint& peer, ec_handler h);
void async_read_some(const std::shared_ptr<stream_state>& s, const mutable_buffers& b,
                     rw_handler h);
void async_write_some(const std::shared_ptr<stream_state>& s, const const_buffers& b, rw_handler h);
void async_wait(const std::shared_ptr<stream_state>& s, asio::socket_base::wait_type w,
                ec_handler h);
void shutdown(stream_state& s, asio::socket_base::shutdown_type what, error_code& ec);
void cancel(stream_state& s);
/// Graceful close (buffered data and FIN still go out; the connection lingers).
void close(stream_state& s);
/// Abortive close: RESET.
void abort(stream_state& s);
bool is_open(const stream_state& s) noexcept;
std::size_t available(const stream_state& s, error_code& ec);
udp::endpoint local_endpoint(const stream_state& s, error_code& ec);
udp::endpoint remote_endpoint(const stream_state& s, error_code& ec);
/// Apply the options set in `o`, unless one is out of range: then nothing is applied and
/// the range it broke is returned.
std::optional<proto::setting_violation> set_options(stream_state& s, const stream_options& o);
/// The connection's settings, with options set but not applied yet read back as set.
proto::settings settings(const stream_state& s);
proto::connection_stats stats(const stream_state& s);
/// The engine a socket's connections go through (null until it has one).
std::shared_ptr<engine> engine_of(const stream_state& s);

// -- acceptors ---------------------------------------------------------------------------

/// Listen on `mux`: at most one acceptor per engine (else `address_in_use`).
std::shared_ptr<acceptor_state> make_acceptor(const asio::any_io_executor& ex,
                                              std::shared_ptr<engine> mux, std::size_t backlog,
                                              error_code& ec);
/// Accept into `target` (not open); `peer_endpoint`, if not null, receives the peer's
/// address before the handler runs.
void async_accept(const std::shared_ptr<acceptor_state>& a,
                  const std::shared_ptr<stream_state>& target, udp::endpoint* peer_endpoint,
                  ec_handler h);
void cancel(acceptor_state& a);
void close(acceptor_state& a);
bool is_open(const acceptor_state& a) noexcept;

} // namespace utp::detail

#endif
