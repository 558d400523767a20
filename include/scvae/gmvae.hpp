#pragma once
// Everything needed to train and use a Gaussian-mixture VAE (and the plain VAE) on the CPU,
// plus clustering metrics:
//   #include <scvae/gmvae.hpp>
//   scvae::Gmvae<scvae::CpuBackend, float> model(config, batch_size, seed);
#include "metrics/metrics.hpp"
#include "models/gmvae.hpp"
#include "vae.hpp"
