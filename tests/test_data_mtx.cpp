// MatrixMarket and 10x MTX folder reading, the 10x writer, and the error policy on bad input.
#include <catch2/catch.hpp>

#include "data_test_util.hpp"
#include "scvae/data/mtx_reader.hpp"
#include "scvae/data/mtx_writer.hpp"

using namespace scvae;
using namespace scvae_test;

TEST_CASE("read_mtx: 10x genes x cells orientation becomes cells x genes CSR", "[data][mtx]") {
  const std::string d = temp_dir("mtx_basic");
  // 3 genes x 2 cells: cell1 = {g1: 1, g3: 5}, cell2 = {g2: 2}
  write_file(join(d, "m.mtx"), "%%MatrixMarket matrix coordinate integer general\n%c\n3 2 3\n1 1 1\n3 1 5\n2 2 2\n");
  const CsrMatrix m = read_mtx(join(d, "m.mtx"));
  m.validate();
  REQUIRE(m.n_rows == 2);
  REQUIRE(m.n_cols == 3);
  CHECK(m.indptr == std::vector<std::int64_t>{0, 2, 3});
  CHECK(m.indices == std::vector<std::int32_t>{0, 2, 1});
  CHECK(m.values == std::vector<float>{1, 5, 2});
  CHECK(m.row_names.empty());

  ReadOptions cg;
  cg.orientation = Orientation::cells_by_genes;
  const CsrMatrix t = read_mtx(join(d, "m.mtx"), cg);  // now 3 cells x 2 genes
  REQUIRE(t.n_rows == 3);
  CHECK(t.indptr == std::vector<std::int64_t>{0, 1, 2, 3});
  CHECK(t.indices == std::vector<std::int32_t>{0, 1, 0});
}

TEST_CASE("read_mtx: gzipped, shuffled, plain and in-memory inputs give the same matrix", "[data][mtx]") {
  const std::string d = temp_dir("mtx_equiv");
  const CsrMatrix ref = random_counts(150, 90, 0.1, 7);
  write_file(join(d, "sorted.mtx.gz"), mtx_text(ref), 6);
  write_file(join(d, "shuffled.mtx"), mtx_text(ref, true, true, 3));
  write_file(join(d, "cells_rows.mtx"), mtx_text(ref, false, true, 4));
  const std::string real = mtx_text(ref, true, false, 1, "real");
  const CsrMatrix a = read_mtx(join(d, "sorted.mtx.gz"));
  const CsrMatrix b = read_mtx(join(d, "shuffled.mtx"));
  ReadOptions cg;
  cg.orientation = Orientation::cells_by_genes;
  const CsrMatrix c = read_mtx(join(d, "cells_rows.mtx"), cg);
  const CsrMatrix e = read_mtx_buffer(real);
  for (const CsrMatrix* x : {&a, &b, &c, &e}) {
    x->validate();
    require_same(*x, ref, false);
  }
}

TEST_CASE("read_mtx: pattern matrices, explicit zeros, '3.0' values and concatenated gzip members", "[data][mtx]") {
  const CsrMatrix p = read_mtx_buffer("%%MatrixMarket matrix coordinate pattern general\n2 2 2\n1 1\n2 2\n");
  CHECK(p.values == std::vector<float>{1, 1});
  const CsrMatrix z = read_mtx_buffer("%%MatrixMarket matrix coordinate real general\n2 2 3\n1 1 0\n2 1 3.0\n2 2 1e1\n");
  CHECK(z.nnz() == 2);  // the explicit zero is dropped
  CHECK(z.values == std::vector<float>{3, 10});

  const std::string d = temp_dir("mtx_members");
  write_file(join(d, "a.gz"), "%%MatrixMarket matrix coordinate integer general\n2 2 2\n", 6);
  write_file(join(d, "b.gz"), "1 1 4\n2 2 7\n", 6);
  write_bytes(join(d, "cat.mtx.gz"), read_bytes(join(d, "a.gz")) + read_bytes(join(d, "b.gz")));
  const CsrMatrix c = read_mtx(join(d, "cat.mtx.gz"));
  CHECK(c.values == std::vector<float>{4, 7});
}

