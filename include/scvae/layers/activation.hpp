#pragma once
// Elementwise activations: forward(out, in) / backward(d_in, d_out, in). d_in may alias d_out.
#include <stdexcept>
#include <string>

#include "../core/error.hpp"
#include "../core/view.hpp"

namespace scvae {

enum class Activation { relu, softplus, identity };

inline Activation parse_activation(const std::string& s) {
  if (s == "relu") return Activation::relu;
  if (s == "softplus") return Activation::softplus;
  if (s == "identity" || s == "linear") return Activation::identity;
  throw InputError("scvae: unknown activation '" + s + "' (expected relu, softplus or identity)");
}
inline const char* to_string(Activation a) {
  switch (a) {
    case Activation::relu: return "relu";
    case Activation::softplus: return "softplus";
    default: return "identity";
  }
}

template <class B, class T>
void activation_forward(Activation act, MatrixView<T> out /*[F x N]*/, MatrixView<const T> in /*[F x N]*/) {
  switch (act) {
    case Activation::relu: B::template relu_forward<T>(out, in); break;
    case Activation::softplus: B::template softplus_forward<T>(out, in); break;
    case Activation::identity: if (out.data != in.data) B::template copy<T>(in, out); break;
  }
}
template <class B, class T>
void activation_backward(Activation act, MatrixView<T> d_in /*[F x N]*/, MatrixView<const T> d_out /*[F x N]*/,
                         MatrixView<const T> in /*[F x N] forward input*/) {
  switch (act) {
    case Activation::relu: B::template relu_backward<T>(d_in, d_out, in); break;
    case Activation::softplus: B::template softplus_backward<T>(d_in, d_out, in); break;
    case Activation::identity: if (d_in.data != d_out.data) B::template copy<T>(d_out, d_in); break;
  }
}

}  // namespace scvae
