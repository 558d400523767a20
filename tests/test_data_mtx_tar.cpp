// 10x MTX folders inside tar archives: every layout gives exactly what read_10x_mtx_dir gives for
// the same files extracted; broken archives give an InputError naming the archive and member.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <utility>

#include "data_test_util.hpp"
#include "scvae/data/mtx_tar_reader.hpp"
#include "scvae/data/read_counts.hpp"
#include "tar_test_util.hpp"

using namespace scvae;
using namespace scvae_test;

namespace {

using Files = std::vector<std::pair<std::string, std::string>>;  // base name -> text (before gzip)

// A 10x folder's files for ref: v3 (gzipped, 3-column features with one antibody) or v2 (plain).
Files tenx_files(const CsrMatrix& ref, bool v3) {
  std::vector<std::string> feats;
  for (Index j = 0; j < ref.n_cols; ++j) {
    std::string f = "ENSG" + std::to_string(1000 + j) + "\tSYM" + std::to_string(j);
    if (v3) f += j == 3 ? "\tAntibody Capture" : "\tGene Expression";
    feats.push_back(f);
  }
  if (v3)
    return {{"matrix.mtx.gz", mtx_text(ref)},
            {"features.tsv.gz", lines_text(feats)},
            {"barcodes.tsv.gz", lines_text(ref.row_names)}};
  return {{"matrix.mtx", mtx_text(ref)}, {"genes.tsv", lines_text(feats)}, {"barcodes.tsv", lines_text(ref.row_names)}};
}

bool gz_name(const std::string& n) { return n.size() > 3 && n.compare(n.size() - 3, 3, ".gz") == 0; }

// The folder extracted: each file written (gzipped when its name says so).
void extract(const std::string& dir, const Files& files) {
  fs::create_directories(dir);
  for (const auto& [name, text] : files) write_file(join(dir, name), text, gz_name(name) ? 6 : 0);
}

// The files as archive members under `folder`, in the given order of indices.
void add_members(TarWriter& t, const std::string& folder, const Files& files, std::vector<int> order = {},
                 TarLongNames how = TarLongNames::gnu) {
  if (order.empty())
    for (int i = 0; i < static_cast<int>(files.size()); ++i) order.push_back(i);
  for (int i : order) {
    const auto& [name, text] = files[static_cast<std::size_t>(i)];
    t.file(folder.empty() ? name : folder + "/" + name, gz_name(name) ? gzip_bytes(text) : text, how);
  }
}

std::vector<ReadOptions> option_variants() {
  std::vector<ReadOptions> v(4);
  v[1].gene_names = GeneNames::symbol;
  v[2].gene_names = GeneNames::id;
  v[3].feature_type = "Gene Expression";
  return v;
}

}  // namespace

TEST_CASE("read_10x_mtx_tar: a v3 folder in a .tar.gz, members out of order", "[data][mtx][tar]") {
  const std::string d = temp_dir("tar_v3");
  const CsrMatrix ref = random_counts(50, 40, 0.2, 21);
  const Files files = tenx_files(ref, true);
  extract(join(d, "filtered_feature_bc_matrix"), files);
  TarWriter t;
  t.dir("filtered_feature_bc_matrix");
  add_members(t, "filtered_feature_bc_matrix", files, {2, 0, 1});
  write_file(join(d, "v3.tar.gz"), t.finish(), 6);  // gzopen "wb6"
  write_file(join(d, "v3.tgz"), t.finish(), 6);
  write_bytes(join(d, "v3.tar"), t.finish());

  for (const ReadOptions& o : option_variants()) {
    const CsrMatrix want = read_10x_mtx_dir(join(d, "filtered_feature_bc_matrix"), o);
    for (const char* f : {"v3.tar.gz", "v3.tgz", "v3.tar"}) {
      const CsrMatrix got = read_10x_mtx_tar(join(d, f), o);
      got.validate();
      require_same(got, want);
    }
  }
  CHECK(read_10x_mtx_tar(join(d, "v3.tar.gz")).col_names[3] == "ENSG1003");
  for (const char* f : {"v3.tar.gz", "v3.tgz", "v3.tar"}) {
    CHECK(detect_count_format(join(d, f)) == CountFormat::mtx_tar);
    require_same(read_counts(join(d, f)), read_10x_mtx_dir(join(d, "filtered_feature_bc_matrix")));
  }
  require_same(read_10x_mtx_tar_buffer(t.finish()), read_10x_mtx_dir(join(d, "filtered_feature_bc_matrix")));
  write_file(join(d, "x.tar.bz2"), "BZh");
  REQUIRE_INPUT_ERROR(read_counts(join(d, "x.tar.bz2")), "x.tar.bz2", "recompress it with gzip");
}