TEST_CASE("read_mtx: long lines and CRLF line ends", "[data][mtx]") {
  std::string s = "%%MatrixMarket matrix coordinate integer general\r\n% " + std::string(9 << 20, 'x') + "\r\n2 2 1\r\n2 1 3\r\n";
  const CsrMatrix m = read_mtx_buffer(s);
  CHECK(m.n_rows == 2);
  CHECK(m.indices == std::vector<std::int32_t>{1});
}

TEST_CASE("read_10x_mtx_dir: Cell Ranger v2 and v3 folders", "[data][mtx][10x]") {
  const CsrMatrix ref = random_counts(40, 30, 0.2, 11);
  std::vector<std::string> ids, feats, genes;
  for (Index j = 0; j < ref.n_cols; ++j) {
    ids.push_back("ENSG" + std::to_string(1000 + j));
    feats.push_back(ids.back() + "\tSYM" + std::to_string(j) + "\tGene Expression");
    genes.push_back(ids.back() + "\tSYM" + std::to_string(j));
  }
  SECTION("v3, gzipped") {
    const std::string d = temp_dir("tenx_v3");
    write_file(join(d, "matrix.mtx.gz"), mtx_text(ref), 6);
    write_file(join(d, "features.tsv.gz"), lines_text(feats), 6);
    write_file(join(d, "barcodes.tsv.gz"), lines_text(ref.row_names), 6);
    const CsrMatrix m = read_10x_mtx_dir(d);
    require_same(m, ref, false);
    CHECK(m.row_names == ref.row_names);
    CHECK(m.col_names == ids);  // ids are present and unique
    ReadOptions o;
    o.gene_names = GeneNames::symbol;
    CHECK(read_10x_mtx_dir(d, o).col_names[3] == "SYM3");
  }
  SECTION("v2, plain") {
    const std::string d = temp_dir("tenx_v2");
    write_file(join(d, "matrix.mtx"), mtx_text(ref));
    write_file(join(d, "genes.tsv"), lines_text(genes));
    write_file(join(d, "barcodes.tsv"), lines_text(ref.row_names));
    const CsrMatrix m = read_10x_mtx_dir(d);
    require_same(m, ref, false);
    CHECK(m.col_names == ids);
  }
}

TEST_CASE("gene names: NA ids fall back to symbols; feature_type filter", "[data][mtx][10x]") {
  const std::string d = temp_dir("tenx_names");
  // 4 features x 2 cells; feature 2 has id NA; feature 4 is an antibody.
  write_file(join(d, "matrix.mtx"), "%%MatrixMarket matrix coordinate integer general\n4 2 4\n1 1 1\n2 1 2\n4 1 9\n3 2 3\n");
  write_file(join(d, "features.tsv"),
             "ENSG1\tA\tGene Expression\nNA\tB\tGene Expression\nENSG3\tC\tGene Expression\nAB1\tCD3\tAntibody Capture\n");
  write_file(join(d, "barcodes.tsv"), "AAAC\nAAAG\n");
  const CsrMatrix m = read_10x_mtx_dir(d);
  CHECK(m.col_names == std::vector<std::string>{"A", "B", "C", "CD3"});  // symbols: ids not all present
  ReadOptions ids;
  ids.gene_names = GeneNames::id;
  CHECK(read_10x_mtx_dir(d, ids).col_names[1] == "NA");
  ReadOptions ge;
  ge.feature_type = "Gene Expression";
  const CsrMatrix g = read_10x_mtx_dir(d, ge);
  CHECK(g.n_cols == 3);
  CHECK(g.nnz() == 3);
  CHECK(g.col_names == std::vector<std::string>{"A", "B", "C"});

  // Neither ids nor symbols unique: id per row, symbol for NA, duplicates suffixed.
  write_file(join(d, "features.tsv"), "NA\tX\nE2\tY\nNA\tX\nE2\tZ\n");
  CHECK(read_10x_mtx_dir(d).col_names == std::vector<std::string>{"X", "E2", "X-1", "E2-1"});
}

