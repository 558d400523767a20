#!/usr/bin/env bash
# Runs scvae's GPU checks on a machine with an NVIDIA GPU and writes every log to $OUT (default
# ./gpu-out). Made for a bare lent machine (nvcc, CMake, ninja and PyTorch, but no Debian -dev
# packages and no network): run scripts/device_kit.sh where the packages are installed first and
# send .device-kit/ along. Where the packages are installed (scripts/setup.sh), no kit is needed.
#
#   scripts/gpu_check.sh build      configure build-gpu/ and build the CUDA tests, bench_cuda
#   scripts/gpu_check.sh test       CTest label `cuda`: CPU-vs-GPU parity of every op, the fused
#                                   heads, whole VAE/GMVAE steps; CudaTrainer; headers compile
#   scripts/gpu_check.sh sanitize [TOOL TEST [FILTER]]
#                                   compute-sanitizer memcheck (all three tests) and racecheck /
#                                   synccheck / initcheck (the fused heads, which use shared
#                                   memory); with arguments one TOOL on one TEST, optionally on
#                                   the Catch2 test cases FILTER names. Sanitizers slow the tests
#                                   10-100x: the device tool allows 600 s a command, so run them
#                                   one at a time, e.g. `sanitize racecheck test_cuda_likelihood
#                                   "cuda: bad counts*"`.
#   scripts/gpu_check.sh bench      bench_cuda (epoch, GEMMs alone, head bandwidth) and the
#                                   PyTorch peer on the same GPU (benchmarks/torch_peer_gpu.py)
#   scripts/gpu_check.sh all        build, test, bench (sanitize is slow: run it on its own)
#
# Each stage builds what it needs first (ninja: nothing when up to date), so a stage also works on
# a fresh machine. Exit status: non-zero when any step of the stage failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${OUT:-$root/gpu-out}
mkdir -p "$out"
build=${SCVAE_GPU_BUILD:-build-gpu}
arch=${SCVAE_GPU_ARCH:-90}  # H100/H200; 80 on an A100
jobs=$(nproc)
status=0
log() { echo "gpu_check: $*" | tee -a "$out/summary.txt"; }
step() {  # step NAME CMD...: runs CMD, output to $out/NAME.log and the terminal, records the result
  local name=$1; shift
  local t0=$SECONDS
  "$@" 2>&1 | tee "$out/$name.log"
  local rc=${PIPESTATUS[0]}
  log "$name: exit $rc in $((SECONDS - t0)) s"
  [ "$rc" -eq 0 ] || status=1
  return "$rc"
}

# CMake 3.25 looks for nvcc on PATH (or $CUDACXX / $CUDA_PATH) only, and many images keep the
# toolkit in /usr/local/cuda/bin without putting it on PATH: configure would then fail with
# "No CMAKE_CUDA_COMPILER could be found" (compute-sanitizer and nvcc --version need it too).
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH="/usr/local/cuda/bin:$PATH"
fi

kit=$root/.device-kit/root
if [ -d "$kit" ]; then
  # .../lib/x86_64-linux-gnu/cmake as a prefix of its own: CMake searches lib/<arch>/cmake only
  # where CMAKE_LIBRARY_ARCHITECTURE is set (Debian/Ubuntu compilers); elsewhere (e.g. a RHEL-based
  # image) find_package(benchmark) would miss the kit's config and configure would fail.
  export CMAKE_PREFIX_PATH="$kit/usr:$kit/usr/lib/x86_64-linux-gnu/cmake${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export LD_LIBRARY_PATH="$kit/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  io=OFF  # the kit carries no HDF5: the file-reading tests and the CLI are left out
else
  io=ON
fi

configure() {
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSCVAE_ENABLE_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" -DSCVAE_CUDA_TEST_ARCHITECTURES="$arch" \
    -DSCVAE_BUILD_TESTS=ON -DSCVAE_BUILD_BENCHMARKS=ON -DSCVAE_BUILD_EXAMPLES="$io" \
    -DSCVAE_IO_REQUIRED="$io" -DSCVAE_INSTALL=OFF
}
gpu_targets=(test_cuda_ops test_cuda_likelihood test_cuda_models bench_cuda scvae_cuda_header_check)
build_all() {
  [ -f "$build/build.ninja" ] || step configure configure || return 1
  local targets=("${gpu_targets[@]}")
  [ "$io" = ON ] && targets+=(scvae_cli test_cli)
  step build cmake --build "$build" -j "$jobs" --target "${targets[@]}"
}

