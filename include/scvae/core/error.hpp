#pragma once
// Error types. Every error message names what was wrong and where (file, line, field).
#include <stdexcept>
#include <string>

namespace scvae {

// Base of all scvae errors.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Malformed or inconsistent user input (files, shapes, options).
struct InputError : Error {
  using Error::Error;
};
// A checkpoint that is truncated, corrupted, foreign or of another shape.
struct CheckpointError : Error {
  using Error::Error;
};
// Training produced a non-finite loss or gradient; parameters were left at the last good step.
struct DivergenceError : Error {
  using Error::Error;
};

namespace detail {
[[noreturn]] inline void throw_input(const std::string& msg) { throw InputError(msg); }
}  // namespace detail

}  // namespace scvae

// Shape/argument check on public entry points: throws scvae::InputError naming the failed condition.
#define SCVAE_CHECK(cond, msg)                                                              \
  do {                                                                                      \
    if (!(cond)) ::scvae::detail::throw_input(std::string("scvae: ") + (msg) + " [" #cond "]"); \
  } while (0)
