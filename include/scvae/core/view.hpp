#pragma once
// Non-owning views over backend memory. Column-major, [features x batch]: column j of a
// MatrixView is one cell. `ld` is the distance between columns (>= rows), so a block of rows
// (e.g. one head of a stacked [P*G x B] output) is a view without a copy.
// Views never own memory and carry no backend: the backend that allocated `data` interprets it.
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "config.hpp"

namespace scvae {

using Index = std::ptrdiff_t;

template <class T>
struct MatrixView {
  T* data = nullptr;
  Index rows = 0;
  Index cols = 0;
  Index ld = 0;  // leading dimension (column stride)

  MatrixView() = default;  // (no SCVAE_HD: a defaulted constructor is host-device already)
  SCVAE_HD MatrixView(T* d, Index r, Index c) : data(d), rows(r), cols(c), ld(r) {}
  SCVAE_HD MatrixView(T* d, Index r, Index c, Index l) : data(d), rows(r), cols(c), ld(l) {}
  // Implicit conversion to a read-only view.
  template <class U = T, class = typename std::enable_if<!std::is_const<U>::value>::type>
  SCVAE_HD operator MatrixView<const U>() const { return {data, rows, cols, ld}; }

  SCVAE_HD T& operator()(Index i, Index j) const { return data[i + j * ld]; }
  SCVAE_HD Index size() const { return rows * cols; }
  SCVAE_HD bool contiguous() const { return ld == rows; }
  // Columns [c0, c0 + n): a sub-batch.
  SCVAE_HD MatrixView col_block(Index c0, Index n) const { return {data + c0 * ld, rows, n, ld}; }
  // Rows [r0, r0 + n): e.g. one parameter head of a stacked output.
  SCVAE_HD MatrixView row_block(Index r0, Index n) const { return {data + r0, n, cols, ld}; }
};

template <class T>
struct VectorView {
  T* data = nullptr;
  Index size = 0;

  VectorView() = default;
  SCVAE_HD VectorView(T* d, Index n) : data(d), size(n) {}
  template <class U = T, class = typename std::enable_if<!std::is_const<U>::value>::type>
  SCVAE_HD operator VectorView<const U>() const { return {data, size}; }
  SCVAE_HD T& operator[](Index i) const { return data[i]; }
  SCVAE_HD VectorView segment(Index i0, Index n) const { return {data + i0, n}; }
};

// A sparse [rows x cols] matrix in compressed sparse column form: column j holds the entries
// ptr[j] .. ptr[j+1]-1, with strictly increasing row indices idx[] and values val[].
// A minibatch of cells is a CscView of [genes x batch] (= the cells' CSR rows, unchanged).
template <class T>
struct CscView {
  const std::int64_t* ptr = nullptr;  // [cols + 1]
  const std::int32_t* idx = nullptr;  // [nnz]
  const T* val = nullptr;             // [nnz]
  Index rows = 0;
  Index cols = 0;

  SCVAE_HD std::int64_t nnz() const { return cols > 0 ? ptr[cols] - ptr[0] : 0; }
  // Columns [c0, c0 + n). ptr stays absolute, so idx/val need no offset.
  SCVAE_HD CscView col_block(Index c0, Index n) const { return {ptr + c0, idx, val, rows, n}; }
};

}  // namespace scvae

