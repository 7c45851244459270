//
// echo_client_callbacks.cpp — a µTP echo client written with plain completion handlers.
//
// Connects, sends a message, shuts down its sending side, reads the echo until the
// server's EOF and prints it.
//
//   ./echo_server_callbacks 127.0.0.1 9000 &
//   ./echo_client_callbacks 127.0.0.1 9000 "hello, µTP"
//
#include <utp.hpp>

#include <boost/asio.hpp>

#include <array>
#include <iostream>
#include <string>

namespace asio = boost::asio;
using boost::system::error_code;

class client {
public:
    client(asio::io_context& ioc, std::string message)
        : socket_(ioc), message_(std::move(message)) {}

    void start(const asio::ip::udp::endpoint& server) {
        socket_.async_connect(server, [this](error_code ec) {
            if (fail(ec, "connect")) return;
            asio::async_write(socket_, asio::buffer(message_), [this](error_code ec, std::size_t) {
                if (fail(ec, "write")) return;
                socket_.shutdown(asio::socket_base::shutdown_send); // the server reads EOF
                read();
            });
        });
    }

    /// 0 if the whole message came back.
    int status() const { return status_; }

private:
    void read() {
        socket_.async_read_some(asio::buffer(buf_), [this](error_code ec, std::size_t n) {
            if (ec == asio::error::eof) { // the server's EOF: everything is back
                std::cout << echo_ << std::endl;
                status_ = echo_ == message_ ? 0 : 1;
                socket_.close();
                return;
            }
            if (fail(ec, "read")) return;
            echo_.append(buf_.data(), n);
            read();
        });
    }

    bool fail(error_code ec, const char* what) {
        if (ec) std::cerr << what << ": " << ec.message() << "\n";
        return static_cast<bool>(ec);
    }

    utp::socket socket_;
    std::string message_, echo_;
    std::array<char, 4096> buf_;
    int status_ = 1;
};

int main(int argc, char** argv) {
    if (argc < 3 || argc > 4) {
        std::cerr << "usage: echo_client_callbacks host port [message]\n";
        return 2;
    }
    try {
        asio::io_context ioc;
        asio::ip::udp::resolver resolver(ioc);
        auto server = resolver.resolve(argv[1], argv[2]).begin()->endpoint();
        client c(ioc, argc == 4 ? argv[3] : "hello, µTP");
        c.start(server);
        ioc.run(); // returns once the connection is closed
        return c.status();
    } catch (const std::exception& e) {
        std::cerr << "echo_client_callbacks: " << e.what() << "\n";
        return 1;
    }
}
