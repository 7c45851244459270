// Beast's compiled parts (HTTP parser, WebSocket, zlib), built once for this project's own
// tests and examples (target utp_dev, which publishes BOOST_BEAST_SEPARATE_COMPILATION). Not
// part of the installed library, which does not use Beast's compiled parts at all.
#include <boost/beast/src.hpp>
