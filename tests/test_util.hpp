#pragma once
// Small data helpers shared by the model tests.
#include <string>
#include <vector>

#include <scvae/core/random.hpp>
#include <scvae/data/csr_matrix.hpp>

namespace scvae_test {

// cells x genes Poisson-ish counts with about `zero_fraction` zeros; gene g has mean ~ 1 + g % 5.
inline scvae::CsrMatrix random_counts(scvae::Index cells, scvae::Index genes, std::uint64_t seed,
                                      double zero_fraction = 0.6) {
  scvae::Rng rng(seed);
  scvae::CsrMatrix m;
  m.n_rows = cells;
  m.n_cols = genes;
  for (scvae::Index i = 0; i < cells; ++i) {
    for (scvae::Index g = 0; g < genes; ++g) {
      if (rng.uniform() < zero_fraction) continue;
      m.indices.push_back(static_cast<std::int32_t>(g));
      m.values.push_back(static_cast<float>(1 + rng.below(static_cast<std::uint64_t>(1 + g % 5) * 2)));
    }
    m.indptr.push_back(static_cast<std::int64_t>(m.indices.size()));
  }
  return m;
}

inline std::string tmp_path(const std::string& name) { return std::string(SCVAE_TEST_TMP_DIR) + "/" + name; }

}  // namespace scvae_test
