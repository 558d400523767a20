#pragma once
// Cell labels stored beside the counts: a column of an AnnData .h5ad's `obs` table or a Loom
// file's /col_attrs, so `--labels data.h5ad:cell_type` needs no exported TSV. Returns CellLabels
// as read_labels does (cells in file order), for match_labels and encode_labels.
//   .h5ad: categorical columns (anndata >= 0.8: a group with `codes` and `categories`; 0.7: codes
//   with obs/__categories/<column>), string, integer, float and boolean columns, and the nullable
//   integer / boolean encodings (`values` + `mask`). Cell names: the obs index.
//   .loom: a string or numeric /col_attrs/<column>. Cell names: CellID or obs_names.
// Cells whose value is missing (category code -1, NaN, masked, empty string) are left out, so
// they count as unlabelled. A missing column's error lists the columns the file has.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include "detail/hdf5.hpp"
#include "h5ad_reader.hpp"
#include "labels.hpp"
#include "loom_reader.hpp"

namespace scvae {
namespace data_detail {

// One column's values as text; `present[i]` false = missing. Numbers print as in a TSV written
// by pandas, except that whole floats drop the ".0": integers exactly, floats in the shortest %g
// (6 to 17 digits) that reads back as the same value of the column's own width, so a float32 0.1
// prints "0.1", not its double expansion 0.10000000149011612.
struct ColumnText {
  std::vector<std::string> text;
  std::vector<char> present;
};

template <class F>
inline std::string number_text(F v) {
  char buf[32];
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, double(v));
    if constexpr (std::is_same_v<F, float>) {
      if (std::strtof(buf, nullptr) == v) break;
    } else if (std::strtod(buf, nullptr) == v) {
      break;
    }
  }
  return buf;
}

// A 1-D dataset of strings, integers, floats or an enum (h5py's bool is an enum FALSE/TRUE).
inline ColumnText read_column_dataset(const h5::Loc& loc, const std::string& path) {
  h5::Handle ds = h5::open_dataset(loc, path);
  const std::string what = loc.child(path);
  const std::uint64_t n = h5::dataset_length_1d(ds.get(), loc.file, what);
  if (n > (std::uint64_t{1} << 31)) fail(loc.file, what + " is too large for a label column");
  ColumnText c;
  c.present.assign(static_cast<std::size_t>(n), 1);
  const H5T_class_t cls = h5::type_class(ds.get());
  if (cls == H5T_STRING) {
    c.text = h5::read_strings(loc, path);
  } else if (cls == H5T_INTEGER) {
    for (std::int64_t x : h5::read_vector<std::int64_t>(loc, path)) c.text.push_back(std::to_string(x));
  } else if (cls == H5T_FLOAT) {
    h5::Handle ft(H5Dget_type(ds.get()), H5Tclose);
    if (ft && H5Tget_size(ft.get()) <= sizeof(float)) {  // float32 (or float16): printed at its own precision
      for (float x : h5::read_vector<float>(loc, path)) c.text.push_back(std::isnan(x) ? std::string() : number_text(x));
    } else {
      for (double x : h5::read_vector<double>(loc, path)) c.text.push_back(std::isnan(x) ? std::string() : number_text(x));
    }
  } else if (cls == H5T_ENUM) {
    // Read as the enum's own (native) type, then name each value; HDF5 does not convert enums
    // to integers.
    h5::Handle ft(H5Dget_type(ds.get()), H5Tclose);
    h5::Handle mt(H5Tget_native_type(ft.get(), H5T_DIR_ASCEND), H5Tclose);
    const std::size_t size = mt ? H5Tget_size(mt.get()) : 0;
    if (size == 0 || size > 8) fail(loc.file, "cannot read the enum type of " + what);
    std::vector<unsigned char> raw(static_cast<std::size_t>(n) * size);
    if (n > 0 && H5Dread(ds.get(), mt.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) < 0)
      fail(loc.file, "cannot read " + what);
    char name[256];
    for (std::uint64_t i = 0; i < n; ++i) {
      if (H5Tenum_nameof(mt.get(), raw.data() + i * size, name, sizeof name) < 0)
        fail(loc.file, what + ": entry " + std::to_string(i) + " is not a value of its enum type");
      const std::string s = name;  // h5py's booleans: FALSE / TRUE -> pandas' False / True
      c.text.push_back(s == "FALSE" ? "False" : s == "TRUE" ? "True" : s);
    }
  } else {
    fail(loc.file, what + " is neither strings, numbers nor booleans");
  }
  for (std::size_t i = 0; i < c.text.size(); ++i)
    if (c.text[i].empty()) c.present[i] = 0;
  return c;
}

