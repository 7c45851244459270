// The entry point of utp_unit_tests (Boost.Test, linked dynamically).
#define BOOST_TEST_MODULE utp_unit_tests
#include <boost/test/unit_test.hpp>
