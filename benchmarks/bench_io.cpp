// Reading the reference workload (20,000 cells x 27,998 genes, ~40 M non-zeros; 10x-MBC-20k's
// shape) from a gzipped 10x MTX folder, a .tar.gz of that folder with plain members (as Cell
// Ranger v2 tarballs are; made with the system's gzip and tar), an AnnData .h5ad and a Loom file
// (dense genes x cells in gzipped 64 x 64 chunks): wall time, peak resident memory
// (getrusage) relative to the final sparse matrix, and throughput.
//
// Each read runs in a forked child so its peak RSS is its own (ru_maxrss never goes down).
// The input files are generated once (also in a child) into $SCVAE_BENCH_IO_DIR
// (default /tmp/scvae_bench_io); $SCVAE_BENCH_IO_CELLS shrinks the workload for a quick run.
//   ./bench_io --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>

#include "scvae/data/h5ad_reader.hpp"
#include "scvae/data/h5ad_writer.hpp"
#include "scvae/data/loom_reader.hpp"
#include "scvae/data/mtx_reader.hpp"
#include "scvae/data/mtx_tar_reader.hpp"
#include "scvae/data/mtx_writer.hpp"

namespace {

namespace fs = std::filesystem;

std::string bench_dir() {
  const char* d = std::getenv("SCVAE_BENCH_IO_DIR");
  return d ? d : "/tmp/scvae_bench_io";
}
scvae::Index bench_cells() {
  const char* c = std::getenv("SCVAE_BENCH_IO_CELLS");
  return c ? std::atol(c) : 20000;
}
constexpr scvae::Index kGenes = 27998;
constexpr double kDensity = 40e6 / (20000.0 * 27998.0);  // ~2,000 genes per cell

std::string tag() { return std::to_string(bench_cells()) + "x" + std::to_string(kGenes); }
std::string mtx_dir() { return bench_dir() + "/mtx_" + tag(); }
std::string tar_path() { return bench_dir() + "/mtx_" + tag() + ".tar.gz"; }
std::string h5ad_path() { return bench_dir() + "/counts_" + tag() + ".h5ad"; }
std::string loom_path() { return bench_dir() + "/counts_" + tag() + ".loom"; }

// Sparse counts with ~kDensity non-zeros: geometric gaps between genes, geometric count values.
scvae::CsrMatrix synthetic_counts(scvae::Index cells) {
  std::mt19937_64 rng(2024);
  std::geometric_distribution<int> gap(kDensity), count(0.45);
  scvae::CsrMatrix m;
  m.n_rows = cells;
  m.n_cols = kGenes;
  m.indices.reserve(static_cast<std::size_t>(cells * kGenes * kDensity * 1.01));
  m.values.reserve(m.indices.capacity());
  for (scvae::Index r = 0; r < cells; ++r) {
    for (long j = gap(rng); j < kGenes; j += 1 + gap(rng)) {
      m.indices.push_back(static_cast<std::int32_t>(j));
      m.values.push_back(static_cast<float>(1 + count(rng)));
    }
    m.indptr.push_back(static_cast<std::int64_t>(m.indices.size()));
    m.row_names.push_back("CELL" + std::to_string(r + 1) + "-1");
  }
  for (scvae::Index j = 0; j < kGenes; ++j) m.col_names.push_back("ENSMUSG" + std::to_string(10000000 + j));
  return m;
}

// m as a Loom file: /matrix float32 genes x cells in 64 x 64 gzip chunks (the layout loompy
// writes), written 64 cells at a time; gene and cell names as fixed-length strings.
void write_loom(const std::string& path, const scvae::CsrMatrix& m) {
  namespace h5 = scvae::data_detail::h5;
  h5::Handle f = h5::create_file(path);
  const hsize_t genes = static_cast<hsize_t>(m.n_cols), cells = static_cast<hsize_t>(m.n_rows), w = 64;
  const hsize_t dims[2] = {genes, cells}, chunk[2] = {std::min(genes, w), std::min(cells, w)};
  h5::Handle sp(H5Screate_simple(2, dims, nullptr), H5Sclose);
  h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_chunk(dcpl.get(), 2, chunk);
  H5Pset_deflate(dcpl.get(), 2);
  h5::Handle ds(H5Dcreate2(f.get(), "matrix", H5T_NATIVE_FLOAT, sp.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                H5Dclose);
  std::vector<float> block;
  for (hsize_t c0 = 0; c0 < cells; c0 += w) {
    const hsize_t nc = std::min(w, cells - c0);
    block.assign(static_cast<std::size_t>(genes * nc), 0.f);
    for (hsize_t i = 0; i < nc; ++i)
      for (auto k = m.indptr[c0 + i]; k < m.indptr[c0 + i + 1]; ++k)
        block[static_cast<std::size_t>(static_cast<hsize_t>(m.indices[k]) * nc + i)] = m.values[k];
    const hsize_t st[2] = {0, c0}, cn[2] = {genes, nc};
    H5Sselect_hyperslab(sp.get(), H5S_SELECT_SET, st, nullptr, cn, nullptr);
    h5::Handle ms(H5Screate_simple(2, cn, nullptr), H5Sclose);
    if (H5Dwrite(ds.get(), H5T_NATIVE_FLOAT, ms.get(), sp.get(), H5P_DEFAULT, block.data()) < 0)
      throw std::runtime_error("cannot write " + path);
  }
  h5::Handle rows = h5::create_group(f.get(), "row_attrs"), cols = h5::create_group(f.get(), "col_attrs");
  h5::write_strings(rows.get(), "Accession", m.col_names, false);
  h5::write_strings(cols.get(), "CellID", m.row_names, false);
}

template <class F>
void in_child(F&& f) {
  const pid_t pid = fork();
  if (pid == 0) {
    int rc = 0;
    try {
      f();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_io: %s\n", e.what());
      rc = 1;
    }
    _exit(rc);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "bench_io: child failed\n");
    std::exit(1);
  }
}

void ensure_inputs() {
  if (fs::exists(mtx_dir() + "/matrix.mtx.gz") && fs::exists(h5ad_path()) && fs::exists(loom_path())) return;
  fs::create_directories(bench_dir());
  std::fprintf(stderr, "bench_io: generating %s inputs in %s (once)...\n", tag().c_str(), bench_dir().c_str());
  in_child([] {
    const scvae::CsrMatrix m = synthetic_counts(bench_cells());
    std::fprintf(stderr, "bench_io: %lld non-zeros, %.1f MB sparse\n", static_cast<long long>(m.nnz()), m.bytes() / 1e6);
    scvae::write_h5ad(h5ad_path() + ".tmp", m);
    scvae::write_10x_mtx_dir(mtx_dir(), m);  // gzip level 6, like Cell Ranger
    write_loom(loom_path() + ".tmp", m);
    fs::rename(h5ad_path() + ".tmp", h5ad_path());
    fs::rename(loom_path() + ".tmp", loom_path());
  });
}

// The folder's files gunzipped into filtered_gene_bc_matrices/mm10/ and tarred with gzip -6.
bool ensure_tar() {
  if (fs::exists(tar_path())) return true;
  const std::string src = bench_dir() + "/tar_src", in = src + "/filtered_gene_bc_matrices/mm10";
  std::string cmd = "rm -rf '" + src + "' && mkdir -p '" + in + "'";
  for (const char* f : {"matrix.mtx", "features.tsv", "barcodes.tsv"})
    cmd += " && gzip -dc '" + mtx_dir() + "/" + f + ".gz' > '" + in + "/" + f + "'";
  cmd += " && tar -czf '" + tar_path() + ".tmp' -C '" + src + "' filtered_gene_bc_matrices && mv '" + tar_path() +
         ".tmp' '" + tar_path() + "' && rm -rf '" + src + "'";
  std::fprintf(stderr, "bench_io: making %s (once)...\n", tar_path().c_str());
  return std::system(cmd.c_str()) == 0;
}

struct ReadResult {
  double seconds;
  double peak_rss_mb;
  double matrix_mb;  // CsrMatrix::bytes(): the sparse arrays
  double names_mb;
  double nnz;
};

// Reads in a forked child and reports through a pipe.
template <class F>
ReadResult measure(F&& read) {
  int fd[2];
  if (pipe(fd) != 0) std::exit(1);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    ReadResult r{};
    try {
      const auto t0 = std::chrono::steady_clock::now();
      const scvae::CsrMatrix m = read();
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rusage u{};
      getrusage(RUSAGE_SELF, &u);
      r.peak_rss_mb = u.ru_maxrss / 1024.0 * 1.048576;  // KiB -> MB
      r.matrix_mb = m.bytes() / 1e6;
      double names = 0;
      for (const auto& s : m.row_names) names += sizeof(s) + (s.size() > 15 ? s.capacity() : 0);
      for (const auto& s : m.col_names) names += sizeof(s) + (s.size() > 15 ? s.capacity() : 0);
      r.names_mb = names / 1e6;
      r.nnz = static_cast<double>(m.nnz());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "bench_io: %s\n", e.what());
      r.seconds = -1;
    }
    if (write(fd[1], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) _exit(2);
    _exit(0);
  }
  close(fd[1]);
  ReadResult r{};
  const ssize_t got = ::read(fd[0], &r, sizeof r);
  close(fd[0]);
  waitpid(pid, nullptr, 0);
  if (got != static_cast<ssize_t>(sizeof r) || r.seconds < 0) {
    std::fprintf(stderr, "bench_io: read failed\n");
    std::exit(1);
  }
  return r;
}

