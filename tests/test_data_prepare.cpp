// Preparation: subsets, cell filtering, gene selection, seeded splits and sample merging.
#include <catch2/catch.hpp>

#include <set>

#include "data_test_util.hpp"
#include "scvae/data/merge.hpp"
#include "scvae/data/prepare.hpp"
#include "scvae/data/split.hpp"
#include "scvae/data/subset.hpp"

using namespace scvae;
using namespace scvae_test;

namespace {
std::vector<std::vector<float>> to_dense(const CsrMatrix& m) {
  std::vector<std::vector<float>> d(static_cast<std::size_t>(m.n_rows), std::vector<float>(m.n_cols, 0.f));
  for (Index r = 0; r < m.n_rows; ++r)
    for (auto k = m.indptr[r]; k < m.indptr[r + 1]; ++k) d[r][m.indices[k]] = m.values[k];
  return d;
}
}  // namespace

TEST_CASE("subset_rows / subset_cols keep values and names", "[data][prepare]") {
  const CsrMatrix m = random_counts(12, 9, 0.4, 1);
  const auto d = to_dense(m);
  const CsrMatrix r = subset_rows(m, {5, 0, 5});
  r.validate();
  CHECK(to_dense(r)[0] == d[5]);
  CHECK(to_dense(r)[1] == d[0]);
  CHECK(r.row_names == std::vector<std::string>{"cell6", "cell1", "cell6"});
  const CsrMatrix c = subset_cols(m, {1, 4, 8});
  c.validate();
  for (Index i = 0; i < m.n_rows; ++i) CHECK(to_dense(c)[i] == std::vector<float>{d[i][1], d[i][4], d[i][8]});
  CHECK(c.col_names == std::vector<std::string>{"gene2", "gene5", "gene9"});
  REQUIRE_INPUT_ERROR(subset_rows(m, {12}), "out of range");
  REQUIRE_INPUT_ERROR(subset_cols(m, {4, 1}), "strictly increasing");
}

TEST_CASE("gene_variances matches a dense two-pass computation", "[data][prepare]") {
  const CsrMatrix m = random_counts(40, 15, 0.3, 2, 50);
  const auto d = to_dense(m);
  for (GeneVariance on : {GeneVariance::log1p_counts, GeneVariance::counts}) {
    const auto v = gene_variances(m, on);
    for (Index j = 0; j < m.n_cols; ++j) {
      double mean = 0, var = 0;
      for (Index i = 0; i < m.n_rows; ++i) mean += on == GeneVariance::counts ? d[i][j] : std::log1p(static_cast<double>(d[i][j]));
      mean /= m.n_rows;
      for (Index i = 0; i < m.n_rows; ++i) {
        const double x = (on == GeneVariance::counts ? d[i][j] : std::log1p(static_cast<double>(d[i][j]))) - mean;
        var += x * x;
      }
      CHECK(v[j] == Approx(var / m.n_rows).epsilon(1e-12).margin(1e-14));
    }
  }
}

TEST_CASE("prepare_counts: cell filter, zero genes, top variable genes", "[data][prepare]") {
  // 4 cells x 5 genes; gene 3 all zero; cell 2 total 1.
  CsrMatrix m;
  m.n_rows = 4, m.n_cols = 5;
  m.indptr = {0, 3, 5, 6, 9};
  m.indices = {0, 1, 4, 0, 4, 1, 0, 2, 4};
  m.values = {1, 9, 5, 1, 6, 1, 1, 1, 5};
  m.row_names = {"a", "b", "c", "d"};
  m.col_names = {"g0", "g1", "g2", "g3", "g4"};
  m.validate();
  PrepareOptions o;
  o.min_total_count = 2;
  PreparedCounts p = prepare_counts(m, o);
  CHECK(p.cells == std::vector<Index>{0, 1, 3});
  CHECK(p.genes == std::vector<Index>{0, 1, 2, 4});  // g3 dropped
  CHECK(p.matrix.row_names == std::vector<std::string>{"a", "b", "d"});
  CHECK(p.matrix.col_names == std::vector<std::string>{"g0", "g1", "g2", "g4"});
  // Among a, b, d: g0 constant (1,1,1) -> variance 0; g1 (9,0,0) largest; g2 (0,0,1); g4 (5,6,5).
  o.n_top_genes = 2;
  o.variance = GeneVariance::counts;
  p = prepare_counts(m, o);
  CHECK(p.genes == std::vector<Index>{1, 2});  // var g1 = 18, g2 = 0.222, g4 = 0.222 -> tie to lower index
  o.variance = GeneVariance::log1p_counts;
  CHECK(prepare_counts(m, o).genes == std::vector<Index>{1, 2});
  o.n_top_genes = 100;
  CHECK(prepare_counts(m, o).genes.size() == 4);
  o.min_total_count = 1e9;
  REQUIRE_INPUT_ERROR(prepare_counts(m, o), "no cell");
}