TEST_CASE("read_10x_mtx_tar: a Cell Ranger v2 tarball among other members", "[data][mtx][tar]") {
  const std::string d = temp_dir("tar_v2");
  const CsrMatrix ref = random_counts(40, 30, 0.25, 22);
  const Files files = tenx_files(ref, false);
  extract(join(d, "mm10"), files);
  TarWriter t;
  t.file("README", "not a count file\n")
      .entry("pax_global_header", 'g', TarWriter::pax_record("comment", "abc"))
      .dir("filtered_gene_bc_matrices")
      .dir("filtered_gene_bc_matrices/mm10")
      .entry("filtered_gene_bc_matrices/mm10/link.mtx", '2', "", "matrix.mtx")  // symbolic link
      .entry("filtered_gene_bc_matrices/mm10/hard", '1', "", "filtered_gene_bc_matrices/mm10/genes.tsv")
      .entry("filtered_gene_bc_matrices/mm10/odd", 'Z', std::string(3000, 'z'))  // unknown type, with data
      .file("__MACOSX/filtered_gene_bc_matrices/mm10/._matrix.mtx", "AppleDouble resource fork")
      .file("filtered_gene_bc_matrices/web_summary.html", std::string(200000, 'h'));
  add_members(t, "./filtered_gene_bc_matrices//mm10", files, {0, 1, 2});  // "./" and "//" as tar may write
  write_bytes(join(d, "v2.tar"), t.finish());
  for (const ReadOptions& o : option_variants()) {
    if (!o.feature_type.empty()) {  // v2 genes.tsv has no type column: the same error as the folder
      REQUIRE_INPUT_ERROR(read_10x_mtx_tar(join(d, "v2.tar"), o), "v2.tar(filtered_gene_bc_matrices/mm10/genes.tsv)",
                          "no feature-type column");
      continue;
    }
    require_same(read_10x_mtx_tar(join(d, "v2.tar"), o), read_10x_mtx_dir(join(d, "mm10"), o));
  }
  // The folder's genome name may be given even when it is the only folder.
  ReadOptions g;
  g.genome = "mm10";
  require_same(read_10x_mtx_tar(join(d, "v2.tar"), g), read_10x_mtx_dir(join(d, "mm10")));
}

TEST_CASE("read_10x_mtx_tar: long paths (GNU 'L', pax path, ustar prefix), base-256 sizes, the top level",
          "[data][mtx][tar]") {
  const std::string d = temp_dir("tar_long");
  const CsrMatrix ref = random_counts(30, 25, 0.3, 23);
  const Files files = tenx_files(ref, true);
  extract(join(d, "x"), files);
  const CsrMatrix want = read_10x_mtx_dir(join(d, "x"));
  const std::string mid = "outs/" + std::string(110, 'a') + "/mm10";     // 120 bytes: prefix-able
  const std::string deep = "outs/" + std::string(150, 'b') + "/" + std::string(150, 'c');  // > 255
  for (TarLongNames how : {TarLongNames::gnu, TarLongNames::pax, TarLongNames::ustar_prefix}) {
    INFO("mode " << static_cast<int>(how));
    TarWriter t;
    add_members(t, mid, files, {1, 2, 0}, how);
    require_same(read_10x_mtx_tar_buffer(t.finish(), {}, "long.tar"), want);
    if (how == TarLongNames::ustar_prefix) continue;
    TarWriter u;
    add_members(u, deep, files, {}, how);
    require_same(read_10x_mtx_tar_buffer(u.finish(), {}, "deep.tar"), want);
  }
  TarWriter b;
  for (const auto& [name, text] : files) b.file("m/" + name, gzip_bytes(text), TarLongNames::gnu, true);
  require_same(read_10x_mtx_tar_buffer(b.finish()), want);
  TarWriter top;  // tar -C folder . : the files at the archive's top level
  add_members(top, "", files);
  require_same(read_10x_mtx_tar_buffer(top.finish()), want);
  // A pax size record overrides the header's size field (as for members of 8 GiB and more).
  TarWriter p;
  add_members(p, "m", {files[1], files[2]});
  const std::string mtx = gzip_bytes(files[0].second);
  p.entry("PaxHeaders/m", 'x', TarWriter::pax_record("size", std::to_string(mtx.size())));
  std::string h = TarWriter::header("m/matrix.mtx.gz", 0, '0');
  p.raw(h).raw(mtx).raw(std::string((512 - mtx.size() % 512) % 512, '\0'));
  require_same(read_10x_mtx_tar_buffer(p.finish()), want);
}

