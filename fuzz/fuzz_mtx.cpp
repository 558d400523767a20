// libFuzzer: MatrixMarket bytes (plain or gzip, picked by the gzip magic) -> read_mtx_buffer.
#include "fuzz_common.hpp"
#include "scvae/data/mtx_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto opt = scvae_fuzz::fuzz_options(data[size - 1]);
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  scvae_fuzz::expect_clean([&] {
    const scvae::CsrMatrix m = scvae::read_mtx_buffer(bytes, opt, "fuzz.mtx");
    m.validate();  // a matrix that comes back must be well formed
  });
  return 0;
}
