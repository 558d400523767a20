#pragma once
// Merges several samples (e.g. the 8 hashtag folders of one experiment) into one matrix with a
// batch label per cell.
// Gene policy (MergeOptions::genes), matching by gene name; samples without gene names are
// matched by position and must have equal widths:
//   same         (default) every sample has the same set of genes (any order); otherwise an
//                error names the first gene missing from a sample. Order: the first sample's.
//   intersection genes present in every sample, in the first sample's order.
//   union        all genes (first sample's order, then new genes as first seen); absent = 0.
// Cell names must be unique across samples unless prefix_cell_names ("<sample>_<barcode>").
// Samples are consumed (their memory is released as they are copied).
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "csr_matrix.hpp"
#include "detail/csr_builder.hpp"

namespace scvae {

enum class GeneMatch { same, intersection, union_ };

struct MergeOptions {
  GeneMatch genes = GeneMatch::same;
  bool prefix_cell_names = false;
};

struct MergedSamples {
  CsrMatrix matrix;
  std::vector<int> batch;                // per cell: index into batch_names
  std::vector<std::string> batch_names;  // the sample names
  std::vector<std::string> batch_labels() const {
    std::vector<std::string> l(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) l[i] = batch_names[batch[i]];
    return l;
  }
};

inline MergedSamples merge_samples(std::vector<std::string> names, std::vector<CsrMatrix> samples,
                                   const MergeOptions& opt = {}) {
  SCVAE_CHECK(!samples.empty(), "merge_samples: no samples");
  SCVAE_CHECK(names.size() == samples.size(), "merge_samples: one name per sample required");
  const std::size_t S = samples.size();
  bool named = true;
  for (const auto& s : samples) named = named && !s.col_names.empty();
  std::vector<std::string> genes;
  std::vector<std::vector<std::int32_t>> map(S);  // sample column -> merged column or -1
  if (!named) {
    SCVAE_CHECK(opt.genes == GeneMatch::same, "merge_samples: samples without gene names can only be merged with GeneMatch::same");
    for (std::size_t s = 0; s < S; ++s) {
      SCVAE_CHECK(samples[s].n_cols == samples[0].n_cols,
                  "merge_samples: sample '" + names[s] + "' has " + std::to_string(samples[s].n_cols) +
                      " genes, the first has " + std::to_string(samples[0].n_cols) + " (and no gene names to match)");
      map[s].resize(static_cast<std::size_t>(samples[s].n_cols));
      for (Index j = 0; j < samples[s].n_cols; ++j) map[s][j] = static_cast<std::int32_t>(j);
    }
  } else {
    std::vector<std::unordered_map<std::string, std::int32_t>> pos(S);
    for (std::size_t s = 0; s < S; ++s) {
      for (Index j = 0; j < samples[s].n_cols; ++j)
        SCVAE_CHECK(pos[s].emplace(samples[s].col_names[j], static_cast<std::int32_t>(j)).second,
                    "merge_samples: gene '" + samples[s].col_names[j] + "' appears twice in sample '" + names[s] + "'");
    }
    if (opt.genes == GeneMatch::union_) {
      std::unordered_set<std::string> seen;
      for (const auto& s : samples)
        for (const auto& g : s.col_names)
          if (seen.insert(g).second) genes.push_back(g);
    } else {
      for (const auto& g : samples[0].col_names) {
        bool everywhere = true;
        for (std::size_t s = 1; s < S; ++s) {
          if (pos[s].count(g)) continue;
          SCVAE_CHECK(opt.genes != GeneMatch::same,
                      "merge_samples: gene '" + g + "' of sample '" + names[0] + "' is missing from sample '" + names[s] +
                          "' (use GeneMatch::intersection or union_)");
          everywhere = false;
        }
        if (everywhere) genes.push_back(g);
      }
      if (opt.genes == GeneMatch::same)
        for (std::size_t s = 1; s < S; ++s)
          SCVAE_CHECK(samples[s].n_cols == samples[0].n_cols,
                      "merge_samples: sample '" + names[s] + "' has genes that sample '" + names[0] + "' lacks");
    }
    SCVAE_CHECK(!genes.empty(), "merge_samples: the samples share no gene");
    std::unordered_map<std::string, std::int32_t> merged_pos;
    for (std::size_t j = 0; j < genes.size(); ++j) merged_pos.emplace(genes[j], static_cast<std::int32_t>(j));
    for (std::size_t s = 0; s < S; ++s) {
      map[s].assign(static_cast<std::size_t>(samples[s].n_cols), -1);
      for (Index j = 0; j < samples[s].n_cols; ++j) {
        const auto it = merged_pos.find(samples[s].col_names[j]);
        if (it != merged_pos.end()) map[s][j] = it->second;
      }
    }
  }

  MergedSamples out;
  CsrMatrix& m = out.matrix;
  m.n_cols = named ? static_cast<Index>(genes.size()) : samples[0].n_cols;
  m.col_names = std::move(genes);
  out.batch_names = names;
  Index rows = 0;
  std::int64_t nnz = 0;
  bool any_cell_names = false;
  for (const auto& s : samples) {
    rows += s.n_rows;
    nnz += s.nnz();
    any_cell_names = any_cell_names || !s.row_names.empty();
  }
  m.n_rows = rows;
  m.indptr.reserve(static_cast<std::size_t>(rows) + 1);
  m.indices.reserve(static_cast<std::size_t>(nnz));
  m.values.reserve(static_cast<std::size_t>(nnz));
  out.batch.reserve(static_cast<std::size_t>(rows));
  for (std::size_t s = 0; s < S; ++s) {
    CsrMatrix& x = samples[s];
    for (Index r = 0; r < x.n_rows; ++r) {
      for (std::int64_t k = x.indptr[r]; k < x.indptr[r + 1]; ++k) {
        const std::int32_t c = map[s][x.indices[k]];
        if (c < 0) continue;
        m.indices.push_back(c);
        m.values.push_back(x.values[k]);
      }
      m.indptr.push_back(static_cast<std::int64_t>(m.indices.size()));
      out.batch.push_back(static_cast<int>(s));
      if (any_cell_names) {
        const std::string base = x.row_names.empty() ? std::to_string(r) : x.row_names[r];
        m.row_names.push_back(opt.prefix_cell_names || x.row_names.empty() ? names[s] + "_" + base : base);
      }
    }
    x = CsrMatrix{};  // release the sample
  }
  if (data_detail::sort_rows(m)) SCVAE_CHECK(false, "merge_samples: internal error, duplicate gene after matching");
  if (!m.row_names.empty()) {
    std::unordered_set<std::string_view> seen;
    for (const auto& n : m.row_names)
      SCVAE_CHECK(seen.insert(n).second,
                  "merge_samples: cell name '" + n + "' occurs in several samples (set MergeOptions::prefix_cell_names)");
  }
  return out;
}

}  // namespace scvae
