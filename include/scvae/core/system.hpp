#pragma once
// What the machine offers, for refusing work that cannot fit before allocating it.
#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace scvae {

// Physical memory in bytes; 0 where the system does not say.
inline double physical_memory_bytes() {
#if defined(__unix__) || defined(__APPLE__)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) return double(pages) * double(page);
#endif
  return 0;
}

}  // namespace scvae
