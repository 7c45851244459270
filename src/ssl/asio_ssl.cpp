// Asio's SSL parts, compiled once into utp::ssl. With BOOST_ASIO_SEPARATE_COMPILATION (a
// public definition of utp::utp) the SSL headers declare these but no longer define them.
#include <boost/asio/ssl/impl/src.hpp>