TEST_CASE("write_10x_mtx_dir round-trips through read_10x_mtx_dir", "[data][mtx][writer]") {
  const std::string d = temp_dir("tenx_write");
  const CsrMatrix ref = random_counts(60, 45, 0.15, 5, 3000);
  write_10x_mtx_dir(join(d, "out"), ref);
  CHECK(fs::exists(join(d, "out/matrix.mtx.gz")));
  CHECK(fs::exists(join(d, "out/features.tsv.gz")));
  require_same(read_10x_mtx_dir(join(d, "out")), ref);
  write_10x_mtx_dir(join(d, "plain"), ref, MtxWriteOptions{0});
  CHECK(fs::exists(join(d, "plain/matrix.mtx")));
  require_same(read_10x_mtx_dir(join(d, "plain")), ref);
}

TEST_CASE("read_mtx: bad input gets an InputError naming the file and line", "[data][mtx][errors]") {
  const std::string d = temp_dir("mtx_errors");
  const std::string hdr = "%%MatrixMarket matrix coordinate integer general\n";
  const auto bad = [&](const std::string& name, const std::string& text) {
    const std::string p = join(d, name);
    write_file(p, text);
    return p;
  };
  SECTION("missing file") { REQUIRE_INPUT_ERROR(read_mtx(join(d, "nope.mtx")), "nope.mtx", "cannot open"); }
  SECTION("a directory") { REQUIRE_INPUT_ERROR(read_mtx(d), "is a directory"); }
  SECTION("empty file") { REQUIRE_INPUT_ERROR(read_mtx(bad("e.mtx", "")), "e.mtx", "empty file"); }
  SECTION("wrong headers") {
    REQUIRE_INPUT_ERROR(read_mtx(bad("h1.mtx", "1 1 1\n1 1 1\n")), "h1.mtx:1", "not a MatrixMarket file");
    REQUIRE_INPUT_ERROR(read_mtx(bad("h2.mtx", "%%MatrixMarket matrix array integer general\n1 1\n1\n")), "h2.mtx:1",
                        "coordinate");
    REQUIRE_INPUT_ERROR(read_mtx(bad("h3.mtx", "%%MatrixMarket matrix coordinate complex general\n")), "h3.mtx:1",
                        "complex");
    REQUIRE_INPUT_ERROR(read_mtx(bad("h4.mtx", "%%MatrixMarket matrix coordinate integer symmetric\n")), "symmetric");
    REQUIRE_INPUT_ERROR(read_mtx(bad("h5.mtx", hdr + "2 2\n")), "h5.mtx:2", "size line");
    REQUIRE_INPUT_ERROR(read_mtx(bad("h6.mtx", hdr)), "h6.mtx", "missing size line");
  }
  SECTION("index out of range") {
    REQUIRE_INPUT_ERROR(read_mtx(bad("r.mtx", hdr + "3 2 2\n1 1 1\n4 1 1\n")), "r.mtx:4", "row index 4 out of range 1..3");
    REQUIRE_INPUT_ERROR(read_mtx(bad("c.mtx", hdr + "3 2 1\n1 0 1\n")), "c.mtx:3", "column index 0");
  }
  SECTION("bad values") {
    REQUIRE_INPUT_ERROR(read_mtx(bad("n.mtx", hdr + "3 2 2\n1 1 1\n2 1 -4\n")), "n.mtx:4", "negative count", "'-4'");
    REQUIRE_INPUT_ERROR(read_mtx(bad("f.mtx", hdr + "3 2 1\n1 1 2.5\n")), "f.mtx:3", "non-integer count", "'2.5'");
    REQUIRE_INPUT_ERROR(read_mtx(bad("x.mtx", hdr + "3 2 1\n1 1 abc\n")), "x.mtx:3", "not a number");
    // Control bytes are escaped in the message (a binary file must not drive the terminal).
    REQUIRE_INPUT_ERROR(read_mtx(bad("esc.mtx", hdr + "3 2 1\n1 1 \x1b[2J\n")), "esc.mtx:3", "'\\x1b[2J'");
    REQUIRE_INPUT_ERROR(read_mtx(bad("nul.mtx", hdr + "3 2 1\n1 1 5" + std::string(1, '\0') + "x\n")), "nul.mtx:3",
                        "\\x00x'");
    REQUIRE_INPUT_ERROR(read_mtx(bad("m.mtx", hdr + "3 2 1\n1 1\n")), "m.mtx:3", "missing value");
    REQUIRE_INPUT_ERROR(read_mtx(bad("t.mtx", hdr + "3 2 1\n1 1 1 1\n")), "t.mtx:3", "unexpected text");
    REQUIRE_INPUT_ERROR(read_mtx(bad("big.mtx", hdr + "3 2 1\n1 1 99999999999\n")), "big.mtx:3", "too large");
  }
  SECTION("nnz mismatch") {
    REQUIRE_INPUT_ERROR(read_mtx(bad("few.mtx", hdr + "3 2 3\n1 1 1\n2 2 1\n")), "few.mtx", "declares 3 entries",
                        "only 2", "truncated");
    REQUIRE_INPUT_ERROR(read_mtx(bad("many.mtx", hdr + "3 2 1\n1 1 1\n2 2 1\n")), "many.mtx:4", "more entries");
  }
  SECTION("duplicates are rejected naming both lines") {
    REQUIRE_INPUT_ERROR(read_mtx(bad("dup.mtx", hdr + "3 2 4\n1 1 1\n2 2 1\n3 1 1\n1 1 7\n")), "dup.mtx:6",
                        "duplicate entry", "lines 3 and 6");
  }
  SECTION("empty or all-zero matrix") {
    REQUIRE_INPUT_ERROR(read_mtx(bad("z.mtx", hdr + "0 5 0\n")), "z.mtx", "empty matrix");
    REQUIRE_INPUT_ERROR(read_mtx(bad("zz.mtx", hdr + "3 2 1\n1 1 0\n")), "zz.mtx", "no non-zero");
  }
  SECTION("truncated and corrupt gzip") {
    const CsrMatrix ref = random_counts(200, 100, 0.2, 2);
    write_file(join(d, "full.mtx.gz"), mtx_text(ref), 6);
    const std::string bytes = read_bytes(join(d, "full.mtx.gz"));
    write_bytes(join(d, "trunc.mtx.gz"), bytes.substr(0, bytes.size() / 2));
    REQUIRE_INPUT_ERROR(read_mtx(join(d, "trunc.mtx.gz")), "trunc.mtx.gz", "truncated gzip");
    write_bytes(join(d, "trunc8.mtx.gz"), bytes.substr(0, bytes.size() - 4));  // only the trailer is cut
    REQUIRE_INPUT_ERROR(read_mtx(join(d, "trunc8.mtx.gz")), "trunc8.mtx.gz", "gzip");
    std::string corrupt = bytes;
    for (std::size_t i = 100; i < 200; ++i) corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5a);
    write_bytes(join(d, "corrupt.mtx.gz"), corrupt);
    REQUIRE_INPUT_ERROR(read_mtx(join(d, "corrupt.mtx.gz")), "corrupt.mtx.gz");
  }
}

