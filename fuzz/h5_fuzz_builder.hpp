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

// h5py's numpy bool (an int8 enum FALSE / TRUE), with values outside the enum now and then.
inline void write_bools(FuzzedDataProvider& p, hid_t loc, const std::string& name, std::size_t n) {
  h5::Handle t(H5Tenum_create(H5T_NATIVE_INT8), H5Tclose);
  const std::int8_t f = 0, tr = 1;
  H5Tenum_insert(t.get(), "FALSE", &f);
  H5Tenum_insert(t.get(), "TRUE", &tr);
  std::vector<std::int8_t> v(n);
  for (auto& x : v) x = static_cast<std::int8_t>(p.ConsumeIntegralInRange<int>(0, p.ConsumeBool() ? 1 : 3));
  const hsize_t dims[1] = {n};
  h5::Handle sp(H5Screate_simple(1, dims, nullptr), H5Sclose);
  h5::Handle ds(H5Dcreate2(loc, name.c_str(), t.get(), sp.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  if (ds && n > 0) H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
}

// One label column of n entries in one of the layouts read_h5ad_labels / read_loom_labels read:
// strings, numbers, booleans, or (in a dataframe group g) categorical 0.8+ / 0.7 and nullable.
inline void write_label_column(FuzzedDataProvider& p, hid_t g, const std::string& name, std::size_t n, bool dataframe) {
  const std::size_t len = p.ConsumeBool() ? n : p.ConsumeIntegralInRange<std::size_t>(0, n + 2);
  switch (p.ConsumeIntegralInRange<int>(0, dataframe ? 5 : 2)) {
    case 0: write_names(p, g, name, len); break;
    case 1: write_values(p, g, name, len); break;
    case 2: write_bools(p, g, name, len); break;
    case 3: {  // anndata 0.8+ categorical
      h5::Handle c = h5::create_group(g, name);
      if (p.ConsumeBool()) h5::write_string_attr(c.get(), "encoding-type", p.ConsumeBool() ? "categorical" : "dict", p.ConsumeBool());
      const auto ncat = p.ConsumeIntegralInRange<std::size_t>(0, 5);
      if (p.ConsumeBool()) write_names(p, c.get(), "categories", ncat);
      else write_values(p, c.get(), "categories", ncat);
      write_ints(p, c.get(), "codes", ints(p, len, -2, static_cast<std::int64_t>(ncat)));
      break;
    }
    case 4: {  // nullable integer / boolean
      h5::Handle c = h5::create_group(g, name);
      h5::write_string_attr(c.get(), "encoding-type", p.ConsumeBool() ? "nullable-integer" : "nullable-boolean", p.ConsumeBool());
      write_values(p, c.get(), "values", len);
      if (p.ConsumeBool()) write_bools(p, c.get(), "mask", p.ConsumeBool() ? len : n);
      break;
    }
    default: {  // anndata 0.7: codes here, categories in __categories
      write_ints(p, g, name, ints(p, len, -2, 4));
      h5::Handle c = h5::create_group(g, "__categories");
      write_names(p, c.get(), name, p.ConsumeIntegralInRange<std::size_t>(0, 4));
    }
  }
}

}  // namespace scvae_fuzz
