#pragma once
// Thin RAII layer over the HDF5 C API for the 10x .h5 / AnnData .h5ad readers and writers.
// HDF5's own error printing is silenced while we work; every failure becomes an InputError
// naming the file and the object path.
#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "byte_source.hpp"
#include "parse.hpp"

namespace scvae {
namespace data_detail {
namespace h5 {

// Owns one HDF5 id and closes it with the matching H5?close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer c) : id_(id), close_(c) {}
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      close_ = o.close_;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  hid_t get() const { return id_; }
  explicit operator bool() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// Turns off HDF5's automatic error printing for the lifetime of the object.
class ErrorSilencer {
 public:
  ErrorSilencer() {
    H5Eget_auto2(H5E_DEFAULT, &func_, &data_);
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
  ~ErrorSilencer() { H5Eset_auto2(H5E_DEFAULT, func_, data_); }
  ErrorSilencer(const ErrorSilencer&) = delete;
  ErrorSilencer& operator=(const ErrorSilencer&) = delete;

 private:
  H5E_auto2_t func_ = nullptr;
  void* data_ = nullptr;
};

// A location (file or group) plus the file name and path used in error messages.
struct Loc {
  hid_t id;
  std::string file;
  std::string path;  // "/" for the file root
  std::string child(const std::string& name) const { return path == "/" ? "/" + name : path + "/" + name; }
};

// True if every component of `path` (relative, '/'-separated) exists below loc.
inline bool exists(hid_t loc, const std::string& path) {
  std::size_t pos = 0;
  for (;;) {
    pos = path.find('/', pos);
    const std::string prefix = path.substr(0, pos);
    if (!prefix.empty() && H5Lexists(loc, prefix.c_str(), H5P_DEFAULT) <= 0) return false;
    if (pos == std::string::npos) return true;
    ++pos;
  }
}

inline H5I_type_t object_type(hid_t loc, const std::string& path) {
  const hid_t o = H5Oopen(loc, path.c_str(), H5P_DEFAULT);
  if (o < 0) return H5I_BADID;
  const H5I_type_t t = H5Iget_type(o);
  H5Oclose(o);
  return t;
}

inline Handle open_group(const Loc& loc, const std::string& name) {
  if (!exists(loc.id, name)) fail(loc.file, "missing HDF5 group " + loc.child(name));
  const hid_t g = H5Gopen2(loc.id, name.c_str(), H5P_DEFAULT);
  if (g < 0) fail(loc.file, loc.child(name) + " is not an HDF5 group");
  return Handle(g, H5Gclose);
}

inline Handle open_dataset(const Loc& loc, const std::string& name) {
  if (!exists(loc.id, name)) fail(loc.file, "missing HDF5 dataset " + loc.child(name));
  const hid_t d = H5Dopen2(loc.id, name.c_str(), H5P_DEFAULT);
  if (d < 0) fail(loc.file, loc.child(name) + " is not an HDF5 dataset");
  return Handle(d, H5Dclose);
}

inline std::vector<hsize_t> dataset_dims(hid_t ds, const std::string& file, const std::string& what) {
  Handle sp(H5Dget_space(ds), H5Sclose);
  const int nd = sp ? H5Sget_simple_extent_ndims(sp.get()) : -1;
  if (nd < 0 || nd > 8) fail(file, "cannot read the shape of " + what);
  std::vector<hsize_t> dims(static_cast<std::size_t>(nd));
  if (nd > 0) H5Sget_simple_extent_dims(sp.get(), dims.data(), nullptr);
  return dims;
}

inline std::uint64_t dataset_length_1d(hid_t ds, const std::string& file, const std::string& what) {
  const auto dims = dataset_dims(ds, file, what);
  if (dims.size() != 1) fail(file, what + " must be 1-dimensional, has " + std::to_string(dims.size()) + " dimensions");
  return dims[0];
}

inline H5T_class_t type_class(hid_t ds) {
  Handle t(H5Dget_type(ds), H5Tclose);
  return t ? H5Tget_class(t.get()) : H5T_NO_CLASS;
}

template <class T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, float>) return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>) return H5T_NATIVE_DOUBLE;
  else if constexpr (std::is_same_v<T, std::int32_t>) return H5T_NATIVE_INT32;
  else if constexpr (std::is_same_v<T, std::int64_t>) return H5T_NATIVE_INT64;
  else if constexpr (std::is_same_v<T, std::uint16_t>) return H5T_NATIVE_UINT16;
  else if constexpr (std::is_same_v<T, std::uint32_t>) return H5T_NATIVE_UINT32;
  else if constexpr (std::is_same_v<T, std::uint64_t>) return H5T_NATIVE_UINT64;
  else static_assert(sizeof(T) == 0, "unsupported HDF5 element type");
}

// Reads elements [start, start + count) of a 1-D numeric dataset, converting to T.
template <class T>
void read_range(hid_t ds, std::uint64_t start, std::uint64_t count, T* out, const std::string& file,
                const std::string& what) {
  if (count == 0) return;
  const H5T_class_t cls = type_class(ds);
  if (cls != H5T_INTEGER && cls != H5T_FLOAT) fail(file, what + " is not numeric");
  Handle fs(H5Dget_space(ds), H5Sclose);
  const hsize_t st[1] = {start}, cn[1] = {count};
  if (!fs || H5Sselect_hyperslab(fs.get(), H5S_SELECT_SET, st, nullptr, cn, nullptr) < 0)
    fail(file, "cannot select a range of " + what);
  Handle ms(H5Screate_simple(1, cn, nullptr), H5Sclose);
  if (H5Dread(ds, native_type<T>(), ms.get(), fs.get(), H5P_DEFAULT, out) < 0)
    fail(file, "cannot read " + what + " (corrupt data or unsupported type)");
}

template <class T>
std::vector<T> read_vector(const Loc& loc, const std::string& name) {
  Handle ds = open_dataset(loc, name);
  const std::string what = loc.child(name);
  const std::uint64_t n = dataset_length_1d(ds.get(), loc.file, what);
  std::vector<T> v(static_cast<std::size_t>(n));
  read_range(ds.get(), 0, n, v.data(), loc.file, what);
  return v;
}

// Strings of a string datatype (fixed-length or variable-length) from a dataset or attribute.
inline std::vector<std::string> read_string_data(hid_t obj, bool is_attr, hid_t ftype, std::uint64_t n,
                                                 const std::string& file, const std::string& what) {
  if (H5Tget_class(ftype) != H5T_STRING) fail(file, what + " is not a string array");
  std::vector<std::string> out(static_cast<std::size_t>(n));
  if (n == 0) return out;
  const htri_t var = H5Tis_variable_str(ftype);
  if (var < 0) fail(file, "cannot read the string type of " + what);
  Handle mt(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_cset(mt.get(), H5Tget_cset(ftype));
  if (var > 0) {
    H5Tset_size(mt.get(), H5T_VARIABLE);
    std::vector<char*> buf(static_cast<std::size_t>(n), nullptr);
    const herr_t rc = is_attr ? H5Aread(obj, mt.get(), buf.data())
                              : H5Dread(obj, mt.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
    if (rc < 0) fail(file, "cannot read strings of " + what);
    for (std::size_t i = 0; i < buf.size(); ++i) {
      if (buf[i]) out[i] = buf[i];
      H5free_memory(buf[i]);
    }
    return out;
  }
  const std::size_t sz = H5Tget_size(ftype);
  if (sz == 0 || sz > (std::size_t{1} << 20)) fail(file, "bad fixed string size in " + what);
  if (n > (std::uint64_t{1} << 32) / sz) fail(file, what + " is too large");
  H5Tset_size(mt.get(), sz);
  H5Tset_strpad(mt.get(), H5T_STR_NULLPAD);
  std::vector<char> buf(static_cast<std::size_t>(n) * sz);
  const herr_t rc = is_attr ? H5Aread(obj, mt.get(), buf.data())
                            : H5Dread(obj, mt.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  if (rc < 0) fail(file, "cannot read strings of " + what);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const char* s = buf.data() + i * sz;
    std::size_t len = 0;
    while (len < sz && s[len] != '\0') ++len;
    while (len > 0 && s[len - 1] == ' ') --len;  // space-padded strings
    out[i].assign(s, len);
  }
  return out;
}

inline std::vector<std::string> read_strings(const Loc& loc, const std::string& name) {
  Handle ds = open_dataset(loc, name);
  const std::string what = loc.child(name);
  Handle ft(H5Dget_type(ds.get()), H5Tclose);
  const auto dims = dataset_dims(ds.get(), loc.file, what);
  if (dims.size() != 1) fail(loc.file, what + " must be a 1-dimensional string array");
  return read_string_data(ds.get(), false, ft.get(), dims[0], loc.file, what);
}

// A scalar (or 1-element) string attribute of object `obj` below loc; nullopt if absent.
inline std::optional<std::string> read_string_attr(const Loc& loc, const std::string& obj, const std::string& name) {
  if (!obj.empty() && obj != "." && !exists(loc.id, obj)) return std::nullopt;
  const char* o = obj.empty() ? "." : obj.c_str();
  if (H5Aexists_by_name(loc.id, o, name.c_str(), H5P_DEFAULT) <= 0) return std::nullopt;
  Handle a(H5Aopen_by_name(loc.id, o, name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  const std::string what = "attribute '" + name + "' of " + loc.child(obj);
  if (!a) fail(loc.file, "cannot open " + what);
  Handle t(H5Aget_type(a.get()), H5Tclose);
  Handle sp(H5Aget_space(a.get()), H5Sclose);
  const hssize_t n = sp ? H5Sget_simple_extent_npoints(sp.get()) : -1;
  if (H5Tget_class(t.get()) != H5T_STRING || n != 1) fail(loc.file, what + " is not a single string");
  return read_string_data(a.get(), true, t.get(), 1, loc.file, what)[0];
}

// An integer array attribute (e.g. AnnData's sparse "shape"); nullopt if absent.
inline std::optional<std::vector<std::int64_t>> read_int_attr(const Loc& loc, const std::string& obj,
                                                              const std::string& name) {
  const char* o = obj.empty() ? "." : obj.c_str();
  if (H5Aexists_by_name(loc.id, o, name.c_str(), H5P_DEFAULT) <= 0) return std::nullopt;
  Handle a(H5Aopen_by_name(loc.id, o, name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  const std::string what = "attribute '" + name + "' of " + loc.child(obj);
  Handle t(H5Aget_type(a.get()), H5Tclose);
  Handle sp(H5Aget_space(a.get()), H5Sclose);
  const hssize_t n = sp ? H5Sget_simple_extent_npoints(sp.get()) : -1;
  if (!a || H5Tget_class(t.get()) != H5T_INTEGER || n < 1 || n > 16) fail(loc.file, what + " is not a small integer array");
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  if (H5Aread(a.get(), H5T_NATIVE_INT64, v.data()) < 0) fail(loc.file, "cannot read " + what);
  return v;
}

// Names of the objects of one type (H5I_GROUP, H5I_DATASET) directly below loc.
inline std::vector<std::string> child_objects(const Loc& loc, H5I_type_t type) {
  H5G_info_t info;
  if (H5Gget_info(loc.id, &info) < 0) fail(loc.file, "cannot list " + loc.path);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks && i < 4096; ++i) {
    const ssize_t len = H5Lget_name_by_idx(loc.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) continue;
    std::string name(static_cast<std::size_t>(len) + 1, '\0');
    H5Lget_name_by_idx(loc.id, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(), H5P_DEFAULT);
    name.resize(static_cast<std::size_t>(len));
    if (object_type(loc.id, name) == type) names.push_back(name);
  }
  return names;
}

inline std::vector<std::string> child_groups(const Loc& loc) { return child_objects(loc, H5I_GROUP); }

inline Handle open_file_read(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(path, "cannot open file: No such file or directory");
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, expected an HDF5 file");
  if (H5Fis_hdf5(path.c_str()) <= 0) fail(path, "not an HDF5 file (bad signature or truncated)");
  const hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) fail(path, "cannot open HDF5 file (corrupt or truncated)");
  return Handle(f, H5Fclose);
}

// ---- writing (used by the .h5ad writer, the tests and the fuzzers) ----

inline Handle create_file(const std::string& path) {
  const hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) fail(path, "cannot create HDF5 file");
  return Handle(f, H5Fclose);
}

// An in-memory file (core driver, no backing store): fuzzers build inputs without touching disk.
inline Handle create_memory_file(const std::string& name) {
  Handle fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_core(fapl.get(), 4096, 0);
  const hid_t f = H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get());
  if (f < 0) fail(name, "cannot create in-memory HDF5 file");
  return Handle(f, H5Fclose);
}

inline Handle create_group(hid_t loc, const std::string& name) {
  Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  const hid_t g = H5Gcreate2(loc, name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT);
  if (g < 0) fail(name, "cannot create HDF5 group");
  return Handle(g, H5Gclose);
}

// N-dimensional numeric dataset, written from row-major data.
template <class T>
void write_array(hid_t loc, const std::string& name, const T* data, const std::vector<hsize_t>& dims) {
  Handle sp(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle ds(H5Dcreate2(loc, name.c_str(), native_type<T>(), sp.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  if (!ds) fail(name, "cannot create HDF5 dataset");
  hsize_t total = 1;
  for (hsize_t d : dims) total *= d;
  if (total > 0 && H5Dwrite(ds.get(), native_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
    fail(name, "cannot write HDF5 dataset");
}

template <class T>
void write_vector(hid_t loc, const std::string& name, const std::vector<T>& v) {
  write_array(loc, name, v.data(), {static_cast<hsize_t>(v.size())});
}

inline Handle string_type(bool variable, std::size_t fixed_size) {
  Handle t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_cset(t.get(), H5T_CSET_UTF8);
  if (variable) H5Tset_size(t.get(), H5T_VARIABLE);
  else {
    H5Tset_size(t.get(), std::max<std::size_t>(fixed_size, 1));
    H5Tset_strpad(t.get(), H5T_STR_NULLPAD);
  }
  return t;
}

// 1-D string dataset, variable-length (h5py/AnnData) or fixed-length (10x "|S" arrays).
inline void write_strings(hid_t loc, const std::string& name, const std::vector<std::string>& v, bool variable = true) {
  std::size_t width = 1;
  for (const auto& s : v) width = std::max(width, s.size());
  Handle t = string_type(variable, width);
  const hsize_t dims[1] = {v.size()};
  Handle sp(H5Screate_simple(1, dims, nullptr), H5Sclose);
  Handle ds(H5Dcreate2(loc, name.c_str(), t.get(), sp.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Dclose);
  if (!ds) fail(name, "cannot create HDF5 string dataset");
  if (v.empty()) return;
  herr_t rc;
  if (variable) {
    std::vector<const char*> p(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) p[i] = v[i].c_str();
    rc = H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data());
  } else {
    std::vector<char> buf(v.size() * width, '\0');
    for (std::size_t i = 0; i < v.size(); ++i) std::memcpy(buf.data() + i * width, v[i].data(), v[i].size());
    rc = H5Dwrite(ds.get(), t.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  }
  if (rc < 0) fail(name, "cannot write HDF5 strings");
}

inline void write_string_attr(hid_t obj, const std::string& name, const std::string& value, bool variable = true) {
  Handle t = string_type(variable, value.size());
  Handle sp(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(H5Acreate2(obj, name.c_str(), t.get(), sp.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a) fail(name, "cannot create HDF5 attribute");
  herr_t rc;
  if (variable) {
    const char* p = value.c_str();
    rc = H5Awrite(a.get(), t.get(), &p);
  } else {
    std::string buf = value;
    if (buf.empty()) buf.push_back('\0');
    rc = H5Awrite(a.get(), t.get(), buf.data());
  }
  if (rc < 0) fail(name, "cannot write HDF5 attribute");
}

inline void write_int_attr(hid_t obj, const std::string& name, const std::vector<std::int64_t>& v) {
  const hsize_t dims[1] = {v.size()};
  Handle sp(H5Screate_simple(1, dims, nullptr), H5Sclose);
  Handle a(H5Acreate2(obj, name.c_str(), H5T_NATIVE_INT64, sp.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (!a || H5Awrite(a.get(), H5T_NATIVE_INT64, v.data()) < 0) fail(name, "cannot write HDF5 attribute");
}

}  // namespace h5
}  // namespace data_detail
}  // namespace scvae