stage_build() {
  {
    date -u
    nvidia-smi || true
    nvcc --version | tail -2
    "${CXX:-c++}" --version | head -1
    cmake --version | head -1
    git log -1 --format='commit %H %s' 2>/dev/null || true
  } >"$out/machine.txt" 2>&1
  build_all
}

stage_test() {
  build_all || return 1
  # Every GPU test prints "SKIPPED: no CUDA device" and passes without one: fail loudly here.
  nvidia-smi -L >/dev/null 2>&1 || { log "no GPU visible (nvidia-smi -L failed)"; status=1; return 1; }
  step ctest_cuda ctest --test-dir "$build" -L cuda --output-on-failure -V
  if [ "$io" = ON ]; then
    step test_cli "$build/tests/test_cli" "[cuda]"
  fi
  # nvidia-smi can list a GPU that the CUDA runtime still cannot use (a driver older than the
  # toolkit: cudaErrorInsufficientDriver; a busy exclusive-mode GPU): every test then SKIPs and
  # passes. A skip here is a failure, with the tests' stated reason.
  local logs=("$out/ctest_cuda.log") skipped
  [ "$io" = ON ] && logs+=("$out/test_cli.log")
  skipped=$(grep -h "SKIPPED: no CUDA device" "${logs[@]}" 2>/dev/null | sort | uniq -c)
  if [ -n "$skipped" ]; then
    log "GPU tests were SKIPPED although nvidia-smi lists a GPU (the CUDA runtime cannot use it):"
    log "$skipped"
    status=1
    return 1
  fi
}

stage_sanitize() {
  build_all || return 1
  local cs=compute-sanitizer
  command -v "$cs" >/dev/null || cs=/usr/local/cuda/bin/compute-sanitizer
  local limit=${SANITIZE_TIMEOUT:-540}
  if [ $# -ge 2 ]; then
    local extra=()
    [ "$1" = memcheck ] && extra=(--leak-check full)
    step "$1_$2" timeout "$limit" "$cs" --tool "$1" "${extra[@]}" --error-exitcode 1 "$build/tests/$2" ${3:+"$3"}
    return
  fi
  for t in test_cuda_ops test_cuda_likelihood test_cuda_models; do
    step "memcheck_$t" timeout "$limit" "$cs" --tool memcheck --leak-check full --error-exitcode 1 "$build/tests/$t"
  done
  for tool in racecheck synccheck initcheck; do
    step "${tool}_likelihood" timeout "$limit" "$cs" --tool "$tool" --error-exitcode 1 "$build/tests/test_cuda_likelihood"
  done
}

stage_bench() {
  build_all || return 1
  step bench_cuda "$build/benchmarks/bench_cuda" 3
  local peer=${TORCH_PEER:-$root/.device-kit/peers/torch_vae.py}
  [ -f "$peer" ] || peer=$root/../shared/peers/torch_vae.py
  if [ -f "$peer" ]; then
    for lik in NB Poisson; do
      step "torch_peer_$lik" env PYTHONUNBUFFERED=1 python3 benchmarks/torch_peer_gpu.py --peer "$peer" \
        --dist "$lik" --cells 16200 --epochs 3
    done
  else
    log "no PyTorch peer (scripts/device_kit.sh copies it); GPU comparison skipped"
  fi
}

case "${1:-all}" in
  build) stage_build ;;
  test) stage_test ;;
  sanitize) shift; stage_sanitize "$@" ;;
  bench) stage_bench ;;
  all) stage_build && stage_test; stage_bench ;;
  *) echo "usage: $0 build|test|sanitize [TOOL TEST [FILTER]]|bench|all" >&2; exit 2 ;;
esac
log "done: status $status"
exit "$status"
