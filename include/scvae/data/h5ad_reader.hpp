#pragma once
// AnnData .h5ad reader. The count matrix is `layers/counts` when present, else `X` (or any path
// set in ReadOptions::h5ad_matrix). It may be CSR or CSC (group with encoding-type
// "csr_matrix"/"csc_matrix", or the older h5sparse_format "csr"/"csc", and a "shape" attribute),
// or a dense 2-D dataset (read in row blocks). Cell names: the `obs` column named by obs's
// "_index" attribute (default "_index"); gene names likewise from `var` (`raw/var` for raw/X).
// Values must be non-negative integers: a normalised X is rejected (point h5ad_matrix at counts).
#include <string>
#include <vector>

#include "csr_matrix.hpp"
#include "detail/h5_dense.hpp"
#include "detail/h5_sparse.hpp"
#include "detail/hdf5.hpp"
#include "read_options.hpp"

namespace scvae {
namespace data_detail {

inline std::vector<std::string> read_h5ad_index(const h5::Loc& root, const std::string& group) {
  if (!h5::exists(root.id, group)) return {};
  if (h5::object_type(root.id, group) != H5I_GROUP)
    fail(root.file, "/" + group + " is not a group (AnnData < 0.7 compound tables are not supported)");
  const std::string col = h5::read_string_attr(root, group, "_index").value_or("_index");
  if (!h5::exists(root.id, group + "/" + col)) fail(root.file, "missing index column /" + group + "/" + col);
  return h5::read_strings(root, group + "/" + col);
}

inline CsrMatrix read_h5ad_file(hid_t file, const std::string& name, const ReadOptions& opt) {
  h5::ErrorSilencer quiet;
  const h5::Loc root{file, name, "/"};
  std::string path = opt.h5ad_matrix;
  if (path.empty()) path = h5::exists(file, "layers/counts") ? "layers/counts" : "X";
  while (!path.empty() && path[0] == '/') path.erase(0, 1);
  if (path.empty() || !h5::exists(file, path)) fail(name, "no count matrix /" + path + " in this .h5ad");

  CsrMatrix m;
  const H5I_type_t type = h5::object_type(file, path);
  if (type == H5I_DATASET) {
    m = h5::read_dense_counts(root, path, h5::DenseLayout::cells_by_genes, opt.limits);
  } else if (type == H5I_GROUP) {
    std::string enc = h5::read_string_attr(root, path, "encoding-type").value_or("");
    if (enc.empty()) {
      const std::string old = h5::read_string_attr(root, path, "h5sparse_format").value_or("");
      enc = old == "csr" ? "csr_matrix" : old == "csc" ? "csc_matrix" : old;
    }
    if (enc != "csr_matrix" && enc != "csc_matrix")
      fail(name, "/" + path + " has encoding '" + enc + "' (expected csr_matrix or csc_matrix)");
    const auto shape = h5::read_int_attr(root, path, "shape");
    if (!shape || shape->size() != 2 || (*shape)[0] < 0 || (*shape)[1] < 0)
      fail(name, "/" + path + " lacks a 2-element 'shape' attribute");
    if ((*shape)[0] > opt.limits.max_rows || (*shape)[1] > opt.limits.max_cols)
      fail(name, "matrix size exceeds the reader's limits");
    if ((*shape)[0] == 0 || (*shape)[1] == 0)
      fail(name, "empty matrix (" + std::to_string((*shape)[0]) + " x " + std::to_string((*shape)[1]) + ")");
    h5::Handle g = h5::open_group(root, path);
    const h5::Loc gl{g.get(), name, "/" + path};
    const auto rows = static_cast<std::uint64_t>((*shape)[0]), cols = static_cast<std::uint64_t>((*shape)[1]);
    m = enc == "csr_matrix" ? h5::read_csr_group(gl, rows, cols) : h5::read_csc_group_as_csr(gl, rows, cols);
  } else {
    fail(name, "/" + path + " is neither a dataset nor a group");
  }
  if (m.n_rows == 0 || m.n_cols == 0)
    fail(name, "empty matrix (" + std::to_string(m.n_rows) + " x " + std::to_string(m.n_cols) + ")");
  if (m.nnz() == 0) fail(name, "matrix has no non-zero counts");

  auto cells = read_h5ad_index(root, "obs");
  auto genes = read_h5ad_index(root, path.rfind("raw/", 0) == 0 ? "raw/var" : "var");
  if (!cells.empty() && static_cast<Index>(cells.size()) != m.n_rows)
    fail(name, "obs index has " + std::to_string(cells.size()) + " names but the matrix has " +
                   std::to_string(m.n_rows) + " cells");
  if (!genes.empty() && static_cast<Index>(genes.size()) != m.n_cols)
    fail(name, "var index has " + std::to_string(genes.size()) + " names but the matrix has " +
                   std::to_string(m.n_cols) + " genes");
  m.row_names = std::move(cells);
  m.col_names = std::move(genes);
  return m;
}

}  // namespace data_detail

// Reads the count matrix of an AnnData .h5ad file as cells x genes.
inline CsrMatrix read_h5ad(const std::string& path, const ReadOptions& opt = {}) {
  data_detail::h5::ErrorSilencer quiet;
  auto f = data_detail::h5::open_file_read(path);
  return data_detail::read_h5ad_file(f.get(), path, opt);
}

}  // namespace scvae
