// Dense TSV/CSV tables, per-cell labels, the format auto-detector and the TSV writers.
#include <catch2/catch.hpp>

#include "data_test_util.hpp"
#include "scvae/data/h5ad_writer.hpp"
#include "scvae/data/labels.hpp"
#include "scvae/data/mtx_writer.hpp"
#include "scvae/data/read_counts.hpp"
#include "scvae/data/tsv_writer.hpp"

using namespace scvae;
using namespace scvae_test;

namespace {
// Dense text of m, one line per cell (or per gene), with a corner label unless r_style.
std::string dense_text(const CsrMatrix& m, char sep, bool cells_as_lines, bool r_style = false) {
  std::vector<std::vector<long long>> dense(static_cast<std::size_t>(m.n_rows), std::vector<long long>(m.n_cols, 0));
  for (Index r = 0; r < m.n_rows; ++r)
    for (auto k = m.indptr[r]; k < m.indptr[r + 1]; ++k) dense[r][m.indices[k]] = static_cast<long long>(m.values[k]);
  const auto& heads = cells_as_lines ? m.col_names : m.row_names;
  const auto& lines = cells_as_lines ? m.row_names : m.col_names;
  std::string s = r_style ? "" : std::string("\"name\"") + sep;
  for (std::size_t i = 0; i < heads.size(); ++i) s += (i ? std::string(1, sep) : "") + "\"" + heads[i] + "\"";
  s += "\n";
  for (std::size_t l = 0; l < lines.size(); ++l) {
    s += lines[l];
    for (std::size_t i = 0; i < heads.size(); ++i)
      s += sep + std::to_string(cells_as_lines ? dense[l][i] : dense[i][l]);
    s += "\n";
  }
  return s;
}
}  // namespace

TEST_CASE("read_dense_table: both orientations, TSV/CSV, gzip, R-style header", "[data][dense]") {
  const std::string d = temp_dir("dense");
  const CsrMatrix ref = random_counts(25, 18, 0.3, 12);
  ReadOptions cells;
  cells.orientation = Orientation::cells_by_genes;
  ReadOptions genes;  // default: genes x cells
  write_file(join(d, "cells.tsv"), dense_text(ref, '\t', true));
  write_file(join(d, "genes.csv.gz"), dense_text(ref, ',', false), 6);
  write_file(join(d, "r_style.tsv"), dense_text(ref, '\t', false, true));
  const CsrMatrix a = read_dense_table(join(d, "cells.tsv"), cells);
  const CsrMatrix b = read_dense_table(join(d, "genes.csv.gz"), genes);
  const CsrMatrix c = read_dense_table(join(d, "r_style.tsv"), genes);
  for (const CsrMatrix* x : {&a, &b, &c}) {
    x->validate();
    require_same(*x, ref);
  }
  // Counts written as "3.0" are accepted.
  const CsrMatrix f = read_dense_table_buffer("x\tg1\tg2\nc1\t3.0\t0\nc2\t0\t1\n", cells);
  CHECK(f.values == std::vector<float>{3, 1});
}

TEST_CASE("read_dense_table: errors name the file, line and field", "[data][dense][errors]") {
  ReadOptions cells;
  cells.orientation = Orientation::cells_by_genes;
  REQUIRE_INPUT_ERROR(read_dense_table_buffer("x\tg1\tg2\nc1\t1\t2\nc2\t1\n", cells, "t.tsv"), "t.tsv:3",
                      "expected 3 fields, found 2");
  REQUIRE_INPUT_ERROR(read_dense_table_buffer("x\tg1\tg2\nc1\t1\t-2\n", cells, "t.tsv"), "t.tsv:2", "field 3",
                      "negative count");
  REQUIRE_INPUT_ERROR(read_dense_table_buffer("x\tg1\tg2\nc1\t1\t0.25\n", cells, "t.tsv"), "t.tsv:2", "non-integer");
  REQUIRE_INPUT_ERROR(read_dense_table_buffer("x\tg1\tg2\nc1\t1\tNA\n", cells, "t.tsv"), "t.tsv:2", "not a number");
  // Classic-Mac line breaks (CR only): one long first line, said so (CRLF itself is read fine).
  REQUIRE_INPUT_ERROR(read_dense_table_buffer("x\tg1\tg2\rc1\t1\t2\r", cells, "t.tsv"), "t.tsv:1", "CR-only line endings");
  CHECK(read_dense_table_buffer("x\tg1\tg2\r\nc1\t1\t2\r\n", cells, "t.tsv").nnz() == 2);
  REQUIRE_INPUT_ERROR(read_dense_table_buffer("x\tg1\tg2\tg3\tg4\nc1\t1\t2\n", cells, "t.tsv"), "t.tsv:2",
                      "header has 5 fields");
  REQUIRE_INPUT_ERROR(read_dense_table_buffer("x\tg1\n", cells, "t.tsv"), "t.tsv", "no data lines");
  REQUIRE_INPUT_ERROR(read_dense_table_buffer("", cells, "t.tsv"), "t.tsv", "empty file");
  REQUIRE_INPUT_ERROR(read_dense_table("/nonexistent/x.tsv", cells), "/nonexistent/x.tsv", "cannot open");
}

