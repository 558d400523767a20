#pragma once
// Dense count tables (TSV or CSV, optionally gzipped) with a header line and the names in the
// first column. ReadOptions::orientation says whether lines are cells (cells_by_genes) or genes
// (genes_by_cells, R's usual layout). The header may carry a corner label ("gene<TAB>c1<TAB>c2")
// or not ("c1<TAB>c2", R's write.table). Only non-zeros are kept, so the table is never dense in
// memory. Fields may be double-quoted; counts must be non-negative integers.
#include <string>
#include <string_view>
#include <vector>

#include "csr_matrix.hpp"
#include "detail/byte_source.hpp"
#include "detail/csr_builder.hpp"
#include "detail/line_reader.hpp"
#include "detail/parse.hpp"
#include "read_options.hpp"

namespace scvae {
namespace data_detail {

inline char delimiter_for(const std::string& name, char requested) {
  if (requested) return requested;
  std::string n = lower(name);
  if (ends_with(n, ".gz")) n.resize(n.size() - 3);
  return ends_with(n, ".csv") ? ',' : '\t';
}

inline CsrMatrix read_dense_table_source(std::unique_ptr<ByteSource> src, const ReadOptions& opt) {
  const char delim = delimiter_for(src->name(), opt.delimiter);
  LineReader lr(std::move(src));
  std::string_view line;
  std::vector<std::string_view> f;
  if (!lr.next(line)) fail(lr.name(), "empty file: expected a header line");
  split_fields(line, delim, f);
  std::vector<std::string> header;
  for (const auto& x : f) header.emplace_back(unquote(x));
  const bool by_cells = opt.orientation == Orientation::cells_by_genes;

  std::vector<std::string> line_names;  // first column of each data line
  std::vector<std::string> col_names;   // header names of the value columns
  std::size_t n_fields = 0;
  // cells_by_genes: rows arrive in CSR order. genes_by_cells: rows are file columns (CsrBuilder).
  CsrMatrix m;
  std::unique_ptr<CsrBuilder> builder;
  while (lr.next(line)) {
    if (trim(line).empty()) continue;
    split_fields(line, delim, f);
    if (n_fields == 0) {
      n_fields = f.size();
      if (n_fields < 2) lr.fail_here("a data line needs a name and at least one value");
      if (header.size() == n_fields) col_names.assign(header.begin() + 1, header.end());
      else if (header.size() + 1 == n_fields) col_names = header;
      else
        lr.fail_here("header has " + std::to_string(header.size()) + " fields but this line has " +
                     std::to_string(n_fields));
      const std::int64_t n_values = static_cast<std::int64_t>(n_fields - 1);
      if (by_cells ? n_values > opt.limits.max_cols : n_values > opt.limits.max_rows)
        lr.fail_here("table is wider than the reader's limits");
      if (!by_cells) builder = std::make_unique<CsrBuilder>(static_cast<Index>(n_values), 0, 0);
    } else if (f.size() != n_fields) {
      lr.fail_here("expected " + std::to_string(n_fields) + " fields, found " + std::to_string(f.size()));
    }
    const std::int64_t line_idx = static_cast<std::int64_t>(line_names.size());
    if (line_idx >= (by_cells ? opt.limits.max_rows : opt.limits.max_cols)) lr.fail_here("too many lines for the reader's limits");
    line_names.emplace_back(unquote(f[0]));
    for (std::size_t c = 1; c < f.size(); ++c) {
      const std::string_view t = trim(f[c]);
      const char *p = t.data(), *e = p + t.size();
      float v = 0.f;
      const CountStatus st = p == e ? CountStatus::not_a_number : parse_count(p, e, v);
      if (st != CountStatus::ok || p != e)
        lr.fail_here("field " + std::to_string(c + 1) + ": " +
                     (st == CountStatus::ok ? std::string("not a number") : count_status_text(st)) + " " + quote_field(t));
      if (v == 0.f) continue;
      if (by_cells) {
        m.indices.push_back(static_cast<std::int32_t>(c - 1));
        m.values.push_back(v);
      } else {
        builder->add(static_cast<std::int32_t>(c - 1), static_cast<std::int32_t>(line_idx), v);
      }
    }
    if (by_cells) m.indptr.push_back(static_cast<std::int64_t>(m.indices.size()));
  }
  if (line_names.empty()) fail(lr.name(), "empty matrix: no data lines after the header");
  if (by_cells) {
    m.n_rows = static_cast<Index>(line_names.size());
    m.n_cols = static_cast<Index>(col_names.size());
    m.row_names = std::move(line_names);
    m.col_names = std::move(col_names);
  } else {
    builder->set_cols(static_cast<Index>(line_names.size()));
    builder->finish(m);  // no duplicates possible: each (line, column) is visited once
    m.row_names = std::move(col_names);
    m.col_names = std::move(line_names);
  }
  if (m.nnz() == 0) fail(lr.name(), "matrix has no non-zero counts");
  return m;
}

}  // namespace data_detail

inline CsrMatrix read_dense_table(const std::string& path, const ReadOptions& opt = {}) {
  return data_detail::read_dense_table_source(data_detail::open_source(path), opt);
}

// `name` appears in errors and picks the delimiter (".csv" -> ',') unless opt.delimiter is set.
inline CsrMatrix read_dense_table_buffer(std::string_view bytes, const ReadOptions& opt = {},
                                         const std::string& name = "<memory>.tsv") {
  return data_detail::read_dense_table_source(data_detail::open_memory(bytes, name), opt);
}

}  // namespace scvae
