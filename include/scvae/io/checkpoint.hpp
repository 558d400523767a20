#pragma once
// Versioned binary checkpoints: model configuration, parameters, BatchNorm state and (optionally)
// the Adam moments, portable between backends and scalar types (stored as float32 or float64).
//
// Layout (little-endian):
//   "SCVAECKP" | u32 version | u32 0x01020304 | u32 scalar bytes (4|8) | u32 flags (1 = optimiser)
//   string kind | string config | string meta          (string = u64 length + bytes)
//   u64 #params | u64 #state | u64 #slots | #slots x (u64 rows, u64 cols)
//   params | state | [adam m | adam v]                 (scalars)
//   u32 CRC-32 of every preceding byte
// Written atomically; reading checks magic, version, endianness, sizes, CRC, and on restore the
// model kind, configuration and every slot's shape, each failure naming the file and field.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "../core/arena.hpp"
#include "../models/config_text.hpp"
#include "../optim/adam.hpp"
#include "detail/atomic_file.hpp"
#include "detail/crc32.hpp"

namespace scvae {

constexpr char kCheckpointMagic[8] = {'S', 'C', 'V', 'A', 'E', 'C', 'K', 'P'};
constexpr std::uint32_t kCheckpointVersion = 1;

struct Checkpoint {
  std::string path;
  std::string kind;     // "vae" | "gmvae"
  std::string config;   // key=value lines
  std::string meta;     // key=value lines: epoch, optimiser step, metrics
  std::uint32_t scalar_bytes = 4;
  bool has_optimizer = false;
  std::vector<Slot> slots;
  std::uint64_t n_params = 0, n_state = 0;
  std::vector<unsigned char> payload;  // params | state | [m | v], scalar_bytes each

  detail::KeyValues config_values() const { return detail::KeyValues::parse(config, path + ": config"); }
  detail::KeyValues meta_values() const { return detail::KeyValues::parse(meta, path + ": meta"); }

