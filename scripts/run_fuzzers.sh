#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time on a
# small generated seed corpus. Exits non-zero on any crash, leak, timeout or OOM.
#   SCVAE_FUZZ_SECONDS   time per fuzzer (default 20)
#   SCVAE_FUZZ_BUILD_DIR build folder (default build-fuzz)
#   SCVAE_FUZZ_JOBS      build parallelism (default 2)
#   SCVAE_FUZZERS        which to build and run, e.g. "mtx mtx_tar" (default: all)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SCVAE_FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${SCVAE_FUZZ_SECONDS:-20}"
jobs="${SCVAE_FUZZ_JOBS:-2}"
all_fuzzers=(mtx mtx_tar dense_table labels tenx_h5 h5ad loom)
read -r -a fuzzers <<<"${SCVAE_FUZZERS:-${all_fuzzers[*]}}"
CXX_BIN="${CXX_FUZZ:-$(command -v clang++ || command -v clang++-14)}"
C_BIN="${CC_FUZZ:-$(command -v clang || command -v clang-14)}"

cmake -S "$root" -B "$build" -G Ninja \
  -DCMAKE_CXX_COMPILER="$CXX_BIN" -DCMAKE_C_COMPILER="$C_BIN" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DSCVAE_BUILD_FUZZERS=ON -DSCVAE_BUILD_TESTS=OFF -DSCVAE_BUILD_BENCHMARKS=OFF \
  -DSCVAE_BUILD_EXAMPLES=OFF -DSCVAE_INSTALL=OFF -DSCVAE_ENABLE_CUDA=OFF >/dev/null
ninja -C "$build" -j "$jobs" "${fuzzers[@]/#/fuzz_}"

# Seed corpus: small valid and nearly valid inputs (regenerated each run, kept under the build dir).
corpus="$build/fuzz-corpus"
rm -rf "$corpus"
for f in "${all_fuzzers[@]}"; do mkdir -p "$corpus/$f"; done
hdr='%%MatrixMarket matrix coordinate integer general'
printf '%s\n%% comment\n3 2 3\n1 1 1\n3 1 5\n2 2 2\n\x00' "$hdr" >"$corpus/mtx/sorted"
printf '%s\n3 2 3\n2 2 2\n3 1 5\n1 1 1\n\x01' "$hdr" >"$corpus/mtx/unsorted"
printf '%%%%MatrixMarket matrix coordinate pattern general\n2 2 2\n1 1\n2 2\n\x02' >"$corpus/mtx/pattern"
printf '%%%%MatrixMarket matrix coordinate real general\r\n2 3 2\r\n1 3 2.0\r\n2 1 1e1\r\n\x04' >"$corpus/mtx/real_crlf"
printf '%s\n3 2 3\n1 1 1\n3 1 5\n2 2 2\n' "$hdr" | gzip -c >"$corpus/mtx/gzipped"
# Archives as tar writes them (last byte: the fuzzer's flags, which a tar or gzip reader ignores;
# 0x14 = genome mm10, 0x20 = feature type filter), and seeds for the mode that builds archives
# from the bytes (flags >= 0x80).
src="$(mktemp -d)"
mkdir -p "$src/f/mm10" "$src/g"
printf '%s\n3 2 3\n1 1 1\n3 1 5\n2 2 2\n' "$hdr" | tee "$src/f/mm10/matrix.mtx" | gzip -c >"$src/g/matrix.mtx.gz"
printf 'G1\tA\nG2\tB\nG3\tC\n' >"$src/f/mm10/genes.tsv"
printf 'G1\tA\tGene Expression\nG2\tB\tGene Expression\nG3\tC\tAntibody Capture\n' | gzip -c >"$src/g/features.tsv.gz"
printf 'AAAC-1\nAAAG-1\n' | tee "$src/f/mm10/barcodes.tsv" | gzip -c >"$src/g/barcodes.tsv.gz"
(cd "$src" && tar --format=gnu -cf - f && printf '\x14') >"$corpus/mtx_tar/v2_gnu"
(cd "$src" && tar --format=pax -cf - g/barcodes.tsv.gz g/matrix.mtx.gz g/features.tsv.gz && printf '\x20') >"$corpus/mtx_tar/v3_pax"
(cd "$src" && tar --format=ustar -czf - f && printf '\x00') >"$corpus/mtx_tar/v2_tgz"
rm -rf "$src"
for s in 1 2 3 4 5 6; do
  head -c $((48 * s)) /dev/zero | tr '\0' "\\$(printf '%03o' $((s * 37 % 256)))" >"$corpus/mtx_tar/built$s"
  printf "\\$(printf '%03o' $((128 + s * 9)))" >>"$corpus/mtx_tar/built$s"
done
printf 'gene\tc1\tc2\tc3\ng1\t0\t1\t2\ng2\t3\t0\t0\n\x00' >"$corpus/dense_table/genes_tsv"
printf '"",a,b\n"x",1,0\n"y",0,7\n\x09' >"$corpus/dense_table/cells_csv"
printf 'c1\tc2\ng1\t1\t0\n\x00' >"$corpus/dense_table/r_style"
printf 'cell\tlabel\tother\nAAA\tT\t1\nCCC\tB\t2\n\x21' >"$corpus/labels/named"
printf '"c","label"\n"A","x"\n"B","y"\n\x43' >"$corpus/labels/csv"
for f in tenx_h5 h5ad loom; do
  for s in 1 2 3 4 5 6 7 8; do
    head -c $((64 * s)) /dev/zero | tr '\0' "\\$(printf '%03o' $((s * 29 % 256)))" >"$corpus/$f/seed$s"
  done
done

status=0
for f in "${fuzzers[@]}"; do
  echo "== fuzz_$f for ${seconds}s"
  work="$build/fuzz-work/$f"
  rm -rf "$work"
  mkdir -p "$work"
  max_len=4096
  [[ $f == mtx_tar ]] && max_len=12288  # tar pads archives to 10 KiB records
  if ! (cd "$work" && "$build/fuzz/fuzz_$f" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
         -max_len="$max_len" -print_final_stats=1 "$work" "$corpus/$f" >"$work/log.txt" 2>&1); then
    echo "fuzz_$f FAILED; log: $work/log.txt"
    tail -n 60 "$work/log.txt"
    status=1
  else
    grep -E '^stat::number_of_executed_units|^Done' "$work/log.txt" | tr '\n' ' '
    echo
  fi
done
exit $status