// Codes into categories; code -1 (pandas' NaN) is missing, any other code out of range an error.
inline ColumnText decode_categorical(const h5::Loc& loc, const std::string& codes_path, const ColumnText& categories) {
  const std::string what = loc.child(codes_path);
  const auto codes = h5::read_vector<std::int64_t>(loc, codes_path);
  ColumnText c;
  c.text.resize(codes.size());
  c.present.assign(codes.size(), 0);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    if (codes[i] == -1) continue;
    if (codes[i] < 0 || codes[i] >= static_cast<std::int64_t>(categories.text.size()))
      fail(loc.file, what + ": code " + std::to_string(codes[i]) + " of cell " + std::to_string(i) + " is not one of the " +
                         std::to_string(categories.text.size()) + " categories");
    c.text[i] = categories.text[static_cast<std::size_t>(codes[i])];
    c.present[i] = categories.present[static_cast<std::size_t>(codes[i])];
  }
  return c;
}

inline CellLabels collect_labels(std::vector<std::string> cells, const ColumnText& c, const std::string& file,
                                 const std::string& what) {
  if (c.text.size() != cells.size())
    fail(file, what + " has " + std::to_string(c.text.size()) + " entries but there are " + std::to_string(cells.size()) +
                   " cells");
  CellLabels out;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (!c.present[i]) continue;
    out.cells.push_back(std::move(cells[i]));
    out.labels.push_back(c.text[i]);
  }
  return out;
}

inline std::string list_names(const std::vector<std::string>& names) {
  return names.empty() ? "none" : join_names(names);
}

inline CellLabels read_h5ad_labels_file(hid_t file, const std::string& name, const std::string& column) {
  h5::ErrorSilencer quiet;
  const h5::Loc root{file, name, "/"};
  if (!h5::exists(file, "obs") || h5::object_type(file, "obs") != H5I_GROUP) fail(name, "no /obs table: not an .h5ad file");
  const std::string index = h5::read_string_attr(root, "obs", "_index").value_or("_index");
  const std::string path = "obs/" + column;
  if (column.empty() || column == index || column == "__categories" || column.find('/') != std::string::npos ||
      !h5::exists(file, path)) {
    h5::Handle obs = h5::open_group(root, "obs");
    std::vector<std::string> have;
    for (H5I_type_t t : {H5I_DATASET, H5I_GROUP})
      for (auto& c : h5::child_objects(h5::Loc{obs.get(), name, "/obs"}, t))
        if (c != index && c != "__categories") have.push_back(c);
    fail(name, (column.empty() ? std::string("name an obs column") : "no obs column '" + column + "'") +
                   " (columns: " + list_names(have) + ")");
  }
  auto cells = read_h5ad_index(root, "obs");
  if (cells.empty()) fail(name, "/obs has no index of cell names to match labels by");
  const std::string what = "/" + path;
  ColumnText c;
  if (h5::object_type(file, path) == H5I_GROUP) {
    const std::string enc = h5::read_string_attr(root, path, "encoding-type").value_or("");
    if (enc == "categorical") {
      c = decode_categorical(root, path + "/codes", read_column_dataset(root, path + "/categories"));
    } else if (enc == "nullable-integer" || enc == "nullable-boolean" || enc == "nullable-string-array") {
      c = read_column_dataset(root, path + "/values");
      const ColumnText mask = read_column_dataset(root, path + "/mask");
      if (mask.text.size() != c.text.size()) fail(name, what + ": mask and values differ in length");
      for (std::size_t i = 0; i < c.text.size(); ++i)
        if (mask.text[i] == "True" || mask.text[i] == "1") c.present[i] = 0;
    } else {
      fail(name, what + " has encoding '" + enc + "' (expected a categorical, nullable or plain column)");
    }
  } else if (const std::string old = "obs/__categories/" + column; h5::exists(file, old)) {
    c = decode_categorical(root, path, read_column_dataset(root, old));  // anndata 0.7
  } else {
    c = read_column_dataset(root, path);
  }
  return collect_labels(std::move(cells), c, name, what);
}

