//
// sim.hpp — the simulator in one include: network, links, filters, transfer harness.
//
#ifndef UTP_SIM_SIM_HPP
#define UTP_SIM_SIM_HPP

#include "network.hpp"
#include "random.hpp"
#include "transfer.hpp"

#endif
