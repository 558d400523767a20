#pragma once
// The subcommands of `scvae`. Each add_*_command registers a CLI11 subcommand with its flags and
// returns a runner bound to the parsed values; the runner returns an exit code (common.hpp) or
// throws, and main() turns exceptions into messages and exit codes.
#include <functional>

namespace CLI {
class App;
}

namespace scvae_cli {

struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command add_train_command(CLI::App& root);
Command add_evaluate_command(CLI::App& root);
Command add_grid_search_command(CLI::App& root);
Command add_simulate_command(CLI::App& root);

// Shared by train and grid-search: the built-in demo data's settings (see docs/cli.md).
constexpr double kBuiltinLearningRate = 1e-2;
constexpr int kBuiltinKlWarmup = 10;
constexpr int kBuiltinEpochs = 30;
constexpr long kBuiltinComponents = 5;
constexpr int kBuiltinMixtureInit = 15;
constexpr const char* kBuiltinHidden = "64";
constexpr long kBuiltinLatent = 8;

}  // namespace scvae_cli
