// SPDX-License-Identifier: BSD-3-Clause
// flowteam — direct access to the rings behind a RingPair.
//
// INTERNAL to dataplane/ (includes rte_ring.h). The emulated member links
// dequeue what a sending port transmitted straight from its ring and
// enqueue into the ring a receiving port polls, without a second ethdev hop.
#pragma once

#include "dataplane/testbed.h"

#include <rte_ring.h>

#include <string>

namespace flowteam::dataplane {

// nullptr when no ring has that name.
inline rte_ring* lookup_ring(const std::string& name) { return rte_ring_lookup(name.c_str()); }

// a's TX queue q → (this ring) → b's RX queue q, and the reverse direction.
inline rte_ring* ring_a_to_b(const RingPair& p, std::uint16_t q) { return lookup_ring(p.ring_a_to_b(q)); }
inline rte_ring* ring_b_to_a(const RingPair& p, std::uint16_t q) { return lookup_ring(p.ring_b_to_a(q)); }

} // namespace flowteam::dataplane
