// CPU kernels for SparseLinear, feature-major (features × batch, row-major).
//
//   spmm:  out[i, :] = bias[i] + Σ_k v[k] · x[col[k], :]   for k in row i of a CSR matrix
//          (values may be read through a permutation: the transpose shares W's values)
//   sddmm: out[k]    = ⟨g[i, :], x[col[k], :]⟩              for every stored (i, col[k])
//   backward: both gradients of y = W·x in one pass over the transposed structure (row j of Wᵀ):
//          gx[j, :] = Σ v[perm[k]] · g[i, :]   and   gv[perm[k]] = ⟨g[i, :], x[j, :]⟩,  i = colᵀ[k]
//          so every row of g streamed from cache serves both products (half the traffic of
//          sddmm followed by the transposed spmm).
//
// Cost is O(connections × batch).  Rows are split over ATen's thread pool.  With AVX-512 the float32
// kernels keep up to 128 batch columns in 512-bit registers (the last one masked); elsewhere the
// compiler vectorises the generic loops.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <type_traits>
#include <utility>
#include <vector>

#ifdef __AVX512F__
#include <immintrin.h>
#endif

namespace {

template <typename T, int W>
inline void spmm_block(const int* cr, const int* cl, const T* v, const int64_t* perm, const T* x,
                       T init, T* out, int64_t i, int64_t B, int64_t b0) {
  T acc[W];
  for (int b = 0; b < W; ++b) acc[b] = init;
  for (int k = cr[i]; k < cr[i + 1]; ++k) {
    const T s = perm ? v[perm[k]] : v[k];
    const T* row = x + static_cast<int64_t>(cl[k]) * B + b0;
#pragma GCC unroll 64
    for (int b = 0; b < W; ++b) acc[b] += s * row[b];
  }
  T* o = out + i * B + b0;
  for (int b = 0; b < W; ++b) o[b] = acc[b];
}

#ifdef __AVX512F__
// Rows of the dense operand are read in random order: the row needed kAhead connections later is
// prefetched while this one is computed, so several cache misses are in flight at once.  (12 was
// the best of 0, 4, 6, 12, 20 for 3000 × 3000 at ε = 20, batch 128, on a Xeon with AVX-512.)
constexpr int kAhead = 12;

template <int NV>
inline void prefetch_row(const float* r) {
#pragma GCC unroll 8
  for (int q = 0; q < NV; ++q) _mm_prefetch(reinterpret_cast<const char*>(r + 16 * q), _MM_HINT_T0);
}

// Batch columns in passes of up to 128 (eight 512-bit registers, the last one masked): calls
// run(std::integral_constant<int, NV>, b0, tail, first) for each pass with NV registers.
template <typename F>
inline void over_column_passes(int64_t B, F&& run) {
  for (int64_t b0 = 0; b0 < B; b0 += 128) {
    const int64_t width = std::min<int64_t>(128, B - b0);
    const int nv = static_cast<int>((width + 15) / 16);
    const int last = static_cast<int>(width - 16 * (nv - 1));
    const __mmask16 tail = static_cast<__mmask16>(last == 16 ? 0xFFFF : (1u << last) - 1);
    const bool first = b0 == 0;
    switch (nv) {
      case 1: run(std::integral_constant<int, 1>{}, b0, tail, first); break;
      case 2: run(std::integral_constant<int, 2>{}, b0, tail, first); break;
      case 3: run(std::integral_constant<int, 3>{}, b0, tail, first); break;
      case 4: run(std::integral_constant<int, 4>{}, b0, tail, first); break;
      case 5: run(std::integral_constant<int, 5>{}, b0, tail, first); break;
      case 6: run(std::integral_constant<int, 6>{}, b0, tail, first); break;
      case 7: run(std::integral_constant<int, 7>{}, b0, tail, first); break;
      default: run(std::integral_constant<int, 8>{}, b0, tail, first); break;
    }
  }
}

// Σ of NV vectors' lanes: a tree of adds keeps the dependency chain short so consecutive
// connections overlap in the pipeline, then one horizontal sum.
template <int NV>
inline float sum_lanes(__m512* p) {
#pragma GCC unroll 8
  for (int step = 1; step < NV; step *= 2)
    for (int q = 0; q + step < NV; q += 2 * step) p[q] = _mm512_add_ps(p[q], p[q + step]);
  return _mm512_reduce_add_ps(p[0]);
}

// float32 with AVX-512: up to 128 batch columns per pass in NV 512-bit accumulators; the last
// vector is masked, so any batch size runs in ceil(B / 128) passes over the row's connections.
template <int NV>
inline void spmm_row_f32(const int* cr, const int* cl, const float* v, const int64_t* perm,
                         const float* x, float init, float* out, int64_t i, int64_t B, int64_t b0,
                         __mmask16 tail, int nnz) {
  __m512 acc[NV];
#pragma GCC unroll 8
  for (int j = 0; j < NV; ++j) acc[j] = _mm512_set1_ps(init);
  for (int k = cr[i]; k < cr[i + 1]; ++k) {
    if (k + kAhead < nnz) prefetch_row<NV>(x + static_cast<int64_t>(cl[k + kAhead]) * B + b0);
    const __m512 s = _mm512_set1_ps(perm ? v[perm[k]] : v[k]);
    const float* r = x + static_cast<int64_t>(cl[k]) * B + b0;
#pragma GCC unroll 8
    for (int j = 0; j < NV - 1; ++j) acc[j] = _mm512_fmadd_ps(s, _mm512_loadu_ps(r + 16 * j), acc[j]);
    acc[NV - 1] = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(tail, r + 16 * (NV - 1)), acc[NV - 1]);
  }
  float* o = out + i * B + b0;
#pragma GCC unroll 8
  for (int j = 0; j < NV - 1; ++j) _mm512_storeu_ps(o + 16 * j, acc[j]);
  _mm512_mask_storeu_ps(o + 16 * (NV - 1), tail, acc[NV - 1]);
}

