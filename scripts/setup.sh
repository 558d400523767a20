#!/usr/bin/env bash
# Installs everything scvae needs to build, test and benchmark on Debian 12 (bookworm).
# Idempotent: packages already present are skipped by apt. Run as root or with sudo available.
set -euo pipefail
pkgs=(
  build-essential cmake ninja-build pkg-config
  libeigen3-dev          # CPU backend
  catch2                 # unit tests (Catch2 2.13)
  libbenchmark-dev       # Google Benchmark
  zlib1g-dev             # .gz readers
  libhdf5-dev            # 10x .h5 and AnnData .h5ad readers
  libcli11-dev           # command-line program
  libdnnl-dev            # oneDNN for the large float GEMMs (SCVAE_USE_DNNL, docs/performance.md)
  ocl-icd-opencl-dev     # Debian's dnnl-config.cmake requires OpenCL (only a Recommends of libdnnl-dev)
  libopenblas-dev        # optional BLAS for the large GEMMs (-DSCVAE_USE_BLAS=ON, docs/performance.md)
  clang                  # libFuzzer targets (scripts/run_fuzzers.sh)
  libclang-rt-14-dev     # libFuzzer + sanitizer runtimes (only a Recommends of clang-14)
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "scvae: build dependencies present"
