#pragma once
// The configuration shared by the VAE and the GMVAE: network sizes, likelihood, normalisation,
// input transform, and its "key=value" form stored in checkpoints.
#include <cmath>
#include <string>
#include <vector>

#include "../data/csr_matrix.hpp"
#include "../distributions/likelihood_spec.hpp"
#include "../inference/gaussian.hpp"
#include "../layers/mlp.hpp"
#include "config_text.hpp"

namespace scvae {

// How the decoder's mean head a (one row per gene) becomes the mean mu of a cell's counts:
//   free     mu_g = exp(clip(a_g))                               scVAE
//   library  mu_g = exp(clip(log l + a_g - logsumexp_g'(a_g')))  scVI (px_rate = l * softmax(a));
//            scVAE's "constrained Poisson" with the Poisson likelihood
// where l is the cell's observed total count (at least 1) and clip the likelihood's own clamp to
// [-15, 15] (distributions/detail/clip.hpp): means below e^-15 = 3e-7 count as that bound.
enum class MeanLink { free, library };

struct ModelConfig {
  Index genes = 0;
  std::vector<Index> hidden{250};  // encoder sizes; the decoder mirrors them
  Index latent = 25;
  LikelihoodSpec likelihood{Likelihood::nb, Dispersion::gene_cell};
  bool batch_norm = true;
  bool batch_norm_scale = false;
  double dropout = 0.0;
  bool decoder_dropout = true;  // false: dropout in the encoders only (scvi-tools' SCVI)
  InputTransform input_transform = InputTransform::log1p;
  LatentClamp clamp{};
  MeanLink mean = MeanLink::free;

  void validate(const std::string& what) const {
    SCVAE_CHECK(genes > 0, what + ".genes must be positive");
    SCVAE_CHECK(latent > 0, what + ".latent must be positive");
    SCVAE_CHECK(!hidden.empty(), what + ".hidden needs at least one layer");
    for (auto h : hidden) SCVAE_CHECK(h > 0, what + ".hidden sizes must be positive");
    SCVAE_CHECK(dropout >= 0 && dropout < 1, what + ".dropout must be in [0, 1)");
    // (values cast from integers read elsewhere must name a member)
    const int kind = static_cast<int>(likelihood.kind), disp = static_cast<int>(likelihood.dispersion);
    SCVAE_CHECK(kind >= 0 && kind <= static_cast<int>(Likelihood::zinb), what + ".likelihood.kind is not a likelihood");
    SCVAE_CHECK(disp >= 0 && disp <= static_cast<int>(Dispersion::gene), what + ".likelihood.dispersion is not a dispersion");
    SCVAE_CHECK(mean == MeanLink::free || mean == MeanLink::library, what + ".mean is not a MeanLink");
    SCVAE_CHECK(std::isfinite(clamp.lv_min) && std::isfinite(clamp.lv_max) && clamp.lv_min <= clamp.lv_max &&
                    clamp.lv_max <= 80,  // exp(lv) stays finite in float
                what + ".clamp: need finite lv_min <= lv_max <= 80");
  }
  MlpOptions encoder_options() const {
    MlpOptions o;
    o.hidden = hidden;
    o.batch_norm = batch_norm;
    o.batch_norm_scale = batch_norm_scale;
    o.dropout = dropout;
    return o;
  }
  MlpOptions decoder_options() const {
    MlpOptions o = encoder_options();
    o.hidden.assign(hidden.rbegin(), hidden.rend());
    if (!decoder_dropout) o.dropout = 0.0;
    return o;
  }
  // Fields in a fixed order: a checkpoint is restored only into an identical configuration.
  void write_network(detail::KeyValues& kv) const {
    kv.set("genes", genes);
    kv.set("hidden", hidden);
    kv.set("latent", latent);
  }
  void write_rest(detail::KeyValues& kv) const {
    kv.set("likelihood", std::string(to_string(likelihood.kind)));
    kv.set("dispersion", std::string(to_string(likelihood.dispersion)));
    kv.set("batch_norm", batch_norm);
    kv.set("batch_norm_scale", batch_norm_scale);
    kv.set("dropout", dropout);
    kv.set("input_transform", std::string(input_transform == InputTransform::log1p ? "log1p" : "none"));
    kv.set("lv_min", clamp.lv_min);
    kv.set("lv_max", clamp.lv_max);
    // Only when not the default: checkpoints written before these options keep their text.
    if (mean == MeanLink::library) kv.set("mean", std::string("library"));
    if (!decoder_dropout) kv.set("decoder_dropout", false);
  }
  void read_common(const detail::KeyValues& kv) {
    genes = kv.integer("genes");
    hidden = kv.list("hidden");
    latent = kv.integer("latent");
    likelihood.kind = parse_likelihood(kv.str("likelihood"));
    likelihood.dispersion = parse_dispersion(kv.str("dispersion"));
    batch_norm = kv.flag("batch_norm");
    batch_norm_scale = kv.flag("batch_norm_scale");
    dropout = kv.num("dropout");
    input_transform = kv.str("input_transform") == "log1p" ? InputTransform::log1p : InputTransform::none;
    clamp.lv_min = kv.num("lv_min");
    clamp.lv_max = kv.num("lv_max");
    decoder_dropout = !kv.has("decoder_dropout") || kv.flag("decoder_dropout");
    mean = MeanLink::free;
    if (kv.has("mean")) {
      const std::string m = kv.str("mean");
      if (m == "library") mean = MeanLink::library;
      else if (m != "free") throw InputError("model configuration: field 'mean' is '" + m + "', not free or library");
    }
  }
};

}  // namespace scvae
