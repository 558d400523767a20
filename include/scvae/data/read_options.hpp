#pragma once
// Options shared by the count-matrix readers (see docs/data.md for the formats).
#include <cstdint>
#include <string>

namespace scvae {

// How the rows of a file map to cells. 10x MTX and dense tables from R are genes x cells.
enum class Orientation { genes_by_cells, cells_by_genes };

// Which feature column becomes the gene name (10x features.tsv / genes.tsv, 10x .h5).
enum class GeneNames {
  automatic,  // ids if all present ("NA" = missing) and unique, else symbols if unique, else
              // the id per row falling back to the symbol, duplicates suffixed "-1", "-2", ...
  id,         // column 1 (Ensembl id)
  symbol,     // column 2 (gene symbol)
};

// Guards against headers that claim absurd sizes (fuzzers lower these).
struct ReadLimits {
  std::int64_t max_rows = 2147483647;  // int32 indices
  std::int64_t max_cols = 2147483647;
};

struct ReadOptions {
  Orientation orientation = Orientation::genes_by_cells;  // .mtx and dense tables only
  GeneNames gene_names = GeneNames::automatic;
  // Keep only features of this type (10x v3 feature_type, e.g. "Gene Expression"); empty = all.
  std::string feature_type;
  // .h5ad: matrix to read: "" = "layers/counts" if present, else "X"; or any path such as
  // "X", "layers/counts", "raw/X" (raw/ uses raw/var for gene names).
  std::string h5ad_matrix;
  // .loom: layer to read: "" or "matrix" = /matrix, else /layers/<name> (e.g. "spliced").
  std::string loom_layer;
  // 10x v2 .h5: genome group; "" = the only group in the file. 10x tar archive: the MTX folder,
  // by its last component (a v2 genome, "mm10") or its full path; "" = the only one.
  std::string genome;
  // Dense tables: field delimiter; 0 = by extension (.csv -> ',', otherwise tab).
  char delimiter = 0;
  ReadLimits limits;
};

}  // namespace scvae
