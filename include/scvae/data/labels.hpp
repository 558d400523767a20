#pragma once
// Per-cell labels (cell types, sample / hash IDs) from a TSV or CSV column, matched to a matrix's
// cells by name, and encoded as integer codes for the clustering metrics.
#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "detail/byte_source.hpp"
#include "detail/line_reader.hpp"
#include "detail/parse.hpp"

namespace scvae {

struct LabelOptions {
  std::string column;        // header name of the label column (e.g. "hash.ID"); or
  int column_index = 1;      // its 0-based field index, used when `column` is empty
  int key_column = 0;        // field holding the cell name
  bool header = true;        // first line names the columns
  char delimiter = 0;        // 0 = by extension (.csv -> ','), otherwise tab
};

struct CellLabels {
  std::vector<std::string> cells;   // in file order
  std::vector<std::string> labels;  // labels[i] belongs to cells[i]
};

namespace data_detail {
inline CellLabels read_labels_source(std::unique_ptr<ByteSource> src, const LabelOptions& opt) {
  std::string n = lower(src->name());
  if (ends_with(n, ".gz")) n.resize(n.size() - 3);
  const char delim = opt.delimiter ? opt.delimiter : (ends_with(n, ".csv") ? ',' : '\t');
  LineReader lr(std::move(src), std::size_t{1} << 20);
  std::string_view line;
  std::vector<std::string_view> f;
  int key = opt.key_column, col = opt.column_index;
  std::vector<std::string> header;
  if (opt.header) {
    if (!lr.next(line)) fail(lr.name(), "empty file: expected a header line");
    split_fields(line, delim, f);
    for (const auto& x : f) header.emplace_back(unquote(x));
  } else if (!opt.column.empty()) {
    fail(lr.name(), "label column given by name but LabelOptions::header is false");
  }
  CellLabels out;
  std::unordered_map<std::string, std::int64_t> seen;
  bool first = true;
  while (lr.next(line)) {
    if (trim(line).empty()) continue;
    split_fields(line, delim, f);
    if (first) {
      first = false;
      // R's write.table omits the header field of the row names: shift names by one.
      const int shift = (opt.header && header.size() + 1 == f.size()) ? 1 : 0;
      if (!opt.column.empty()) {
        const auto it = std::find(header.begin(), header.end(), opt.column);
        if (it == header.end()) fail(lr.name(), 1, "no column named '" + opt.column + "' in the header");
        col = static_cast<int>(it - header.begin()) + shift;
      }
    }
    if (key < 0 || col < 0 || static_cast<std::size_t>(std::max(key, col)) >= f.size())
      lr.fail_here("line has " + std::to_string(f.size()) + " fields, need field " + std::to_string(std::max(key, col) + 1));
    std::string cell(unquote(f[key]));
    if (cell.empty()) lr.fail_here("empty cell name");
    const auto ins = seen.emplace(cell, lr.line_number());
    if (!ins.second)
      lr.fail_here("cell '" + cell + "' already labelled on line " + std::to_string(ins.first->second));
    out.cells.push_back(std::move(cell));
    out.labels.emplace_back(unquote(f[col]));
  }
  if (out.cells.empty()) fail(lr.name(), "no labels found");
  return out;
}
}  // namespace data_detail

inline CellLabels read_labels(const std::string& path, const LabelOptions& opt = {}) {
  return data_detail::read_labels_source(data_detail::open_source(path), opt);
}

inline CellLabels read_labels_buffer(std::string_view bytes, const LabelOptions& opt = {},
                                     const std::string& name = "<memory>.tsv") {
  return data_detail::read_labels_source(data_detail::open_memory(bytes, name), opt);
}

// Labels in the order of `cell_names`. A cell without a label is an error naming it, unless
// allow_missing (then its label is "").
inline std::vector<std::string> match_labels(const std::vector<std::string>& cell_names, const CellLabels& labels,
                                             bool allow_missing = false) {
  std::unordered_map<std::string_view, std::size_t> at;
  at.reserve(labels.cells.size());
  for (std::size_t i = 0; i < labels.cells.size(); ++i) at.emplace(labels.cells[i], i);
  std::vector<std::string> out(cell_names.size());
  std::size_t missing = 0;
  std::string first_missing;
  for (std::size_t i = 0; i < cell_names.size(); ++i) {
    const auto it = at.find(cell_names[i]);
    if (it != at.end()) out[i] = labels.labels[it->second];
    else if (missing++ == 0) first_missing = cell_names[i];
  }
  SCVAE_CHECK(missing == 0 || allow_missing, "match_labels: " + std::to_string(missing) + " of " +
                                                 std::to_string(cell_names.size()) + " cells have no label (first: '" +
                                                 first_missing + "')");
  return out;
}

struct LabelCodes {
  std::vector<int> codes;               // per cell; -1 for "" (missing)
  std::vector<std::string> categories;  // sorted; codes index into this
};

inline LabelCodes encode_labels(const std::vector<std::string>& labels) {
  LabelCodes c;
  for (const auto& l : labels)
    if (!l.empty()) c.categories.push_back(l);
  std::sort(c.categories.begin(), c.categories.end());
  c.categories.erase(std::unique(c.categories.begin(), c.categories.end()), c.categories.end());
  c.codes.reserve(labels.size());
  for (const auto& l : labels)
    c.codes.push_back(l.empty() ? -1
                                : static_cast<int>(std::lower_bound(c.categories.begin(), c.categories.end(), l) -
                                                   c.categories.begin()));
  return c;
}

}  // namespace scvae
