// Checkpoints: save -> load gives identical outputs; truncated, corrupted, foreign and
// mismatched files are rejected with an error naming the file and the problem.
#include <catch2/catch.hpp>

#include <cstdio>
#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <sstream>

#include <scvae/io/detail/crc32.hpp>
#include <scvae/vae.hpp>

#include "test_util.hpp"

using namespace scvae;
using B = CpuBackend;
using scvae_test::tmp_path;

namespace {

VaeConfig small_config() {
  VaeConfig cfg;
  cfg.genes = 15;
  cfg.hidden = {12, 8};
  cfg.latent = 3;
  cfg.likelihood = {Likelihood::zinb, Dispersion::gene};
  return cfg;
}

std::vector<unsigned char> read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
void write_all(const std::string& p, const std::vector<unsigned char>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

}  // namespace

TEST_CASE("CRC-32 check value", "[checkpoint]") {
  CHECK(detail::crc32_update(0, "123456789", 9) == 0xCBF43926u);
}

TEST_CASE("Checkpoint round trip gives identical outputs and optimiser state", "[checkpoint]") {
  auto data = scvae_test::random_counts(40, 15, 5);
  auto rows = all_rows(data);
  Vae<B, float> vae(small_config(), 20, 3);
  TrainOptions o;
  o.epochs = 2;
  o.batch_size = 20;
  o.adam.learning_rate = 1e-2;
  Trainer<Vae<B, float>> t(vae, o);
  t.fit(data, rows);
  const std::string path = tmp_path("roundtrip.ckpt");
  save_checkpoint(path, vae, &t.optimizer(), "epoch=2\n");

  auto loaded = load_model<Vae<B, float>>(path, 20);
  Adam<B, float> adam2(loaded.arena().layout().param_size, o.adam);
  restore_checkpoint(read_checkpoint(path), loaded, &adam2);
  CHECK(adam2.steps() == t.optimizer().steps());
  for (Index i = 0; i < adam2.moment2().size; ++i) REQUIRE(adam2.moment2()[i] == t.optimizer().moment2()[i]);

  CscBatch batch;
  gather_batch(data, rows.data(), 20, InputTransform::log1p, batch);
  std::vector<double> a(20), b(20);
  Rng r1(7), r2(7);
  vae.evaluate(batch.input_view(), batch.counts_view(), r1, a.data());
  loaded.evaluate(batch.input_view(), batch.counts_view(), r2, b.data());
  CHECK(a == b);
  std::vector<double> m1(15 * 20), m2(15 * 20);
  vae.reconstruct(batch.input_view(), m1.data(), nullptr);
  loaded.reconstruct(batch.input_view(), m2.data(), nullptr);
  CHECK(m1 == m2);

  // a float checkpoint loads into a double model (scalar types are portable)
  auto as_double = load_model<Vae<B, double>>(path, 20);
  CHECK(as_double.arena().all_params()[3] == double(vae.arena().all_params()[3]));
}

TEST_CASE("Corrupted, truncated, foreign and mismatched checkpoints are rejected", "[checkpoint]") {
  Vae<B, float> vae(small_config(), 8, 1);
  const std::string good = tmp_path("good.ckpt");
  save_checkpoint(good, vae, nullptr);
  const auto bytes = read_all(good);

  const std::string bad = tmp_path("bad.ckpt");
  // truncated
  write_all(bad, std::vector<unsigned char>(bytes.begin(), bytes.begin() + bytes.size() / 2));
  CHECK_THROWS_WITH(read_checkpoint(bad), Catch::Contains("bad.ckpt") && Catch::Contains("truncated"));
  // one flipped bit in the payload
  auto flipped = bytes;
  flipped[flipped.size() - 40] ^= 0x10;
  write_all(bad, flipped);
  CHECK_THROWS_WITH(read_checkpoint(bad), Catch::Contains("CRC"));
  // foreign file
  write_all(bad, std::vector<unsigned char>{'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0, 0, 0});
  CHECK_THROWS_WITH(read_checkpoint(bad), Catch::Contains("not an scvae checkpoint"));
  // empty file
  write_all(bad, {});
  CHECK_THROWS_AS(read_checkpoint(bad), CheckpointError);
  // future version
  auto future = bytes;
  future[8] = 99;
  write_all(bad, future);
  CHECK_THROWS_WITH(read_checkpoint(bad), Catch::Contains("version 99"));
  // missing file
  CHECK_THROWS_WITH(read_checkpoint(tmp_path("does_not_exist.ckpt")), Catch::Contains("cannot open"));
  // another configuration
  VaeConfig other = small_config();
  other.latent = 4;
  Vae<B, float> vae2(other, 8, 1);
  CHECK_THROWS_WITH(restore_checkpoint(read_checkpoint(good), vae2), Catch::Contains("another model configuration"));
}

TEST_CASE("Checkpoints are written atomically: a failed write keeps the previous file", "[checkpoint]") {
  Vae<B, float> vae(small_config(), 8, 1);
  const std::string path = tmp_path("atomic.ckpt");
  save_checkpoint(path, vae, nullptr);
  const auto before = read_all(path);
  // a directory where the temporary file would go makes the next write fail
  CHECK_THROWS(save_checkpoint(tmp_path("no_such_dir/x.ckpt"), vae, nullptr));
  CHECK(read_all(path) == before);
  // no temporary files are left behind
  std::FILE* f = std::fopen((path + ".tmp-" + std::to_string(::getpid())).c_str(), "rb");
  CHECK(f == nullptr);
  if (f) std::fclose(f);
}

TEST_CASE("The trainer keeps last and best checkpoints", "[checkpoint][train]") {
  auto data = scvae_test::random_counts(60, 15, 9);
  auto rows = all_rows(data);
  std::vector<Index> train(rows.begin(), rows.begin() + 50), val(rows.begin() + 50, rows.end());
  Vae<B, float> vae(small_config(), 25, 3);
  TrainOptions o;
  o.epochs = 3;
  o.batch_size = 25;
  o.checkpoint_dir = SCVAE_TEST_TMP_DIR;
  Trainer<Vae<B, float>> t(vae, o);
  auto res = t.fit(data, train, val);
  auto last = read_checkpoint(tmp_path("last.ckpt"));
  auto best = read_checkpoint(tmp_path("best.ckpt"));
  CHECK(last.meta_values().integer("epoch") == 3);
  CHECK(best.meta_values().integer("epoch") == res.best_epoch);
  CHECK(last.has_optimizer);
}

namespace {

// A VAE whose saved configuration has one field dropped or replaced: what a foreign or older
// writer could produce (the CRC is valid, so only the configuration check can catch it).
struct EditedConfigVae {
  using Backend = B;
  using Scalar = float;
  static constexpr const char* kind = "vae";
  Vae<B, float>& vae;
  std::string key, value;  // value empty: drop the key
  Arena<B, float>& arena() { return vae.arena(); }
  void write_config(detail::KeyValues& kv) const {
    detail::KeyValues full;
    vae.write_config(full);
    std::istringstream in(full.text());
    std::string line;
    bool found = false;
    while (std::getline(in, line)) {
      const auto eq = line.find('=');
      const std::string k = line.substr(0, eq);
      found = found || k == key;
      if (k != key) kv.set(k, line.substr(eq + 1));
      else if (!value.empty()) kv.set(k, value);
    }
    if (!found && !value.empty()) kv.set(key, value);  // a field this version does not write
  }
};

}  // namespace

TEST_CASE("A checkpoint whose configuration lacks, breaks or adds a field is a CheckpointError naming both",
          "[checkpoint]") {
  using Model = Vae<B, float>;
  Model vae(small_config(), 8, 1);
  const std::string path = tmp_path("edited_config.ckpt");
  for (const auto& [key, value, expect] : std::vector<std::array<std::string, 3>>{
           {"latent", "", "missing field 'latent'"},
           {"dropout", "", "missing field 'dropout'"},
           {"latent", "x", "'latent' is not a number"},
           {"latent", "0", "latent must be positive"},
           {"px_scale_floor", "1e-4", "unknown field 'px_scale_floor'"}}) {
    INFO(key << "=" << value);
    EditedConfigVae edited{vae, key, value};
    save_checkpoint(path, edited, nullptr);
    const Checkpoint c = read_checkpoint(path);  // the file itself is sound
    CHECK_THROWS_AS(load_model<Model>(path, 8), CheckpointError);
    CHECK_THROWS_WITH(load_model<Model>(path, 8), Catch::Contains("edited_config.ckpt") && Catch::Contains(expect));
    CHECK_THROWS_AS(c.model_config<VaeConfig>(), CheckpointError);
    CHECK_THROWS_WITH(c.model_config<VaeConfig>(), Catch::Contains("edited_config.ckpt") && Catch::Contains(expect));
  }
}

// A foreign writer's step count: the CRC is recomputed, so only restore_checkpoint can object.
TEST_CASE("A checkpoint with a bad optimizer_steps is a CheckpointError, and the model is left as it was",
          "[checkpoint]") {
  Vae<B, float> vae(small_config(), 8, 1), target(small_config(), 8, 2);
  Adam<B, float> adam(vae.arena().layout().param_size, AdamOptions{});
  adam.set_steps(1234567);
  const std::string path = tmp_path("bad_steps.ckpt");
  const auto target_params = [&] {
    const auto v = target.arena().all_params();
    return std::vector<float>(v.data, v.data + v.size);
  };
  for (const std::string bad : {"-000001", "1.5e+00", "abcdefg", "1e+3000"}) {
    INFO(bad);
    save_checkpoint(path, vae, &adam);
    auto bytes = read_all(path);
    const std::string key = "optimizer_steps=1234567";
    auto at = std::search(bytes.begin(), bytes.end(), key.begin(), key.end());
    REQUIRE(at != bytes.end());
    std::copy(bad.begin(), bad.end(), at + 16);  // same length: the layout is unchanged
    const std::size_t body = bytes.size() - 4;
    const std::uint32_t crc = detail::crc32_update(0, bytes.data(), body);
    std::memcpy(bytes.data() + body, &crc, 4);
    write_all(path, bytes);
    const Checkpoint c = read_checkpoint(path);  // the file itself is sound
    const std::vector<float> before = target_params();
    Adam<B, float> restored(target.arena().layout().param_size, AdamOptions{});
    CHECK_THROWS_AS(restore_checkpoint(c, target, &restored), CheckpointError);
    CHECK_THROWS_WITH(restore_checkpoint(c, target, &restored),
                      Catch::Contains("bad_steps.ckpt") && Catch::Contains("optimizer_steps"));
    CHECK(target_params() == before);
    CHECK(restored.steps() == 0);
  }
}
