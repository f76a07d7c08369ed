// SPDX-License-Identifier: BSD-3-Clause
// flowteam dpdk engine tests — the EAL started once by main.cc.
#pragma once

#include "dataplane/eal.h"

const flowteam::dataplane::EalInfo& engine_test_eal();
