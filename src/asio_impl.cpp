// Asio's compiled parts, built once into the library (BOOST_ASIO_SEPARATE_COMPILATION), so
// that every user of the headers does not compile them again.
#include <boost/asio/impl/src.hpp>
