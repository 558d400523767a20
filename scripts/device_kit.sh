#!/usr/bin/env bash
# Packs what a bare GPU machine lacks to build and run scvae's CUDA checks (scripts/gpu_check.sh).
# Such a machine (e.g. a lent H100/H200 with nvcc, CMake, ninja and PyTorch but no Debian -dev
# packages and no network) gets:
#   .device-kit/root/   files of this machine's Debian packages, paths kept: Eigen, Catch2,
#                       Google Benchmark, CLI11, zlib (headers, libraries, relocatable CMake configs)
#   .device-kit/peers/  the PyTorch peer (../shared/peers/torch_vae.py), which lives outside the repo
# Run here after scripts/setup.sh; .device-kit/ is ignored by git (about 12 MB): send it along
# with the working tree (the device tool's `carry`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kit=$root/.device-kit
pkgs=(libeigen3-dev catch2 libbenchmark-dev libbenchmark1debian libcli11-dev zlib1g-dev zlib1g)
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    { echo "device_kit: package $p is not installed; run scripts/setup.sh first" >&2; exit 1; }
done
rm -rf "$kit"
mkdir -p "$kit/root" "$kit/peers"
for p in "${pkgs[@]}"; do
  # Files and symbolic links only, documentation left out; /lib/... goes to /usr/lib/... (merged
  # /usr), so relative links such as zlib1g-dev's libz.so -> libz.so.1.2.13 resolve in the kit.
  dpkg -L "$p" | grep -v -E '^/usr/share/(doc|man|lintian|bug)/' | while read -r f; do
    if [ -f "$f" ] || [ -L "$f" ]; then
      d=$kit/root${f/#\/lib\//\/usr\/lib\/}
      mkdir -p "$(dirname "$d")" && cp -a "$f" "$d"
    fi
  done
done
# Absolute links (libz.so -> /lib/x86_64-linux-gnu/libz.so.1.2.13) point at this machine's files:
# re-point them at the copy beside them.
find "$kit/root" -type l -lname '/*' | while read -r l; do
  t=$(basename "$(readlink "$l")")
  [ -e "$(dirname "$l")/$t" ] && ln -sfn "$t" "$l"
done
peer=${TORCH_PEER:-$root/../shared/peers/torch_vae.py}
if [ -f "$peer" ]; then
  cp "$peer" "$kit/peers/"
else
  echo "device_kit: no PyTorch peer at $peer (set TORCH_PEER); the GPU comparison will be skipped" >&2
fi
echo "device_kit: $(du -sh "$kit" | cut -f1) in $kit"
