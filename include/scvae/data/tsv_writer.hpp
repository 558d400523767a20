#pragma once
// TSV outputs keyed by cell name: a matrix of values per cell (latent means, ...) and a single
// column (cluster assignments, labels). The first line is a header; "cell" heads the name column.
#include <string>
#include <type_traits>
#include <vector>

#include "../core/view.hpp"
#include "detail/text_writer.hpp"

namespace scvae {

// Writes one line per cell: `values` is [features x cells] column-major (column j = cell j, the
// library's usual layout). feature_names: header names ("" entries / empty vector -> "v1", ...).
inline void write_tsv_matrix(const std::string& path, const std::vector<std::string>& cell_names,
                             MatrixView<const float> values, const std::vector<std::string>& feature_names = {}) {
  SCVAE_CHECK(static_cast<Index>(cell_names.size()) == values.cols,
              path + ": " + std::to_string(cell_names.size()) + " cell names for " + std::to_string(values.cols) + " cells");
  SCVAE_CHECK(feature_names.empty() || static_cast<Index>(feature_names.size()) == values.rows,
              path + ": feature name count != rows of the value matrix");
  data_detail::TextWriter w(path, 0);
  w.put("cell");
  for (Index i = 0; i < values.rows; ++i) {
    w.put('\t');
    if (feature_names.empty()) w.put('v').num(i + 1);
    else w.put(feature_names[i]);
  }
  w.put('\n');
  for (Index j = 0; j < values.cols; ++j) {
    w.put(cell_names[j]);
    for (Index i = 0; i < values.rows; ++i) w.put('\t').num(values(i, j));  // shortest exact float text
    w.put('\n');
  }
  w.close();
}

// Writes "cell<TAB><header>" then one "name<TAB>value" line per cell.
template <class T>
void write_tsv_column(const std::string& path, const std::vector<std::string>& cell_names, const std::vector<T>& values,
                      const std::string& header = "value") {
  SCVAE_CHECK(cell_names.size() == values.size(),
              path + ": " + std::to_string(cell_names.size()) + " cell names for " + std::to_string(values.size()) + " values");
  data_detail::TextWriter w(path, 0);
  w.put("cell\t").put(header).put('\n');
  for (std::size_t i = 0; i < values.size(); ++i) {
    w.put(cell_names[i]).put('\t');
    if constexpr (std::is_arithmetic_v<T>) w.num(values[i]);
    else w.put(values[i]);
    w.put('\n');
  }
  w.close();
}

}  // namespace scvae
