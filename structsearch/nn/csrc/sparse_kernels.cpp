// CPU kernels for SparseLinear, feature-major (features × batch, row-major).
//
//   spmm:  out[i, :] = bias[i] + Σ_k v[k] · x[col[k], :]   for k in row i of a CSR matrix
//          (values may be read through a permutation: the transpose shares W's values)
//   sddmm: out[k]    = ⟨g[i, :], x[col[k], :]⟩              for every stored (i, col[k])
//
// Cost is O(connections × batch).  Rows are split over ATen's thread pool.  With AVX-512 the float32
// kernels keep 128 batch columns in eight 512-bit accumulators; elsewhere the compiler vectorises
// the generic loops.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include <type_traits>

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
inline void spmm_block_f32_128(const int* cr, const int* cl, const float* v, const int64_t* perm,
                               const float* x, float init, float* out, int64_t i, int64_t B,
                               int64_t b0) {
  __m512 a0 = _mm512_set1_ps(init), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (int k = cr[i]; k < cr[i + 1]; ++k) {
    const __m512 s = _mm512_set1_ps(perm ? v[perm[k]] : v[k]);
    const float* r = x + static_cast<int64_t>(cl[k]) * B + b0;
    a0 = _mm512_fmadd_ps(s, _mm512_loadu_ps(r), a0);
    a1 = _mm512_fmadd_ps(s, _mm512_loadu_ps(r + 16), a1);
    a2 = _mm512_fmadd_ps(s, _mm512_loadu_ps(r + 32), a2);
    a3 = _mm512_fmadd_ps(s, _mm512_loadu_ps(r + 48), a3);
    a4 = _mm512_fmadd_ps(s, _mm512_loadu_ps(r + 64), a4);
    a5 = _mm512_fmadd_ps(s, _mm512_loadu_ps(r + 80), a5);
    a6 = _mm512_fmadd_ps(s, _mm512_loadu_ps(r + 96), a6);
    a7 = _mm512_fmadd_ps(s, _mm512_loadu_ps(r + 112), a7);
  }
  float* o = out + i * B + b0;
  _mm512_storeu_ps(o, a0);
  _mm512_storeu_ps(o + 16, a1);
  _mm512_storeu_ps(o + 32, a2);
  _mm512_storeu_ps(o + 48, a3);
  _mm512_storeu_ps(o + 64, a4);
  _mm512_storeu_ps(o + 80, a5);
  _mm512_storeu_ps(o + 96, a6);
  _mm512_storeu_ps(o + 112, a7);
}

// ⟨g, r⟩ for 128 columns with g held in registers: independent products and a tree sum keep the
// FMA latency chain short, so consecutive connections overlap in the pipeline.
inline float dot_f32_128(const __m512* g, const float* r) {
  const __m512 p0 = _mm512_mul_ps(g[0], _mm512_loadu_ps(r));
  const __m512 p1 = _mm512_mul_ps(g[1], _mm512_loadu_ps(r + 16));
  const __m512 p2 = _mm512_fmadd_ps(g[2], _mm512_loadu_ps(r + 32), p0);
  const __m512 p3 = _mm512_fmadd_ps(g[3], _mm512_loadu_ps(r + 48), p1);
  const __m512 p4 = _mm512_mul_ps(g[4], _mm512_loadu_ps(r + 64));
  const __m512 p5 = _mm512_mul_ps(g[5], _mm512_loadu_ps(r + 80));
  const __m512 p6 = _mm512_fmadd_ps(g[6], _mm512_loadu_ps(r + 96), p4);
  const __m512 p7 = _mm512_fmadd_ps(g[7], _mm512_loadu_ps(r + 112), p5);
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(p2, p3), _mm512_add_ps(p6, p7)));
}

inline float dot_f32(const float* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0;
  int64_t j = 0;
  for (; j + 32 <= n; j += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(b + j), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 16), _mm512_loadu_ps(b + j + 16), s1);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  for (; j < n; ++j) s += a[j] * b[j];
  return s;
}
#endif

template <typename T>
void spmm_impl(const int* cr, const int* cl, const T* v, const int64_t* perm, const T* bias,
               const T* x, T* out, int64_t n, int64_t B) {
  constexpr int W = 256 / sizeof(T);  // four 512-bit registers' worth of columns
  at::parallel_for(0, n, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const T init = bias ? bias[i] : T(0);
      int64_t b0 = 0;
#ifdef __AVX512F__
      if constexpr (std::is_same_v<T, float>) {
        for (; b0 + 128 <= B; b0 += 128) spmm_block_f32_128(cr, cl, v, perm, x, init, out, i, B, b0);
      }
#endif
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
        if (B == 128) {
          __m512 gr[8];
          for (int j = 0; j < 8; ++j) gr[j] = _mm512_loadu_ps(gi + 16 * j);
          for (int k = cr[i]; k < cr[i + 1]; ++k)
            out[k] = dot_f32_128(gr, x + static_cast<int64_t>(cl[k]) * B);
          continue;
        }
      }
#endif
      for (int k = cr[i]; k < cr[i + 1]; ++k) {
        const T* r = x + static_cast<int64_t>(cl[k]) * B;
#ifdef __AVX512F__
        if constexpr (std::is_same_v<T, float>) {
          out[k] = dot_f32(gi, r, B);
          continue;
        }
#endif
        T s = T(0);
#pragma omp simd reduction(+ : s)
        for (int64_t b = 0; b < B; ++b) s += gi[b] * r[b];
        out[k] = s;
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

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("spmm", &spmm, "CSR × dense (feature-major), optional value permutation and bias");
  m.def("sddmm", &sddmm, "dense · denseᵀ sampled at a CSR pattern");
}
