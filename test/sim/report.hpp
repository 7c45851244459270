//
// report.hpp — print a figure a simulator test measured, to the Boost.Test log and to
// stdout, so that CI logs show it whatever the log level.
//
#ifndef UTP_SIM_TEST_REPORT_HPP
#define UTP_SIM_TEST_REPORT_HPP

#include <boost/test/unit_test.hpp>

#include <iostream>
#include <string>

namespace utp_sim_test {

inline void report(const std::string& s) {
    BOOST_TEST_MESSAGE(s);
    std::cout << s << std::endl;
}

} // namespace utp_sim_test

#endif
