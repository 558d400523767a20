// libFuzzer: 10x .h5 layouts (v2/v3) with fuzzed contents, built in memory -> read_10x_h5_file.
#include "fuzz_common.hpp"
#include "h5_fuzz_builder.hpp"
#include "scvae/data/tenx_h5_reader.hpp"

using namespace scvae_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider p(data, size);
  const auto opt = fuzz_options(p.ConsumeIntegral<std::uint8_t>());
  h5::ErrorSilencer quiet;
  expect_clean([&] {
    h5::Handle f = h5::create_memory_file("fuzz_tenx.h5");
    const bool v3 = p.ConsumeBool();
    h5::Handle g = h5::create_group(f.get(), v3 ? "matrix" : "GRCh38");
    const auto genes = p.ConsumeIntegralInRange<std::int64_t>(0, 40), cells = p.ConsumeIntegralInRange<std::int64_t>(0, 40);
    const auto nnz = p.ConsumeIntegralInRange<std::int64_t>(0, 200);
    write_ints(p, g.get(), "shape", p.ConsumeBool() ? std::vector<std::int64_t>{genes, cells} : ints(p, 3, -2, 50));
    write_ints(p, g.get(), "indptr", indptr(p, static_cast<std::size_t>(cells), nnz));
    write_ints(p, g.get(), "indices", ints(p, static_cast<std::size_t>(nnz + (p.ConsumeBool() ? 0 : 1)), -1, genes));
    write_values(p, g.get(), "data", static_cast<std::size_t>(nnz));
    write_names(p, g.get(), "barcodes", static_cast<std::size_t>(cells));
    if (v3) {
      h5::Handle fe = h5::create_group(g.get(), "features");
      write_names(p, fe.get(), "id", static_cast<std::size_t>(genes));
      if (p.ConsumeBool()) write_names(p, fe.get(), "name", static_cast<std::size_t>(genes));
      if (p.ConsumeBool()) write_names(p, fe.get(), "feature_type", static_cast<std::size_t>(genes));
    } else {
      write_names(p, g.get(), "genes", static_cast<std::size_t>(genes));
      if (p.ConsumeBool()) write_names(p, g.get(), "gene_names", static_cast<std::size_t>(genes));
    }
    auto o = opt;
    if (p.ConsumeBool()) o.feature_type = "Gene Expression";
    const scvae::CsrMatrix m = scvae::data_detail::read_10x_h5_file(f.get(), "fuzz.h5", o);
    m.validate();
  });
  return 0;
}
