//
// utp.hpp — the whole library: µTP sockets and acceptors for Boost.Asio.
//
#ifndef UTP_HPP
#define UTP_HPP

#include <utp/acceptor.hpp>
#include <utp/connect.hpp>
#include <utp/error.hpp>
#include <utp/multiplexer.hpp>
#include <utp/multiplexer_options.hpp>
#include <utp/multiplexer_stats.hpp>
#include <utp/options.hpp>
#include <utp/socket.hpp>

#endif
