#pragma once
// Helpers for the data tests: a per-test temporary folder, small seeded random count matrices,
// file writing/gzipping/corrupting, and exact matrix comparison.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "scvae/data/csr_matrix.hpp"
#include "scvae/data/detail/text_writer.hpp"

namespace scvae_test {

namespace fs = std::filesystem;

// A fresh folder under SCVAE_TEST_TMP_DIR (removed at the start of the next run with that name).
inline std::string temp_dir(const std::string& name) {
  const fs::path p = fs::path(SCVAE_TEST_TMP_DIR) / ("data_" + name);
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

inline std::string join(const std::string& dir, const std::string& file) { return (fs::path(dir) / file).string(); }

inline void write_file(const std::string& path, const std::string& text, int gzip_level = 0) {
  scvae::data_detail::TextWriter w(path, gzip_level);
  w.put(text);
  w.close();
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// Random cells x genes counts with about `density` non-zeros (values 1..max_value), named
// cell1.. / gene1...
inline scvae::CsrMatrix random_counts(scvae::Index cells, scvae::Index genes, double density, std::uint64_t seed,
                                      int max_value = 20) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  scvae::CsrMatrix m;
  m.n_rows = cells;
  m.n_cols = genes;
  for (scvae::Index r = 0; r < cells; ++r) {
    for (scvae::Index j = 0; j < genes; ++j) {
      if (u(rng) >= density) continue;
      m.indices.push_back(static_cast<std::int32_t>(j));
      m.values.push_back(static_cast<float>(1 + static_cast<int>(u(rng) * max_value)));
    }
    m.indptr.push_back(static_cast<std::int64_t>(m.indices.size()));
  }
  for (scvae::Index r = 0; r < cells; ++r) m.row_names.push_back("cell" + std::to_string(r + 1));
  for (scvae::Index j = 0; j < genes; ++j) m.col_names.push_back("gene" + std::to_string(j + 1));
  return m;
}

// MatrixMarket text of m as genes x cells (10x) or cells x genes, optionally with shuffled lines.
inline std::string mtx_text(const scvae::CsrMatrix& m, bool genes_by_cells = true, bool shuffle = false,
                            std::uint64_t seed = 1, const std::string& field = "integer") {
  std::vector<std::string> lines;
  for (scvae::Index r = 0; r < m.n_rows; ++r)
    for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      const long long i = genes_by_cells ? m.indices[k] + 1 : r + 1, j = genes_by_cells ? r + 1 : m.indices[k] + 1;
      lines.push_back(std::to_string(i) + " " + std::to_string(j) + " " + std::to_string(static_cast<long long>(m.values[k])));
    }
  if (shuffle) std::shuffle(lines.begin(), lines.end(), std::mt19937_64(seed));
  std::string s = "%%MatrixMarket matrix coordinate " + field + " general\n% a comment\n";
  s += std::to_string(genes_by_cells ? m.n_cols : m.n_rows) + " " + std::to_string(genes_by_cells ? m.n_rows : m.n_cols) +
       " " + std::to_string(lines.size()) + "\n";
  for (const auto& l : lines) s += l + "\n";
  return s;
}

inline std::string lines_text(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += x + "\n";
  return s;
}

// Same shape, structure, values and names.
inline void require_same(const scvae::CsrMatrix& a, const scvae::CsrMatrix& b, bool names = true) {
  REQUIRE(a.n_rows == b.n_rows);
  REQUIRE(a.n_cols == b.n_cols);
  REQUIRE(a.indptr == b.indptr);
  REQUIRE(a.indices == b.indices);
  REQUIRE(a.values == b.values);
  if (names) {
    REQUIRE(a.row_names == b.row_names);
    REQUIRE(a.col_names == b.col_names);
  }
}

inline double total_count(const scvae::CsrMatrix& m) {
  double t = 0;
  for (float v : m.values) t += v;
  return t;
}

}  // namespace scvae_test

// Requires that `expr` throws scvae::InputError whose message contains every given fragment.
#define REQUIRE_INPUT_ERROR(expr, ...)                                                      \
  do {                                                                                      \
    bool thrown_ = false;                                                                   \
    try {                                                                                   \
      (void)(expr);                                                                         \
    } catch (const scvae::InputError& e_) {                                                 \
      thrown_ = true;                                                                       \
      const std::string msg_ = e_.what();                                                   \
      INFO("message: " << msg_);                                                            \
      for (const std::string frag_ : {__VA_ARGS__}) CHECK(msg_.find(frag_) != std::string::npos); \
    }                                                                                       \
    CHECK(thrown_);                                                                         \
  } while (0)
