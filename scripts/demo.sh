#!/usr/bin/env bash
# Sets everything up and runs the main job on built-in data: builds scvae and trains a model on
# its built-in simulated data set, writing results to ./out/demo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$root/build" -j "$(nproc 2>/dev/null || echo 2)" --target synthetic_poisson
"$root/build/examples/synthetic_poisson"
