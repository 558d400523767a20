#pragma once
// Everything needed to train and use a VAE on the CPU:
//   #include <scvae/vae.hpp>
//   scvae::Vae<scvae::CpuBackend, float> model(config, batch_size, seed);
//   scvae::Trainer<decltype(model)> trainer(model, options); trainer.fit(data, train_rows, val_rows);
#include "backend/cpu.hpp"
#include "data/csr_matrix.hpp"
#include "io/checkpoint.hpp"
#include "models/vae.hpp"
#include "optim/adam.hpp"
#include "train/trainer.hpp"
