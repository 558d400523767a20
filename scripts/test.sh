#!/usr/bin/env bash
# Sets everything up and runs all tests: installs Debian packages (scripts/setup.sh), configures,
# builds (tests, examples, benchmarks, CUDA compile checks where nvcc exists) and runs CTest.
# Usage: scripts/test.sh [--sanitize]   (--sanitize: AddressSanitizer + UndefinedBehaviorSanitizer build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
jobs=$(nproc 2>/dev/null || echo 2)
if [ "${1:-}" = "--sanitize" ]; then
  build="$root/build-sanitize"
  flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
    -DSCVAE_BUILD_EXAMPLES=OFF -DSCVAE_BUILD_BENCHMARKS=OFF -DSCVAE_ENABLE_CUDA=OFF -DSCVAE_SANITIZE=ON \
    -DSCVAE_USE_BLAS=OFF -DSCVAE_USE_DNNL=OFF  # the sanitizers see into Eigen's GEMMs, not into JIT code
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  build="$root/build"
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$build" -j "$jobs"
cd "$build" && ctest --output-on-failure -j "$jobs"