double dir_bytes(const std::string& d) {
  double b = 0;
  for (const auto& e : fs::directory_iterator(d)) b += static_cast<double>(e.file_size());
  return b;
}

// Time: mean over iterations (as Google Benchmark reports it); throughput from the mean time;
// peak RSS: the largest of the iterations; best_s: the fastest (warm page cache) iteration.
template <class F>
void run(benchmark::State& state, double file_bytes, F&& read) {
  ReadResult last{};
  double total_s = 0, best_s = 1e300, peak = 0;
  for (auto _ : state) {
    last = measure(read);
    state.SetIterationTime(last.seconds);
    total_s += last.seconds;
    best_s = std::min(best_s, last.seconds);
    peak = std::max(peak, last.peak_rss_mb);
  }
  const double mean_s = total_s / static_cast<double>(state.iterations());
  state.counters["best_s"] = best_s;
  state.counters["peak_rss_MB"] = peak;
  state.counters["matrix_MB"] = last.matrix_mb;
  state.counters["rss_over_matrix"] = peak / last.matrix_mb;
  state.counters["rss_over_matrix_names"] = peak / (last.matrix_mb + last.names_mb);
  state.counters["file_MB_per_s"] = file_bytes / 1e6 / mean_s;
  state.counters["Mnnz_per_s"] = last.nnz / 1e6 / mean_s;
  state.counters["nnz"] = last.nnz;
}

void BM_read_10x_mtx_gz(benchmark::State& state) {
  run(state, dir_bytes(mtx_dir()), [] { return scvae::read_10x_mtx_dir(mtx_dir()); });
}
void BM_read_10x_mtx_tar_gz(benchmark::State& state) {
  if (!ensure_tar()) {
    state.SkipWithError("could not make the .tar.gz (needs gzip and tar)");
    return;
  }
  run(state, static_cast<double>(fs::file_size(tar_path())), [] { return scvae::read_10x_mtx_tar(tar_path()); });
}
void BM_read_h5ad(benchmark::State& state) {
  run(state, static_cast<double>(fs::file_size(h5ad_path())), [] { return scvae::read_h5ad(h5ad_path()); });
}
void BM_read_loom(benchmark::State& state) {
  run(state, static_cast<double>(fs::file_size(loom_path())), [] { return scvae::read_loom(loom_path()); });
}
BENCHMARK(BM_read_10x_mtx_gz)->UseManualTime()->Iterations(5)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_read_10x_mtx_tar_gz)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_read_h5ad)->UseManualTime()->Iterations(5)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_read_loom)->UseManualTime()->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  ensure_inputs();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