TEST_CASE("read_10x_mtx_tar: a matrix larger than the read buffers streams through", "[data][mtx][tar]") {
  const std::string d = temp_dir("tar_large");
  const CsrMatrix ref = random_counts(2000, 1500, 0.15, 24);  // ~450k entries, ~6 MB of text
  for (bool v3 : {true, false}) {
    const Files files = tenx_files(ref, v3);
    extract(join(d, v3 ? "v3" : "v2"), files);
    TarWriter t;
    add_members(t, "f", files, {0, 2, 1});
    write_file(join(d, "big.tar.gz"), t.finish(), 1);
    require_same(read_10x_mtx_tar(join(d, "big.tar.gz")), read_10x_mtx_dir(join(d, v3 ? "v3" : "v2")));
  }
}

TEST_CASE("read_10x_mtx_tar: the folder reader's choice among file names; a later copy replaces",
          "[data][mtx][tar]") {
  const std::string d = temp_dir("tar_prefer");
  const CsrMatrix a = random_counts(20, 15, 0.3, 25), b = random_counts(20, 15, 0.3, 26);
  const Files fa = tenx_files(a, true), fb = tenx_files(b, false);
  // Both kinds of names in one folder: matrix.mtx.gz beats matrix.mtx, features beats genes.
  const Files both = {fa[0], fa[1], fa[2], fb[0], fb[1], fb[2]};
  extract(join(d, "both"), both);
  const CsrMatrix want = read_10x_mtx_dir(join(d, "both"));
  require_same(want, a, false);
  for (std::vector<int> order : {std::vector<int>{0, 1, 2, 3, 4, 5}, {3, 4, 5, 0, 1, 2}, {3, 1, 5, 0, 4, 2}}) {
    TarWriter t;
    add_members(t, "both", both, order);
    require_same(read_10x_mtx_tar_buffer(t.finish()), want);
  }
  // The same member twice: the later one is what extraction leaves.
  TarWriter t;
  add_members(t, "f", fb);
  t.file("f/matrix.mtx", mtx_text(a)).file("f/barcodes.tsv", lines_text(a.row_names));
  const CsrMatrix got = read_10x_mtx_tar_buffer(t.finish());
  require_same(got, a, false);
  CHECK(got.row_names == a.row_names);
}

TEST_CASE("read_10x_mtx_tar: several genome folders need ReadOptions::genome", "[data][mtx][tar]") {
  const std::string d = temp_dir("tar_genomes");
  const CsrMatrix mm = random_counts(20, 15, 0.3, 27), hg = random_counts(25, 18, 0.3, 28);
  const Files fm = tenx_files(mm, false), fh = tenx_files(hg, false);
  extract(join(d, "mm10"), fm);
  extract(join(d, "hg19"), fh);
  TarWriter t;
  add_members(t, "filtered_gene_bc_matrices/mm10", fm, {2, 1});
  add_members(t, "filtered_gene_bc_matrices/hg19", fh);
  add_members(t, "filtered_gene_bc_matrices/mm10", fm, {0});  // the mm10 matrix comes last
  write_bytes(join(d, "two.tar"), t.finish());
  REQUIRE_INPUT_ERROR(read_10x_mtx_tar(join(d, "two.tar")), "two.tar", "several 10x matrix folders",
                      "filtered_gene_bc_matrices/mm10", "filtered_gene_bc_matrices/hg19", "genome");
  ReadOptions o;
  o.genome = "hg19";
  require_same(read_10x_mtx_tar(join(d, "two.tar"), o), read_10x_mtx_dir(join(d, "hg19")));
  o.genome = "mm10";
  require_same(read_10x_mtx_tar(join(d, "two.tar"), o), read_10x_mtx_dir(join(d, "mm10")));
  o.genome = "filtered_gene_bc_matrices/hg19";
  require_same(read_10x_mtx_tar(join(d, "two.tar"), o), read_10x_mtx_dir(join(d, "hg19")));
  o.genome = "GRCh38";
  REQUIRE_INPUT_ERROR(read_10x_mtx_tar(join(d, "two.tar"), o), "no 10x matrix folder named 'GRCh38'",
                      "filtered_gene_bc_matrices/mm10, filtered_gene_bc_matrices/hg19");

  // The same genome under raw/ and filtered/: the last component is not enough.
  TarWriter r;
  add_members(r, "raw_gene_bc_matrices/mm10", fh);
  add_members(r, "filtered_gene_bc_matrices/mm10", fm);
  o.genome = "mm10";
  REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(r.finish(), o), "several 10x matrix folders named 'mm10'", "full path");
  o.genome = "raw_gene_bc_matrices/mm10";
  require_same(read_10x_mtx_tar_buffer(r.finish(), o), read_10x_mtx_dir(join(d, "hg19")));
}

