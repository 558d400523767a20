// libFuzzer: dense TSV/CSV bytes -> read_dense_table_buffer (both orientations, both delimiters).
#include "fuzz_common.hpp"
#include "scvae/data/dense_table_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto opt = scvae_fuzz::fuzz_options(data[size - 1]);
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const char* name = (data[size - 1] & 8) ? "fuzz.csv" : "fuzz.tsv";
  scvae_fuzz::expect_clean([&] {
    const scvae::CsrMatrix m = scvae::read_dense_table_buffer(bytes, opt, name);
    m.validate();
  });
  return 0;
}
