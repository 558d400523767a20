#pragma once
// Reading a dense 2-D count dataset (AnnData's dense X: cells x genes; Loom's /matrix and layers:
// genes x cells) into a cells x genes CsrMatrix, a block of cells at a time: memory stays at the
// result plus one block of about 4M values, never the dense matrix (docs/data.md, "Memory").
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "../csr_matrix.hpp"
#include "../read_options.hpp"
#include "hdf5.hpp"

namespace scvae {
namespace data_detail {
namespace h5 {

enum class DenseLayout { cells_by_genes, genes_by_cells };

// The chunk extent of dimension `dim` of a chunked dataset; 0 for contiguous or compact storage.
inline hsize_t chunk_extent(hid_t ds, int dim) {
  Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
  if (!dcpl || H5Pget_layout(dcpl.get()) != H5D_CHUNKED) return 0;
  hsize_t c[8] = {0};
  const int nd = H5Pget_chunk(dcpl.get(), 8, c);
  return nd > dim ? c[dim] : 0;
}

// The type to read a dataset as: float where that is exact (float32 and smaller, 8- and 16-bit
// integers: half the buffer and conversion work of double), double otherwise (so that a float64
// 1.0000001 or an int32 2^24 + 1 is reported, not rounded into a valid count).
inline bool read_as_float(hid_t ds) {
  Handle t(H5Dget_type(ds), H5Tclose);
  if (!t) return false;
  const H5T_class_t cls = H5Tget_class(t.get());
  const std::size_t size = H5Tget_size(t.get());
  return (cls == H5T_FLOAT && size <= 4) || (cls == H5T_INTEGER && size <= 2);
}

// Appends one block of nc cells, buf row-major [nc x genes] (cells_rows) or [genes x nc], to m
// (rows c0 .. c0 + nc). Two sweeps in memory order: count each cell's non-zeros (checking them),
// then place them; within a cell the genes come out ascending. capacity grows to the projected
// total (non-zeros so far scaled to all cells, + 25%) and is not shrunk at the end: unused
// capacity is address space, never touched, so the peak resident memory is the matrix plus one
// block instead of the up to 2x of repeated doubling.
template <class V>
void append_dense_block(CsrMatrix& m, const std::vector<V>& buf, hsize_t c0, hsize_t nc, hsize_t n_cells,
                        hsize_t n_genes, bool cells_rows, std::vector<std::int64_t>& cnt, const std::string& file,
                        const std::string& what) {
  // Runs of 16 values whose bits are all zero (most of them: counts are ~93% zeros) are skipped
  // with one vectorised OR; the rest are tested one by one (-0.0 is a zero there too).
  using Bits = std::conditional_t<sizeof(V) == 4, std::uint32_t, std::uint64_t>;
  const auto scan = [](const V* x, hsize_t n, auto&& g) {
    hsize_t k = 0;
    for (; k + 16 <= n; k += 16) {
      Bits any = 0;
      for (int t = 0; t < 16; ++t) {
        Bits b;
        std::memcpy(&b, x + k + t, sizeof b);
        any |= b;
      }
      if (any == 0) continue;
      for (hsize_t t = k; t < k + 16; ++t)
        if (x[t] != V(0)) g(t, x[t]);
    }
    for (; k < n; ++k)
      if (x[k] != V(0)) g(k, x[k]);
  };
  const auto each_nonzero = [&](auto&& f) {
    if (cells_rows) {
      for (hsize_t i = 0; i < nc; ++i) scan(buf.data() + i * n_genes, n_genes, [&](hsize_t j, V v) { f(i, j, v); });
    } else {
      for (hsize_t j = 0; j < n_genes; ++j) scan(buf.data() + j * nc, nc, [&](hsize_t i, V v) { f(i, j, v); });
    }
  };
  cnt.assign(static_cast<std::size_t>(nc), 0);
  each_nonzero([&](hsize_t i, hsize_t j, V v) {
    const CountStatus s = check_count(static_cast<double>(v));
    if (s != CountStatus::ok) {
      const std::string cell = std::to_string(c0 + i), gene = std::to_string(j);
      fail(file, what + "[" + (cells_rows ? cell + ", " + gene : gene + ", " + cell) + "] = " +
                     std::to_string(static_cast<double>(v)) + ": " + count_status_text(s));
    }
    ++cnt[static_cast<std::size_t>(i)];
  });
  const auto base = static_cast<std::int64_t>(m.indices.size());
  std::int64_t end = base;
  for (hsize_t i = 0; i < nc; ++i) {
    const std::int64_t c = cnt[static_cast<std::size_t>(i)];
    cnt[static_cast<std::size_t>(i)] = end;  // now each cell's write position
    end += c;
    m.indptr[c0 + i + 1] = end;
  }
  if (static_cast<std::size_t>(end) > m.indices.capacity()) {
    const double projected = static_cast<double>(end) * static_cast<double>(n_cells) / static_cast<double>(c0 + nc);
    const double cap = std::min(1.25 * projected, static_cast<double>(n_cells) * static_cast<double>(n_genes));
    const auto target = std::max(static_cast<std::size_t>(end), static_cast<std::size_t>(cap));
    m.indices.reserve(target);
    m.values.reserve(target);
  }
  m.indices.resize(static_cast<std::size_t>(end));
  m.values.resize(static_cast<std::size_t>(end));
  each_nonzero([&](hsize_t i, hsize_t j, V v) {
    const auto k = static_cast<std::size_t>(cnt[static_cast<std::size_t>(i)]++);
    m.indices[k] = static_cast<std::int32_t>(j);
    m.values[k] = static_cast<float>(v);
  });
}

// block_cells: cells per read (0 = about 4M values a block, rounded up to whole chunks along the
// cell axis so that each compressed chunk is decompressed once).
inline CsrMatrix read_dense_counts(const Loc& root, const std::string& path, DenseLayout layout,
                                   const ReadLimits& limits, hsize_t block_cells = 0) {
  Handle ds = open_dataset(root, path);
  const std::string what = "/" + path;
  const H5T_class_t cls = type_class(ds.get());
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) fail(root.file, what + " is not numeric");
  const auto dims = dataset_dims(ds.get(), root.file, what);
  if (dims.size() != 2) fail(root.file, what + " must be 2-dimensional, has " + std::to_string(dims.size()));
  const bool cells_rows = layout == DenseLayout::cells_by_genes;
  const int cell_dim = cells_rows ? 0 : 1;
  const hsize_t n_cells = dims[cell_dim], n_genes = dims[1 - cell_dim];
  if (n_cells > static_cast<hsize_t>(limits.max_rows) || n_genes > static_cast<hsize_t>(limits.max_cols))
    fail(root.file, what + " exceeds the reader's size limits");
  CsrMatrix m;
  m.n_rows = static_cast<Index>(n_cells);
  m.n_cols = static_cast<Index>(n_genes);
  m.indptr.assign(static_cast<std::size_t>(n_cells) + 1, 0);
  if (n_cells == 0 || n_genes == 0) return m;
  hsize_t block = block_cells;
  if (block == 0) {
    block = std::max<hsize_t>(1, (hsize_t{1} << 22) / n_genes);
    const hsize_t c = chunk_extent(ds.get(), cell_dim);
    if (c > 0) block = (block + c - 1) / c * c;
  }
  block = std::min(block, n_cells);
  const bool as_float = read_as_float(ds.get());
  std::vector<float> fbuf;
  std::vector<double> dbuf;
  std::vector<std::int64_t> cnt;
  Handle fs(H5Dget_space(ds.get()), H5Sclose);
  for (hsize_t c0 = 0; c0 < n_cells; c0 += block) {
    const hsize_t nc = std::min(block, n_cells - c0);
    hsize_t st[2] = {0, 0}, cn[2] = {n_genes, n_genes};
    st[cell_dim] = c0;
    cn[cell_dim] = nc;
    if (H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, st, nullptr, cn, nullptr) < 0)
      fail(root.file, "cannot select a block of " + what);
    Handle ms(H5Screate_simple(2, cn, nullptr), H5Sclose);
    const auto n = static_cast<std::size_t>(nc * n_genes);
    if (as_float) fbuf.resize(n);
    else dbuf.resize(n);
    if (H5Dread(ds.get(), as_float ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE, ms.get(), fs.get(), H5P_DEFAULT,
                as_float ? static_cast<void*>(fbuf.data()) : static_cast<void*>(dbuf.data())) < 0)
      fail(root.file, "cannot read " + what + " (corrupt data or unsupported type)");
    if (as_float) append_dense_block(m, fbuf, c0, nc, n_cells, n_genes, cells_rows, cnt, root.file, what);
    else append_dense_block(m, dbuf, c0, nc, n_cells, n_genes, cells_rows, cnt, root.file, what);
  }
  return m;
}

}  // namespace h5
}  // namespace data_detail
}  // namespace scvae