// ⟨g, r⟩ over up to 128 columns with g held in NV registers (zero beyond the mask).
template <int NV>
inline void sddmm_row_f32(const int* cr, const int* cl, const float* gi, const float* x, float* out,
                          int64_t i, int64_t B, int64_t b0, __mmask16 tail, bool first, int nnz) {
  __m512 g[NV];
#pragma GCC unroll 8
  for (int j = 0; j < NV - 1; ++j) g[j] = _mm512_loadu_ps(gi + b0 + 16 * j);
  g[NV - 1] = _mm512_maskz_loadu_ps(tail, gi + b0 + 16 * (NV - 1));
  for (int k = cr[i]; k < cr[i + 1]; ++k) {
    if (k + kAhead < nnz) prefetch_row<NV>(x + static_cast<int64_t>(cl[k + kAhead]) * B + b0);
    const float* r = x + static_cast<int64_t>(cl[k]) * B + b0;
    __m512 p[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV - 1; ++j) p[j] = _mm512_mul_ps(g[j], _mm512_loadu_ps(r + 16 * j));
    p[NV - 1] = _mm512_mul_ps(g[NV - 1], _mm512_maskz_loadu_ps(tail, r + 16 * (NV - 1)));
    const float s = sum_lanes<NV>(p);
    out[k] = first ? s : out[k] + s;
  }
}