TEST_CASE("split_indices: scVAE sizes, disjoint cover, seeded and library-independent", "[data][split]") {
  const DataSplit s = split_indices(20000, SplitOptions{});
  CHECK(s.train.size() == 16200);
  CHECK(s.validation.size() == 1800);
  CHECK(s.test.size() == 2000);
  std::vector<Index> all;
  for (const auto* v : {&s.train, &s.validation, &s.test}) {
    CHECK(std::is_sorted(v->begin(), v->end()));
    all.insert(all.end(), v->begin(), v->end());
  }
  std::sort(all.begin(), all.end());
  for (Index i = 0; i < 20000; ++i) REQUIRE(all[i] == i);

  SplitOptions o;
  o.seed = 7;
  CHECK(split_indices(1000, o).test == split_indices(1000, o).test);
  SplitOptions o2 = o;
  o2.seed = 8;
  CHECK(split_indices(1000, o).test != split_indices(1000, o2).test);
  // Golden values from an independent Python mt19937_64 + Fisher-Yates: identical everywhere.
  CHECK(seeded_permutation(10, 42) == std::vector<Index>({1, 7, 9, 0, 3, 8, 4, 2, 5, 6}));
  std::mt19937_64 rng(1);
  for (int i = 0; i < 1000; ++i) REQUIRE(uniform_below(rng, 3) < 3);

  o.train = 0.5, o.validation = 0.5, o.test = 0.0;
  const DataSplit h = split_indices(3, o);
  CHECK(h.train.size() + h.validation.size() == 3);
  CHECK(h.test.empty());
  o.test = 0.5;
  REQUIRE_INPUT_ERROR(split_indices(10, o), "sum to 1");
}

TEST_CASE("merge_samples: gene policies, batch labels and cell names", "[data][merge]") {
  CsrMatrix a = random_counts(5, 4, 0.6, 1), b = random_counts(3, 4, 0.6, 2);
  for (auto& n : b.row_names) n = "b_" + n;
  const auto da = to_dense(a), db = to_dense(b);
  SECTION("same genes in another order are matched by name") {
    CsrMatrix b2 = subset_cols(b, {0, 1, 2, 3});
    std::reverse(b2.col_names.begin(), b2.col_names.end());  // b2's column j is now gene (4 - j)
    const MergedSamples m = merge_samples({"A", "B"}, {a, b2});
    m.matrix.validate();
    CHECK(m.matrix.n_rows == 8);
    CHECK(m.matrix.col_names == a.col_names);
    CHECK(m.batch == std::vector<int>{0, 0, 0, 0, 0, 1, 1, 1});
    CHECK(m.batch_labels()[6] == "B");
    const auto dm = to_dense(m.matrix);
    CHECK(dm[2] == da[2]);
    CHECK(dm[5] == std::vector<float>{db[0][3], db[0][2], db[0][1], db[0][0]});
    CHECK(m.matrix.row_names[5] == "b_cell1");
  }
  SECTION("intersection, union and the default policy's error") {
    CsrMatrix b3 = subset_cols(b, {0, 2, 3});
    b3.col_names = {"gene1", "gene3", "extra"};
    REQUIRE_INPUT_ERROR(merge_samples({"A", "B"}, {a, b3}), "gene 'gene2' of sample 'A' is missing from sample 'B'");
    MergeOptions o;
    o.genes = GeneMatch::intersection;
    MergedSamples m = merge_samples({"A", "B"}, {a, b3}, o);
    CHECK(m.matrix.col_names == std::vector<std::string>{"gene1", "gene3"});
    o.genes = GeneMatch::union_;
    m = merge_samples({"A", "B"}, {a, b3}, o);
    CHECK(m.matrix.col_names == std::vector<std::string>{"gene1", "gene2", "gene3", "gene4", "extra"});
    const auto dm = to_dense(m.matrix);
    CHECK(dm[5] == std::vector<float>{db[0][0], 0, db[0][2], 0, db[0][3]});
    m.matrix.validate();
  }
  SECTION("colliding cell names") {
    CsrMatrix a2 = a;
    REQUIRE_INPUT_ERROR(merge_samples({"A", "A2"}, {a, a2}), "cell name 'cell1' occurs in several samples");
    MergeOptions o;
    o.prefix_cell_names = true;
    const MergedSamples m = merge_samples({"A", "A2"}, {a, a2}, o);
    CHECK(m.matrix.row_names[5] == "A2_cell1");
  }
}
