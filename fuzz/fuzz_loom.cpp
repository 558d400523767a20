// libFuzzer: Loom files (a dense genes x cells /matrix, chunked or not, layers, name attributes
// of fuzzed length, type and content) built in memory -> read_loom_file with fuzzed block sizes,
// and a label column -> read_loom_labels_file.
#include "fuzz_common.hpp"
#include "h5_fuzz_builder.hpp"
#include "scvae/data/annotation_labels.hpp"
#include "scvae/data/loom_reader.hpp"

using namespace scvae_fuzz;

namespace {

// A dense dataset of rows x cols values (some not counts), sometimes of another rank, chunked
// with fuzzed chunk sizes or contiguous.
void write_dense(FuzzedDataProvider& p, hid_t loc, const std::string& name, hsize_t rows, hsize_t cols) {
  std::vector<hsize_t> dims{rows, cols};
  if (p.ConsumeIntegralInRange<int>(0, 15) == 0) dims.resize(p.ConsumeBool() ? 1 : 3, 2);
  hsize_t total = 1;
  for (hsize_t d : dims) total *= d;
  std::vector<double> v(static_cast<std::size_t>(total));
  for (auto& x : v) x = p.ConsumeBool() ? 0.0 : static_cast<double>(p.ConsumeIntegralInRange<int>(-1, 9)) / (p.ConsumeBool() ? 1 : 2);
  h5::Handle sp(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  if (total > 0 && p.ConsumeBool()) {
    std::vector<hsize_t> chunk(dims.size());
    for (std::size_t i = 0; i < dims.size(); ++i) chunk[i] = p.ConsumeIntegralInRange<hsize_t>(1, std::max<hsize_t>(1, dims[i]));
    H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data());
    if (p.ConsumeBool()) H5Pset_deflate(dcpl.get(), 1);
  }
  const hid_t type = p.ConsumeBool() ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT32;
  h5::Handle ds(H5Dcreate2(loc, name.c_str(), type, sp.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT), H5Dclose);
  if (ds && total > 0) H5Dwrite(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider p(data, size);
  const auto opt = fuzz_options(p.ConsumeIntegral<std::uint8_t>());
  h5::ErrorSilencer quiet;
  expect_clean([&] {
    h5::Handle f = h5::create_memory_file("fuzz.loom");
    const auto genes = p.ConsumeIntegralInRange<hsize_t>(0, 30), cells = p.ConsumeIntegralInRange<hsize_t>(0, 30);
    if (p.ConsumeIntegralInRange<int>(0, 9) > 0) write_dense(p, f.get(), "matrix", genes, cells);
    auto o = opt;
    if (p.ConsumeBool()) {
      h5::Handle layers = h5::create_group(f.get(), "layers");
      const bool same = p.ConsumeBool();
      write_dense(p, layers.get(), "spliced", same ? genes : genes + 1, cells);
      o.loom_layer = p.ConsumeBool() ? "spliced" : "unspliced";
    }
    h5::Handle rows = h5::create_group(f.get(), "row_attrs"), cols = h5::create_group(f.get(), "col_attrs");
    if (p.ConsumeBool()) write_names(p, rows.get(), "Accession", genes);
    if (p.ConsumeBool()) write_names(p, rows.get(), p.ConsumeBool() ? "Gene" : "var_names", genes);
    if (p.ConsumeBool()) {
      if (p.ConsumeBool()) write_names(p, cols.get(), "CellID", cells);
      else write_ints(p, cols.get(), "obs_names", ints(p, p.ConsumeBool() ? cells : cells + 1, -5, 5));
    }
    if (p.ConsumeBool()) write_label_column(p, cols.get(), "ClusterName", cells, false);
    expect_clean([&] {
      const auto l = scvae::data_detail::read_loom_labels_file(f.get(), "fuzz.loom", p.ConsumeBool() ? "ClusterName" : "x");
      if (l.cells.size() != l.labels.size()) __builtin_trap();
    });
    const auto block = p.ConsumeIntegralInRange<hsize_t>(0, 7);
    const scvae::CsrMatrix m = scvae::data_detail::read_loom_file(f.get(), "fuzz.loom", o, block);
    m.validate();
  });
  return 0;
}
