#!/usr/bin/env bash
# The main job `make run` runs: what tailor can tell about this machine.
set -euo pipefail
tailor=${1:-build/release/tailor}
"$tailor" probe