TEST_CASE("labels: by column name or index, quoted, matched to cells", "[data][labels]") {
  const std::string d = temp_dir("labels");
  write_file(join(d, "meta.tsv.gz"),
             "\"CELL\"\t\"score\"\t\"hash.ID\"\n\"AAA\"\t1\t\"htoA\"\n\"CCC\"\t2\t\"htoB\"\n\"GGG\"\t3\t\"htoA\"\n", 6);
  LabelOptions o;
  o.column = "hash.ID";
  const CellLabels l = read_labels(join(d, "meta.tsv.gz"), o);
  CHECK(l.cells == std::vector<std::string>{"AAA", "CCC", "GGG"});
  CHECK(l.labels == std::vector<std::string>{"htoA", "htoB", "htoA"});
  LabelOptions by_index;
  by_index.column_index = 1;
  CHECK(read_labels(join(d, "meta.tsv.gz"), by_index).labels[1] == "2");
  // R write.table layout: no header field for the row names.
  write_file(join(d, "r.csv"), "\"type\"\nAAA,T\nCCC,B\n");
  LabelOptions rt;
  rt.column = "type";
  CHECK(read_labels(join(d, "r.csv"), rt).labels == std::vector<std::string>{"T", "B"});

  const auto matched = match_labels({"GGG", "AAA", "CCC"}, l);
  CHECK(matched == std::vector<std::string>{"htoA", "htoA", "htoB"});
  REQUIRE_INPUT_ERROR(match_labels({"AAA", "TTT"}, l), "1 of 2 cells have no label", "'TTT'");
  CHECK(match_labels({"AAA", "TTT"}, l, true)[1].empty());
  const LabelCodes codes = encode_labels({"b", "a", "", "b"});
  CHECK(codes.categories == std::vector<std::string>{"a", "b"});
  CHECK(codes.codes == std::vector<int>{1, 0, -1, 1});

  o.column = "nope";
  REQUIRE_INPUT_ERROR(read_labels(join(d, "meta.tsv.gz"), o), "meta.tsv.gz:1", "no column named 'nope'");
  REQUIRE_INPUT_ERROR(read_labels_buffer("c\tl\nA\tx\nB\tx\nA\ty\n", {}, "dup.tsv"), "dup.tsv:4", "'A'", "line 2");
  REQUIRE_INPUT_ERROR(read_labels_buffer("c\tl\nA\tx\nB\n", {}, "short.tsv"), "short.tsv:3", "need field 2");
}

TEST_CASE("read_counts picks the reader from the path", "[data][read_counts]") {
  const std::string d = temp_dir("detect");
  const CsrMatrix ref = random_counts(30, 20, 0.2, 99);
  write_10x_mtx_dir(join(d, "folder"), ref);
  write_file(join(d, "m.mtx.gz"), mtx_text(ref), 6);
  write_h5ad(join(d, "a.h5ad"), ref);
  write_file(join(d, "t.tsv"), dense_text(ref, '\t', false));
  CHECK(detect_count_format(join(d, "folder")) == CountFormat::mtx_dir);
  CHECK(detect_count_format(join(d, "m.mtx.gz")) == CountFormat::mtx);
  CHECK(detect_count_format(join(d, "a.h5ad")) == CountFormat::h5ad);
  CHECK(detect_count_format(join(d, "t.tsv")) == CountFormat::dense_table);
  require_same(read_counts(join(d, "folder")), ref);
  require_same(read_counts(join(d, "m.mtx.gz")), ref, false);
  require_same(read_counts(join(d, "a.h5ad")), ref);
  require_same(read_counts(join(d, "t.tsv")), ref);
  write_file(join(d, "x.json"), "{}");
  REQUIRE_INPUT_ERROR(read_counts(join(d, "x.json")), "x.json", "unknown count-matrix format");
  REQUIRE_INPUT_ERROR(read_counts(join(d, "missing.h5")), "missing.h5", "no such file");
  // A 10x .h5 that is really text.
  write_file(join(d, "fake.h5"), "not hdf5");
  REQUIRE_INPUT_ERROR(read_counts(join(d, "fake.h5")), "fake.h5", "not an HDF5 file");
}

TEST_CASE("TSV writers: a value matrix per cell and a column per cell", "[data][writer]") {
  const std::string d = temp_dir("tsv_write");
  // [2 features x 3 cells], column-major: column j is cell j.
  const std::vector<float> z = {0.5f, -1.25f, 2.f, 3.f, 1e-7f, 0.1f};
  write_tsv_matrix(join(d, "latent.tsv"), {"a", "b", "c"}, MatrixView<const float>(z.data(), 2, 3));
  CHECK(read_bytes(join(d, "latent.tsv")) == "cell\tv1\tv2\na\t0.5\t-1.25\nb\t2\t3\nc\t1e-07\t0.1\n");
  write_tsv_column(join(d, "clusters.tsv"), {"a", "b", "c"}, std::vector<int>{2, 0, 1}, "cluster");
  CHECK(read_bytes(join(d, "clusters.tsv")) == "cell\tcluster\na\t2\nb\t0\nc\t1\n");
  write_tsv_column(join(d, "labels.tsv"), {"a"}, std::vector<std::string>{"T cell"}, "label");
  const CellLabels back = read_labels(join(d, "labels.tsv"), LabelOptions{"label"});
  CHECK(back.labels == std::vector<std::string>{"T cell"});
  REQUIRE_INPUT_ERROR(write_tsv_column(join(d, "bad.tsv"), {"a"}, std::vector<int>{1, 2}), "bad.tsv", "1 cell names");
  REQUIRE_INPUT_ERROR(write_tsv_matrix(join(d, "nodir/x.tsv"), {"a", "b", "c"}, MatrixView<const float>(z.data(), 2, 3)),
                      "cannot create");
}
