// placeholder: being written (issue 4)
#include <boost/test/unit_test.hpp>
BOOST_AUTO_TEST_SUITE(websocket)
BOOST_AUTO_TEST_CASE(placeholder) { BOOST_TEST_MESSAGE("placeholder"); }
BOOST_AUTO_TEST_SUITE_END()
