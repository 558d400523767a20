#pragma once
// Deterministic preparation of a count matrix before training:
//   1. drop cells whose total count is below min_total_count,
//   2. drop genes with no count in the remaining cells,
//   3. keep the n_top_genes genes of highest variance across the remaining cells.
// The variance is the population variance (divide by n_cells) of log1p(count) by default (the
// scale the encoder sees, less dominated by a few huge genes), or of the raw counts. Ties go to the
// lower gene index, and selected genes keep their original order.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "csr_matrix.hpp"
#include "subset.hpp"

namespace scvae {

enum class GeneVariance { log1p_counts, counts };

// Per-gene population variance over all cells, zeros included, in two exact passes.
inline std::vector<double> gene_variances(const CsrMatrix& m, GeneVariance on = GeneVariance::log1p_counts) {
  SCVAE_CHECK(m.n_rows > 0, "gene_variances: matrix has no cells");
  const auto f = [on](float v) { return on == GeneVariance::log1p_counts ? std::log1p(static_cast<double>(v)) : v; };
  std::vector<double> mean(static_cast<std::size_t>(m.n_cols), 0.0), var(static_cast<std::size_t>(m.n_cols), 0.0);
  std::vector<std::int64_t> nz(static_cast<std::size_t>(m.n_cols), 0);
  for (std::int64_t k = 0; k < m.nnz(); ++k) {
    mean[m.indices[k]] += f(m.values[k]);
    ++nz[m.indices[k]];
  }
  const double n = static_cast<double>(m.n_rows);
  for (auto& x : mean) x /= n;
  for (std::int64_t k = 0; k < m.nnz(); ++k) {
    const double d = f(m.values[k]) - mean[m.indices[k]];
    var[m.indices[k]] += d * d;
  }
  for (Index j = 0; j < m.n_cols; ++j) var[j] = (var[j] + (n - nz[j]) * mean[j] * mean[j]) / n;
  return var;
}

// Indices (increasing) of the n genes with the largest variance; all genes if n >= n_cols.
inline std::vector<Index> top_variable_genes(const CsrMatrix& m, Index n, GeneVariance on = GeneVariance::log1p_counts) {
  SCVAE_CHECK(n > 0, "top_variable_genes: n must be positive");
  std::vector<Index> idx(static_cast<std::size_t>(m.n_cols));
  std::iota(idx.begin(), idx.end(), Index{0});
  if (n >= m.n_cols) return idx;
  const std::vector<double> v = gene_variances(m, on);
  std::partial_sort(idx.begin(), idx.begin() + n, idx.end(),
                    [&](Index a, Index b) { return v[a] > v[b] || (v[a] == v[b] && a < b); });
  idx.resize(static_cast<std::size_t>(n));
  std::sort(idx.begin(), idx.end());
  return idx;
}

// Genes with at least one non-zero count.
inline std::vector<Index> expressed_genes(const CsrMatrix& m) {
  std::vector<char> seen(static_cast<std::size_t>(m.n_cols), 0);
  for (std::int64_t k = 0; k < m.nnz(); ++k) seen[m.indices[k]] = 1;
  std::vector<Index> out;
  for (Index j = 0; j < m.n_cols; ++j)
    if (seen[j]) out.push_back(j);
  return out;
}

// Cells whose total count is >= min_total.
inline std::vector<Index> cells_with_min_total(const CsrMatrix& m, double min_total) {
  const std::vector<double> t = row_totals(m);
  std::vector<Index> out;
  for (Index r = 0; r < m.n_rows; ++r)
    if (t[r] >= min_total) out.push_back(r);
  return out;
}

struct PrepareOptions {
  double min_total_count = 0;  // cells below are dropped
  bool drop_zero_genes = true;
  Index n_top_genes = 0;       // 0 = keep all genes
  GeneVariance variance = GeneVariance::log1p_counts;
};

struct PreparedCounts {
  CsrMatrix matrix;
  std::vector<Index> cells;  // rows of the input that were kept, in order
  std::vector<Index> genes;  // columns of the input that were kept, in order
};

inline PreparedCounts prepare_counts(const CsrMatrix& m, const PrepareOptions& opt = {}) {
  SCVAE_CHECK(opt.n_top_genes >= 0, "prepare_counts: n_top_genes must be >= 0");
  PreparedCounts p;
  p.cells = cells_with_min_total(m, opt.min_total_count);
  SCVAE_CHECK(!p.cells.empty(), "prepare_counts: no cell has a total count >= " + std::to_string(opt.min_total_count));
  p.matrix = static_cast<Index>(p.cells.size()) == m.n_rows ? m : subset_rows(m, p.cells);
  p.genes.resize(static_cast<std::size_t>(m.n_cols));
  std::iota(p.genes.begin(), p.genes.end(), Index{0});
  const auto keep_cols = [&](const std::vector<Index>& cols) {
    if (static_cast<Index>(cols.size()) == p.matrix.n_cols) return;
    p.matrix = subset_cols(p.matrix, cols);
    std::vector<Index> g;
    for (Index c : cols) g.push_back(p.genes[c]);
    p.genes = std::move(g);
  };
  if (opt.drop_zero_genes) keep_cols(expressed_genes(p.matrix));
  SCVAE_CHECK(p.matrix.n_cols > 0, "prepare_counts: no gene has a non-zero count");
  if (opt.n_top_genes > 0) keep_cols(top_variable_genes(p.matrix, opt.n_top_genes, opt.variance));
  return p;
}

}  // namespace scvae
