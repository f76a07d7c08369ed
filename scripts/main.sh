#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The README's first command: install what is missing, build, and run the
# main job on the embedded virtual testbed. Extra arguments go to the job.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
exec build/apps/flowteam migrate "$@"
