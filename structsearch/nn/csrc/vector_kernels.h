// The float32 vector kernels, written once against a vector-traits struct VT and included by
// sparse_kernels.cpp once per instruction set, each time inside its own namespace and under its own
// `#pragma GCC target`, so that one build holds an AVX-512, an AVX2 and a generic path and picks one
// at run time.  VT supplies the register type V, its lane count kLanes, the tail mask type Mask and
// tail(last), and zero, set1, load, load(p, mask), store, store(p, v, mask), fmadd, mul, add and
// reduce.  Everything else is shared: the passes of batch columns, the register-count dispatch, the
// row prefetch and its distance (rows_ahead, from tuning.prefetch_bytes in sparse_kernels.cpp).
//
// This file has no includes of its own: sparse_kernels.cpp includes what it needs first.

using V = VT::V;
using Mask = VT::Mask;
constexpr int kLanes = VT::kLanes;
constexpr int kColumns = 8 * kLanes;  // batch columns per pass: at most eight accumulators

// run(std::integral_constant<int, NV>{}) for NV in 1…8: the kernels are compiled for each count of
// registers a pass of batch columns needs.
template <typename F>
inline void with_registers(int nv, F&& run) {
  switch (nv) {
    case 1: run(std::integral_constant<int, 1>{}); break;
    case 2: run(std::integral_constant<int, 2>{}); break;
    case 3: run(std::integral_constant<int, 3>{}); break;
    case 4: run(std::integral_constant<int, 4>{}); break;
    case 5: run(std::integral_constant<int, 5>{}); break;
    case 6: run(std::integral_constant<int, 6>{}); break;
    case 7: run(std::integral_constant<int, 7>{}); break;
    default: run(std::integral_constant<int, 8>{}); break;
  }
}

// Batch columns in passes of up to kColumns (the last register of a pass masked): calls
// run(std::integral_constant<int, NV>, b0, width, tail, first) for each pass.
template <typename F>
inline void over_column_passes(int64_t B, F&& run) {
  for (int64_t b0 = 0; b0 < B; b0 += kColumns) {
    const int64_t width = B - b0 < kColumns ? B - b0 : kColumns;
    const int nv = static_cast<int>((width + kLanes - 1) / kLanes);
    const Mask tail = VT::tail(static_cast<int>(width - kLanes * (nv - 1)));
    with_registers(nv, [&](auto registers) { run(registers, b0, width, tail, b0 == 0); });
  }
}

// A row of `width` floats may start anywhere in a cache line: prefetch every line it touches.
inline void prefetch_row(const float* r, int64_t width) {
  for (int64_t b = 0; b < width; b += 16) _mm_prefetch(reinterpret_cast<const char*>(r + b), _MM_HINT_T0);
  _mm_prefetch(reinterpret_cast<const char*>(r + width - 1), _MM_HINT_T0);
}

// Σ of NV vectors' lanes: a tree of adds keeps the dependency chain short so that consecutive
// connections overlap in the pipeline, then one horizontal sum.
template <int NV>
inline float sum_lanes(V* p) {
#pragma GCC unroll 8
  for (int step = 1; step < NV; step *= 2)
    for (int q = 0; q + step < NV; q += 2 * step) p[q] = VT::add(p[q], p[q + step]);
  return VT::reduce(p[0]);
}

// out[i, b0 : b0 + width] = init + Σ_k v[k] · x[cl[k], b0 : b0 + width] over row i's connections,
// the row needed `ahead` connections later prefetched while this one is computed.
template <int NV>
inline void spmm_row(const int* cr, const int* cl, const float* v, const float* x, float init, float* out,
                     int64_t i, int64_t B, int64_t b0, int64_t width, Mask tail, int nnz, int ahead) {
  V acc[NV];
#pragma GCC unroll 8
  for (int q = 0; q < NV; ++q) acc[q] = VT::set1(init);
  for (int k = cr[i]; k < cr[i + 1]; ++k) {
    if (k + ahead < nnz) prefetch_row(x + static_cast<int64_t>(cl[k + ahead]) * B + b0, width);
    const V s = VT::set1(v[k]);
    const float* r = x + static_cast<int64_t>(cl[k]) * B + b0;
#pragma GCC unroll 8
    for (int q = 0; q < NV - 1; ++q) acc[q] = VT::fmadd(s, VT::load(r + kLanes * q), acc[q]);
    acc[NV - 1] = VT::fmadd(s, VT::load(r + kLanes * (NV - 1), tail), acc[NV - 1]);
  }
  float* o = out + i * B + b0;
#pragma GCC unroll 8
  for (int q = 0; q < NV - 1; ++q) VT::store(o + kLanes * q, acc[q]);
  VT::store(o + kLanes * (NV - 1), acc[NV - 1], tail);
}

