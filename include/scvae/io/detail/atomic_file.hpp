#pragma once
// Atomic file replacement: write "<path>.tmp-<pid>", flush it to disk, then rename() over the
// target. A crash mid-write leaves the previous file intact.
#include <cstdio>
#include <string>
#include <unistd.h>

#include "../../core/error.hpp"

namespace scvae {
namespace detail {

inline void write_file_atomically(const std::string& path, const void* data, std::size_t n) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error("scvae: cannot open '" + tmp + "' for writing");
  const bool ok = std::fwrite(data, 1, n, f) == n && std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
  if (std::fclose(f) != 0 || !ok) {
    std::remove(tmp.c_str());
    throw Error("scvae: failed writing '" + tmp + "' (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error("scvae: cannot rename '" + tmp + "' to '" + path + "'");
  }
}

}  // namespace detail
}  // namespace scvae
