#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Install every Debian 12 package flowteam needs to build, test, benchmark and
# run. Idempotent: installs only what is missing; a second run does nothing.
set -euo pipefail

PACKAGES=(
  # toolchain and build
  g++ meson ninja-build pkg-config
  # DPDK 22.11 (libraries, PMDs incl. net_ring/null/pcap/memif/tap/bond, compress_isal/zlib),
  # dpdk-testpmd / dpdk-telemetry.py (dpdk-dev), rdma-core for the mlx5 PMD on real servers
  libdpdk-dev dpdk dpdk-dev rdma-core libibverbs-dev ibverbs-providers
  # C++ libraries
  libboost-program-options-dev libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev
  # experiments: plots, real TCP through the team, namespaces
  python3 python3-matplotlib iperf3 iproute2
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "setup: missing packages (${missing[*]}) and not root: run as root or install sudo" >&2
    exit 1
  fi
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
