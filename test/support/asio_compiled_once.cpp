// Asio's compiled parts, built once for this project's own tests and examples (target
// utp_dev, which publishes BOOST_ASIO_SEPARATE_COMPILATION). Not part of the installed
// library: utp::utp compiles Asio in its default header-only mode.
#include <boost/asio/impl/src.hpp>
