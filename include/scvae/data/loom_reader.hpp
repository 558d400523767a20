#pragma once
// Loom files (loompy, velocyto, SCope; an input scVAE read): an HDF5 file whose /matrix holds
// genes x cells (one row per gene, one column per cell), densely, usually in compressed chunks,
// with optional /layers/<name> of the same shape (velocyto: spliced, unspliced, ambiguous).
//   cell names: /col_attrs/CellID (loompy, velocyto) or /col_attrs/obs_names (scanpy);
//   gene names: /row_attrs/Accession (ids) and /row_attrs/Gene or var_names (symbols), chosen by
//   ReadOptions::gene_names as for 10x files.
// The matrix is read a block of cells (columns) at a time, whole chunks per block, and kept
// sparse. Strings are fixed-length ASCII with XML character entities (loom spec 2.0.1) or
// variable-length UTF-8 (older writers); the entities are decoded.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "csr_matrix.hpp"
#include "detail/h5_dense.hpp"
#include "detail/hdf5.hpp"
#include "detail/names.hpp"
#include "read_options.hpp"

namespace scvae {
namespace data_detail {

inline void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) out += static_cast<char>(cp);
  else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes &amp; &lt; &gt; &quot; &apos; and numeric references (&#233; &#xE9;) as loompy's
// html.unescape does for these; anything else (including a bare '&') is kept as written.
inline std::string decode_xml_entities(const std::string& s) {
  if (s.find('&') == std::string::npos) return s;
  static const struct { const char* name; char c; } named[] = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}};
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const std::size_t semi = s[i] == '&' ? s.find(';', i) : std::string::npos;
    if (semi == std::string::npos || semi - i > 10) {
      out += s[i];
      continue;
    }
    const std::string body = s.substr(i + 1, semi - i - 1);
    bool done = false;
    if (body.size() > 1 && body[0] == '#') {
      const bool hex = body[1] == 'x' || body[1] == 'X';
      const std::string digits = body.substr(hex ? 2 : 1);
      unsigned long cp = 0;
      bool ok = !digits.empty();
      for (char ch : digits) {
        const int d = ch >= '0' && ch <= '9' ? ch - '0'
                      : hex && ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                      : hex && ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                       : -1;
        if (d < 0) ok = false;
        else cp = cp * (hex ? 16 : 10) + static_cast<unsigned long>(d);
      }
      if (ok && cp > 0 && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF)) {
        append_utf8(out, cp);
        done = true;
      }
    } else {
      for (const auto& e : named)
        if (body == e.name) {
          out += e.c;
          done = true;
        }
    }
    if (done) i = semi;
    else out += s[i];
  }
  return out;
}

// A per-row or per-column attribute as names: strings (entities decoded) or integers. nullopt if
// absent; an InputError if its length is not n.
inline std::optional<std::vector<std::string>> read_loom_names(const h5::Loc& root, const std::string& path,
                                                               std::uint64_t n) {
  if (!h5::exists(root.id, path)) return std::nullopt;
  const std::string what = "/" + path;
  std::vector<std::string> v;
  h5::Handle ds = h5::open_dataset(root, path);
  const H5T_class_t cls = h5::type_class(ds.get());
  if (cls == H5T_STRING) {
    v = h5::read_strings(root, path);
    for (auto& s : v) s = decode_xml_entities(s);
  } else if (cls == H5T_INTEGER) {
    for (std::int64_t x : h5::read_vector<std::int64_t>(root, path)) v.push_back(std::to_string(x));
  } else {
    fail(root.file, what + " is neither strings nor integers");
  }
  if (v.size() != n)
    fail(root.file, what + " has " + std::to_string(v.size()) + " entries but the matrix has " + std::to_string(n));
  return v;
}

inline CsrMatrix read_loom_file(hid_t file, const std::string& name, const ReadOptions& opt,
                                hsize_t block_cells = 0) {
  h5::ErrorSilencer quiet;
  const h5::Loc root{file, name, "/"};
  if (!h5::exists(file, "matrix") || h5::object_type(file, "matrix") != H5I_DATASET)
    fail(name, std::string("no /matrix dataset: not a Loom file") +
                   (h5::exists(file, "obs") ? " (this looks like an AnnData file: use read_h5ad)" : ""));
  std::string path = "matrix";
  if (!opt.loom_layer.empty() && opt.loom_layer != "matrix") {
    path = "layers/" + opt.loom_layer;
    if (!h5::exists(file, path)) {
      std::string list;
      if (h5::exists(file, "layers") && h5::object_type(file, "layers") == H5I_GROUP) {
        h5::Handle g = h5::open_group(root, "layers");
        list = join_names(h5::child_objects(h5::Loc{g.get(), name, "/layers"}, H5I_DATASET));
      }
      fail(name, "no layer /" + path + " (layers in this file: " + (list.empty() ? "none" : list) + ")");
    }
    h5::Handle main = h5::open_dataset(root, "matrix"), layer = h5::open_dataset(root, path);
    if (h5::dataset_dims(main.get(), name, "/matrix") != h5::dataset_dims(layer.get(), name, "/" + path))
      fail(name, "/" + path + " does not have the shape of /matrix");
  }
  CsrMatrix m = h5::read_dense_counts(root, path, h5::DenseLayout::genes_by_cells, opt.limits, block_cells);
  if (m.n_rows == 0 || m.n_cols == 0)
    fail(name, "empty matrix (" + std::to_string(m.n_cols) + " genes x " + std::to_string(m.n_rows) + " cells)");
  if (m.nnz() == 0) fail(name, "matrix has no non-zero counts");

  const auto cells_n = static_cast<std::uint64_t>(m.n_rows), genes_n = static_cast<std::uint64_t>(m.n_cols);
  auto cells = read_loom_names(root, "col_attrs/CellID", cells_n);
  if (!cells) cells = read_loom_names(root, "col_attrs/obs_names", cells_n);
  auto ids = read_loom_names(root, "row_attrs/Accession", genes_n);
  auto symbols = read_loom_names(root, "row_attrs/Gene", genes_n);
  if (!symbols) symbols = read_loom_names(root, "row_attrs/var_names", genes_n);
  if (opt.gene_names == GeneNames::id && !ids) fail(name, "gene_names = id but there is no /row_attrs/Accession");
  if (opt.gene_names == GeneNames::symbol && !symbols)
    fail(name, "gene_names = symbol but there is no /row_attrs/Gene or /row_attrs/var_names");
  if (ids || symbols) {
    FeatureTable t;
    if (ids) {
      t.ids = std::move(*ids);
      if (symbols) t.symbols = std::move(*symbols);
    } else {
      t.ids = std::move(*symbols);  // only symbols: they are the names (made unique if repeated)
    }
    m.col_names = resolve_gene_names(t, ids ? opt.gene_names : GeneNames::automatic, name);
  }
  if (cells) m.row_names = std::move(*cells);
  return m;
}

}  // namespace data_detail

// Reads the counts of a Loom file (ReadOptions::loom_layer picks a layer) as cells x genes.
inline CsrMatrix read_loom(const std::string& path, const ReadOptions& opt = {}) {
  data_detail::h5::ErrorSilencer quiet;
  auto f = data_detail::h5::open_file_read(path);
  return data_detail::read_loom_file(f.get(), path, opt);
}

}  // namespace scvae
