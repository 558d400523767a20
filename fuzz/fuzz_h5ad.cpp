// libFuzzer: AnnData layouts (CSR, CSC, dense; attributes present or not) with fuzzed contents,
// built in memory -> read_h5ad_file, and an obs label column -> read_h5ad_labels_file.
#include "fuzz_common.hpp"
#include "h5_fuzz_builder.hpp"
#include "scvae/data/annotation_labels.hpp"
#include "scvae/data/h5ad_reader.hpp"

using namespace scvae_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider p(data, size);
  const auto opt = fuzz_options(p.ConsumeIntegral<std::uint8_t>());
  h5::ErrorSilencer quiet;
  expect_clean([&] {
    h5::Handle f = h5::create_memory_file("fuzz.h5ad");
    const auto rows = p.ConsumeIntegralInRange<std::int64_t>(0, 30), cols = p.ConsumeIntegralInRange<std::int64_t>(0, 30);
    const std::string path = p.ConsumeBool() ? "X" : "layers/counts";
    const int layout = p.ConsumeIntegralInRange<int>(0, 3);
    if (layout == 3) {  // dense
      std::vector<double> v(static_cast<std::size_t>(rows * cols));
      for (auto& x : v) x = p.ConsumeBool() ? 0.0 : static_cast<double>(p.ConsumeIntegralInRange<int>(-1, 9)) / (p.ConsumeBool() ? 1 : 2);
      if (path != "X") h5::create_group(f.get(), "layers");
      h5::write_array(f.get(), path, v.data(), {static_cast<hsize_t>(rows), static_cast<hsize_t>(cols)});
    } else {
      h5::Handle x = h5::create_group(f.get(), path);
      const bool csr = layout != 1;
      if (layout == 2) h5::write_string_attr(x.get(), "h5sparse_format", p.ConsumeBool() ? "csr" : "dia", p.ConsumeBool());
      else if (p.ConsumeIntegralInRange<int>(0, 9) > 0)
        h5::write_string_attr(x.get(), "encoding-type", csr ? "csr_matrix" : "csc_matrix", p.ConsumeBool());
      if (p.ConsumeIntegralInRange<int>(0, 9) > 0)
        h5::write_int_attr(x.get(), "shape", p.ConsumeBool() ? std::vector<std::int64_t>{rows, cols} : ints(p, 2, -1, 40));
      const auto nnz = p.ConsumeIntegralInRange<std::int64_t>(0, 150);
      const auto major = static_cast<std::size_t>(csr ? rows : cols);
      write_ints(p, x.get(), "indptr", indptr(p, major, nnz));
      write_ints(p, x.get(), "indices", ints(p, static_cast<std::size_t>(nnz + (p.ConsumeBool() ? 0 : 1)), -1, csr ? cols : rows));
      write_values(p, x.get(), "data", static_cast<std::size_t>(nnz));
    }
    for (const char* df : {"obs", "var"}) {
      if (!p.ConsumeBool()) continue;
      h5::Handle g = h5::create_group(f.get(), df);
      std::string col = "_index";
      if (p.ConsumeBool()) {
        col = p.ConsumeBool() ? "id" : "missing";
        h5::write_string_attr(g.get(), "_index", col, p.ConsumeBool());
      }
      if (col != "missing") write_names(p, g.get(), col, static_cast<std::size_t>(df[0] == 'o' ? rows : cols));
      if (df[0] == 'o' && p.ConsumeBool()) write_label_column(p, g.get(), "label", static_cast<std::size_t>(rows), true);
    }
    expect_clean([&] {
      const auto l = scvae::data_detail::read_h5ad_labels_file(f.get(), "fuzz.h5ad", p.ConsumeBool() ? "label" : "");
      if (l.cells.size() != l.labels.size()) __builtin_trap();
    });
    auto o = opt;
    if (p.ConsumeBool()) o.h5ad_matrix = p.ConsumeBool() ? "X" : "raw/X";
    const scvae::CsrMatrix m = scvae::data_detail::read_h5ad_file(f.get(), "fuzz.h5ad", o);
    m.validate();
  });
  return 0;
}
