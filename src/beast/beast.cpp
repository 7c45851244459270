// Beast's compiled parts (HTTP parser, WebSocket, zlib), compiled once into utp::beast
// (BOOST_BEAST_SEPARATE_COMPILATION is a public definition of that target).
#include <boost/beast/src.hpp>