  // The stored model configuration (VaeConfig, GmvaeConfig). A missing, malformed or invalid field
  // is the file's fault, not the caller's: CheckpointError naming the file and the field.
  template <class Config>
  Config model_config() const {
    const std::string where = "scvae: checkpoint '" + path + "' config";
    try {
      const auto kv = detail::KeyValues::parse(config, where);
      Config c = Config::read(kv);
      if (const auto extra = kv.unread(); !extra.empty())
        throw InputError(where + ": unknown field '" + extra[0] + "' (written by a newer scvae, or edited)");
      return c;
    } catch (const InputError& e) {
      std::string msg = e.what();
      if (msg.rfind(where, 0) != 0) msg = where + ": " + (msg.rfind("scvae: ", 0) == 0 ? msg.substr(7) : msg);
      throw CheckpointError(msg);
    }
  }
};

namespace detail {

class ByteWriter {
 public:
  template <class U>
  void pod(const U& v) { raw(&v, sizeof(U)); }
  void raw(const void* p, std::size_t n) {
    const auto* c = static_cast<const unsigned char*>(p);
    buf.insert(buf.end(), c, c + n);
  }
  void str(const std::string& s) {
    pod<std::uint64_t>(s.size());
    raw(s.data(), s.size());
  }
  std::vector<unsigned char> buf;
};

class ByteReader {
 public:
  ByteReader(const std::vector<unsigned char>& b, std::size_t end, std::string path)
      : b_(b), end_(end), path_(std::move(path)) {}
  template <class U>
  U pod(const char* field) {
    U v;
    need(sizeof(U), field);
    std::memcpy(&v, b_.data() + pos_, sizeof(U));
    pos_ += sizeof(U);
    return v;
  }
  std::string str(const char* field) {
    const auto n = pod<std::uint64_t>(field);
    need(n, field);
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  void need(std::uint64_t n, const char* field) const {
    if (n > end_ - pos_)
      throw CheckpointError("scvae: checkpoint '" + path_ + "' is truncated (reading field '" + field + "')");
  }
  std::size_t pos() const { return pos_; }

 private:
  const std::vector<unsigned char>& b_;
  std::size_t end_, pos_ = 0;
  std::string path_;
};

template <class B, class T>
void append_scalars(ByteWriter& w, VectorView<const T> v, std::vector<T>& host) {
  host.resize(static_cast<std::size_t>(v.size));
  B::template download<T>(host.data(), v);
  w.raw(host.data(), host.size() * sizeof(T));
}

template <class B, class T>
void read_scalars(const Checkpoint& c, std::size_t first, VectorView<T> dst) {
  std::vector<T> host(static_cast<std::size_t>(dst.size));
  const unsigned char* p = c.payload.data() + first * c.scalar_bytes;
  for (Index i = 0; i < dst.size; ++i) {
    if (c.scalar_bytes == 4) {
      float f;
      std::memcpy(&f, p + i * 4, 4);
      host[i] = static_cast<T>(f);
    } else {
      double d;
      std::memcpy(&d, p + i * 8, 8);
      host[i] = static_cast<T>(d);
    }
  }
  B::template upload<T>(dst, host.data());
}

}  // namespace detail

// Saves a model (anything with kind, arena() and write_config()) and, if given, its optimiser.
template <class Model>
void save_checkpoint(const std::string& path, Model& model, Adam<typename Model::Backend, typename Model::Scalar>* adam,
                     const std::string& meta = "") {
  using B = typename Model::Backend;
  using T = typename Model::Scalar;
  auto& a = model.arena();
  if (adam && adam->moment1().size != a.layout().param_size)
    throw InputError("save_checkpoint: the optimiser holds " + std::to_string(adam->moment1().size) +
                     " moments, the model " + std::to_string(a.layout().param_size) + " parameters");
  detail::KeyValues kv;
  model.write_config(kv);
  detail::ByteWriter w;
  w.raw(kCheckpointMagic, 8);
  w.pod<std::uint32_t>(kCheckpointVersion);
  w.pod<std::uint32_t>(0x01020304u);
  w.pod<std::uint32_t>(sizeof(T));
  w.pod<std::uint32_t>(adam ? 1u : 0u);
  w.str(Model::kind);
  w.str(kv.text());
  std::string m = meta;
  if (adam) m += "optimizer_steps=" + std::to_string(adam->steps()) + "\n";
  w.str(m);
  const auto& L = a.layout();
  w.pod<std::uint64_t>(L.param_size);
  w.pod<std::uint64_t>(L.state_size);
  w.pod<std::uint64_t>(L.params.size());
  for (const auto& s : L.params) {
    w.pod<std::uint64_t>(s.rows);
    w.pod<std::uint64_t>(s.cols);
  }
  std::vector<T> host;
  detail::append_scalars<B, T>(w, VectorView<const T>(a.all_params()), host);
  detail::append_scalars<B, T>(w, VectorView<const T>(a.all_state()), host);
  if (adam) {
    detail::append_scalars<B, T>(w, VectorView<const T>(adam->moment1()), host);
    detail::append_scalars<B, T>(w, VectorView<const T>(adam->moment2()), host);
  }
  const std::uint32_t crc = detail::crc32_update(0, w.buf.data(), w.buf.size());
  w.pod(crc);
  detail::write_file_atomically(path, w.buf.data(), w.buf.size());
}

// Reads and verifies a checkpoint file (structure and CRC); does not need the model.
inline Checkpoint read_checkpoint(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw CheckpointError("scvae: '" + path + "' is a folder, not a checkpoint file");
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw CheckpointError("scvae: cannot open checkpoint '" + path + "'");
  const std::streamoff size = f.tellg();
  f.seekg(0);
  std::vector<unsigned char> buf(static_cast<std::size_t>(size));
  if (size > 0 && !f.read(reinterpret_cast<char*>(buf.data()), size))
    throw CheckpointError("scvae: cannot read checkpoint '" + path + "'");
  if (buf.size() < 8 || std::memcmp(buf.data(), kCheckpointMagic, 8) != 0)
    throw CheckpointError("scvae: '" + path + "' is not an scvae checkpoint (bad magic)");
  if (buf.size() < 8 + 16 + 4) throw CheckpointError("scvae: checkpoint '" + path + "' is truncated (header)");
  const std::size_t body = buf.size() - 4;
  Checkpoint c;
  c.path = path;
  detail::ByteReader r(buf, body, path);
  r.need(8, "magic");
  for (int i = 0; i < 8; ++i) r.pod<char>("magic");
  const auto version = r.pod<std::uint32_t>("version");
  if (version != kCheckpointVersion)
    throw CheckpointError("scvae: checkpoint '" + path + "' has format version " + std::to_string(version) +
                          "; this build reads version " + std::to_string(kCheckpointVersion));
  if (r.pod<std::uint32_t>("endianness") != 0x01020304u)
    throw CheckpointError("scvae: checkpoint '" + path + "' was written on a machine of other endianness");
  c.scalar_bytes = r.pod<std::uint32_t>("scalar_bytes");
  if (c.scalar_bytes != 4 && c.scalar_bytes != 8)
    throw CheckpointError("scvae: checkpoint '" + path + "' field 'scalar_bytes' is " + std::to_string(c.scalar_bytes));
  c.has_optimizer = (r.pod<std::uint32_t>("flags") & 1u) != 0;
  c.kind = r.str("kind");
  c.config = r.str("config");
  c.meta = r.str("meta");
  c.n_params = r.pod<std::uint64_t>("n_params");
  c.n_state = r.pod<std::uint64_t>("n_state");
  const auto n_slots = r.pod<std::uint64_t>("n_slots");
  r.need(n_slots * 16, "slots");
  std::uint64_t total = 0;
  for (std::uint64_t i = 0; i < n_slots; ++i) {
    Slot s;
    s.offset = static_cast<Index>(total);
    s.rows = static_cast<Index>(r.pod<std::uint64_t>("slot rows"));
    s.cols = static_cast<Index>(r.pod<std::uint64_t>("slot cols"));
    total += static_cast<std::uint64_t>(s.rows) * static_cast<std::uint64_t>(s.cols);
    c.slots.push_back(s);
  }
  if (total != c.n_params)
    throw CheckpointError("scvae: checkpoint '" + path + "': slot shapes sum to " + std::to_string(total) +
                          " but n_params is " + std::to_string(c.n_params));
  const std::uint64_t scalars = c.n_params * (c.has_optimizer ? 3 : 1) + c.n_state;
  const std::uint64_t need = scalars * c.scalar_bytes;
  if (body - r.pos() != need) {
    throw CheckpointError("scvae: checkpoint '" + path + "' is truncated or has trailing bytes: payload is " +
                          std::to_string(body - r.pos()) + " bytes, expected " + std::to_string(need));
  }
  std::uint32_t stored;
  std::memcpy(&stored, buf.data() + body, 4);
  if (detail::crc32_update(0, buf.data(), body) != stored)
    throw CheckpointError("scvae: checkpoint '" + path + "' is corrupted (CRC mismatch)");
  c.payload.assign(buf.begin() + static_cast<std::ptrdiff_t>(r.pos()), buf.begin() + static_cast<std::ptrdiff_t>(body));
  return c;
}

// Copies a checkpoint's parameters, state and (if both have them) optimiser moments into a model
// of the same kind and configuration.
template <class Model>
void restore_checkpoint(const Checkpoint& c, Model& model,
                        Adam<typename Model::Backend, typename Model::Scalar>* adam = nullptr) {
  using B = typename Model::Backend;
  using T = typename Model::Scalar;
  if (c.kind != Model::kind)
    throw CheckpointError("scvae: checkpoint '" + c.path + "' holds a " + c.kind + ", not a " + Model::kind);
  detail::KeyValues kv;
  model.write_config(kv);
  if (kv.text() != c.config)
    throw CheckpointError("scvae: checkpoint '" + c.path + "' was saved with another model configuration:\n" + c.config +
                          "this model:\n" + kv.text());
  auto& a = model.arena();
  const auto& L = a.layout();
  if (L.params.size() != c.slots.size() || static_cast<std::uint64_t>(L.param_size) != c.n_params ||
      static_cast<std::uint64_t>(L.state_size) != c.n_state)
    throw CheckpointError("scvae: checkpoint '" + c.path + "' has another parameter layout than the model");
  for (std::size_t i = 0; i < c.slots.size(); ++i)
    if (c.slots[i].rows != L.params[i].rows || c.slots[i].cols != L.params[i].cols)
      throw CheckpointError("scvae: checkpoint '" + c.path + "' field '" + L.param_names[i] + "' has shape " +
                            std::to_string(c.slots[i].rows) + "x" + std::to_string(c.slots[i].cols) + ", model expects " +
                            std::to_string(L.params[i].rows) + "x" + std::to_string(L.params[i].cols));
  if (adam && c.has_optimizer && static_cast<std::uint64_t>(adam->moment1().size) != c.n_params)  // before any read
    throw InputError("restore_checkpoint: the optimiser holds " + std::to_string(adam->moment1().size) +
                     " moments, the checkpoint's model " + std::to_string(c.n_params) + " parameters");
  // The step count (Adam's bias correction) is checked before anything is changed: a bad one is
  // the file's fault, and a double outside long's range would be undefined to convert.
  long steps = 0;
  if (adam && c.has_optimizer) {
    const std::string where = "scvae: checkpoint '" + c.path + "' meta field 'optimizer_steps'";
    double v = 0;
    try {
      const auto meta = c.meta_values();
      v = meta.has("optimizer_steps") ? meta.num("optimizer_steps") : 0.0;
    } catch (const InputError& e) {
      throw CheckpointError(where + ": " + e.what());
    }
    if (!(v >= 0 && v <= 9007199254740992.0 && v == std::floor(v)))  // [0, 2^53], whole
      throw CheckpointError(where + " must be a non-negative integer");
    steps = static_cast<long>(v);
  }
  detail::read_scalars<B, T>(c, 0, a.all_params());
  detail::read_scalars<B, T>(c, c.n_params, a.all_state());
  if (adam && c.has_optimizer) {
    detail::read_scalars<B, T>(c, c.n_params + c.n_state, adam->moment1());
    detail::read_scalars<B, T>(c, 2 * c.n_params + c.n_state, adam->moment2());
    adam->set_steps(steps);
  }
}

// Builds a model from the configuration stored in a checkpoint and restores it (from a file
// already read: no second read of it).
template <class Model>
Model load_model(const Checkpoint& c, Index max_batch) {
  if (c.kind != Model::kind)
    throw CheckpointError("scvae: checkpoint '" + c.path + "' holds a " + c.kind + ", not a " + Model::kind);
  Model m(c.template model_config<typename Model::Config>(), max_batch);
  restore_checkpoint(c, m);
  return m;
}
template <class Model>
Model load_model(const std::string& path, Index max_batch) {
  return load_model<Model>(read_checkpoint(path), max_batch);
}

}  // namespace scvae