TEST_CASE("read_10x_mtx_tar: errors name the archive and the member", "[data][mtx][tar][errors]") {
  const std::string d = temp_dir("tar_errors");
  const CsrMatrix ref = random_counts(30, 20, 0.3, 29);
  const Files files = tenx_files(ref, false);
  TarWriter t;
  t.dir("f");
  add_members(t, "f", files);
  const std::string good = t.finish();
  const std::string content = t.finish(false);  // without the end-of-archive blocks

  SECTION("truncated anywhere before the end-of-archive block") {
    for (std::size_t cut = 0; cut < content.size(); cut += cut < 2048 ? 61 : 509) {
      INFO("cut at " << cut);
      REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(content.substr(0, cut), {}, "cut.tar"), "cut.tar");
    }
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(content, {}, "cut.tar"), "cut.tar",
                        "without the end-of-archive block");
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(content.substr(0, 1024 + 100), {}, "cut.tar"),
                        "cut.tar: truncated tar archive: member 'f/matrix.mtx' ends after 100 of its");
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(content.substr(0, 512 + 100), {}, "cut.tar"),
                        "ends at byte 612 inside a header");
    // One zero block is enough to end it (GNU tar's "lone zero block").
    require_same(read_10x_mtx_tar_buffer(content + std::string(512, '\0')), read_10x_mtx_tar_buffer(good));
  }
  SECTION("a truncated .tar.gz names the member being read") {
    const std::string gz = gzip_bytes(good);
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(gz.substr(0, gz.size() / 2), {}, "cut.tar.gz"),
                        "cut.tar.gz: truncated gzip stream", "(in tar member 'f/");
    const std::string members = tenx_files(ref, true)[0].second;  // a gzipped member, cut
    TarWriter u;
    u.file("g/matrix.mtx.gz", gzip_bytes(members).substr(0, 200));
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(u.finish(), {}, "m.tar"), "m.tar(g/matrix.mtx.gz)", "truncated gzip");
    std::string bad = gzip_bytes(members);
    bad[bad.size() / 2] ^= 0x55;
    TarWriter v;
    v.file("g/matrix.mtx.gz", bad);
    bool thrown = false;
    try {
      read_10x_mtx_tar_buffer(v.finish(), {}, "m.tar");
    } catch (const InputError& e) {
      thrown = true;
      CHECK(std::string(e.what()).find("m.tar(g/matrix.mtx.gz)") != std::string::npos);
    }
    CHECK(thrown);
  }
  SECTION("bad checksums, sizes and extended headers") {
    std::string s = good;
    s[512 + 10] ^= 1;  // the second header (f/matrix.mtx)
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(s, {}, "c.tar"), "c.tar", "bad tar header checksum at byte 512");
    s = good;
    s[0] ^= 1;
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(s, {}, "c.tar"), "bad tar header checksum at byte 0",
                        "not a tar archive");
    s = good;
    s[512 + 124] = '9';
    TarWriter::set_checksum(s, 512);
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(s, {}, "c.tar"), "bad size field", "byte 512");
    s = good;
    s[512 + 124] = static_cast<char>(0xff);  // negative base-256
    TarWriter::set_checksum(s, 512);
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(s, {}, "c.tar"), "bad size field");
    // A GNU long name claiming 2^40 bytes is refused before anything is allocated.
    TarWriter l;
    l.raw(TarWriter::header("././@LongLink", std::uint64_t{1} << 40, 'L', "", true));
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(l.finish(), {}, "l.tar"), "GNU long name of 1099511627776 bytes");
    TarWriter p;
    p.entry("PaxHeaders/x", 'x', "13 path=abc\n");  // says 13 bytes, has 12
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(p.finish(), {}, "p.tar"), "malformed pax extended header at byte 0");
    TarWriter q;  // a member claiming far more data than the archive has
    q.raw(TarWriter::header("f/matrix.mtx", std::uint64_t{1} << 40, '0', "", true));
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(q.finish(), {}, "q.tar"), "q.tar", "member 'f/matrix.mtx' ends after");
  }
  SECTION("not a tar archive, empty") {
    write_file(join(d, "text.tar.gz"), mtx_text(ref), 6);
    REQUIRE_INPUT_ERROR(read_counts(join(d, "text.tar.gz")), "text.tar.gz", "not a tar archive");
    write_bytes(join(d, "empty.tar"), "");
    REQUIRE_INPUT_ERROR(read_counts(join(d, "empty.tar")), "empty.tar", "empty file");
    REQUIRE_INPUT_ERROR(read_counts(join(d, "missing.tgz")), "missing.tgz", "no such file");
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar(d), "is a directory");
  }
  SECTION("missing members, no folder") {
    TarWriter a;
    add_members(a, "f", files, {0, 1});
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(a.finish(), {}, "a.tar"), "a.tar",
                        "no barcodes.tsv[.gz] in the 10x folder 'f'");
    TarWriter b;
    add_members(b, "f", files, {2, 0});
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(b.finish(), {}, "b.tar"), "no features.tsv[.gz] or genes.tsv[.gz]",
                        "'f'");
    TarWriter c;
    add_members(c, "f", files, {1, 2});
    c.file("f/matrix.mtx.bak", files[0].second);
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(c.finish(), {}, "c.tar"), "c.tar",
                        "no 10x matrix folder in this archive");
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(TarWriter().finish(), {}, "e.tar"), "no 10x matrix folder");
    TarWriter top;
    add_members(top, "", files, {0, 2});
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(top.finish(), {}, "t.tar"), "in the 10x folder '.'");
  }
  SECTION("errors inside a member name it, with the line") {
    Files f = files;
    f[2].second += "EXTRA-1\n";
    TarWriter a;
    add_members(a, "f", f);
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(a.finish(), {}, "a.tar"), "a.tar(f/barcodes.tsv)",
                        "31 cell names but a.tar(f/matrix.mtx) has 30 cells");
    f = files;
    f[0].second = "%%MatrixMarket matrix coordinate integer general\n3 2 3\n1 1 1\n3 1 -5\n2 2 2\n";
    TarWriter b;
    add_members(b, "f", f);
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar_buffer(b.finish(), {}, "b.tar"), "b.tar(f/matrix.mtx):4:", "negative");
    // A duplicate entry: the two lines are found by reading the archive again.
    f[0].second = "%%MatrixMarket matrix coordinate integer general\n3 2 4\n1 1 1\n3 1 5\n2 2 2\n3 1 7\n";
    f[0].first = "matrix.mtx.gz";
    TarWriter c;
    add_members(c, "f", f, {1, 0, 2});
    write_file(join(d, "dup.tar.gz"), c.finish(), 6);
    REQUIRE_INPUT_ERROR(read_10x_mtx_tar(join(d, "dup.tar.gz")), "dup.tar.gz(f/matrix.mtx.gz):6:",
                        "duplicate entry for row 3, column 1 (lines 4 and 6)");
  }
}

