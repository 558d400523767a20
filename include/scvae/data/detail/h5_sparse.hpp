#pragma once
// Reading compressed sparse matrices stored as (data, indices, indptr) datasets in an HDF5 group
// (10x .h5 and AnnData .h5ad). Values are read and checked in chunks, so peak memory stays at the
// final CsrMatrix plus one chunk; CSC is transposed in two streaming passes over the indices.
#include <cstdint>
#include <string>
#include <vector>

#include "../csr_matrix.hpp"
#include "csr_builder.hpp"
#include "hdf5.hpp"

namespace scvae {
namespace data_detail {
namespace h5 {

constexpr std::uint64_t kChunk = std::uint64_t{1} << 20;

// Reads counts [start, start + n) of `ds` into out, checking each is a non-negative integer.
inline void read_counts(hid_t ds, std::uint64_t start, std::uint64_t n, float* out, const std::string& file,
                        const std::string& what, std::vector<double>& tmp) {
  for (std::uint64_t off = 0; off < n; off += kChunk) {
    const std::uint64_t c = std::min(kChunk, n - off);
    tmp.resize(static_cast<std::size_t>(c));
    read_range(ds, start + off, c, tmp.data(), file, what);
    for (std::uint64_t k = 0; k < c; ++k) {
      const CountStatus st = check_count(tmp[k]);
      if (st != CountStatus::ok)
        fail(file, what + "[" + std::to_string(start + off + k) + "] = " + std::to_string(tmp[k]) + ": " +
                       count_status_text(st));
      out[off + k] = static_cast<float>(tmp[k]);
    }
  }
}

inline std::vector<std::int64_t> read_indptr(const Loc& g, std::uint64_t n_major, std::uint64_t nnz) {
  const std::string what = g.child("indptr");
  auto p = read_vector<std::int64_t>(g, "indptr");
  if (p.size() != n_major + 1)
    fail(g.file, what + " has " + std::to_string(p.size()) + " entries, expected " + std::to_string(n_major + 1));
  if (p[0] != 0) fail(g.file, what + "[0] = " + std::to_string(p[0]) + ", expected 0");
  for (std::size_t i = 1; i < p.size(); ++i)
    if (p[i] < p[i - 1]) fail(g.file, what + " decreases at entry " + std::to_string(i));
  if (static_cast<std::uint64_t>(p.back()) != nnz)
    fail(g.file, what + " ends at " + std::to_string(p.back()) + " but there are " + std::to_string(nnz) + " stored values");
  return p;
}

// Opens data + indices and checks they have the same length; returns nnz.
inline std::uint64_t open_sparse(const Loc& g, Handle& data, Handle& indices) {
  data = open_dataset(g, "data");
  indices = open_dataset(g, "indices");
  const std::uint64_t nd = dataset_length_1d(data.get(), g.file, g.child("data"));
  const std::uint64_t ni = dataset_length_1d(indices.get(), g.file, g.child("indices"));
  if (nd != ni)
    fail(g.file, g.child("data") + " has " + std::to_string(nd) + " values but " + g.child("indices") + " has " +
                     std::to_string(ni));
  return nd;
}

inline void finish_sparse(CsrMatrix& m, const Loc& g) {
  if (const auto d = sort_rows(m))
    fail(g.file, g.path + ": duplicate entry for cell " + std::to_string(d->row) + ", gene " + std::to_string(d->col) +
                     "; duplicates are rejected");
  drop_explicit_zeros(m);
}

// Group holding CSR with rows = cells (AnnData csr_matrix; 10x CSC whose columns are cells).
inline CsrMatrix read_csr_group(const Loc& g, std::uint64_t n_rows, std::uint64_t n_cols) {
  Handle data, indices;
  const std::uint64_t nnz = open_sparse(g, data, indices);
  check_cells_fit(g.file, 0, n_rows);
  CsrMatrix m;
  m.n_rows = static_cast<Index>(n_rows);
  m.n_cols = static_cast<Index>(n_cols);
  m.indptr = read_indptr(g, n_rows, nnz);
  m.indices.resize(static_cast<std::size_t>(nnz));
  m.values.resize(static_cast<std::size_t>(nnz));
  const std::string wi = g.child("indices");
  std::vector<std::int64_t> idx;
  for (std::uint64_t off = 0; off < nnz; off += kChunk) {
    const std::uint64_t c = std::min(kChunk, nnz - off);
    idx.resize(static_cast<std::size_t>(c));
    read_range(indices.get(), off, c, idx.data(), g.file, wi);
    for (std::uint64_t k = 0; k < c; ++k) {
      if (idx[k] < 0 || static_cast<std::uint64_t>(idx[k]) >= n_cols)
        fail(g.file, wi + "[" + std::to_string(off + k) + "] = " + std::to_string(idx[k]) + " out of range 0.." +
                         std::to_string(n_cols - 1));
      m.indices[off + k] = static_cast<std::int32_t>(idx[k]);
    }
  }
  std::vector<double> tmp;
  read_counts(data.get(), 0, nnz, m.values.data(), g.file, g.child("data"), tmp);
  finish_sparse(m, g);
  return m;
}

// Group holding CSC with columns = genes (AnnData csc_matrix): transposed to cells x genes CSR.
inline CsrMatrix read_csc_group_as_csr(const Loc& g, std::uint64_t n_rows, std::uint64_t n_cols) {
  Handle data, indices;
  const std::uint64_t nnz = open_sparse(g, data, indices);
  check_cells_fit(g.file, 0, n_rows);
  const std::vector<std::int64_t> colptr = read_indptr(g, n_cols, nnz);
  const std::string wi = g.child("indices");
  CsrMatrix m;
  m.n_rows = static_cast<Index>(n_rows);
  m.n_cols = static_cast<Index>(n_cols);
  m.indptr.assign(static_cast<std::size_t>(n_rows) + 1, 0);
  std::vector<std::int64_t> idx;
  // Pass 1: entries per cell.
  for (std::uint64_t off = 0; off < nnz; off += kChunk) {
    const std::uint64_t c = std::min(kChunk, nnz - off);
    idx.resize(static_cast<std::size_t>(c));
    read_range(indices.get(), off, c, idx.data(), g.file, wi);
    for (std::uint64_t k = 0; k < c; ++k) {
      if (idx[k] < 0 || static_cast<std::uint64_t>(idx[k]) >= n_rows)
        fail(g.file, wi + "[" + std::to_string(off + k) + "] = " + std::to_string(idx[k]) + " out of range 0.." +
                         std::to_string(n_rows - 1));
      ++m.indptr[idx[k] + 1];
    }
  }
  for (std::uint64_t r = 0; r < n_rows; ++r) m.indptr[r + 1] += m.indptr[r];
  m.indices.resize(static_cast<std::size_t>(nnz));
  m.values.resize(static_cast<std::size_t>(nnz));
  // Pass 2: scatter; genes come in increasing order, so each cell's row ends up sorted.
  std::vector<std::int64_t> cursor(m.indptr.begin(), m.indptr.end() - 1);
  std::vector<float> val;
  std::vector<double> tmp;
  std::uint64_t gene = 0;
  for (std::uint64_t off = 0; off < nnz; off += kChunk) {
    const std::uint64_t c = std::min(kChunk, nnz - off);
    idx.resize(static_cast<std::size_t>(c));
    val.resize(static_cast<std::size_t>(c));
    read_range(indices.get(), off, c, idx.data(), g.file, wi);
    read_counts(data.get(), off, c, val.data(), g.file, g.child("data"), tmp);
    for (std::uint64_t k = 0; k < c; ++k) {
      while (static_cast<std::uint64_t>(colptr[gene + 1]) <= off + k) ++gene;
      const std::int64_t r = idx[k];
      if (r < 0 || static_cast<std::uint64_t>(r) >= n_rows) fail(g.file, wi + " changed while reading");
      const std::int64_t pos = cursor[r]++;
      if (pos >= m.indptr[r + 1]) fail(g.file, wi + " changed while reading");
      if (pos > m.indptr[r] && m.indices[pos - 1] == static_cast<std::int32_t>(gene))
        fail(g.file, g.path + ": duplicate entry for cell " + std::to_string(r) + ", gene " + std::to_string(gene) +
                         "; duplicates are rejected");
      m.indices[pos] = static_cast<std::int32_t>(gene);
      m.values[pos] = val[k];
    }
  }
  finish_sparse(m, g);
  return m;
}

}  // namespace h5
}  // namespace data_detail
}  // namespace scvae
