// 10x Cell Ranger .h5 (v2, v3), AnnData .h5ad (CSR, CSC, dense; variable- and fixed-length
// strings) and Loom readers, and labels from .h5ad obs / Loom col_attrs columns, on files written
// here with libhdf5, plus their error policy.
#include <catch2/catch.hpp>

#include "data_test_util.hpp"
#include "scvae/data/annotation_labels.hpp"
#include "scvae/data/h5ad_reader.hpp"
#include "scvae/data/h5ad_writer.hpp"
#include "scvae/data/loom_reader.hpp"
#include "scvae/data/read_counts.hpp"
#include "scvae/data/tenx_h5_reader.hpp"

using namespace scvae;
using namespace scvae_test;
namespace h5 = scvae::data_detail::h5;

namespace {

// Knobs to write valid and deliberately broken files.
struct H5Spec {
  bool v3 = true;
  bool fixed_strings = true;  // Cell Ranger writes "|S" fixed-length strings
  std::vector<std::string> ids, symbols, types;
  std::vector<std::string> barcodes;
};

void write_10x_h5(const std::string& path, const CsrMatrix& m, H5Spec s) {
  h5::Handle f = h5::create_file(path);
  const std::string g = s.v3 ? "matrix" : "GRCh38";
  h5::Handle gh = h5::create_group(f.get(), g);
  h5::write_vector(gh.get(), "data", std::vector<std::int32_t>(m.values.begin(), m.values.end()));
  h5::write_vector(gh.get(), "indices", std::vector<std::int64_t>(m.indices.begin(), m.indices.end()));
  h5::write_vector(gh.get(), "indptr", m.indptr);
  h5::write_vector(gh.get(), "shape", std::vector<std::int32_t>{static_cast<std::int32_t>(m.n_cols), static_cast<std::int32_t>(m.n_rows)});
  h5::write_strings(gh.get(), "barcodes", s.barcodes.empty() ? m.row_names : s.barcodes, !s.fixed_strings);
  if (s.ids.empty()) s.ids = m.col_names;
  if (s.v3) {
    h5::Handle fe = h5::create_group(gh.get(), "features");
    h5::write_strings(fe.get(), "id", s.ids, !s.fixed_strings);
    if (!s.symbols.empty()) h5::write_strings(fe.get(), "name", s.symbols, !s.fixed_strings);
    if (!s.types.empty()) h5::write_strings(fe.get(), "feature_type", s.types, !s.fixed_strings);
  } else {
    h5::write_strings(gh.get(), "genes", s.ids, !s.fixed_strings);
    if (!s.symbols.empty()) h5::write_strings(gh.get(), "gene_names", s.symbols, !s.fixed_strings);
  }
}

// Transposes cells x genes CSR into CSC arrays (genes as columns) for the CSC layout tests.
void to_csc(const CsrMatrix& m, std::vector<std::int64_t>& colptr, std::vector<std::int32_t>& rows, std::vector<double>& vals) {
  colptr.assign(static_cast<std::size_t>(m.n_cols) + 1, 0);
  for (auto j : m.indices) ++colptr[j + 1];
  for (Index j = 0; j < m.n_cols; ++j) colptr[j + 1] += colptr[j];
  std::vector<std::int64_t> cur(colptr.begin(), colptr.end() - 1);
  rows.resize(m.indices.size());
  vals.resize(m.values.size());
  for (Index r = 0; r < m.n_rows; ++r)
    for (auto k = m.indptr[r]; k < m.indptr[r + 1]; ++k) {
      const auto p = cur[m.indices[k]]++;
      rows[p] = static_cast<std::int32_t>(r);
      vals[p] = m.values[k];
    }
}

enum class X { csr, csc, dense, old_csr };

// An .h5ad with X (and optionally layers/counts) in the given layout; obs index column named
// "cell_id" through the _index attribute (as anndata does for a named index).
void write_h5ad_variant(const std::string& path, const CsrMatrix& m, X layout, bool fixed_strings,
                        const std::string& matrix_path = "X") {
  h5::Handle f = h5::create_file(path);
  if (layout == X::dense) {
    std::vector<float> dense(static_cast<std::size_t>(m.n_rows * m.n_cols), 0.f);
    for (Index r = 0; r < m.n_rows; ++r)
      for (auto k = m.indptr[r]; k < m.indptr[r + 1]; ++k) dense[r * m.n_cols + m.indices[k]] = m.values[k];
    if (matrix_path != "X") h5::create_group(f.get(), "layers");
    h5::write_array(f.get(), matrix_path, dense.data(), {static_cast<hsize_t>(m.n_rows), static_cast<hsize_t>(m.n_cols)});
  } else {
    h5::Handle x = h5::create_group(f.get(), matrix_path);
    if (layout == X::old_csr) h5::write_string_attr(x.get(), "h5sparse_format", "csr", false);
    else h5::write_string_attr(x.get(), "encoding-type", layout == X::csr ? "csr_matrix" : "csc_matrix");
    h5::write_int_attr(x.get(), "shape", {static_cast<std::int64_t>(m.n_rows), static_cast<std::int64_t>(m.n_cols)});
    if (layout == X::csc) {
      std::vector<std::int64_t> p;
      std::vector<std::int32_t> i;
      std::vector<double> v;
      to_csc(m, p, i, v);
      h5::write_vector(x.get(), "data", v);
      h5::write_vector(x.get(), "indices", i);
      h5::write_vector(x.get(), "indptr", p);
    } else {
      h5::write_vector(x.get(), "data", m.values);
      h5::write_vector(x.get(), "indices", m.indices);
      h5::write_vector(x.get(), "indptr", m.indptr);
    }
  }
  h5::Handle obs = h5::create_group(f.get(), "obs");
  h5::write_string_attr(obs.get(), "_index", "cell_id", fixed_strings);
  h5::write_strings(obs.get(), "cell_id", m.row_names, !fixed_strings);
  h5::Handle var = h5::create_group(f.get(), "var");
  h5::write_strings(var.get(), "_index", m.col_names, !fixed_strings);
}

// A genes x cells dense dataset of m's counts as type T, chunked (chunk_genes x chunk_cells) and
// gzipped as loompy writes it, or contiguous where chunk_genes is 0.
template <class T>
void write_genes_by_cells(hid_t loc, const std::string& name, const CsrMatrix& m, hsize_t chunk_genes,
                          hsize_t chunk_cells) {
  std::vector<T> dense(static_cast<std::size_t>(m.n_rows * m.n_cols), T(0));
  for (Index r = 0; r < m.n_rows; ++r)
    for (auto k = m.indptr[r]; k < m.indptr[r + 1]; ++k)
      dense[static_cast<std::size_t>(m.indices[k] * m.n_rows + r)] = static_cast<T>(m.values[k]);
  const hsize_t dims[2] = {static_cast<hsize_t>(m.n_cols), static_cast<hsize_t>(m.n_rows)};
  h5::Handle sp(H5Screate_simple(2, dims, nullptr), H5Sclose);
  h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (chunk_genes > 0) {
    const hsize_t chunk[2] = {chunk_genes, chunk_cells};
    H5Pset_chunk(dcpl.get(), 2, chunk);
    H5Pset_deflate(dcpl.get(), 4);
  }
  h5::Handle ds(H5Dcreate2(loc, name.c_str(), h5::native_type<T>(), sp.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                H5Dclose);
  REQUIRE(ds);
  REQUIRE(H5Dwrite(ds.get(), h5::native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, dense.data()) >= 0);
}

// A Loom file of m (spec 2.0.1: fixed-length ASCII names), with genes as Accession (ids) and
// "sym<j>" as Gene (symbols), and the same counts doubled in /layers/spliced.
void write_loom(const std::string& path, const CsrMatrix& m, hsize_t chunk_genes = 4, hsize_t chunk_cells = 3) {
  h5::Handle f = h5::create_file(path);
  write_genes_by_cells<float>(f.get(), "matrix", m, chunk_genes, chunk_cells);
  CsrMatrix doubled = m;
  for (auto& v : doubled.values) v *= 2;
  h5::Handle layers = h5::create_group(f.get(), "layers");
  write_genes_by_cells<std::uint16_t>(layers.get(), "spliced", doubled, chunk_genes, chunk_cells);
  h5::Handle rows = h5::create_group(f.get(), "row_attrs");
  h5::write_strings(rows.get(), "Accession", m.col_names, false);
  std::vector<std::string> sym;
  for (Index j = 0; j < m.n_cols; ++j) sym.push_back("sym" + std::to_string(j));
  h5::write_strings(rows.get(), "Gene", sym, false);
  h5::Handle cols = h5::create_group(f.get(), "col_attrs");
  h5::write_strings(cols.get(), "CellID", m.row_names, false);
  h5::create_group(f.get(), "row_graphs");
  h5::create_group(f.get(), "col_graphs");
  h5::write_string_attr(f.get(), "LOOM_SPEC_VERSION", "2.0.1", false);
}

// Rewrites one dataset of an existing file (to corrupt it).
template <class T>
void replace_dataset(const std::string& path, const std::string& name, const std::vector<T>& v) {
  h5::Handle f(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
  REQUIRE(f);
  REQUIRE(H5Ldelete(f.get(), name.c_str(), H5P_DEFAULT) >= 0);
  h5::write_vector(f.get(), name, v);
}

}  // namespace

TEST_CASE("read_10x_h5: Cell Ranger v3 and v2 layouts", "[data][h5][10x]") {
  const std::string d = temp_dir("h5_10x");
  const CsrMatrix ref = random_counts(70, 40, 0.15, 21);
  std::vector<std::string> ids, syms, types;
  for (Index j = 0; j < ref.n_cols; ++j) {
    ids.push_back(j == 3 ? "NA" : "ENSG" + std::to_string(j));
    syms.push_back("S" + std::to_string(j));
    types.push_back(j < 35 ? "Gene Expression" : "Antibody Capture");
  }
  SECTION("v3, fixed-length strings") {
    H5Spec s;
    s.ids = ids, s.symbols = syms, s.types = types;
    write_10x_h5(join(d, "v3.h5"), ref, s);
    const CsrMatrix m = read_10x_h5(join(d, "v3.h5"));
    m.validate();
    require_same(m, ref, false);
    CHECK(m.row_names == ref.row_names);
    CHECK(m.col_names == syms);  // an NA id: symbols used
    ReadOptions o;
    o.feature_type = "Gene Expression";
    const CsrMatrix g = read_10x_h5(join(d, "v3.h5"), o);
    CHECK(g.n_cols == 35);
    CHECK(g.col_names.back() == "S34");
  }
  SECTION("v2, variable-length strings") {
    H5Spec s;
    s.v3 = false, s.fixed_strings = false, s.symbols = syms;
    write_10x_h5(join(d, "v2.h5"), ref, s);
    const CsrMatrix m = read_10x_h5(join(d, "v2.h5"));
    require_same(m, ref);
    ReadOptions o;
    o.genome = "hg19";
    REQUIRE_INPUT_ERROR(read_10x_h5(join(d, "v2.h5"), o), "v2.h5", "/hg19");
  }
}

TEST_CASE("read_h5ad: CSR, CSC, dense, old h5sparse and layers/counts", "[data][h5][h5ad]") {
  const std::string d = temp_dir("h5ad");
  const CsrMatrix ref = random_counts(55, 33, 0.2, 8);
  for (bool fixed : {false, true}) {
    INFO("fixed-length strings: " << fixed);
    for (X layout : {X::csr, X::csc, X::dense, X::old_csr}) {
      INFO("layout " << static_cast<int>(layout));
      const std::string p = join(d, "x.h5ad");
      write_h5ad_variant(p, ref, layout, fixed);
      const CsrMatrix m = read_h5ad(p);
      m.validate();
      require_same(m, ref);
    }
  }
  // layers/counts is preferred over a normalised X.
  const std::string p = join(d, "layers.h5ad");
  write_h5ad_variant(p, ref, X::csr, false, "layers/counts");
  {
    h5::Handle f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    std::vector<float> x(static_cast<std::size_t>(ref.n_rows * ref.n_cols), 0.37f);
    h5::write_array(f.get(), "X", x.data(), {static_cast<hsize_t>(ref.n_rows), static_cast<hsize_t>(ref.n_cols)});
  }
  require_same(read_h5ad(p), ref);
  ReadOptions o;
  o.h5ad_matrix = "X";
  REQUIRE_INPUT_ERROR(read_h5ad(p, o), "layers.h5ad", "/X[0, 0]", "non-integer");
}

TEST_CASE("write_h5ad round-trips through read_h5ad", "[data][h5][h5ad][writer]") {
  const std::string d = temp_dir("h5ad_write");
  const CsrMatrix ref = random_counts(80, 60, 0.1, 31, 500);
  write_h5ad(join(d, "w.h5ad"), ref);
  require_same(read_h5ad(join(d, "w.h5ad")), ref);
}

TEST_CASE("HDF5 readers: bad input gets an InputError naming the file and field", "[data][h5][errors]") {
  const std::string d = temp_dir("h5_errors");
  const CsrMatrix ref = random_counts(20, 10, 0.3, 4);
  const std::string good = join(d, "good.h5ad");
  write_h5ad_variant(good, ref, X::csr, false);
  const auto copy = [&](const std::string& name) {
    const std::string p = join(d, name);
    fs::copy_file(good, p, fs::copy_options::overwrite_existing);
    return p;
  };
  SECTION("missing, not HDF5, truncated") {
    REQUIRE_INPUT_ERROR(read_h5ad(join(d, "none.h5ad")), "none.h5ad", "No such file");
    write_file(join(d, "text.h5ad"), "hello\n");
    REQUIRE_INPUT_ERROR(read_h5ad(join(d, "text.h5ad")), "text.h5ad", "not an HDF5 file");
    const std::string bytes = read_bytes(good);
    write_bytes(join(d, "trunc.h5ad"), bytes.substr(0, bytes.size() / 2));
    REQUIRE_INPUT_ERROR(read_h5ad(join(d, "trunc.h5ad")), "trunc.h5ad");
    REQUIRE_INPUT_ERROR(read_10x_h5(good), "good.h5ad", "no 10x matrix group");
  }
  SECTION("index out of range") {
    auto idx = ref.indices;
    idx[3] = 10;
    const std::string p = copy("oor.h5ad");
    replace_dataset(p, "X/indices", idx);
    REQUIRE_INPUT_ERROR(read_h5ad(p), "oor.h5ad", "/X/indices[3] = 10 out of range 0..9");
  }
  SECTION("negative and non-integer counts") {
    auto v = ref.values;
    v[5] = -2.f;
    std::string p = copy("neg.h5ad");
    replace_dataset(p, "X/data", v);
    REQUIRE_INPUT_ERROR(read_h5ad(p), "neg.h5ad", "/X/data[5]", "negative count");
    v[5] = 0.5f;
    p = copy("frac.h5ad");
    replace_dataset(p, "X/data", v);
    REQUIRE_INPUT_ERROR(read_h5ad(p), "frac.h5ad", "/X/data[5]", "non-integer count");
  }
  SECTION("nnz mismatch and inconsistent indptr") {
    auto v = ref.values;
    v.pop_back();
    std::string p = copy("short.h5ad");
    replace_dataset(p, "X/data", v);
    REQUIRE_INPUT_ERROR(read_h5ad(p), "short.h5ad", "/X/data has", "/X/indices has");
    auto ip = ref.indptr;
    ip.back() += 1;
    p = copy("ptr.h5ad");
    replace_dataset(p, "X/indptr", ip);
    REQUIRE_INPUT_ERROR(read_h5ad(p), "ptr.h5ad", "/X/indptr ends at");
    ip = ref.indptr;
    ip.pop_back();
    p = copy("ptr2.h5ad");
    replace_dataset(p, "X/indptr", ip);
    REQUIRE_INPUT_ERROR(read_h5ad(p), "ptr2.h5ad", "/X/indptr has 20 entries, expected 21");
    ip = ref.indptr;
    std::swap(ip[3], ip[4]);
    if (ip[3] != ip[4]) {
      p = copy("ptr3.h5ad");
      replace_dataset(p, "X/indptr", ip);
      REQUIRE_INPUT_ERROR(read_h5ad(p), "ptr3.h5ad", "decreases");
    }
  }
  SECTION("duplicate entries") {
    auto idx = ref.indices;
    REQUIRE(ref.row_nnz(0) >= 2);
    idx[1] = idx[0];
    const std::string p = copy("dup.h5ad");
    replace_dataset(p, "X/indices", idx);
    REQUIRE_INPUT_ERROR(read_h5ad(p), "dup.h5ad", "duplicate entry for cell 0");
  }
  SECTION("name counts") {
    std::vector<std::string> names(ref.col_names.begin(), ref.col_names.end() - 1);
    const std::string p = copy("names.h5ad");
    {
      h5::Handle f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
      H5Ldelete(f.get(), "var/_index", H5P_DEFAULT);
      h5::write_strings(f.get(), "var/_index", names);
    }
    REQUIRE_INPUT_ERROR(read_h5ad(p), "names.h5ad", "var index has 9 names", "10 genes");
    H5Spec s;
    s.barcodes = std::vector<std::string>(ref.row_names.begin(), ref.row_names.end() - 2);
    write_10x_h5(join(d, "bc.h5"), ref, s);
    REQUIRE_INPUT_ERROR(read_10x_h5(join(d, "bc.h5")), "bc.h5", "/matrix/barcodes has 18 names", "20 cells");
  }
  SECTION("encodings, empty matrices") {
    const std::string p = copy("enc.h5ad");
    {
      h5::Handle f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
      H5Adelete_by_name(f.get(), "X", "encoding-type", H5P_DEFAULT);
      h5::Handle x(H5Gopen2(f.get(), "X", H5P_DEFAULT), H5Gclose);
      h5::write_string_attr(x.get(), "encoding-type", "coo_matrix");
    }
    REQUIRE_INPUT_ERROR(read_h5ad(p), "enc.h5ad", "coo_matrix");
    CsrMatrix empty;
    empty.n_rows = 0;
    empty.n_cols = 5;
    write_h5ad(join(d, "empty.h5ad"), empty);
    REQUIRE_INPUT_ERROR(read_h5ad(join(d, "empty.h5ad")), "empty.h5ad", "empty matrix");
    ReadOptions o;
    o.h5ad_matrix = "layers/counts";
    REQUIRE_INPUT_ERROR(read_h5ad(good, o), "good.h5ad", "no count matrix /layers/counts");
  }
}

TEST_CASE("read_loom: chunked genes x cells, layers, names, blocks of cells", "[data][h5][loom]") {
  const std::string d = temp_dir("loom");
  // 23 cells (not a multiple of the 3-cell chunks), 17 genes, some cells empty.
  const CsrMatrix ref = random_counts(23, 17, 0.25, 7, 300);
  const std::string p = join(d, "x.loom");
  write_loom(p, ref);
  REQUIRE(detect_count_format(p) == CountFormat::loom);
  require_same(read_loom(p), ref);
  require_same(read_counts(p), ref);
  // The block loop: 1, 2 (a block boundary inside chunks) and 5 cells a read give the same matrix.
  for (hsize_t block : {1, 2, 5, 100}) {
    INFO("block " << block);
    h5::Handle f = h5::open_file_read(p);
    require_same(data_detail::read_loom_file(f.get(), p, {}, block), ref);
  }
  // Contiguous storage and integer types read the same.
  {
    const std::string c = join(d, "contiguous.loom");
    write_loom(c, ref, 0, 0);
    require_same(read_loom(c), ref);
  }
  ReadOptions o;
  o.loom_layer = "spliced";
  CsrMatrix doubled = ref;
  for (auto& v : doubled.values) v *= 2;
  require_same(read_loom(p, o), doubled);
  o.loom_layer = "matrix";
  require_same(read_loom(p, o), ref);
  // Gene names: ids (Accession) when unique, or the Gene symbols on request.
  o = {};
  o.gene_names = GeneNames::symbol;
  CHECK(read_loom(p, o).col_names[3] == "sym3");
}

TEST_CASE("read_loom: names from scanpy's attributes, XML entities, integers", "[data][h5][loom]") {
  const std::string d = temp_dir("loom_names");
  const CsrMatrix ref = random_counts(6, 4, 0.6, 3);
  const std::string p = join(d, "n.loom");
  {
    h5::Handle f = h5::create_file(p);
    write_genes_by_cells<std::int32_t>(f.get(), "matrix", ref, 0, 0);
    h5::Handle rows = h5::create_group(f.get(), "row_attrs");
    // loompy writes non-ASCII as XML character references and escapes '&'.
    h5::write_strings(rows.get(), "var_names", {"Gene&amp;1", "M&#252;ller", "Sox&#x32;", "Tp53"}, false);
    h5::Handle cols = h5::create_group(f.get(), "col_attrs");
    h5::write_vector(cols.get(), "obs_names", std::vector<std::int64_t>{10, 11, 12, 13, 14, 15});
  }
  const CsrMatrix m = read_loom(p);
  require_same(m, ref, false);
  CHECK(m.col_names == std::vector<std::string>{"Gene&1", "M\xc3\xbcller", "Sox2", "Tp53"});
  CHECK(m.row_names == std::vector<std::string>{"10", "11", "12", "13", "14", "15"});
  CHECK(data_detail::decode_xml_entities("a&b &unknown; &#0; &#xZZ; &lt;&gt;&quot;&apos;") ==
        "a&b &unknown; &#0; &#xZZ; <>\"'");
  CHECK(data_detail::decode_xml_entities("&#128512;") == "\xf0\x9f\x98\x80");
  // Repeated symbols without ids are made unique, as for 10x files.
  {
    h5::Handle f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    H5Ldelete(f.get(), "row_attrs/var_names", H5P_DEFAULT);
    h5::write_strings(f.get(), "row_attrs/Gene", {"A", "B", "A", "C"}, false);
  }
  CHECK(read_loom(p).col_names == std::vector<std::string>{"A", "B", "A-1", "C"});
}

TEST_CASE("read_loom: bad input gets an InputError naming the file and dataset", "[data][h5][loom][errors]") {
  const std::string d = temp_dir("loom_errors");
  const CsrMatrix ref = random_counts(9, 7, 0.4, 5);
  const std::string good = join(d, "good.loom");
  write_loom(good, ref);
  const auto edit = [&](const std::string& name, const auto& change) {
    const std::string p = join(d, name);
    fs::copy_file(good, p, fs::copy_options::overwrite_existing);
    h5::Handle f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    REQUIRE(f);
    change(f.get());
    return p;
  };
  SECTION("not a Loom file") {
    const std::string a = join(d, "a.h5ad");
    write_h5ad(a, ref);
    REQUIRE_INPUT_ERROR(read_loom(a), "a.h5ad", "no /matrix dataset", "use read_h5ad");
    REQUIRE_INPUT_ERROR(read_loom(join(d, "none.loom")), "none.loom", "No such file");
  }
  SECTION("counts that are not counts, with their [gene, cell]") {
    CsrMatrix bad = ref;
    REQUIRE(bad.row_nnz(2) > 0);
    const auto k = bad.indptr[2];
    bad.values[static_cast<std::size_t>(k)] = 1.5f;
    const std::string p = edit("frac.loom", [&](hid_t f) {
      H5Ldelete(f, "matrix", H5P_DEFAULT);
      write_genes_by_cells<float>(f, "matrix", bad, 4, 3);
    });
    const std::string at = "/matrix[" + std::to_string(bad.indices[static_cast<std::size_t>(k)]) + ", 2] = 1.5";
    REQUIRE_INPUT_ERROR(read_loom(p), "frac.loom", at.c_str(), "non-integer count");
    bad.values[static_cast<std::size_t>(k)] = -3.f;
    const std::string q = edit("neg.loom", [&](hid_t f) {
      H5Ldelete(f, "matrix", H5P_DEFAULT);
      write_genes_by_cells<float>(f, "matrix", bad, 0, 0);
    });
    REQUIRE_INPUT_ERROR(read_loom(q), "neg.loom", "negative count");
  }
  SECTION("layers") {
    ReadOptions o;
    o.loom_layer = "unspliced";
    REQUIRE_INPUT_ERROR(read_loom(good, o), "good.loom", "no layer /layers/unspliced", "layers in this file: spliced");
    const std::string p = edit("shape.loom", [&](hid_t f) {
      H5Ldelete(f, "layers/spliced", H5P_DEFAULT);
      h5::Handle g(H5Gopen2(f, "layers", H5P_DEFAULT), H5Gclose);
      write_genes_by_cells<float>(g.get(), "spliced", random_counts(9, 6, 0.4, 5), 0, 0);
    });
    o.loom_layer = "spliced";
    REQUIRE_INPUT_ERROR(read_loom(p, o), "shape.loom", "/layers/spliced does not have the shape of /matrix");
  }
  SECTION("shapes, types and name lengths") {
    std::string p = edit("3d.loom", [&](hid_t f) {
      H5Ldelete(f, "matrix", H5P_DEFAULT);
      std::vector<float> x(8, 1.f);
      h5::write_array(f, "matrix", x.data(), {2, 2, 2});
    });
    REQUIRE_INPUT_ERROR(read_loom(p), "3d.loom", "/matrix must be 2-dimensional");
    p = edit("strings.loom", [&](hid_t f) {
      H5Ldelete(f, "matrix", H5P_DEFAULT);
      h5::write_strings(f, "matrix", {"a", "b"});
    });
    REQUIRE_INPUT_ERROR(read_loom(p), "strings.loom", "/matrix is not numeric");
    p = edit("zeros.loom", [&](hid_t f) {
      H5Ldelete(f, "matrix", H5P_DEFAULT);
      std::vector<float> x(6, 0.f);
      h5::write_array(f, "matrix", x.data(), {2, 3});
    });
    REQUIRE_INPUT_ERROR(read_loom(p), "zeros.loom", "no non-zero counts");
    p = edit("cells.loom", [&](hid_t f) {
      H5Ldelete(f, "col_attrs/CellID", H5P_DEFAULT);
      h5::write_strings(f, "col_attrs/CellID", {"a", "b"}, false);
    });
    REQUIRE_INPUT_ERROR(read_loom(p), "cells.loom", "/col_attrs/CellID has 2 entries but the matrix has 9");
    p = edit("floatnames.loom", [&](hid_t f) {
      H5Ldelete(f, "row_attrs/Gene", H5P_DEFAULT);
      h5::write_vector(f, "row_attrs/Gene", std::vector<double>(7, 0.5));
    });
    REQUIRE_INPUT_ERROR(read_loom(p), "floatnames.loom", "/row_attrs/Gene is neither strings nor integers");
    p = edit("noacc.loom", [&](hid_t f) { H5Ldelete(f, "row_attrs/Accession", H5P_DEFAULT); });
    ReadOptions o;
    o.gene_names = GeneNames::id;
    REQUIRE_INPUT_ERROR(read_loom(p, o), "noacc.loom", "gene_names = id", "/row_attrs/Accession");
  }
}

namespace {
// h5py's numpy bool: an int8 enum FALSE = 0 / TRUE = 1.
void write_bools(hid_t loc, const std::string& name, const std::vector<std::int8_t>& v) {
  h5::Handle t(H5Tenum_create(H5T_NATIVE_INT8), H5Tclose);
  const std::int8_t f = 0, tr = 1;
  H5Tenum_insert(t.get(), "FALSE", &f);
  H5Tenum_insert(t.get(), "TRUE", &tr);
  const hsize_t dims[1] = {v.size()};
  h5::Handle sp(H5Screate_simple(1, dims, nullptr), H5Sclose);
  h5::Handle ds(H5Dcreate2(loc, name.c_str(), t.get(), sp.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  REQUIRE(ds);
  REQUIRE(H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()) >= 0);
}

// Labels as "cell=label" pairs, for compact comparisons.
std::vector<std::string> pairs(const CellLabels& l) {
  REQUIRE(l.cells.size() == l.labels.size());
  std::vector<std::string> v;
  for (std::size_t i = 0; i < l.cells.size(); ++i) v.push_back(l.cells[i] + "=" + l.labels[i]);
  return v;
}
}  // namespace

TEST_CASE("read_h5ad_labels: categorical (anndata 0.8 and 0.7), string, numeric, boolean and nullable obs columns",
          "[data][h5][h5ad][labels]") {
  const std::string d = temp_dir("h5ad_labels");
  const CsrMatrix ref = random_counts(5, 4, 0.5, 3);  // cells cell1..cell5
  const std::string p = join(d, "a.h5ad");
  write_h5ad_variant(p, ref, X::csr, false);
  {
    h5::Handle f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    REQUIRE(f);
    h5::Handle obs(H5Gopen2(f.get(), "obs", H5P_DEFAULT), H5Gclose);
    // anndata >= 0.8 categorical, int8 codes, -1 = NaN
    h5::Handle ct = h5::create_group(obs.get(), "cell_type");
    h5::write_string_attr(ct.get(), "encoding-type", "categorical");
    h5::write_strings(ct.get(), "categories", {"B cell", "T cell"});
    h5::write_vector(ct.get(), "codes", std::vector<std::int32_t>{1, 0, -1, 1, 0});
    // anndata 0.7: codes in obs/leiden, categories in obs/__categories/leiden (integers here)
    h5::write_vector(obs.get(), "leiden", std::vector<std::int32_t>{0, 0, 1, 1, 2});
    h5::Handle cats = h5::create_group(obs.get(), "__categories");
    h5::write_vector(cats.get(), "leiden", std::vector<std::int64_t>{7, 8, 9});
    h5::write_strings(obs.get(), "sample", {"s1", "s1", "", "s2", "s2"});
    h5::write_vector(obs.get(), "n_counts", std::vector<double>{1.5, 2.0, std::nan(""), 0.1, 1e20});
    // float32 (scanpy's QC metrics): printed at float precision, 0.1f as "0.1"
    h5::write_vector(obs.get(), "score", std::vector<float>{0.1f, 2.5f, std::nanf(""), 1e-3f, 16777216.f});
    write_bools(obs.get(), "doublet", {0, 1, 0, 0, 1});
    h5::Handle ni = h5::create_group(obs.get(), "batch");
    h5::write_string_attr(ni.get(), "encoding-type", "nullable-integer");
    h5::write_vector(ni.get(), "values", std::vector<std::int64_t>{3, 4, 5, 6, 7});
    write_bools(ni.get(), "mask", {0, 0, 0, 1, 0});
    h5::Handle bad = h5::create_group(obs.get(), "broken");
    h5::write_string_attr(bad.get(), "encoding-type", "categorical");
    h5::write_strings(bad.get(), "categories", {"x"});
    h5::write_vector(bad.get(), "codes", std::vector<std::int32_t>{0, 0, 1, 0, 0});
  }
  using V = std::vector<std::string>;
  CHECK(pairs(read_h5ad_labels(p, "cell_type")) == V{"cell1=T cell", "cell2=B cell", "cell4=T cell", "cell5=B cell"});
  CHECK(pairs(read_h5ad_labels(p, "leiden")) == V{"cell1=7", "cell2=7", "cell3=8", "cell4=8", "cell5=9"});
  CHECK(pairs(read_h5ad_labels(p, "sample")) == V{"cell1=s1", "cell2=s1", "cell4=s2", "cell5=s2"});
  CHECK(pairs(read_h5ad_labels(p, "n_counts")) == V{"cell1=1.5", "cell2=2", "cell4=0.1", "cell5=1e+20"});
  CHECK(pairs(read_h5ad_labels(p, "score")) == V{"cell1=0.1", "cell2=2.5", "cell4=0.001", "cell5=16777216"});
  CHECK(pairs(read_h5ad_labels(p, "doublet")) == V{"cell1=False", "cell2=True", "cell3=False", "cell4=False", "cell5=True"});
  CHECK(pairs(read_h5ad_labels(p, "batch")) == V{"cell1=3", "cell2=4", "cell3=5", "cell5=7"});
  CHECK(pairs(read_annotation_labels(p, "cell_type")) == pairs(read_h5ad_labels(p, "cell_type")));
  CHECK(is_annotation_file("x/A.H5AD"));
  CHECK_FALSE(is_annotation_file("labels.tsv"));

  // The labels match the matrix's cells by name, as TSV labels do.
  const auto codes = encode_labels(match_labels(read_h5ad(p).row_names, read_h5ad_labels(p, "cell_type"), true));
  CHECK(codes.codes == std::vector<int>{1, 0, -1, 1, 0});

  CHECK_THROWS_WITH(read_h5ad_labels(p, "celltype"),
                    Catch::Contains("no obs column 'celltype'") && Catch::Contains("cell_type") &&
                        Catch::Contains("leiden") && !Catch::Contains("__categories") && !Catch::Contains("cell_id"));
  CHECK_THROWS_WITH(read_h5ad_labels(p, "cell_id"), Catch::Contains("no obs column"));
  CHECK_THROWS_WITH(read_h5ad_labels(p, "../X"), Catch::Contains("no obs column"));
  CHECK_THROWS_WITH(read_h5ad_labels(p, "broken"), Catch::Contains("a.h5ad") && Catch::Contains("/obs/broken/codes") &&
                                                       Catch::Contains("code 1 of cell 2"));
  CHECK_THROWS_AS(read_h5ad_labels(join(d, "missing.h5ad"), "x"), InputError);
}

TEST_CASE("read_loom_labels: string and numeric column attributes, matched by CellID", "[data][h5][loom][labels]") {
  const std::string d = temp_dir("loom_labels");
  const CsrMatrix ref = random_counts(4, 6, 0.5, 5);
  const std::string p = join(d, "a.loom");
  write_loom(p, ref);
  {
    h5::Handle f(H5Fopen(p.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
    REQUIRE(f);
    h5::Handle cols(H5Gopen2(f.get(), "col_attrs", H5P_DEFAULT), H5Gclose);
    h5::write_strings(cols.get(), "ClusterName", {"Astro&amp;1", "Neuron", "", "Neuron"}, false);
    h5::write_vector(cols.get(), "Clusters", std::vector<std::int64_t>{2, 0, 1, 0});
    h5::write_vector(cols.get(), "Short", std::vector<std::int64_t>{1, 2});
  }
  using V = std::vector<std::string>;
  CHECK(pairs(read_loom_labels(p, "ClusterName")) == V{"cell1=Astro&1", "cell2=Neuron", "cell4=Neuron"});
  CHECK(pairs(read_annotation_labels(p, "Clusters")) == V{"cell1=2", "cell2=0", "cell3=1", "cell4=0"});
  CHECK_THROWS_WITH(read_loom_labels(p, "Class"), Catch::Contains("no column attribute 'Class'") &&
                                                      Catch::Contains("ClusterName") && Catch::Contains("CellID"));
  CHECK_THROWS_WITH(read_loom_labels(p, "Short"), Catch::Contains("/col_attrs/Short has 2 entries"));
}