TEST_CASE("read_10x_mtx_tar: archives made by the system's tar", "[data][mtx][tar]") {
  if (std::system("tar --version >/dev/null 2>&1") != 0) {
    WARN("SKIPPED: no 'tar' program on this machine");
    return;
  }
  const std::string d = temp_dir("tar_system");
  const CsrMatrix ref = random_counts(60, 45, 0.2, 30);
  // Paths over 100 bytes, each directory splittable for ustar's prefix.
  const std::string folder =
      "outs/" + std::string(90, 'p') + "/" + std::string(40, 'q') + "/filtered_feature_bc_matrix";
  extract(join(d, folder), tenx_files(ref, true));
  const CsrMatrix want = read_10x_mtx_dir(join(d, folder));
  for (const char* format : {"gnu", "oldgnu", "pax", "ustar"}) {
    INFO("tar --format=" << format);
    const std::string out = join(d, std::string(format) + ".tar.gz");
    const std::string cmd = "tar --format=" + std::string(format) + " -czf '" + out + "' -C '" + d + "' outs";
    REQUIRE(std::system(cmd.c_str()) == 0);
    require_same(read_10x_mtx_tar(out), want);
  }
  const std::string dot = join(d, "dot.tgz");  // members named "./matrix.mtx.gz"
  REQUIRE(std::system(("tar -czf '" + dot + "' -C '" + join(d, folder) + "' .").c_str()) == 0);
  require_same(read_counts(dot), want);
}
