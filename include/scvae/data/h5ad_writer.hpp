#pragma once
// Writes a CsrMatrix as an AnnData .h5ad (X = CSR float32 counts, obs/var indices from the
// names), following the anndata 0.8+ on-disk spec (encoding-type attributes).
#include <string>
#include <vector>

#include "csr_matrix.hpp"
#include "detail/hdf5.hpp"

namespace scvae {

namespace data_detail {
inline void write_h5ad_dataframe(hid_t file, const std::string& group, const std::vector<std::string>& index) {
  h5::Handle g = h5::create_group(file, group);
  h5::write_string_attr(g.get(), "encoding-type", "dataframe");
  h5::write_string_attr(g.get(), "encoding-version", "0.2.0");
  h5::write_string_attr(g.get(), "_index", "_index");
  {  // column-order: an empty string array
    h5::Handle t = h5::string_type(true, 0);
    const hsize_t dims[1] = {0};
    h5::Handle sp(H5Screate_simple(1, dims, nullptr), H5Sclose);
    h5::Handle a(H5Acreate2(g.get(), "column-order", t.get(), sp.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  }
  h5::write_strings(g.get(), "_index", index, true);
}
}  // namespace data_detail

inline void write_h5ad(const std::string& path, const CsrMatrix& m) {
  using namespace data_detail;
  m.validate("write_h5ad");
  h5::ErrorSilencer quiet;
  h5::Handle f = h5::create_file(path);
  h5::write_string_attr(f.get(), "encoding-type", "anndata");
  h5::write_string_attr(f.get(), "encoding-version", "0.1.0");
  {
    h5::Handle x = h5::create_group(f.get(), "X");
    h5::write_string_attr(x.get(), "encoding-type", "csr_matrix");
    h5::write_string_attr(x.get(), "encoding-version", "0.1.0");
    h5::write_int_attr(x.get(), "shape", {static_cast<std::int64_t>(m.n_rows), static_cast<std::int64_t>(m.n_cols)});
    h5::write_vector(x.get(), "data", m.values);
    h5::write_vector(x.get(), "indices", m.indices);
    h5::write_vector(x.get(), "indptr", m.indptr);
  }
  std::vector<std::string> cells = m.row_names, genes = m.col_names;
  if (cells.empty())
    for (Index r = 0; r < m.n_rows; ++r) cells.push_back("cell" + std::to_string(r + 1));
  if (genes.empty())
    for (Index j = 0; j < m.n_cols; ++j) genes.push_back("gene" + std::to_string(j + 1));
  write_h5ad_dataframe(f.get(), "obs", cells);
  write_h5ad_dataframe(f.get(), "var", genes);
  if (H5Fflush(f.get(), H5F_SCOPE_GLOBAL) < 0) fail(path, "cannot flush HDF5 file");
}

}  // namespace scvae
