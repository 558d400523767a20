#pragma once
// Whole-file writes that never leave a half-written file behind: write a sibling temporary,
// then rename it over the target.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "../../core/error.hpp"

namespace scvae {
namespace detail {

inline void write_file_atomic(const std::string& path, const std::string& content, const char* what) {
  if (path.empty()) throw InputError(std::string("scvae: cannot write ") + what + ": empty file name");
  const std::string tmp = path + ".tmp";
  auto fail = [&](const std::string& why) {
    std::remove(tmp.c_str());
    throw Error(std::string("scvae: cannot write ") + what + " '" + path + "': " + why);
  };
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail(std::strerror(errno));
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) fail("write failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
#if defined(_WIN32)
    // Windows' rename does not replace an existing file.
    std::remove(path.c_str());
    if (std::rename(tmp.c_str(), path.c_str()) == 0) return;
#endif
    fail(std::strerror(errno));
  }
}

}  // namespace detail
}  // namespace scvae
