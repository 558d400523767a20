#pragma once
// All clustering metrics and the latent-space helpers in one include.
#include "kmeans.hpp"
#include "label_agreement.hpp"
#include "pca.hpp"
#include "silhouette.hpp"
