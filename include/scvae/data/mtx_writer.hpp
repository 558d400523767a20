#pragma once
// Writes a CsrMatrix as a 10x Cell Ranger v3 folder (matrix.mtx.gz genes x cells sorted by cell,
// features.tsv.gz "id<TAB>name<TAB>Gene Expression", barcodes.tsv.gz), readable by
// read_10x_mtx_dir, Seurat's Read10X and scanpy's read_10x_mtx.
#include <filesystem>
#include <string>

#include "csr_matrix.hpp"
#include "detail/text_writer.hpp"

namespace scvae {

struct MtxWriteOptions {
  int gzip_level = 6;  // 0 writes plain files without the .gz suffix
};

inline void write_10x_mtx_dir(const std::string& dir, const CsrMatrix& m, const MtxWriteOptions& opt = {}) {
  m.validate("write_10x_mtx_dir");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (!std::filesystem::is_directory(dir)) data_detail::fail(dir, "cannot create directory");
  const std::string gz = opt.gzip_level > 0 ? ".gz" : "";
  const auto path = [&](const char* n) { return (std::filesystem::path(dir) / (n + gz)).string(); };
  {
    data_detail::TextWriter w(path("features.tsv"), opt.gzip_level);
    for (Index j = 0; j < m.n_cols; ++j) {
      const std::string name = m.col_names.empty() ? "gene" + std::to_string(j + 1) : m.col_names[j];
      w.put(name).put('\t').put(name).put("\tGene Expression\n");
    }
    w.close();
  }
  {
    data_detail::TextWriter w(path("barcodes.tsv"), opt.gzip_level);
    for (Index r = 0; r < m.n_rows; ++r) {
      if (m.row_names.empty()) w.put("cell").num(r + 1).put('\n');
      else w.put(m.row_names[r]).put('\n');
    }
    w.close();
  }
  data_detail::TextWriter w(path("matrix.mtx"), opt.gzip_level);
  w.put("%%MatrixMarket matrix coordinate integer general\n%metadata_json: {\"software\": \"scvae\"}\n");
  w.num(m.n_cols).put(' ').num(m.n_rows).put(' ').num(m.nnz()).put('\n');
  for (Index r = 0; r < m.n_rows; ++r) {
    for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      w.num(m.indices[k] + 1).put(' ').num(r + 1).put(' ');
      const float v = m.values[k];
      if (v == static_cast<float>(static_cast<std::int64_t>(v))) w.num(static_cast<std::int64_t>(v));
      else w.num(v);
      w.put('\n');
    }
  }
  w.close();
}

}  // namespace scvae
