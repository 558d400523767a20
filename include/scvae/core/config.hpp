#pragma once
// Portability macros shared by host and device code.
#if defined(__CUDACC__)
#define SCVAE_HD __host__ __device__
#define SCVAE_INLINE __host__ __device__ __forceinline__
#else
#define SCVAE_HD
#define SCVAE_INLINE inline
#endif

#define SCVAE_VERSION_MAJOR 0
#define SCVAE_VERSION_MINOR 1
#define SCVAE_VERSION_PATCH 0
