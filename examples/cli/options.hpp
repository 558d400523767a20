#pragma once
// Flags shared by `train` and `grid-search`: data, model, optimiser, threads and device.
#include <string>

#include "dataset.hpp"
#include "model_runner.hpp"

namespace CLI {
class App;
class Option;
class Validator;
}  // namespace CLI

namespace scvae_cli {

struct TrainingFlags {
  DataSpec data;
  ModelSpec model;
  FitSettings fit;
  std::string split_text = "0.81,0.09,0.10";
  std::string hidden_text = "250,250";
  int threads = 0;
  std::string device = "cpu";
  std::string out;
  bool overwrite = false;
  // Flags whose default differs on the built-in data when not given explicitly.
  CLI::Option *epochs = nullptr, *learning_rate = nullptr, *kl_warmup = nullptr, *components = nullptr,
              *mixture_init = nullptr, *hidden = nullptr, *latent = nullptr;
};

// Registers the flags; grid_search leaves out those the grid replaces (--hidden, --latent,
// --likelihood).
void add_training_flags(CLI::App* app, TrainingFlags& f, bool grid_search);

// --matrix, --genome, --gene-names, --feature-type, --orientation into d's reader fields (train,
// grid-search and evaluate).
void add_reader_flags(CLI::App* app, DataSpec& d);

// For unsigned flags (seeds): CLI11 would read "-1" as 2^64 - 1.
CLI::Validator non_negative_integer();

// Parses lists, applies the built-in data's defaults, checks values, the device and the thread
// count. Throws UsageError naming the flag.
void finish_training_flags(TrainingFlags& f, bool grid_search);

}  // namespace scvae_cli
