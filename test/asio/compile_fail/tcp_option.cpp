// Must not compile: Asio's TCP option passed to a µTP socket. The CTest entry
// `compile_fail.tcp_option` builds this and passes only if the compiler says why, in the
// library's words (utp/options.hpp, UTP_DETAIL_NOT_AN_OPTION_MESSAGE).
#include <utp.hpp>

#include <boost/asio.hpp>

int main() {
    boost::asio::io_context ioc;
    utp::socket s(ioc);
    s.set_option(boost::asio::ip::tcp::no_delay(true));
}
