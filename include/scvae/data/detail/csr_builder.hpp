#pragma once
// Builds a CsrMatrix from entries arriving in any order without a COO copy.
// Entries are appended straight into the final indices/values arrays. While rows arrive in
// non-decreasing order (10x writes its MTX sorted by cell) that is already CSR; on the first
// out-of-order row we start recording each entry's row (4 bytes/nnz) and at the end permute the
// arrays in place by following cycles. Peak memory: the final arrays (+50% only for unsorted input).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include "../csr_matrix.hpp"

namespace scvae {
namespace data_detail {

struct Duplicate {
  std::int32_t row, col;
};

// Sorts the column indices of each row (rows already sorted are only scanned) and returns the
// first duplicate (row, col), if any.
inline std::optional<Duplicate> sort_rows(CsrMatrix& m) {
  std::vector<std::pair<std::int32_t, float>> tmp;
  for (Index r = 0; r < m.n_rows; ++r) {
    const std::int64_t b = m.indptr[r], e = m.indptr[r + 1];
    bool sorted = true;
    for (std::int64_t k = b + 1; k < e; ++k) {
      if (m.indices[k] <= m.indices[k - 1]) {
        sorted = false;
        break;
      }
    }
    if (sorted) continue;
    tmp.clear();
    for (std::int64_t k = b; k < e; ++k) tmp.emplace_back(m.indices[k], m.values[k]);
    std::sort(tmp.begin(), tmp.end(), [](const auto& a, const auto& c) { return a.first < c.first; });
    for (std::int64_t k = b; k < e; ++k) {
      m.indices[k] = tmp[k - b].first;
      m.values[k] = tmp[k - b].second;
      if (k > b && m.indices[k] == m.indices[k - 1])
        return Duplicate{static_cast<std::int32_t>(r), m.indices[k]};
    }
  }
  return std::nullopt;
}

// Removes stored zeros in place (readers keep only non-zero counts).
inline void drop_explicit_zeros(CsrMatrix& m) {
  if (std::find(m.values.begin(), m.values.end(), 0.f) == m.values.end()) return;
  std::int64_t w = 0, b = 0;
  for (Index r = 0; r < m.n_rows; ++r) {
    const std::int64_t e = m.indptr[r + 1];
    for (std::int64_t k = b; k < e; ++k) {
      if (m.values[k] == 0.f) continue;
      m.indices[w] = m.indices[k];
      m.values[w] = m.values[k];
      ++w;
    }
    b = e;
    m.indptr[r + 1] = w;
  }
  m.indices.resize(w);
  m.values.resize(w);
}

class CsrBuilder {
 public:
  // reserve_nnz: expected entries (bounded by the caller so a lying header cannot exhaust memory).
  CsrBuilder(Index n_rows, Index n_cols, std::int64_t reserve_nnz) : n_rows_(n_rows), n_cols_(n_cols) {
    counts_.assign(static_cast<std::size_t>(n_rows), 0);
    indices_.reserve(static_cast<std::size_t>(reserve_nnz));
    values_.reserve(static_cast<std::size_t>(reserve_nnz));
  }

  // row in [0, n_rows), col in [0, n_cols): checked by the caller.
  void add(std::int32_t row, std::int32_t col, float v) {
    if (!row_of_.empty() || row < last_row_) {
      if (row_of_.empty()) start_recording_rows();
      row_of_.push_back(static_cast<std::uint32_t>(row));
    }
    last_row_ = row;
    ++counts_[row];
    indices_.push_back(col);
    values_.push_back(v);
  }

  std::int64_t size() const { return static_cast<std::int64_t>(indices_.size()); }
  // For readers that learn the column count only at the end (dense genes x cells tables).
  void set_cols(Index n_cols) { n_cols_ = n_cols; }

  // Moves the entries into `out` (rows sorted by column). Returns the first duplicate (row, col)
  // if any; the matrix is then incomplete and must be discarded.
  std::optional<Duplicate> finish(CsrMatrix& out) {
    out.n_rows = n_rows_;
    out.n_cols = n_cols_;
    out.indptr.assign(static_cast<std::size_t>(n_rows_) + 1, 0);
    for (Index r = 0; r < n_rows_; ++r) out.indptr[r + 1] = out.indptr[r] + counts_[r];
    std::vector<std::int64_t>().swap(counts_);
    if (!row_of_.empty()) permute_to_rows(out.indptr);
    out.indices = std::move(indices_);
    out.values = std::move(values_);
    return sort_rows(out);
  }

 private:
  // Rows of the entries so far are implied by counts_ (they arrived sorted).
  void start_recording_rows() {
    row_of_.reserve(indices_.capacity());
    for (Index r = 0; r < n_rows_; ++r)
      for (std::int64_t k = 0; k < counts_[r]; ++k) row_of_.push_back(static_cast<std::uint32_t>(r));
  }

  // Turns row_of_ into destination positions, then applies the permutation by cycles.
  void permute_to_rows(const std::vector<std::int64_t>& indptr) {
    const std::size_t n = indices_.size();
    if (n > std::numeric_limits<std::uint32_t>::max()) {
      std::vector<std::uint64_t> dest(n);
      fill_dest(indptr, dest);
      std::vector<std::uint32_t>().swap(row_of_);
      apply(dest);
    } else {
      fill_dest(indptr, row_of_);
      apply(row_of_);
      std::vector<std::uint32_t>().swap(row_of_);
    }
  }
  template <class D>
  void fill_dest(const std::vector<std::int64_t>& indptr, std::vector<D>& dest) {
    std::vector<std::int64_t> cursor(indptr.begin(), indptr.end() - 1);
    for (std::size_t k = 0; k < indices_.size(); ++k) dest[k] = static_cast<D>(cursor[row_of_[k]]++);
  }
  template <class D>
  void apply(std::vector<D>& dest) {
    for (std::size_t i = 0; i < dest.size(); ++i) {
      while (dest[i] != i) {
        const std::size_t j = dest[i];
        std::swap(indices_[i], indices_[j]);
        std::swap(values_[i], values_[j]);
        std::swap(dest[i], dest[j]);
      }
    }
  }

  Index n_rows_, n_cols_;
  std::vector<std::int64_t> counts_;
  std::vector<std::int32_t> indices_;
  std::vector<float> values_;
  std::vector<std::uint32_t> row_of_;
  std::int32_t last_row_ = 0;
};

}  // namespace data_detail
}  // namespace scvae
