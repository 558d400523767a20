#pragma once
// Row (cell) and column (gene) subsets of a CsrMatrix, names kept.
#include <cstdint>
#include <string>
#include <vector>

#include "csr_matrix.hpp"

namespace scvae {

// Rows `rows` in the given order (repeats allowed, e.g. for bootstraps).
inline CsrMatrix subset_rows(const CsrMatrix& m, const std::vector<Index>& rows) {
  CsrMatrix out;
  out.n_rows = static_cast<Index>(rows.size());
  out.n_cols = m.n_cols;
  out.indptr.assign(rows.size() + 1, 0);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    SCVAE_CHECK(rows[i] >= 0 && rows[i] < m.n_rows, "subset_rows: row " + std::to_string(rows[i]) + " out of range");
    out.indptr[i + 1] = out.indptr[i] + m.row_nnz(rows[i]);
  }
  out.indices.resize(static_cast<std::size_t>(out.nnz()));
  out.values.resize(static_cast<std::size_t>(out.nnz()));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const std::int64_t b = m.indptr[rows[i]], n = m.row_nnz(rows[i]);
    std::copy_n(m.indices.begin() + b, n, out.indices.begin() + out.indptr[i]);
    std::copy_n(m.values.begin() + b, n, out.values.begin() + out.indptr[i]);
  }
  out.col_names = m.col_names;
  if (!m.row_names.empty()) {
    out.row_names.reserve(rows.size());
    for (Index r : rows) out.row_names.push_back(m.row_names[r]);
  }
  return out;
}

// Columns `cols` (distinct, strictly increasing, so rows stay sorted without re-sorting).
inline CsrMatrix subset_cols(const CsrMatrix& m, const std::vector<Index>& cols) {
  std::vector<std::int32_t> map(static_cast<std::size_t>(m.n_cols), -1);
  for (std::size_t j = 0; j < cols.size(); ++j) {
    SCVAE_CHECK(cols[j] >= 0 && cols[j] < m.n_cols, "subset_cols: column " + std::to_string(cols[j]) + " out of range");
    SCVAE_CHECK(j == 0 || cols[j] > cols[j - 1], "subset_cols: columns must be strictly increasing");
    map[cols[j]] = static_cast<std::int32_t>(j);
  }
  CsrMatrix out;
  out.n_rows = m.n_rows;
  out.n_cols = static_cast<Index>(cols.size());
  out.indptr.assign(static_cast<std::size_t>(m.n_rows) + 1, 0);
  std::int64_t kept = 0;
  for (std::int64_t k = 0; k < m.nnz(); ++k) kept += map[m.indices[k]] >= 0;
  out.indices.reserve(static_cast<std::size_t>(kept));
  out.values.reserve(static_cast<std::size_t>(kept));
  for (Index r = 0; r < m.n_rows; ++r) {
    for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      const std::int32_t c = map[m.indices[k]];
      if (c < 0) continue;
      out.indices.push_back(c);
      out.values.push_back(m.values[k]);
    }
    out.indptr[r + 1] = static_cast<std::int64_t>(out.indices.size());
  }
  out.row_names = m.row_names;
  if (!m.col_names.empty()) {
    out.col_names.reserve(cols.size());
    for (Index c : cols) out.col_names.push_back(m.col_names[c]);
  }
  return out;
}

// Total count per row (cell library size), in double to stay exact.
inline std::vector<double> row_totals(const CsrMatrix& m) {
  std::vector<double> t(static_cast<std::size_t>(m.n_rows), 0.0);
  for (Index r = 0; r < m.n_rows; ++r)
    for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) t[r] += m.values[k];
  return t;
}

// Total count per column (gene).
inline std::vector<double> col_totals(const CsrMatrix& m) {
  std::vector<double> t(static_cast<std::size_t>(m.n_cols), 0.0);
  for (std::int64_t k = 0; k < m.nnz(); ++k) t[m.indices[k]] += m.values[k];
  return t;
}

}  // namespace scvae
