#pragma once
// Seeded train / validation / test split of cells. The permutation is a Fisher–Yates shuffle
// driven by std::mt19937_64 with our own unbiased bounded draw (std::uniform_int_distribution is
// implementation-defined), so the split is identical across standard libraries and platforms.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/view.hpp"

namespace scvae {

// Uniform integer in [0, bound) by rejection (no modulo bias).
inline std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t bound) {
  const std::uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
  for (;;) {
    const std::uint64_t x = rng();
    if (x >= threshold) return x % bound;
  }
}

// A permutation of 0..n-1 determined by the seed alone.
inline std::vector<Index> seeded_permutation(Index n, std::uint64_t seed) {
  SCVAE_CHECK(n >= 0, "seeded_permutation: n must be >= 0");
  std::vector<Index> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), Index{0});
  std::mt19937_64 rng(seed);
  for (Index i = n - 1; i > 0; --i) {
    const auto j = static_cast<Index>(uniform_below(rng, static_cast<std::uint64_t>(i) + 1));
    std::swap(p[i], p[j]);
  }
  return p;
}

struct SplitOptions {
  double train = 0.81;  // scVAE's 81 / 9 / 10
  double validation = 0.09;
  double test = 0.10;
  std::uint64_t seed = 0;
};

struct DataSplit {
  std::vector<Index> train, validation, test;  // row indices, each sorted increasingly
};

// Sizes: train = round(n * train), train + validation = round(n * (train + validation)), test =
// the rest (20,000 cells -> 16,200 / 1,800 / 2,000).
inline DataSplit split_indices(Index n, const SplitOptions& opt = {}) {
  SCVAE_CHECK(n >= 0, "split_indices: n must be >= 0");
  SCVAE_CHECK(opt.train >= 0 && opt.validation >= 0 && opt.test >= 0, "split_indices: fractions must be >= 0");
  SCVAE_CHECK(std::abs(opt.train + opt.validation + opt.test - 1.0) < 1e-6,
              "split_indices: train + validation + test fractions must sum to 1");
  const std::vector<Index> p = seeded_permutation(n, opt.seed);
  const auto n_train = static_cast<Index>(std::llround(n * opt.train));
  const auto n_tv = std::min<Index>(n, static_cast<Index>(std::llround(n * (opt.train + opt.validation))));
  DataSplit s;
  s.train.assign(p.begin(), p.begin() + n_train);
  s.validation.assign(p.begin() + n_train, p.begin() + n_tv);
  s.test.assign(p.begin() + n_tv, p.end());
  std::sort(s.train.begin(), s.train.end());
  std::sort(s.validation.begin(), s.validation.end());
  std::sort(s.test.begin(), s.test.end());
  return s;
}

}  // namespace scvae
