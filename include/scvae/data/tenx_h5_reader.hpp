#pragma once
// 10x Cell Ranger HDF5 matrices (filtered_feature_bc_matrix.h5 / filtered_gene_bc_matrices_h5.h5).
//   v3: /matrix/{data, indices, indptr, shape, barcodes, features/{id, name, feature_type}}
//   v2: /<genome>/{data, indices, indptr, shape, barcodes, genes, gene_names}
// 10x stores genes x cells as CSC with one column per cell, which is exactly cells x genes CSR:
// the arrays are read straight into the CsrMatrix (values checked chunk by chunk).
#include <string>
#include <vector>

#include "csr_matrix.hpp"
#include "detail/h5_sparse.hpp"
#include "detail/hdf5.hpp"
#include "detail/names.hpp"
#include "read_options.hpp"
#include "subset.hpp"

namespace scvae {
namespace data_detail {

inline CsrMatrix read_10x_h5_file(hid_t file, const std::string& name, const ReadOptions& opt) {
  h5::ErrorSilencer quiet;
  const h5::Loc root{file, name, "/"};
  std::string group;
  bool v3 = false;
  if (!opt.genome.empty()) group = opt.genome;
  else if (h5::exists(file, "matrix/features")) group = "matrix", v3 = true;
  else {
    std::vector<std::string> groups;  // genome groups: those holding a sparse matrix
    for (const auto& c : h5::child_groups(root))
      if (h5::exists(file, c + "/indptr") && h5::exists(file, c + "/barcodes")) groups.push_back(c);
    if (groups.empty())
      fail(name, std::string("no 10x matrix group (expected /matrix or /<genome> with data, indices, indptr, barcodes)") +
                     (h5::exists(file, "obs") ? "; this looks like an AnnData file: use read_h5ad" : ""));
    if (groups.size() > 1) fail(name, "several genome groups (" + join_names(groups) + "): set ReadOptions::genome");
    group = groups[0];
  }
  h5::Handle gh = h5::open_group(root, group);
  const h5::Loc g{gh.get(), name, "/" + group};
  if (!v3) v3 = h5::exists(gh.get(), "features");

  const auto shape = h5::read_vector<std::int64_t>(g, "shape");  // [genes, cells]
  if (shape.size() != 2 || shape[0] < 0 || shape[1] < 0) fail(name, g.child("shape") + " must hold 2 non-negative sizes");
  if (shape[0] == 0 || shape[1] == 0)
    fail(name, "empty matrix (" + std::to_string(shape[0]) + " genes x " + std::to_string(shape[1]) + " cells)");
  if (shape[1] > opt.limits.max_rows || shape[0] > opt.limits.max_cols)
    fail(name, "matrix size exceeds the reader's limits");
  const auto n_genes = static_cast<std::uint64_t>(shape[0]), n_cells = static_cast<std::uint64_t>(shape[1]);

  CsrMatrix m = h5::read_csr_group(g, n_cells, n_genes);
  if (m.nnz() == 0) fail(name, "matrix has no non-zero counts");

  std::vector<std::string> cells = h5::read_strings(g, "barcodes");
  if (cells.size() != n_cells)
    fail(name, g.child("barcodes") + " has " + std::to_string(cells.size()) + " names but the matrix has " +
                   std::to_string(n_cells) + " cells");
  m.row_names = std::move(cells);

  FeatureTable ft;
  std::string where;
  if (v3) {
    const h5::Loc f{file, name, "/" + group + "/features"};
    h5::Handle fh = h5::open_group(g, "features");
    const h5::Loc fl{fh.get(), name, f.path};
    ft.ids = h5::read_strings(fl, "id");
    if (h5::exists(fh.get(), "name")) ft.symbols = h5::read_strings(fl, "name");
    if (h5::exists(fh.get(), "feature_type")) ft.types = h5::read_strings(fl, "feature_type");
    where = fl.path;
  } else {
    ft.ids = h5::read_strings(g, "genes");
    if (h5::exists(gh.get(), "gene_names")) ft.symbols = h5::read_strings(g, "gene_names");
    where = g.path;
  }
  const auto check_len = [&](const std::vector<std::string>& v, const char* col) {
    if (!v.empty() && v.size() != n_genes)
      fail(name, where + ": " + std::to_string(v.size()) + " " + col + " but the matrix has " +
                     std::to_string(n_genes) + " genes");
  };
  check_len(ft.ids, "gene ids");
  check_len(ft.symbols, "gene names");
  check_len(ft.types, "feature types");
  std::vector<std::string> types = ft.types;
  m.col_names = resolve_gene_names(ft, opt.gene_names, name);
  if (!opt.feature_type.empty()) {
    std::vector<Index> keep;
    for (std::size_t j = 0; j < types.size(); ++j)
      if (types[j] == opt.feature_type) keep.push_back(static_cast<Index>(j));
    if (keep.empty()) fail(name, "no feature of type '" + opt.feature_type + "'");
    if (static_cast<Index>(keep.size()) != m.n_cols) m = subset_cols(m, keep);
  }
  return m;
}

}  // namespace data_detail

// Reads a 10x Cell Ranger .h5 matrix (v2 or v3 layout) as cells x genes.
inline CsrMatrix read_10x_h5(const std::string& path, const ReadOptions& opt = {}) {
  data_detail::h5::ErrorSilencer quiet;
  auto f = data_detail::h5::open_file_read(path);
  return data_detail::read_10x_h5_file(f.get(), path, opt);
}

}  // namespace scvae
