#pragma once
// Builds a structurally plausible but possibly inconsistent HDF5 file in memory from fuzz bytes:
// shapes, indptr, indices, values (as int32/int64/float/double), name lists (fixed or variable
// length), attributes. The readers' own checks are what is fuzzed; libhdf5's parser of raw
// file bytes is not (it is not ours to fix, and it is not built with sanitizers).
#include <fuzzer/FuzzedDataProvider.h>

#include <string>
#include <vector>

#include "scvae/data/detail/hdf5.hpp"

namespace scvae_fuzz {

namespace h5 = scvae::data_detail::h5;

inline std::vector<std::int64_t> ints(FuzzedDataProvider& p, std::size_t n, std::int64_t lo, std::int64_t hi) {
  std::vector<std::int64_t> v(n);
  for (auto& x : v) x = p.ConsumeIntegralInRange<std::int64_t>(lo, hi);
  return v;
}

// A monotone indptr of length n + 1 ending near nnz, sometimes broken on purpose.
inline std::vector<std::int64_t> indptr(FuzzedDataProvider& p, std::size_t n, std::int64_t nnz) {
  std::vector<std::int64_t> v(n + 1, 0);
  for (std::size_t i = 1; i <= n; ++i) v[i] = std::min<std::int64_t>(nnz, v[i - 1] + p.ConsumeIntegralInRange<int>(0, 4));
  v[n] = nnz;
  if (p.ConsumeBool() && !v.empty()) v[p.ConsumeIntegralInRange<std::size_t>(0, n)] += p.ConsumeIntegralInRange<int>(-3, 3);
  if (p.ConsumeBool()) v.resize(p.ConsumeIntegralInRange<std::size_t>(0, n + 2), nnz);
  return v;
}

inline void write_ints(FuzzedDataProvider& p, hid_t loc, const std::string& name, const std::vector<std::int64_t>& v) {
  if (p.ConsumeBool()) h5::write_vector(loc, name, v);
  else h5::write_vector(loc, name, std::vector<std::int32_t>(v.begin(), v.end()));
}

inline void write_values(FuzzedDataProvider& p, hid_t loc, const std::string& name, std::size_t n) {
  switch (p.ConsumeIntegralInRange<int>(0, 2)) {
    case 0: {
      std::vector<std::int32_t> v(n);
      for (auto& x : v) x = p.ConsumeIntegralInRange<std::int32_t>(-2, 50);
      h5::write_vector(loc, name, v);
      break;
    }
    case 1: {
      std::vector<float> v(n);
      for (auto& x : v) x = static_cast<float>(p.ConsumeIntegralInRange<int>(-1, 40)) * (p.ConsumeBool() ? 1.f : 0.5f);
      h5::write_vector(loc, name, v);
      break;
    }
    default: {
      std::vector<double> v(n);
      for (auto& x : v) x = p.ConsumeFloatingPoint<double>();
      h5::write_vector(loc, name, v);
    }
  }
}

inline std::vector<std::string> names(FuzzedDataProvider& p, std::size_t n) {
  std::vector<std::string> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = p.ConsumeBool() ? "n" + std::to_string(i) : p.ConsumeRandomLengthString(12);
  return v;
}

inline void write_names(FuzzedDataProvider& p, hid_t loc, const std::string& name, std::size_t n) {
  const std::size_t len = p.ConsumeBool() ? n : p.ConsumeIntegralInRange<std::size_t>(0, n + 2);
  h5::write_strings(loc, name, names(p, len), p.ConsumeBool());
}

}  // namespace scvae_fuzz
