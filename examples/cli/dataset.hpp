#pragma once
// The data a command works on: a count file (any format read_counts detects) or the built-in
// simulated data set, optional labels, gene selection and the seeded train/validation/test split.
#include <string>
#include <vector>

#include <scvae/data/csr_matrix.hpp>
#include <scvae/data/read_options.hpp>
#include <scvae/data/split.hpp>

#include "common.hpp"

namespace scvae_cli {

struct DataSpec {
  std::string input;                  // "" = the built-in simulated data set
  std::string labels;                 // FILE[:COLUMN] ("" = none; the built-in data has its own)
  long top_genes = 0;                 // keep the N most variable genes; 0 = all expressed genes
  long min_counts = 0;                // drop cells with fewer counts in total (before genes and split)
  std::vector<double> split{0.81, 0.09, 0.10};
  std::uint64_t split_seed = 0;
  // How to read the input (scvae::ReadOptions as the command line spells it; "" = the format's
  // default). Each applies only to the formats named in docs/cli.md; others refuse it.
  std::string matrix;        // .h5ad: X, layers/NAME or raw/X; .loom: a layer name
  std::string genome;        // 10x v2 .h5: genome group
  std::string gene_names;    // auto, id or symbol (10x files, Loom)
  std::string feature_type;  // 10x v3: keep only this feature type
  std::string orientation;   // .mtx and dense tables: genes-by-cells or cells-by-genes

  bool builtin() const { return input.empty(); }
  bool any_reader_option() const;
  void clear_reader_options();
  void write(RunRecord& r) const;
  static DataSpec read(const RunRecord& r, const std::string& where);
};

// The reader fields with their config.txt keys and flags, for the code that treats them alike
// (record, read back, clear, override in evaluate, check).
struct ReaderField {
  const char* key;
  const char* flag;
  std::string DataSpec::*member;
};
inline constexpr ReaderField kReaderFields[] = {{"matrix", "--matrix", &DataSpec::matrix},
                                               {"genome", "--genome", &DataSpec::genome},
                                               {"gene_names", "--gene-names", &DataSpec::gene_names},
                                               {"feature_type", "--feature-type", &DataSpec::feature_type},
                                               {"orientation", "--orientation", &DataSpec::orientation}};

struct Dataset {
  scvae::CsrMatrix counts;               // cells x genes, after gene selection
  std::vector<int> labels;               // per cell, -1 = unlabelled; empty = no labels
  std::vector<std::string> label_names;  // labels[i] indexes this
  std::string description;               // for messages: "built-in simulated data (2000 cells x 500 genes)"
  scvae::DataSplit split;

  bool has_labels() const { return !labels.empty(); }
};

// The built-in data set: SimulationOptions::small_test(3), 2,000 cells x 500 genes, 5 cell types.
constexpr const char* kBuiltinName = "builtin:small";

// The reader options of `spec` for the format of `spec.input`. Throws UsageError naming the flag
// for a value it does not know or for an option the format does not have.
scvae::ReadOptions reader_options(const DataSpec& spec);

// Reads (or simulates), selects genes, attaches labels and splits. Throws scvae::InputError
// naming the file for unreadable input; UsageError for bad split fractions.
Dataset load_dataset(const DataSpec& spec, bool verbose);

}  // namespace scvae_cli
