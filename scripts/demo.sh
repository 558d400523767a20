#!/usr/bin/env bash
# Sets everything up and runs the main job on built-in data: installs the Debian packages
# (scripts/setup.sh), builds only the `scvae` program and trains a Gaussian-mixture VAE on the
# built-in simulated data set (2,000 cells x 500 genes, 5 cell types), writing ./out/demo.
# Extra arguments go to `scvae train`, e.g. scripts/demo.sh --model vae --epochs 50.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
build="$root/build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target scvae_cli
scvae="$build/bin/scvae"
cd "$root"
start=$(date +%s)
"$scvae" train --out out/demo --overwrite "$@"
echo
echo "Demo finished in $(( $(date +%s) - start )) s. Results in $root/out/demo/ (see docs/cli.md):"
echo "  metrics.csv, test_metrics.json            learning curves and test-set ELBO / log-likelihood / ARI / NMI"
echo "  latent.tsv, clusters.tsv                  latent means and GMVAE clusters of every cell"
echo "  reconstruction.tsv                        observed vs reconstructed mean and variance per gene"
echo "  learning_curve_*.svg, latent_pca*.svg, reconstruction_mean.svg   pictures (open in a browser)"
echo "  best.ckpt, last.ckpt                      checkpoints: $scvae evaluate --checkpoint out/demo/best.ckpt --out out/demo-eval"
echo "Your own data: $scvae train --input filtered_feature_bc_matrix/ --out out/mine   ($scvae train --help)"
