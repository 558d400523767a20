#!/usr/bin/env bash
# CPU performance figures of docs/performance.md (issue #7): the reference VAE epoch per likelihood
# against the PyTorch peer (/work/shared/peers/torch_vae.py, same shapes, measured in the same run)
# and against the same epoch's GEMMs alone; GMVAE K = 10; peak RSS on 20,000 cells.
#
#   scripts/bench_cpu.sh [build-dir]        (default build-perf-native)
# Env: THREADS (2), EPOCHS (3, ours), TORCH_EPOCHS (2), SKIP_TORCH=1, SKIP_MEMORY=1, SKIP_GMVAE=1,
#      BLAS=0 (configure with -DSCVAE_USE_BLAS=OFF), DNNL=0 (-DSCVAE_USE_DNNL=OFF; with both off:
#      Eigen GEMMs), NATIVE=0 (no -march=native for the benchmarks).
# Installs python3-torch (Debian's PyTorch 1.13) for the peer if it is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-perf-native}
threads=${THREADS:-2}
epochs=${EPOCHS:-3}
torch_epochs=${TORCH_EPOCHS:-2}
peer=${TORCH_PEER:-$root/../shared/peers/torch_vae.py}
py=/usr/bin/python3

if [ "${SKIP_TORCH:-0}" != 1 ] && ! $py -c "import torch" 2>/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-torch
fi

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSCVAE_ENABLE_CUDA=OFF \
  -DSCVAE_BENCH_NATIVE=$([ "${NATIVE:-1}" = 1 ] && echo ON || echo OFF) \
  -DSCVAE_USE_BLAS=$([ "${BLAS:-1}" = 1 ] && echo ON || echo OFF) \
  -DSCVAE_USE_DNNL=$([ "${DNNL:-1}" = 1 ] && echo ON || echo OFF) >/dev/null
ninja -C "$build" -j2 train_benchmark >/dev/null

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" \
  "(cpu family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs), model $(grep -m1 '^model\s' /proc/cpuinfo | cut -d: -f2 | xargs)), $(date -u +%FT%TZ)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %10s %10s %10s %8s %8s\n' likelihood torch_s ours_s gemm_s speedup vs_gemm
for lik in poisson nb zip zinb; do
  case $lik in poisson) tl=Poisson;; nb) tl=NB;; zip) tl=ZIP;; zinb) tl=ZINB;; esac
  t=NA
  if [ "${SKIP_TORCH:-0}" != 1 ]; then
    t=$($py "$peer" --dist $tl --epochs "$torch_epochs" --threads "$threads" | awk '{print $6}' | sort -g | head -1)
  fi
  line=$("$build/examples/train_benchmark" --lik $lik --epochs "$epochs" --threads "$threads" --no-breakdown | grep '^RESULT')
  ours=$(sed 's/.*epoch_s=\([0-9.]*\).*/\1/' <<<"$line")
  gemm=$(sed 's/.*gemm_only_s=\([0-9.]*\).*/\1/' <<<"$line")
  sp=NA; [ "$t" != NA ] && sp=$(awk -v a="$t" -v b="$ours" 'BEGIN{printf "%.1f", a/b}')
  printf '%-8s %10s %10s %10s %8s %8s\n' $lik "$t" "$ours" "$gemm" "$sp" "$(awk -v a="$ours" -v b="$gemm" 'BEGIN{printf "%.2f", a/b}')"
done
if [ "${SKIP_GMVAE:-0}" != 1 ]; then
  echo "GMVAE K = 10 (NB), and the VAE's breakdown for the bound K x decoder + encoder:"
  "$build/examples/train_benchmark" --model gmvae --lik nb --components 10 --epochs 2 --threads "$threads" | grep -E 'epoch|GEMM|RESULT'
  "$build/examples/train_benchmark" --lik nb --epochs 2 --threads "$threads" | grep -E 'GEMM|breakdown|RESULT'
fi
if [ "${SKIP_MEMORY:-0}" != 1 ]; then
  echo "20,000 x 27,998 cells (one epoch, NB):"
  "$build/examples/train_benchmark" --lik nb --cells 20000 --epochs 1 --repeats 1 --threads "$threads" --no-breakdown |
    grep -E 'data:|RESULT'
fi
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