inline CellLabels read_loom_labels_file(hid_t file, const std::string& name, const std::string& column) {
  h5::ErrorSilencer quiet;
  const h5::Loc root{file, name, "/"};
  if (!h5::exists(file, "col_attrs") || h5::object_type(file, "col_attrs") != H5I_GROUP)
    fail(name, "no /col_attrs group: not a Loom file");
  const std::string path = "col_attrs/" + column;
  if (column.empty() || column.find('/') != std::string::npos || !h5::exists(file, path) ||
      h5::object_type(file, path) != H5I_DATASET) {
    h5::Handle ca = h5::open_group(root, "col_attrs");
    fail(name, (column.empty() ? std::string("name a column attribute") : "no column attribute '" + column + "'") +
                   " (/col_attrs has: " +
                   list_names(h5::child_objects(h5::Loc{ca.get(), name, "/col_attrs"}, H5I_DATASET)) + ")");
  }
  // The number of cells is /matrix's (genes x cells) second extent, which CellID must match.
  if (!h5::exists(file, "matrix") || h5::object_type(file, "matrix") != H5I_DATASET)
    fail(name, "no /matrix dataset: not a Loom file");
  std::uint64_t n = 0;
  {
    h5::Handle m = h5::open_dataset(root, "matrix");
    const auto dims = h5::dataset_dims(m.get(), name, "/matrix");
    if (dims.size() != 2) fail(name, "/matrix must be 2-dimensional (genes x cells)");
    n = dims[1];
  }
  ColumnText c = read_column_dataset(root, path);
  for (auto& s : c.text) s = decode_xml_entities(s);
  auto cells = read_loom_names(root, "col_attrs/CellID", n);
  if (!cells) cells = read_loom_names(root, "col_attrs/obs_names", n);
  if (!cells) fail(name, "no /col_attrs/CellID or /col_attrs/obs_names to match labels by");
  return collect_labels(std::move(*cells), c, name, "/" + path);
}

}  // namespace data_detail

// Labels from column `column` of an .h5ad's obs table (e.g. "cell_type", "leiden").
inline CellLabels read_h5ad_labels(const std::string& path, const std::string& column) {
  data_detail::h5::ErrorSilencer quiet;
  auto f = data_detail::h5::open_file_read(path);
  return data_detail::read_h5ad_labels_file(f.get(), path, column);
}

// Labels from /col_attrs/<column> of a Loom file (e.g. "ClusterName", "Class").
inline CellLabels read_loom_labels(const std::string& path, const std::string& column) {
  data_detail::h5::ErrorSilencer quiet;
  auto f = data_detail::h5::open_file_read(path);
  return data_detail::read_loom_labels_file(f.get(), path, column);
}

// True for paths read_annotation_labels reads (.h5ad, .loom); others are TSV/CSV (read_labels).
inline bool is_annotation_file(const std::string& path) {
  const std::string n = data_detail::lower(path);
  return data_detail::ends_with(n, ".h5ad") || data_detail::ends_with(n, ".loom");
}

inline CellLabels read_annotation_labels(const std::string& path, const std::string& column) {
  if (data_detail::ends_with(data_detail::lower(path), ".loom")) return read_loom_labels(path, column);
  return read_h5ad_labels(path, column);
}

}  // namespace scvae