// One row j of Wᵀ for both gradients: x[j] and the gx[j] accumulators stay in registers while each
// connection's g[i] is loaded once, multiplied into gx[j] and dotted with x[j].
template <int NV>
inline void backward_row_f32(const int* tr, const int* tc, const int64_t* perm, const float* v,
                             const float* g, const float* x, float* gx, float* gv, int64_t j,
                             int64_t B, int64_t b0, __mmask16 tail, bool first, int nnz) {
  __m512 xr[NV], acc[NV];
  const float* xj = x + j * B + b0;
#pragma GCC unroll 8
  for (int q = 0; q < NV - 1; ++q) {
    xr[q] = _mm512_loadu_ps(xj + 16 * q);
    acc[q] = _mm512_setzero_ps();
  }
  xr[NV - 1] = _mm512_maskz_loadu_ps(tail, xj + 16 * (NV - 1));
  acc[NV - 1] = _mm512_setzero_ps();
  for (int k = tr[j]; k < tr[j + 1]; ++k) {
    if (k + kAhead < nnz) prefetch_row<NV>(g + static_cast<int64_t>(tc[k + kAhead]) * B + b0);
    const int64_t p = perm[k];
    const __m512 s = _mm512_set1_ps(v[p]);
    const float* r = g + static_cast<int64_t>(tc[k]) * B + b0;
    __m512 prod[NV];
#pragma GCC unroll 8
    for (int q = 0; q < NV - 1; ++q) {
      const __m512 gr = _mm512_loadu_ps(r + 16 * q);
      acc[q] = _mm512_fmadd_ps(s, gr, acc[q]);
      prod[q] = _mm512_mul_ps(gr, xr[q]);
    }
    {
      const __m512 gr = _mm512_maskz_loadu_ps(tail, r + 16 * (NV - 1));
      acc[NV - 1] = _mm512_fmadd_ps(s, gr, acc[NV - 1]);
      prod[NV - 1] = _mm512_mul_ps(gr, xr[NV - 1]);
    }
    const float d = sum_lanes<NV>(prod);
    gv[p] = first ? d : gv[p] + d;
  }
  float* o = gx + j * B + b0;
#pragma GCC unroll 8
  for (int q = 0; q < NV - 1; ++q) _mm512_storeu_ps(o + 16 * q, acc[q]);
  _mm512_mask_storeu_ps(o + 16 * (NV - 1), tail, acc[NV - 1]);
}

#endif

template <typename T>
void spmm_impl(const int* cr, const int* cl, const T* v, const int64_t* perm, const T* bias,
               const T* x, T* out, int64_t n, int64_t B) {
  constexpr int W = 256 / sizeof(T);  // four 512-bit registers' worth of columns
  at::parallel_for(0, n, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const T init = bias ? bias[i] : T(0);
#ifdef __AVX512F__
      if constexpr (std::is_same_v<T, float>) {
        over_column_passes(B, [&](auto nv, int64_t b0, __mmask16 tail, bool) {
          spmm_row_f32<decltype(nv)::value>(cr, cl, v, perm, x, init, out, i, B, b0, tail, cr[n]);
        });
        continue;
      }
#endif
      int64_t b0 = 0;
      for (; b0 + W <= B; b0 += W) spmm_block<T, W>(cr, cl, v, perm, x, init, out, i, B, b0);
      for (; b0 + 8 <= B; b0 += 8) spmm_block<T, 8>(cr, cl, v, perm, x, init, out, i, B, b0);
      for (; b0 < B; ++b0) spmm_block<T, 1>(cr, cl, v, perm, x, init, out, i, B, b0);
    }
  });
}

template <typename T>
void sddmm_impl(const int* cr, const int* cl, const T* g, const T* x, T* out, int64_t n, int64_t B) {
  at::parallel_for(0, n, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const T* gi = g + i * B;
#ifdef __AVX512F__
      if constexpr (std::is_same_v<T, float>) {
        over_column_passes(B, [&](auto nv, int64_t b0, __mmask16 tail, bool first) {
          sddmm_row_f32<decltype(nv)::value>(cr, cl, gi, x, out, i, B, b0, tail, first, cr[n]);
        });
        continue;
      }
#endif
      for (int k = cr[i]; k < cr[i + 1]; ++k) {
        const T* r = x + static_cast<int64_t>(cl[k]) * B;
        T s = T(0);
#pragma omp simd reduction(+ : s)
        for (int64_t b = 0; b < B; ++b) s += gi[b] * r[b];
        out[k] = s;
      }
    }
  });
}

