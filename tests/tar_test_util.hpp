#pragma once
// A small tar writer for the archive tests and fuzzer (no Catch2 here): ustar headers with GNU
// 'L' long names, pax 'x' paths or the ustar prefix for long paths, any type flag, and gzip in
// memory. Written from the format description, independent of the reader under test.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>

namespace scvae_test {

enum class TarLongNames { gnu, pax, ustar_prefix };

class TarWriter {
 public:
  // A regular file; paths over 100 bytes are written as `how` says.
  TarWriter& file(const std::string& path, const std::string& data, TarLongNames how = TarLongNames::gnu,
                  bool base256_size = false) {
    std::string name = path, prefix;
    if (path.size() > 100) {
      if (how == TarLongNames::gnu) {
        entry("././@LongLink", 'L', path + '\0');
        name = path.substr(0, 100);
      } else if (how == TarLongNames::pax) {
        entry("PaxHeaders/x", 'x', pax_record("path", path));
        name = path.substr(0, 100);
      } else {  // split at a '/' so that prefix <= 155 and name <= 100 bytes
        const std::size_t cut = path.rfind('/', 155);
        if (cut == std::string::npos || path.size() - cut - 1 > 100)
          throw std::runtime_error("path cannot be split for ustar: " + path);
        prefix = path.substr(0, cut);
        name = path.substr(cut + 1);
      }
    }
    out_ += header(name, data.size(), '0', prefix, base256_size);
    out_ += data;
    pad();
    return *this;
  }
  TarWriter& dir(const std::string& path) { return entry(path + "/", '5', ""); }
  // Any header + data (links: '1', '2' with no data; pax global 'g'; unknown types).
  TarWriter& entry(const std::string& name, char type, const std::string& data, const std::string& link = "") {
    out_ += header(name, data.size(), type, "", false, link);
    out_ += data;
    pad();
    return *this;
  }
  TarWriter& raw(const std::string& bytes) {
    out_ += bytes;
    return *this;
  }
  // The archive with its two zero blocks (or without them).
  std::string finish(bool end_blocks = true) const { return end_blocks ? out_ + std::string(1024, '\0') : out_; }

  static std::string pax_record(const std::string& key, const std::string& value) {
    const std::string body = " " + key + "=" + value + "\n";
    std::size_t len = body.size() + 1;
    while (std::to_string(len).size() + body.size() != len) ++len;
    return std::to_string(len) + body;
  }

  // A POSIX ustar header (magic "ustar\0", version "00").
  static std::string header(const std::string& name, std::uint64_t size, char type, const std::string& prefix = "",
                            bool base256_size = false, const std::string& link = "") {
    std::string h(512, '\0');
    put(h, 0, 100, name);
    put(h, 100, 8, octal(0644, 7));
    put(h, 108, 8, octal(1000, 7));
    put(h, 116, 8, octal(1000, 7));
    if (base256_size) {
      h[124] = static_cast<char>(0x80);
      for (int i = 11; i >= 1; --i, size >>= 8) h[124 + i] = static_cast<char>(size & 0xff);
    } else {
      put(h, 124, 12, octal(size, 11));
    }
    put(h, 136, 12, octal(1700000000, 11));
    h[156] = type;
    put(h, 157, 100, link);
    std::memcpy(&h[257], "ustar\0" "00", 8);
    put(h, 265, 32, "user");
    put(h, 297, 32, "group");
    put(h, 345, 155, prefix);
    set_checksum(h);
    return h;
  }
  static void set_checksum(std::string& h, std::size_t at = 0) {
    std::memset(&h[at + 148], ' ', 8);
    unsigned sum = 0;
    for (std::size_t i = 0; i < 512; ++i) sum += static_cast<unsigned char>(h[at + i]);
    put(h, at + 148, 8, octal(sum, 6));
    h[at + 155] = ' ';
  }

 private:
  void pad() { out_.append((512 - out_.size() % 512) % 512, '\0'); }
  static std::string octal(std::uint64_t v, int width) {
    char b[32];
    std::snprintf(b, sizeof b, "%0*llo", width, static_cast<unsigned long long>(v));
    return b;
  }
  static void put(std::string& h, std::size_t at, std::size_t n, const std::string& s) {
    std::memcpy(&h[at], s.data(), std::min(n, s.size()));
  }

  std::string out_;
};

// gzip (RFC 1952) of bytes, in memory.
inline std::string gzip_bytes(const std::string& s, int level = 6) {
  z_stream z{};
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2");
  std::string out(deflateBound(&z, static_cast<uLong>(s.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(s.data()));
  z.avail_in = static_cast<uInt>(s.size());
  z.next_out = reinterpret_cast<Bytef*>(&out[0]);
  z.avail_out = static_cast<uInt>(out.size());
  const int r = deflate(&z, Z_FINISH);
  deflateEnd(&z);
  if (r != Z_STREAM_END) throw std::runtime_error("deflate");
  out.resize(z.total_out);
  return out;
}

}  // namespace scvae_test
