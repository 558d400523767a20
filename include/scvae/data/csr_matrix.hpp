#pragma once
// Compressed sparse row count matrix: cells x genes, with names. The data set is never held
// dense: minibatches are gathered into a CscBatch ([genes x batch] CSC = the selected CSR rows).
#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/view.hpp"

namespace scvae {

struct CsrMatrix {
  Index n_rows = 0;                 // cells
  Index n_cols = 0;                 // genes
  std::vector<std::int64_t> indptr{0};  // [n_rows + 1]
  std::vector<std::int32_t> indices;    // [nnz], strictly increasing within a row
  std::vector<float> values;            // [nnz], non-negative integer counts stored as float
  std::vector<std::string> row_names;   // cell names (barcodes); empty or n_rows
  std::vector<std::string> col_names;   // gene names; empty or n_cols

  std::int64_t nnz() const { return indptr.empty() ? 0 : indptr.back(); }
  std::int64_t row_nnz(Index r) const { return indptr[r + 1] - indptr[r]; }
  // Bytes held by the sparse arrays (for memory reports).
  std::size_t bytes() const {
    return indptr.size() * sizeof(std::int64_t) + indices.size() * sizeof(std::int32_t) +
           values.size() * sizeof(float);
  }
  // Throws InputError if the structure is inconsistent.
  void validate(const std::string& what = "matrix") const {
    SCVAE_CHECK(n_rows >= 0 && n_cols >= 0, what + ": negative dimensions");
    SCVAE_CHECK(static_cast<Index>(indptr.size()) == n_rows + 1, what + ": indptr size != rows + 1");
    SCVAE_CHECK(indptr.front() == 0, what + ": indptr[0] != 0");
    SCVAE_CHECK(static_cast<std::int64_t>(indices.size()) == nnz(), what + ": indices size != nnz");
    SCVAE_CHECK(static_cast<std::int64_t>(values.size()) == nnz(), what + ": values size != nnz");
    for (Index r = 0; r < n_rows; ++r) {
      SCVAE_CHECK(indptr[r] <= indptr[r + 1], what + ": indptr not non-decreasing at row " + std::to_string(r));
      for (std::int64_t k = indptr[r]; k < indptr[r + 1]; ++k) {
        SCVAE_CHECK(indices[k] >= 0 && indices[k] < n_cols,
                    what + ": column index out of range in row " + std::to_string(r));
        SCVAE_CHECK(k == indptr[r] || indices[k] > indices[k - 1],
                    what + ": column indices not strictly increasing in row " + std::to_string(r));
        SCVAE_CHECK(values[k] >= 0.f && values[k] < INFINITY,
                    what + ": negative or non-finite count in row " + std::to_string(r));
      }
    }
    SCVAE_CHECK(row_names.empty() || static_cast<Index>(row_names.size()) == n_rows, what + ": row name count != rows");
    SCVAE_CHECK(col_names.empty() || static_cast<Index>(col_names.size()) == n_cols, what + ": column name count != columns");
  }
};

// A gathered minibatch: [genes x batch] CSC holding raw counts and the transformed encoder input
// (log1p of the counts, same sparsity). Buffers are reused between batches: after reserve(),
// gathering never allocates.
struct CscBatch {
  std::vector<std::int64_t> ptr;
  std::vector<std::int32_t> idx;
  std::vector<float> counts;     // raw counts
  std::vector<float> input;      // transformed counts fed to the encoder
  std::vector<float> library;    // [batch] total count per cell
  Index rows = 0, cols = 0;

  void reserve(Index max_cols, std::int64_t max_nnz) {
    ptr.reserve(max_cols + 1);
    idx.reserve(max_nnz);
    counts.reserve(max_nnz);
    input.reserve(max_nnz);
    library.reserve(max_cols);
  }
  CscView<float> counts_view() const { return {ptr.data(), idx.data(), counts.data(), rows, cols}; }
  CscView<float> input_view() const { return {ptr.data(), idx.data(), input.data(), rows, cols}; }
};

// Largest nnz any batch of `batch` rows can have: the sum of the `batch` largest row nnz.
inline std::int64_t max_batch_nnz(const CsrMatrix& m, Index batch) {
  SCVAE_CHECK(batch >= 0, "max_batch_nnz: negative batch size");
  std::vector<std::int64_t> r(m.n_rows);
  for (Index i = 0; i < m.n_rows; ++i) r[i] = m.row_nnz(i);
  batch = std::min(batch, m.n_rows);
  std::partial_sort(r.begin(), r.begin() + batch, r.end(), std::greater<>());
  return std::accumulate(r.begin(), r.begin() + batch, std::int64_t{0});
}

enum class InputTransform { none, log1p };

namespace detail {
// The encoder input log1p(count), rounded once from double: float(log1p(double(v))). The small
// integers that make up most of 10x data come from a table (gathering an NB batch took 0.95 ms
// with glibc's log1pf, 0.18 ms with it), anything else from double log1p. The device gather
// computes the same expression (backend/cuda/device_data.cuh), so both backends feed the
// encoder the same bits.
inline const float* log1p_count_table() {  // [256]: float(log1p(double(i)))
  static const auto table = [] {
    std::array<float, 256> t{};
    for (int i = 0; i < 256; ++i) t[static_cast<std::size_t>(i)] = static_cast<float>(std::log1p(static_cast<double>(i)));
    return t;
  }();
  return table.data();
}
inline float log1p_count(float v, const float* table /* log1p_count_table() */) {
  if (v >= 0.f && v < 256.f) {
    const int i = static_cast<int>(v);
    if (static_cast<float>(i) == v) return table[i];
  }
  return static_cast<float>(std::log1p(static_cast<double>(v)));  // NaN stays NaN, -1 gives -inf
}
}  // namespace detail

// Gathers rows `rows[0..n)` of `m` into `out` as [genes x n] CSC.
inline void gather_batch(const CsrMatrix& m, const Index* rows, Index n, InputTransform tf, CscBatch& out) {
  SCVAE_CHECK(n >= 0, "gather_batch: negative batch size");
  for (Index j = 0; j < n; ++j)
    SCVAE_CHECK(rows[j] >= 0 && rows[j] < m.n_rows, "gather_batch: row " + std::to_string(rows[j]) + " out of range (" +
                                                         std::to_string(m.n_rows) + " rows)");
  out.rows = m.n_cols;
  out.cols = n;
  out.ptr.resize(n + 1);
  std::int64_t total = 0;
  for (Index j = 0; j < n; ++j) total += m.row_nnz(rows[j]);
  out.idx.resize(total);
  out.counts.resize(total);
  out.input.resize(total);
  out.library.resize(n);
  std::int64_t k = 0;
  out.ptr[0] = 0;
  const float* log1p_table = detail::log1p_count_table();
  for (Index j = 0; j < n; ++j) {
    const Index r = rows[j];
    float lib = 0.f;
    for (std::int64_t s = m.indptr[r]; s < m.indptr[r + 1]; ++s, ++k) {
      const float v = m.values[s];
      out.idx[k] = m.indices[s];
      out.counts[k] = v;
      out.input[k] = tf == InputTransform::log1p ? detail::log1p_count(v, log1p_table) : v;
      lib += v;
    }
    out.ptr[j + 1] = k;
    out.library[j] = lib;
  }
}

}  // namespace scvae