TEST_CASE("read_10x_mtx_dir: missing files and name counts that do not match", "[data][mtx][errors]") {
  const std::string d = temp_dir("tenx_errors");
  const CsrMatrix ref = random_counts(5, 4, 0.5, 3);
  write_file(join(d, "matrix.mtx"), mtx_text(ref));
  REQUIRE_INPUT_ERROR(read_10x_mtx_dir(d), "features.tsv");
  write_file(join(d, "features.tsv"), lines_text({"g1", "g2", "g3", "g4"}));
  REQUIRE_INPUT_ERROR(read_10x_mtx_dir(d), "barcodes.tsv");
  write_file(join(d, "barcodes.tsv"), lines_text({"c1", "c2", "c3", "c4"}));
  REQUIRE_INPUT_ERROR(read_10x_mtx_dir(d), "barcodes.tsv", "4 cell names", "has 5 cells");
  write_file(join(d, "barcodes.tsv"), lines_text({"c1", "c2", "c3", "c4", "c5"}));
  write_file(join(d, "features.tsv"), lines_text({"g1", "g2", "g3"}));
  REQUIRE_INPUT_ERROR(read_10x_mtx_dir(d), "features.tsv", "3 gene names", "has 4 genes");
  write_file(join(d, "features.tsv"), "g1\tA\ng2\n");
  REQUIRE_INPUT_ERROR(read_10x_mtx_dir(d), "features.tsv:2", "expected 2");
  write_file(join(d, "features.tsv"), "g1\n\ng2\ng3\n");
  REQUIRE_INPUT_ERROR(read_10x_mtx_dir(d), "features.tsv:2", "empty line");
  REQUIRE_INPUT_ERROR(read_10x_mtx_dir(join(d, "none")), "not a directory");
}