template <typename T>
void backward_impl(const int* tr, const int* tc, const int64_t* perm, const T* v, const T* g,
                   const T* x, T* gx, T* gv, int64_t n_in, int64_t B) {
  at::parallel_for(0, n_in, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t j = lo; j < hi; ++j) {
#ifdef __AVX512F__
      if constexpr (std::is_same_v<T, float>) {
        over_column_passes(B, [&](auto nv, int64_t b0, __mmask16 tail, bool first) {
          backward_row_f32<decltype(nv)::value>(tr, tc, perm, v, g, x, gx, gv, j, B, b0, tail, first,
                                                tr[n_in]);
        });
        continue;
      }
#endif
      const T* xj = x + j * B;
      T* o = gx + j * B;
      for (int64_t b = 0; b < B; ++b) o[b] = T(0);
      for (int k = tr[j]; k < tr[j + 1]; ++k) {
        const int64_t p = perm[k];
        const T s = v[p];
        const T* r = g + static_cast<int64_t>(tc[k]) * B;
        T d = T(0);
#pragma omp simd reduction(+ : d)
        for (int64_t b = 0; b < B; ++b) {
          o[b] += s * r[b];
          d += r[b] * xj[b];
        }
        gv[p] = d;
      }
    }
  });
}

void check(const torch::Tensor& crow, const torch::Tensor& col, const torch::Tensor& dense) {
  TORCH_CHECK(crow.device().is_cpu() && crow.scalar_type() == torch::kInt32 && crow.is_contiguous());
  TORCH_CHECK(col.scalar_type() == torch::kInt32 && col.is_contiguous());
  TORCH_CHECK(dense.dim() == 2 && dense.is_contiguous(), "dense operand must be contiguous 2-d");
}

}  // namespace

torch::Tensor spmm(torch::Tensor crow, torch::Tensor col, torch::Tensor values,
                   c10::optional<torch::Tensor> perm, c10::optional<torch::Tensor> bias,
                   torch::Tensor x) {
  check(crow, col, x);
  const int64_t n = crow.size(0) - 1, B = x.size(1);
  auto out = torch::empty({n, B}, x.options());
  const int64_t* p = perm.has_value() ? perm->data_ptr<int64_t>() : nullptr;
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "structsearch_spmm", [&] {
    const scalar_t* b = bias.has_value() ? bias->data_ptr<scalar_t>() : nullptr;
    spmm_impl<scalar_t>(crow.data_ptr<int>(), col.data_ptr<int>(), values.data_ptr<scalar_t>(), p,
                        b, x.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), n, B);
  });
  return out;
}

torch::Tensor sddmm(torch::Tensor crow, torch::Tensor col, torch::Tensor g, torch::Tensor x) {
  check(crow, col, x);
  TORCH_CHECK(g.is_contiguous() && g.size(1) == x.size(1));
  const int64_t n = crow.size(0) - 1, B = x.size(1);
  auto out = torch::empty({col.size(0)}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "structsearch_sddmm", [&] {
    sddmm_impl<scalar_t>(crow.data_ptr<int>(), col.data_ptr<int>(), g.data_ptr<scalar_t>(),
                         x.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), n, B);
  });
  return out;
}

std::vector<torch::Tensor> backward(torch::Tensor t_crow, torch::Tensor t_col, torch::Tensor perm,
                                   torch::Tensor values, torch::Tensor g, torch::Tensor x) {
  check(t_crow, t_col, x);
  TORCH_CHECK(g.is_contiguous() && g.size(1) == x.size(1));
  TORCH_CHECK(perm.scalar_type() == torch::kInt64 && perm.is_contiguous());
  const int64_t n_in = t_crow.size(0) - 1, B = x.size(1);
  auto gx = torch::empty({n_in, B}, x.options());
  auto gv = torch::empty({values.size(0)}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "structsearch_backward", [&] {
    backward_impl<scalar_t>(t_crow.data_ptr<int>(), t_col.data_ptr<int>(), perm.data_ptr<int64_t>(),
                            values.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(),
                            gx.data_ptr<scalar_t>(), gv.data_ptr<scalar_t>(), n_in, B);
  });
  return {gx, gv};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("spmm", &spmm, "CSR × dense (feature-major), optional value permutation and bias");
  m.def("sddmm", &sddmm, "dense · denseᵀ sampled at a CSR pattern");
  m.def("backward", &backward, "input and value gradients in one pass over the transposed CSR");
}
