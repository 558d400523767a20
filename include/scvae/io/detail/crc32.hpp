#pragma once
// CRC-32 (IEEE 802.3, the polynomial of zlib and PNG), table-driven, so the core library needs
// no zlib. Check value: crc32("123456789") = 0xCBF43926.
#include <cstddef>
#include <cstdint>

namespace scvae {
namespace detail {

inline std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n) {
  static const auto table = [] {
    struct Table { std::uint32_t t[256]; } tb{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      tb.t[i] = c;
    }
    return tb;
  }();
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (std::size_t i = 0; i < n; ++i) crc = table.t[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

}  // namespace detail
}  // namespace scvae
