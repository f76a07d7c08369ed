#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's second command: install what is missing, build (release and
# AddressSanitizer+UBSan), and run the whole test suite on both builds:
#   unit  - pure libraries, no EAL (parallel)
#   dpdk  - EAL on virtual PMDs, --no-huge, serial
#   smoke - the CLI and a short benchmark run producing well-formed JSON
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
status=0
for kind in release asan; do
  scripts/build.sh "$kind"
  dir=build; [[ $kind == asan ]] && dir=build-asan
  echo "== tests ($kind) =="
  # DPDK's own allocator maps memory ASan does not know about; leak checking of
  # EAL's process-lifetime allocations is noise, not a finding.
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  if ! meson test -C "$dir" --print-errorlogs --num-processes 2; then
    status=1
  fi
done
# One closing line CI can read: "N passed, N failed" over both builds.
python3 scripts/testsummary.py build/meson-logs/testlog.json build-asan/meson-logs/testlog.json || status=1
exit $status
