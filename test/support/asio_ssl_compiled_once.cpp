// Asio SSL's compiled parts, built once for this project's own tests and examples (target
// utp_dev). Not part of the installed library.
#include <boost/asio/ssl/impl/src.hpp>
