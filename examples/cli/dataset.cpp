#include "dataset.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <utility>
#include <unordered_set>

#include <scvae/data/annotation_labels.hpp>
#include <scvae/data/labels.hpp>
#include <scvae/data/prepare.hpp>
#include <scvae/data/read_counts.hpp>
#include <scvae/data/simulate.hpp>

namespace scvae_cli {

namespace {

// "FILE[:COLUMN]": COLUMN is a header name or a 0-based field index. A path that exists as
// given wins, so file names containing ':' still work.
// `column` gets COLUMN as written ("" when absent): .h5ad and .loom columns are names only.
scvae::LabelOptions parse_label_spec(const std::string& spec, std::string& file, std::string& column) {
  scvae::LabelOptions opt;
  file = spec;
  column.clear();
  std::error_code ec;
  const auto colon = spec.rfind(':');
  if (std::filesystem::exists(spec, ec) || colon == std::string::npos || colon == 0) return opt;
  file = spec.substr(0, colon);
  column = spec.substr(colon + 1);
  if (column.empty()) throw UsageError("--labels: empty column after ':' in '" + spec + "'");
  if (column.find_first_not_of("0123456789") == std::string::npos) opt.column_index = std::stoi(column);
  else opt.column = column;
  return opt;
}

void check_split(const std::vector<double>& f) {
  if (f.size() != 3) throw UsageError("--split: expected three fractions TRAIN,VALIDATION,TEST, e.g. 0.81,0.09,0.10");
  for (double x : f)
    if (x < 0) throw UsageError("--split: fractions must be non-negative");
  if (std::abs(f[0] + f[1] + f[2] - 1.0) > 1e-6) throw UsageError("--split: fractions must sum to 1");
  if (f[0] <= 0) throw UsageError("--split: the training fraction must be positive");
}

void check_spec(const DataSpec& s) {
  check_split(s.split);
  if (s.top_genes < 0) throw UsageError("--top-genes: must be >= 0");
  if (s.min_counts < 0) throw UsageError("--min-counts: must be >= 0");
  // config.txt holds one key=value a line
  if (s.input.find_first_of("\r\n") != std::string::npos) throw UsageError("--input: a path with a line break");
  if (s.labels.find_first_of("\r\n") != std::string::npos) throw UsageError("--labels: a path with a line break");
  for (const auto& f : kReaderFields)
    if ((s.*f.member).find_first_of("\r\n") != std::string::npos)
      throw UsageError(std::string(f.flag) + ": a value with a line break");
}

// The options' values alone, without looking at the input (its format or whether it exists):
// DataSpec::read checks a record with this, since `evaluate --input` may replace a recorded
// input that is gone.
scvae::ReadOptions reader_values(const DataSpec& spec) {
  scvae::ReadOptions o;
  if (spec.builtin()) {
    if (spec.any_reader_option())
      throw UsageError("--matrix, --genome, --gene-names, --feature-type, --orientation: need --input");
    return o;
  }
  if (!spec.gene_names.empty()) {
    if (spec.gene_names == "auto") o.gene_names = scvae::GeneNames::automatic;
    else if (spec.gene_names == "id") o.gene_names = scvae::GeneNames::id;
    else if (spec.gene_names == "symbol") o.gene_names = scvae::GeneNames::symbol;
    else throw UsageError("--gene-names: '" + spec.gene_names + "' is not auto, id or symbol");
  }
  if (!spec.orientation.empty()) {
    if (spec.orientation == "genes-by-cells") o.orientation = scvae::Orientation::genes_by_cells;
    else if (spec.orientation == "cells-by-genes") o.orientation = scvae::Orientation::cells_by_genes;
    else throw UsageError("--orientation: '" + spec.orientation + "' is not genes-by-cells or cells-by-genes");
  }
  return o;
}
}  // namespace

bool DataSpec::any_reader_option() const {
  for (const auto& f : kReaderFields)
    if (!(this->*f.member).empty()) return true;
  return false;
}
void DataSpec::clear_reader_options() {
  for (const auto& f : kReaderFields) (this->*f.member).clear();
}

void DataSpec::write(RunRecord& r) const {
  r["input"] = builtin() ? kBuiltinName : std::filesystem::absolute(input).string();
  // The labels' file as an absolute path too: `evaluate` may run from another directory.
  std::string labels_record = labels;
  if (!labels.empty()) {
    std::string file, column;
    parse_label_spec(labels, file, column);
    labels_record = std::filesystem::absolute(file).string() + labels.substr(file.size());
  }
  r["labels"] = labels_record;
  r["top_genes"] = std::to_string(top_genes);
  r["min_counts"] = std::to_string(min_counts);
  r["split"] = format_number(split[0], 17) + "," + format_number(split[1], 17) + "," + format_number(split[2], 17);
  r["split_seed"] = std::to_string(split_seed);
  for (const auto& f : kReaderFields) r[f.key] = this->*f.member;  // older records lack them: defaults
}

DataSpec DataSpec::read(const RunRecord& r, const std::string& where) {
  const auto get = [&](const char* k) {
    const auto it = r.find(k);
    if (it == r.end()) throw scvae::InputError(where + ": missing field '" + k + "'");
    return it->second;
  };
  // A value that does not parse or check is the file's fault (InputError, exit 3), named there.
  const auto not_integer = [&](const char* k) {
    return scvae::InputError(where + ": field '" + k + "': not an integer: '" + get(k) + "'");
  };
  DataSpec s;
  s.input = get("input") == kBuiltinName ? "" : get("input");
  s.labels = get("labels");
  long long top = 0;
  unsigned long long seed = 0;
  if (!parse_integer(get("top_genes"), top)) throw not_integer("top_genes");
  if (!parse_unsigned(get("split_seed"), seed)) throw not_integer("split_seed");  // seeds span all of uint64
  s.top_genes = static_cast<long>(top);
  if (const auto it = r.find("min_counts"); it != r.end()) {  // absent in runs recorded before the flag
    long long mc = 0;
    if (!parse_integer(it->second, mc)) throw not_integer("min_counts");
    s.min_counts = static_cast<long>(mc);
  }
  s.split_seed = static_cast<std::uint64_t>(seed);
  for (const auto& f : kReaderFields)
    if (const auto it = r.find(f.key); it != r.end()) s.*f.member = it->second;
  try {
    s.split = parse_double_list(get("split"), "split");
    check_spec(s);
    (void)reader_values(s);  // a value this version does not know; the input is not looked at
  } catch (const UsageError& e) {
    throw scvae::InputError(where + ": " + e.what());
  }
  return s;
}

scvae::ReadOptions reader_options(const DataSpec& spec) {
  scvae::ReadOptions o = reader_values(spec);
  if (spec.builtin() || !spec.any_reader_option()) return o;  // no file access

  // Which formats have which option: an option the format lacks would be ignored silently.
  using F = scvae::CountFormat;
  const F f = scvae::detect_count_format(spec.input);
  const auto refuse = [&](const char* flag, const std::string& value, std::initializer_list<F> have,
                          const char* which) {
    if (value.empty()) return;
    for (F h : have)
      if (f == h) return;
    throw UsageError(std::string(flag) + " applies to " + which + " input, not to '" + spec.input + "'");
  };
  refuse("--matrix", spec.matrix, {F::h5ad, F::loom}, ".h5ad and .loom");
  refuse("--genome", spec.genome, {F::tenx_h5, F::mtx_tar}, "10x .h5 and .tar[.gz]");
  refuse("--gene-names", spec.gene_names, {F::mtx_dir, F::mtx_tar, F::tenx_h5, F::loom},
         "10x (folder, .tar[.gz], .h5) and .loom");
  refuse("--feature-type", spec.feature_type, {F::mtx_dir, F::mtx_tar, F::tenx_h5}, "10x (folder, .tar[.gz], .h5)");
  refuse("--orientation", spec.orientation, {F::mtx, F::dense_table}, ".mtx and dense table");
  if (f == F::h5ad) o.h5ad_matrix = spec.matrix;
  if (f == F::loom) o.loom_layer = spec.matrix;
  o.genome = spec.genome;
  o.feature_type = spec.feature_type;
  return o;
}

Dataset load_dataset(const DataSpec& spec, bool verbose) {
  check_spec(spec);
  Dataset d;
  scvae::CsrMatrix raw;
  if (spec.builtin()) {
    // Seed 3: the data set of the library's clustering test (tests/test_clustering.cpp), whose 5
    // types are well separated; with seed 0 two types are close and ARI stays near 0.7.
    auto sim = scvae::simulate_counts(scvae::SimulationOptions::small_test(3));
    raw = std::move(sim.counts);
    d.labels = std::move(sim.labels);
    d.label_names = std::move(sim.label_names);
    d.description = "built-in simulated data";
  } else {
    raw = scvae::read_counts(spec.input, reader_options(spec));
    d.description = spec.input;
  }
  if (raw.n_rows < 2) throw scvae::InputError("scvae: " + d.description + ": needs at least 2 cells, found " + std::to_string(raw.n_rows));
  if (raw.row_names.empty()) {  // formats without cell names: number them (in the file's order) for the outputs
    raw.row_names.resize(static_cast<std::size_t>(raw.n_rows));
    for (scvae::Index r = 0; r < raw.n_rows; ++r) raw.row_names[r] = "cell" + std::to_string(r + 1);
  }

  scvae::PrepareOptions prep;
  prep.n_top_genes = spec.top_genes;
  prep.min_total_count = static_cast<double>(spec.min_counts);
  const scvae::Index n_read = raw.n_rows;
  // Cells below --min-counts leave before anything else sees the data; too few left is the input's fault.
  const auto kept = spec.min_counts > 0
                        ? static_cast<scvae::Index>(scvae::cells_with_min_total(raw, prep.min_total_count).size())
                        : n_read;
  if (kept < 2)
    throw scvae::InputError("scvae: " + d.description + ": " + std::to_string(kept) + " of " + std::to_string(n_read) +
                            " cells have at least --min-counts " + std::to_string(spec.min_counts) +
                            " counts; at least 2 are needed");
  scvae::PreparedCounts p = scvae::prepare_counts(raw, prep);
  d.counts = std::move(p.matrix);
  if (!d.labels.empty() && kept < n_read) {  // built-in labels are by row: keep those of the kept cells
    std::vector<int> l;
    for (scvae::Index r : p.cells) l.push_back(d.labels[static_cast<std::size_t>(r)]);
    d.labels = std::move(l);
  }
  if (verbose && kept < n_read)
    std::fprintf(stderr, "scvae: %s: dropped %ld of %ld cells with fewer than %ld counts (--min-counts)\n",
                 d.description.c_str(), long(n_read - kept), long(n_read), spec.min_counts);
  if (verbose) {  // kept (their indices are the user's), but they cost time and carry nothing
    scvae::Index empty = 0;
    for (scvae::Index r = 0; r < d.counts.n_rows; ++r) empty += d.counts.row_nnz(r) == 0;
    if (empty > 0)
      std::fprintf(stderr, "scvae: %ld of %ld cells of %s have no counts (empty droplets?); --min-counts 1 drops them\n",
                   long(empty), long(d.counts.n_rows), d.description.c_str());
  }
  if (verbose && !d.counts.row_names.empty()) {  // labels match by name; outputs list cells by name
    std::unordered_set<std::string> seen;
    std::size_t dup = 0;
    std::string first;
    for (const auto& n : d.counts.row_names)
      if (!seen.insert(n).second && dup++ == 0) first = n;
    if (dup > 0)
      std::fprintf(stderr, "scvae: %s: %zu duplicate cell name(s), e.g. '%s'; labels and outputs cannot tell them apart\n",
                   d.description.c_str(), dup, first.c_str());
  }

  if (!spec.labels.empty()) {
    std::string file, column;
    const auto opt = parse_label_spec(spec.labels, file, column);
    const auto cl = scvae::is_annotation_file(file) ? scvae::read_annotation_labels(file, column)
                                                    : scvae::read_labels(file, opt);
    const auto matched = scvae::match_labels(d.counts.row_names, cl, /*allow_missing=*/true);
    const auto codes = scvae::encode_labels(matched);
    std::size_t missing = 0;
    for (int c : codes.codes) missing += c < 0;
    if (missing == codes.codes.size())
      throw scvae::InputError("scvae: " + file + ": no cell of " + d.description + " has a label (cell names differ?)");
    if (missing > 0 && verbose)
      std::fprintf(stderr, "scvae: %zu of %zu cells have no label in %s; they are left out of ARI/NMI\n", missing,
                   codes.codes.size(), file.c_str());
    d.labels = codes.codes;
    d.label_names = codes.categories;
  }

  scvae::SplitOptions so;
  so.train = spec.split[0];
  so.validation = spec.split[1];
  so.test = spec.split[2];
  so.seed = spec.split_seed;
  d.split = scvae::split_indices(d.counts.n_rows, so);
  if (d.split.train.empty()) throw UsageError("--split: no training cells (" + std::to_string(d.counts.n_rows) + " cells)");

  d.description += " (" + std::to_string(d.counts.n_rows) + " cells x " + std::to_string(d.counts.n_cols) + " genes";
  if (spec.top_genes > 0) d.description += ", top " + std::to_string(spec.top_genes) + " variable genes";
  if (kept < n_read) d.description += ", " + std::to_string(n_read - kept) + " cells below --min-counts dropped";
  d.description += ")";
  return d;
}

}  // namespace scvae_cli
