// Real 10x data: the 8 hashtag samples of GSE108313 (see ../shared/data/pbmc_hashing_GSE108313/
// SOURCE.md). Checks every sample against SOURCE.md's table, then merges them with hash.ID as the
// batch label. Skipped (with a warning) when the data folder is absent.
#include <catch2/catch.hpp>

#include <algorithm>

#include "data_test_util.hpp"
#include "scvae/data/labels.hpp"
#include "scvae/data/merge.hpp"
#include "scvae/data/mtx_reader.hpp"
#include "scvae/data/prepare.hpp"
#include "scvae/data/split.hpp"
#include "scvae/data/subset.hpp"

using namespace scvae;
using namespace scvae_test;

namespace {
const std::string kDir = std::string(SCVAE_SHARED_DATA_DIR) + "/pbmc_hashing_GSE108313";

struct Expected {
  const char* name;
  Index cells;
  std::int64_t nnz;
  double total;
  double median_umis;
  float max_value;
};
// From SOURCE.md.
const Expected kSamples[] = {
    {"htoA", 1824, 625632, 1066817, 508.5, 778}, {"htoB", 1907, 683200, 1202888, 569, 193},
    {"htoC", 1788, 637486, 1178773, 525, 2295},  {"htoD", 1637, 524991, 919905, 509, 788},
    {"htoE", 1419, 495044, 859984, 518, 729},    {"htoF", 1422, 480219, 829170, 518.5, 791},
    {"htoG", 1551, 531796, 921659, 510, 255},    {"htoH", 1711, 623360, 1111017, 554, 1197},
};

bool have_data() {
  if (fs::exists(kDir + "/htoA/matrix.mtx.gz")) return true;
  WARN("SKIPPED: real data not found at " << kDir << " (see the project's shared data folder)");
  return false;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
}  // namespace

TEST_CASE("pbmc_hashing_GSE108313: 8 real 10x samples match SOURCE.md and merge by hash.ID", "[data][real]") {
  if (!have_data()) return;
  std::vector<std::string> names;
  std::vector<CsrMatrix> samples;
  std::vector<std::string> gene_names0;
  for (const Expected& e : kSamples) {
    INFO("sample " << e.name);
    CsrMatrix m = read_10x_mtx_dir(kDir + "/" + e.name);
    m.validate(e.name);
    CHECK(m.n_cols == 21855);
    CHECK(m.n_rows == e.cells);
    CHECK(m.nnz() == e.nnz);
    CHECK(total_count(m) == e.total);
    CHECK(median(row_totals(m)) == e.median_umis);
    CHECK(*std::max_element(m.values.begin(), m.values.end()) == e.max_value);
    CHECK(m.row_names.size() == static_cast<std::size_t>(e.cells));
    // 5,580 ids are "NA": the unique symbols (column 2) become the gene names.
    if (gene_names0.empty()) gene_names0 = m.col_names;
    CHECK(m.col_names == gene_names0);
    names.push_back(e.name);
    samples.push_back(std::move(m));
  }
  CHECK(std::find(gene_names0.begin(), gene_names0.end(), "NA") == gene_names0.end());
  CHECK(std::count_if(gene_names0.begin(), gene_names0.end(), [](const std::string& g) { return g.rfind("MOUSE_", 0) == 0; }) == 100);
  CHECK(gene_names0[0] == "A1BG");

  // Labels: hash.ID from every sample's metadata, matched by barcode.
  CellLabels all;
  LabelOptions lo;
  lo.column = "hash.ID";
  for (const Expected& e : kSamples) {
    CellLabels l = read_labels(kDir + "/" + e.name + "/metadata.tsv.gz", lo);
    all.cells.insert(all.cells.end(), l.cells.begin(), l.cells.end());
    all.labels.insert(all.labels.end(), l.labels.begin(), l.labels.end());
  }

  const MergedSamples merged = merge_samples(names, std::move(samples));
  const CsrMatrix& m = merged.matrix;
  CHECK(m.n_rows == 13259);
  CHECK(m.n_cols == 21855);
  CHECK(m.nnz() == 4601728);
  CHECK(total_count(m) == 8090213.0);
  const std::vector<std::string> hash = match_labels(m.row_names, all);
  CHECK(hash == merged.batch_labels());  // singlets: hash.ID is the folder's hashtag
  const LabelCodes codes = encode_labels(hash);
  CHECK(codes.categories.size() == 8);

  // MOUSE_* genes hold about 0.1 % of the counts.
  double mouse = 0;
  for (std::int64_t k = 0; k < m.nnz(); ++k)
    if (m.col_names[m.indices[k]].rfind("MOUSE_", 0) == 0) mouse += m.values[k];
  CHECK(mouse / 8090213.0 < 0.005);

  PrepareOptions po;
  po.n_top_genes = 2000;
  po.min_total_count = 200;
  const PreparedCounts p = prepare_counts(m, po);
  CHECK(p.matrix.n_cols == 2000);
  CHECK(p.matrix.n_rows <= 13259);
  CHECK(p.matrix.n_rows > 12000);
  const DataSplit s = split_indices(p.matrix.n_rows, SplitOptions{});
  CHECK(s.train.size() + s.validation.size() + s.test.size() == static_cast<std::size_t>(p.matrix.n_rows));
}