// One row j of Wᵀ: x[j] (and the gx[j] accumulators) stay in registers while each connection's g[i]
// is loaded once, dotted with x[j] and, with WithGx, multiplied into gx[j].
template <int NV, bool WithGx>
inline void backward_row(const int* tr, const int* tc, const float* v, const float* g, const float* x,
                         float* gx, float* gv, int64_t j, int64_t B, int64_t b0, int64_t width, Mask tail,
                         bool first, int nnz, int ahead) {
  V xr[NV], acc[NV];
  const float* xj = x + j * B + b0;
#pragma GCC unroll 8
  for (int q = 0; q < NV; ++q) {
    xr[q] = q < NV - 1 ? VT::load(xj + kLanes * q) : VT::load(xj + kLanes * q, tail);
    acc[q] = VT::zero();
  }
  for (int k = tr[j]; k < tr[j + 1]; ++k) {
    if (k + ahead < nnz) prefetch_row(g + static_cast<int64_t>(tc[k + ahead]) * B + b0, width);
    const V s = VT::set1(v[k]);
    const float* r = g + static_cast<int64_t>(tc[k]) * B + b0;
    V prod[NV];
#pragma GCC unroll 8
    for (int q = 0; q < NV; ++q) {
      const V gr = q < NV - 1 ? VT::load(r + kLanes * q) : VT::load(r + kLanes * q, tail);
      if constexpr (WithGx) acc[q] = VT::fmadd(s, gr, acc[q]);
      prod[q] = VT::mul(gr, xr[q]);
    }
    const float d = sum_lanes<NV>(prod);
    gv[k] = first ? d : gv[k] + d;
  }
  if constexpr (WithGx) {
    float* o = gx + j * B + b0;
#pragma GCC unroll 8
    for (int q = 0; q < NV - 1; ++q) VT::store(o + kLanes * q, acc[q]);
    VT::store(o + kLanes * (NV - 1), acc[NV - 1], tail);
  }
}

// Rows lo … hi - 1 of the product (see spmm_impl): any batch size in ceil(B / kColumns) passes.
inline void spmm_rows(const int* cr, const int* cl, const float* v, const float* bias, const float* x, float* out,
                      int64_t B, int64_t lo, int64_t hi, int nnz, int prefetch_bytes) {
  for (int64_t i = lo; i < hi; ++i) {
    const float init = bias ? bias[i] : 0.0f;
    over_column_passes(B, [&](auto nv, int64_t b0, int64_t width, Mask tail, bool) {
      const int ahead = rows_ahead(prefetch_bytes, width);
      spmm_row<decltype(nv)::value>(cr, cl, v, x, init, out, i, B, b0, width, tail, nnz, ahead);
    });
  }
}

// Rows lo … hi - 1 of Wᵀ in the backward pass (see backward_impl); gx may be null.
inline void backward_rows(const int* tr, const int* tc, const float* v, const float* g, const float* x, float* gx,
                          float* gv, int64_t B, int64_t lo, int64_t hi, int nnz, int prefetch_bytes) {
  for (int64_t j = lo; j < hi; ++j) {
    over_column_passes(B, [&](auto nv, int64_t b0, int64_t width, Mask tail, bool first) {
      constexpr int NV = decltype(nv)::value;
      const int ahead = rows_ahead(prefetch_bytes, width);
      if (gx)
        backward_row<NV, true>(tr, tc, v, g, x, gx, gv, j, B, b0, width, tail, first, nnz, ahead);
      else
        backward_row<NV, false>(tr, tc, v, g, x, gx, gv, j, B, b0, width, tail, first, nnz, ahead);
    });
  }
}
