#pragma once
// Contingency table of two labelings: the shared core of ARI, NMI and AMI.
#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "../../core/error.hpp"
#include "../../core/view.hpp"

namespace scvae {
namespace detail {

// Maps arbitrary integer labels to 0..k-1 in order of first appearance.
inline std::vector<Index> remap_labels(const std::vector<int>& labels, Index& n_classes) {
  std::unordered_map<int, Index> code;
  code.reserve(64);
  std::vector<Index> out(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    auto it = code.emplace(labels[i], static_cast<Index>(code.size())).first;
    out[i] = it->second;
  }
  n_classes = static_cast<Index>(code.size());
  return out;
}

// Dense [ka x kb] table n_ij (row-major) with marginals a_i, b_j. O(n + ka*kb) memory and time.
struct Contingency {
  Index n = 0, ka = 0, kb = 0;
  std::vector<std::int64_t> table;  // [ka * kb], table[i * kb + j]
  std::vector<std::int64_t> a, b;   // row sums [ka], column sums [kb]
  std::int64_t at(Index i, Index j) const { return table[i * kb + j]; }
};

inline Contingency contingency(const std::vector<int>& labels_a, const std::vector<int>& labels_b,
                               const char* who) {
  SCVAE_CHECK(labels_a.size() == labels_b.size(),
              std::string(who) + ": label vectors differ in length (" + std::to_string(labels_a.size()) +
                  " vs " + std::to_string(labels_b.size()) + ")");
  Contingency c;
  c.n = static_cast<Index>(labels_a.size());
  const auto ca = remap_labels(labels_a, c.ka);
  const auto cb = remap_labels(labels_b, c.kb);
  // ka * kb cannot exceed n^2; a dense table is fine for the cluster counts used in practice.
  SCVAE_CHECK(c.ka * c.kb <= Index{1} << 28,
              std::string(who) + ": too many distinct labels for a dense contingency table");
  c.table.assign(static_cast<std::size_t>(c.ka * c.kb), 0);
  c.a.assign(static_cast<std::size_t>(c.ka), 0);
  c.b.assign(static_cast<std::size_t>(c.kb), 0);
  for (Index i = 0; i < c.n; ++i) {
    ++c.table[ca[i] * c.kb + cb[i]];
    ++c.a[ca[i]];
    ++c.b[cb[i]];
  }
  return c;
}

}  // namespace detail
}  // namespace scvae
