#pragma once
// MatrixMarket readers: a single .mtx[.gz] file and 10x Cell Ranger matrix folders
// (v2: genes.tsv, barcodes.tsv, matrix.mtx; v3: features.tsv.gz, barcodes.tsv.gz, matrix.mtx.gz;
// gzipped or plain, detected from the bytes). 10x writes genes x cells; the result is always
// cells x genes CSR, built without a dense or COO copy (see detail/csr_builder.hpp).
//
// Policies (docs/data.md): only "coordinate" + "integer|real|pattern" + "general"; values must
// be non-negative integers (real "3.0" is fine); explicit zeros are dropped; duplicate (gene, cell)
// entries are rejected naming both lines; an all-zero or empty matrix is rejected.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "csr_matrix.hpp"
#include "detail/byte_source.hpp"
#include "detail/csr_builder.hpp"
#include "detail/line_reader.hpp"
#include "detail/names.hpp"
#include "detail/parse.hpp"
#include "read_options.hpp"
#include "subset.hpp"

namespace scvae {
namespace data_detail {

struct MtxHeader {
  bool pattern = false;
  std::uint64_t rows = 0, cols = 0, nnz = 0;
};

inline MtxHeader read_mtx_header(LineReader& lr) {
  std::string_view line;
  if (!lr.next(line)) fail(lr.name(), "empty file: expected a '%%MatrixMarket matrix coordinate ...' header");
  std::vector<std::string_view> tok;
  {
    std::string_view s = trim(line);
    while (!s.empty()) {
      std::size_t k = 0;
      while (k < s.size() && !is_blank(s[k])) ++k;
      tok.push_back(s.substr(0, k));
      s = trim(s.substr(k));
    }
  }
  if (tok.empty() || lower(tok[0]) != "%%matrixmarket")
    lr.fail_here("not a MatrixMarket file: first line must start with '%%MatrixMarket', found " + quote_field(line));
  if (tok.size() != 5) lr.fail_here("MatrixMarket header must have 5 words, found " + quote_field(line));
  if (lower(tok[1]) != "matrix") lr.fail_here("unsupported MatrixMarket object " + quote_field(tok[1]) + " (expected 'matrix')");
  if (lower(tok[2]) != "coordinate")
    lr.fail_here("unsupported MatrixMarket format " + quote_field(tok[2]) + " (only sparse 'coordinate' is supported)");
  MtxHeader h;
  const std::string field = lower(tok[3]);
  if (field == "pattern") h.pattern = true;
  else if (field != "integer" && field != "real")
    lr.fail_here("unsupported MatrixMarket field " + quote_field(tok[3]) + " (expected integer, real or pattern)");
  if (lower(tok[4]) != "general")
    lr.fail_here("unsupported MatrixMarket symmetry " + quote_field(tok[4]) + " (only 'general' is supported)");
  for (;;) {
    if (!lr.next(line)) fail(lr.name(), lr.line_number(), "missing size line 'rows cols nnz'");
    const std::string_view t = trim(line);
    if (t.empty() || t[0] == '%') continue;
    const char *p = t.data(), *e = p + t.size();
    bool ok = parse_u64(p, e, h.rows);
    skip_blanks(p, e);
    ok = ok && parse_u64(p, e, h.cols);
    skip_blanks(p, e);
    ok = ok && parse_u64(p, e, h.nnz);
    skip_blanks(p, e);
    if (!ok || p != e) lr.fail_here("bad size line, expected 'rows cols nnz', found " + quote_field(line));
    return h;
  }
}

// Calls on_entry(line, row0, col0, value) for each entry (0-based file indices), checking ranges,
// values and the entry count against the header.
template <class F>
void read_mtx_entries(LineReader& lr, const MtxHeader& h, F&& on_entry) {
  std::uint64_t count = 0;
  std::string_view line;
  while (lr.next(line)) {
    const char *p = line.data(), *e = p + line.size();
    skip_blanks(p, e);
    if (p == e || *p == '%') continue;
    std::uint64_t i = 0, j = 0;
    if (!parse_u64(p, e, i)) lr.fail_here("expected a row index, found " + quote_field(line));
    skip_blanks(p, e);
    if (!parse_u64(p, e, j)) lr.fail_here("expected a column index, found " + quote_field(line));
    float v = 1.f;
    if (!h.pattern) {
      skip_blanks(p, e);
      if (p == e) lr.fail_here("missing value in " + quote_field(line));
      const char* vs = p;
      const CountStatus st = parse_count(p, e, v);
      if (st != CountStatus::ok) {
        const char* ve = vs;
        while (ve < e && !is_blank(*ve)) ++ve;
        lr.fail_here(std::string(count_status_text(st)) + " " + quote_field(std::string_view(vs, ve - vs)));
      }
    }
    skip_blanks(p, e);
    if (p != e) lr.fail_here("unexpected text after the entry: " + quote_field(line));
    if (i < 1 || i > h.rows)
      lr.fail_here("row index " + std::to_string(i) + " out of range 1.." + std::to_string(h.rows));
    if (j < 1 || j > h.cols)
      lr.fail_here("column index " + std::to_string(j) + " out of range 1.." + std::to_string(h.cols));
    if (++count > h.nnz) lr.fail_here("more entries than the header's nnz (" + std::to_string(h.nnz) + ")");
    on_entry(lr.line_number(), i - 1, j - 1, v);
  }
  if (count < h.nnz)
    fail(lr.name(), lr.line_number(),
         "header declares " + std::to_string(h.nnz) + " entries but the file has only " + std::to_string(count) +
             " (truncated?)");
}

using SourceOpener = std::function<std::unique_ptr<ByteSource>()>;

inline CsrMatrix read_mtx_matrix(const SourceOpener& open, const ReadOptions& opt) {
  LineReader lr(open());
  const MtxHeader h = read_mtx_header(lr);
  const bool transpose = opt.orientation == Orientation::genes_by_cells;
  const std::uint64_t n_cells = transpose ? h.cols : h.rows, n_genes = transpose ? h.rows : h.cols;
  if (h.rows == 0 || h.cols == 0)
    fail(lr.name(), lr.line_number(), "empty matrix (" + std::to_string(h.rows) + " x " + std::to_string(h.cols) + ")");
  if (n_cells > static_cast<std::uint64_t>(opt.limits.max_rows) || n_genes > static_cast<std::uint64_t>(opt.limits.max_cols))
    fail(lr.name(), lr.line_number(),
         "matrix size " + std::to_string(h.rows) + " x " + std::to_string(h.cols) + " exceeds the reader's limits");
  check_cells_fit(lr.name(), lr.line_number(), n_cells);
  // An entry line is at least "1 1\n": never reserve more than the bytes could hold.
  const std::uint64_t by_bytes = lr.source().max_bytes() / 4 + 1;
  const std::uint64_t reserve = std::min({h.nnz, by_bytes, n_cells * n_genes});
  CsrBuilder b(static_cast<Index>(n_cells), static_cast<Index>(n_genes), static_cast<std::int64_t>(reserve));
  read_mtx_entries(lr, h, [&](std::int64_t, std::uint64_t i, std::uint64_t j, float v) {
    if (v == 0.f) return;  // explicit zeros carry no information
    if (transpose) b.add(static_cast<std::int32_t>(j), static_cast<std::int32_t>(i), v);
    else b.add(static_cast<std::int32_t>(i), static_cast<std::int32_t>(j), v);
  });
  CsrMatrix m;
  if (const auto dup = b.finish(m)) {
    // Rare error path: scan again to name the two lines.
    const std::uint64_t fi = transpose ? dup->col : dup->row, fj = transpose ? dup->row : dup->col;
    std::vector<std::int64_t> lines;
    LineReader again(open());
    const MtxHeader h2 = read_mtx_header(again);
    read_mtx_entries(again, h2, [&](std::int64_t ln, std::uint64_t i, std::uint64_t j, float v) {
      if (i == fi && j == fj && v != 0.f) lines.push_back(ln);
    });
    const std::string where = lines.size() >= 2 ? std::to_string(lines[0]) + " and " + std::to_string(lines[1]) : "?";
    fail(lr.name(), lines.size() >= 2 ? lines[1] : 0,
         "duplicate entry for row " + std::to_string(fi + 1) + ", column " + std::to_string(fj + 1) + " (lines " + where +
             "); duplicates are rejected");
  }
  if (m.nnz() == 0) fail(lr.name(), "matrix has no non-zero counts");
  return m;
}

inline SourceOpener file_opener(const std::string& path) {
  return [path] { return open_source(path); };
}

// Attaches gene names from a feature table and cell names, checking the counts.
inline void attach_names(CsrMatrix& m, FeatureTable* genes, const std::string& genes_file,
                         std::vector<std::string>* cells, const std::string& cells_file, const ReadOptions& opt,
                         const std::string& matrix_file) {
  if (cells) {
    if (static_cast<Index>(cells->size()) != m.n_rows)
      fail(cells_file, std::to_string(cells->size()) + " cell names but " + matrix_file + " has " +
                           std::to_string(m.n_rows) + " cells");
    m.row_names = std::move(*cells);
  }
  if (genes) {
    if (static_cast<Index>(genes->ids.size()) != m.n_cols)
      fail(genes_file, std::to_string(genes->ids.size()) + " gene names but " + matrix_file + " has " +
                           std::to_string(m.n_cols) + " genes");
    std::vector<std::string> types = genes->types;
    m.col_names = resolve_gene_names(*genes, opt.gene_names, genes_file);
    if (!opt.feature_type.empty()) {
      if (types.empty()) fail(genes_file, "feature_type filter set but the file has no feature-type column");
      std::vector<Index> keep;
      for (std::size_t j = 0; j < types.size(); ++j)
        if (types[j] == opt.feature_type) keep.push_back(static_cast<Index>(j));
      if (keep.empty()) fail(genes_file, "no feature of type '" + opt.feature_type + "'");
      if (static_cast<Index>(keep.size()) != m.n_cols) m = subset_cols(m, keep);
    }
  }
}

// A 10x folder's files by kind, each kind's names in order of preference (the first present is
// read); shared by the folder and the tar archive readers so they pick the same files.
enum TenxFile { tenx_matrix, tenx_features, tenx_barcodes };
inline const std::vector<std::vector<const char*>>& tenx_file_names() {
  static const std::vector<std::vector<const char*>> names = {
      {"matrix.mtx.gz", "matrix.mtx"},
      {"features.tsv.gz", "features.tsv", "genes.tsv.gz", "genes.tsv"},
      {"barcodes.tsv.gz", "barcodes.tsv"}};
  return names;
}

inline std::string first_existing(const std::string& dir, TenxFile kind) {
  for (const char* n : tenx_file_names()[kind]) {
    const std::string p = (std::filesystem::path(dir) / n).string();
    if (std::filesystem::exists(p)) return p;
  }
  return {};
}

}  // namespace data_detail

// Reads one MatrixMarket file (gzipped or plain), without names.
inline CsrMatrix read_mtx(const std::string& path, const ReadOptions& opt = {}) {
  return data_detail::read_mtx_matrix(data_detail::file_opener(path), opt);
}

// Reads a MatrixMarket file with name files ("" = none): genes_path is a features/genes TSV
// (id [, symbol [, type]]), cells_path one barcode per line.
inline CsrMatrix read_mtx(const std::string& path, const std::string& genes_path, const std::string& cells_path,
                          const ReadOptions& opt = {}) {
  using namespace data_detail;
  CsrMatrix m = read_mtx_matrix(file_opener(path), opt);
  FeatureTable genes;
  std::vector<std::string> cells;
  if (!genes_path.empty()) genes = read_feature_lines(open_source(genes_path));
  if (!cells_path.empty()) cells = read_feature_lines(open_source(cells_path)).ids;
  attach_names(m, genes_path.empty() ? nullptr : &genes, genes_path, cells_path.empty() ? nullptr : &cells,
               cells_path, opt, path);
  return m;
}

// Parses MatrixMarket bytes held in memory (gzipped or plain); `name` appears in errors.
inline CsrMatrix read_mtx_buffer(std::string_view bytes, const ReadOptions& opt = {},
                                 const std::string& name = "<memory>") {
  return data_detail::read_mtx_matrix([bytes, name] { return data_detail::open_memory(bytes, name); }, opt);
}

// Reads a 10x Cell Ranger matrix folder (v2 or v3 names, each gzipped or not).
inline CsrMatrix read_10x_mtx_dir(const std::string& dir, const ReadOptions& opt = {}) {
  using namespace data_detail;
  if (!std::filesystem::is_directory(dir)) fail(dir, "not a directory (expected a 10x matrix folder)");
  const std::string mtx = first_existing(dir, tenx_matrix);
  const std::string genes = first_existing(dir, tenx_features);
  const std::string cells = first_existing(dir, tenx_barcodes);
  if (mtx.empty()) fail(dir, "no matrix.mtx[.gz] in this 10x folder");
  if (genes.empty()) fail(dir, "no features.tsv[.gz] or genes.tsv[.gz] in this 10x folder");
  if (cells.empty()) fail(dir, "no barcodes.tsv[.gz] in this 10x folder");
  ReadOptions o = opt;
  o.orientation = Orientation::genes_by_cells;
  return read_mtx(mtx, genes, cells, o);
}

}  // namespace scvae
