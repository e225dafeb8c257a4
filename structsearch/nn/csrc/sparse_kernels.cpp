// CPU kernels for SparseLinear, feature-major (features × batch, row-major).
//
// SparseLinear stores its values in column-major order (CSR of Wᵀ: for each source neuron j, its
// targets i ascending), so that the backward pass reads and writes them sequentially; the CSR of W
// reaches the same values through an int32 permutation.
//
//   spmm:  out[i, :] = bias[i] + Σ_k v[perm[k]] · x[col[k], :]   for k in row i of a CSR matrix
//          (perm optional: without it the values are in the structure's own order; with it they
//          are gathered first, in a pass of their own, which keeps the random reads off the FMAs)
//   backward: the gradients of y = W·x in one pass over the CSR of Wᵀ (row j, connection k → i):
//          gv[k] = ⟨g[i, :], x[j, :]⟩   and, when asked for,   gx[j, :] = Σ_k v[k] · g[i, :]
//          x[j] and the gx[j] accumulators stay in registers, so every row of g read from cache
//          serves both products, and v and gv are streamed in order.
//
// Cost is O(connections × batch).  Rows are split over ATen's thread pool.  With AVX-512 the float32
// kernels keep up to 128 batch columns in 512-bit registers (the last one masked), with AVX2 and FMA
// up to 64 in 256-bit registers; elsewhere the compiler vectorises the generic loops.
// the narrow headers, not <torch/extension.h>: a third less to compile on first use
#include <torch/types.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/csrc/utils/pybind.h>
#include <pybind11/stl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <map>
#include <string>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(__clang__)
#define STRUCTSEARCH_X86_KERNELS 1
#include <immintrin.h>
#endif

namespace {

// The instruction set the float32 kernels use and their prefetch distances: the best the processor
// has unless set_isa chooses another (tests run every path the processor supports), and distances a
// benchmark may change (set_tuning) to find the best.
enum class Isa { generic, avx2, avx512 };

constexpr const char* kIsaNames[] = {"generic", "avx2", "avx512"};  // by Isa, worst to best

bool supported(Isa isa) {
  switch (isa) {
    case Isa::generic: return true;
#ifdef STRUCTSEARCH_X86_KERNELS
    case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512: return __builtin_cpu_supports("avx512f");
#endif
    default: return false;
  }
}

Isa best_isa() {
#ifdef STRUCTSEARCH_X86_KERNELS
  __builtin_cpu_init();
#endif
  for (int k = 2; k > 0; --k)
    if (supported(static_cast<Isa>(k))) return static_cast<Isa>(k);
  return Isa::generic;
}

Isa current_isa = best_isa();

// prefetch_bytes: how far ahead the vector kernels prefetch the rows they read at random, in bytes
// of rows: rows_ahead(prefetch_bytes, width) connections.  gather_ahead: the same, in values, for the
// forward pass's gather of values through the permutation.  (Tuned with benchmarks/layer_locality.py
// --tune: see its docstring.)
struct Tuning {
  int prefetch_bytes = 4096;
  int gather_ahead = 64;
} tuning;

// Connections between a row's prefetch and its use, for rows of `width` floats: enough rows to keep
// prefetch_bytes in flight, between 4 and 48.
inline int rows_ahead(int prefetch_bytes, int64_t width) {
  const int64_t rows = prefetch_bytes / (4 * width);
  return static_cast<int>(rows < 4 ? 4 : rows > 48 ? 48 : rows);
}

}  // namespace

#ifdef STRUCTSEARCH_X86_KERNELS
// One traits struct per instruction set; the kernels themselves are in vector_kernels.h, included
// once for each under that set's target.
#pragma GCC push_options
#pragma GCC target("avx512f")
namespace {
namespace avx512 {
struct VT {
  using V = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;
  static inline Mask tail(int last) { return static_cast<Mask>(last == 16 ? 0xFFFF : (1u << last) - 1); }
  static inline V zero() { return _mm512_setzero_ps(); }
  static inline V set1(float s) { return _mm512_set1_ps(s); }
  static inline V load(const float* p) { return _mm512_loadu_ps(p); }
  static inline V load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static inline void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static inline void store(float* p, V v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static inline V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static inline V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static inline V add(V a, V b) { return _mm512_add_ps(a, b); }
  static inline float reduce(V a) { return _mm512_reduce_add_ps(a); }
};
#include "vector_kernels.h"
}  // namespace avx512
}  // namespace
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace {
namespace avx2 {
struct VT {
  using V = __m256;
  using Mask = __m256i;
  static constexpr int kLanes = 8;
  static inline Mask tail(int last) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(last), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static inline V zero() { return _mm256_setzero_ps(); }
  static inline V set1(float s) { return _mm256_set1_ps(s); }
  static inline V load(const float* p) { return _mm256_loadu_ps(p); }
  static inline V load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static inline void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static inline void store(float* p, V v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  static inline V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static inline V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static inline V add(V a, V b) { return _mm256_add_ps(a, b); }
  static inline float reduce(V a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_hadd_ps(s, s);
    return _mm_cvtss_f32(_mm_hadd_ps(s, s));
  }
};
#include "vector_kernels.h"
}  // namespace avx2
}  // namespace
#pragma GCC pop_options
#endif

namespace {

template <typename T, int W>
inline void spmm_block(const int* cr, const int* cl, const T* v, const T* x,
                       T init, T* out, int64_t i, int64_t B, int64_t b0) {
  T acc[W];
  for (int b = 0; b < W; ++b) acc[b] = init;
  for (int k = cr[i]; k < cr[i + 1]; ++k) {
    const T s = v[k];
    const T* row = x + static_cast<int64_t>(cl[k]) * B + b0;
#pragma GCC unroll 64
    for (int b = 0; b < W; ++b) acc[b] += s * row[b];
  }
  T* o = out + i * B + b0;
  for (int b = 0; b < W; ++b) o[b] = acc[b];
}

template <typename T>
void spmm_impl(const int* cr, const int* cl, const T* v, const T* bias,
               const T* x, T* out, int64_t n, int64_t B) {
  constexpr int W = 256 / sizeof(T);  // four 512-bit registers' worth of columns
  const int prefetch_bytes = tuning.prefetch_bytes;
  at::parallel_for(0, n, 16, [&](int64_t lo, int64_t hi) {
#ifdef STRUCTSEARCH_X86_KERNELS
    if constexpr (std::is_same_v<T, float>) {
      if (current_isa == Isa::avx512) return avx512::spmm_rows(cr, cl, v, bias, x, out, B, lo, hi, cr[n], prefetch_bytes);
      if (current_isa == Isa::avx2) return avx2::spmm_rows(cr, cl, v, bias, x, out, B, lo, hi, cr[n], prefetch_bytes);
    }
#endif
    for (int64_t i = lo; i < hi; ++i) {
      const T init = bias ? bias[i] : T(0);
      int64_t b0 = 0;
      for (; b0 + W <= B; b0 += W) spmm_block<T, W>(cr, cl, v, x, init, out, i, B, b0);
      for (; b0 + 8 <= B; b0 += 8) spmm_block<T, 8>(cr, cl, v, x, init, out, i, B, b0);
      for (; b0 < B; ++b0) spmm_block<T, 1>(cr, cl, v, x, init, out, i, B, b0);
    }
  });
}

template <typename T>
void backward_impl(const int* tr, const int* tc, const T* v, const T* g, const T* x, T* gx, T* gv,
                   int64_t n_in, int64_t B) {
  const int prefetch_bytes = tuning.prefetch_bytes;
  at::parallel_for(0, n_in, 16, [&](int64_t lo, int64_t hi) {
#ifdef STRUCTSEARCH_X86_KERNELS
    if constexpr (std::is_same_v<T, float>) {
      if (current_isa == Isa::avx512)
        return avx512::backward_rows(tr, tc, v, g, x, gx, gv, B, lo, hi, tr[n_in], prefetch_bytes);
      if (current_isa == Isa::avx2) return avx2::backward_rows(tr, tc, v, g, x, gx, gv, B, lo, hi, tr[n_in], prefetch_bytes);
    }
#endif
    for (int64_t j = lo; j < hi; ++j) {
      const T* xj = x + j * B;
      T* o = gx ? gx + j * B : nullptr;
      if (o)
        for (int64_t b = 0; b < B; ++b) o[b] = T(0);
      for (int k = tr[j]; k < tr[j + 1]; ++k) {
        const T* r = g + static_cast<int64_t>(tc[k]) * B;
        if (o) {
          const T s = v[k];
#pragma omp simd
          for (int64_t b = 0; b < B; ++b) o[b] += s * r[b];
        }
        T d = T(0);
#pragma omp simd reduction(+ : d)
        for (int64_t b = 0; b < B; ++b) d += r[b] * xj[b];
        gv[k] = d;
      }
    }
  });
}

template <typename T>
void row_sums(const T* g, T* out, int64_t n, int64_t B) {
  at::parallel_for(0, n, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const T* r = g + i * B;
      T s = T(0);
#pragma omp simd reduction(+ : s)
      for (int64_t b = 0; b < B; ++b) s += r[b];
      out[i] = s;
    }
  });
}

// Python validates every structure it loads (SparseLinear.check_structure); a debug build
// (STRUCTSEARCH_KERNELS_DEBUG=1) checks again here that no index can read out of bounds.
void check(const torch::Tensor& crow, const torch::Tensor& col, const torch::Tensor& dense,
           int64_t n_cols, const torch::Tensor* perm = nullptr, int64_t n_values = 0) {
  TORCH_CHECK(crow.device().is_cpu() && crow.scalar_type() == torch::kInt32 && crow.is_contiguous());
  TORCH_CHECK(col.scalar_type() == torch::kInt32 && col.is_contiguous());
  TORCH_CHECK(dense.dim() == 2 && dense.is_contiguous(), "dense operand must be contiguous 2-d");
#ifdef STRUCTSEARCH_DEBUG
  const int* cr = crow.data_ptr<int>();
  const int* cl = col.data_ptr<int>();
  const int64_t rows = crow.size(0) - 1;
  TORCH_CHECK(rows >= 0 && cr[0] == 0, "row pointers must start at 0");
  for (int64_t r = 0; r < rows; ++r) TORCH_CHECK(cr[r] <= cr[r + 1], "row pointers must not decrease");
  TORCH_CHECK(cr[rows] == col.size(0), "row pointers must end at the number of column indices");
  for (int64_t k = 0; k < col.size(0); ++k) TORCH_CHECK(cl[k] >= 0 && cl[k] < n_cols, "column index out of range");
  if (perm != nullptr) {
    const int* p = perm->data_ptr<int>();
    TORCH_CHECK(perm->size(0) == col.size(0), "permutation length differs from the connections");
    for (int64_t k = 0; k < perm->size(0); ++k) TORCH_CHECK(p[k] >= 0 && p[k] < n_values, "permutation out of range");
  }
#endif
}

}  // namespace

torch::Tensor spmm(torch::Tensor crow, torch::Tensor col, torch::Tensor values,
                   c10::optional<torch::Tensor> perm, c10::optional<torch::Tensor> bias,
                   torch::Tensor x) {
  TORCH_CHECK(!perm.has_value() || (perm->scalar_type() == torch::kInt32 && perm->is_contiguous()));
  check(crow, col, x, x.size(0), perm.has_value() ? &perm.value() : nullptr, values.size(0));
  const int64_t n = crow.size(0) - 1, B = x.size(1);
  auto out = torch::empty({n, B}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "structsearch_spmm", [&] {
    const scalar_t* v = values.data_ptr<scalar_t>();
    torch::Tensor gathered;
    if (perm.has_value()) {  // one gather pass: random reads with nothing waiting on them
      gathered = torch::empty({perm->size(0)}, values.options());
      const int32_t* p = perm->data_ptr<int32_t>();
      scalar_t* g = gathered.data_ptr<scalar_t>();
      const int64_t ahead = tuning.gather_ahead;  // a random read each: prefetched ahead of its turn
      at::parallel_for(0, perm->size(0), 4096, [&](int64_t lo, int64_t hi) {
        for (int64_t k = lo; k < hi; ++k) {
          if (k + ahead < hi) __builtin_prefetch(v + p[k + ahead], 0, 3);
          g[k] = v[p[k]];
        }
      });
      v = g;
    }
    const scalar_t* b = bias.has_value() ? bias->data_ptr<scalar_t>() : nullptr;
    spmm_impl<scalar_t>(crow.data_ptr<int>(), col.data_ptr<int>(), v, b, x.data_ptr<scalar_t>(),
                        out.data_ptr<scalar_t>(), n, B);
  });
  return out;
}

// [gv, gx, gb]: gx only when input_grad is set and gb (the bias gradient, g's row sums) only when
// bias_grad is; otherwise empty tensors.
std::vector<torch::Tensor> backward(torch::Tensor t_crow, torch::Tensor t_col, torch::Tensor values,
                                   torch::Tensor g, torch::Tensor x, bool input_grad, bool bias_grad) {
  TORCH_CHECK(g.is_contiguous() && g.size(1) == x.size(1));
  TORCH_CHECK(t_crow.size(0) - 1 == x.size(0), "transposed row pointers must cover the input's rows");
  check(t_crow, t_col, x, g.size(0));
  const int64_t n_in = t_crow.size(0) - 1, B = x.size(1), n_out = g.size(0);
  auto empty = torch::empty({0}, x.options());
  auto gx = input_grad ? torch::empty({n_in, B}, x.options()) : empty;
  auto gb = bias_grad ? torch::empty({n_out}, x.options()) : empty;
  auto gv = torch::empty({values.size(0)}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "structsearch_backward", [&] {
    if (bias_grad) row_sums<scalar_t>(g.data_ptr<scalar_t>(), gb.data_ptr<scalar_t>(), n_out, B);
    backward_impl<scalar_t>(t_crow.data_ptr<int>(), t_col.data_ptr<int>(), values.data_ptr<scalar_t>(),
                            g.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(),
                            input_grad ? gx.data_ptr<scalar_t>() : nullptr, gv.data_ptr<scalar_t>(),
                            n_in, B);
  });
  return {gv, gx, gb};
}

namespace {

// Stable counting sort by key[idx[i]] in [0, upper) (idx = nullptr: the identity): writes the sorted
// indices to out and each key's first position to start (upper + 1 entries, a compressed index).
template <typename K, typename O>
void counting_pass(const K* key, const int64_t* idx, int64_t n, int64_t upper, O* out, int32_t* start) {
  std::vector<int64_t> next(upper + 1, 0);
  for (int64_t i = 0; i < n; ++i) ++next[key[idx ? idx[i] : i] + 1];
  for (int64_t u = 0; u < upper; ++u) next[u + 1] += next[u];
  for (int64_t u = 0; u <= upper; ++u) start[u] = static_cast<int32_t>(next[u]);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t j = idx ? idx[i] : i;
    out[next[key[j]]++] = static_cast<O>(j);
  }
}

}  // namespace

// SparseLinear's structure from int64 connections (rows, cols) in three stable counting passes,
// O(n + n_out + n_in): [order (int64: the column-major order, by (col, row)), crow, col, perm (the
// CSR of W and its positions in that order), t_crow, t_col (the CSR of Wᵀ)], the last five int32.
std::vector<torch::Tensor> layout(torch::Tensor rows, torch::Tensor cols, int64_t n_out, int64_t n_in) {
  TORCH_CHECK(rows.device().is_cpu() && rows.scalar_type() == torch::kInt64 && rows.dim() == 1);
  TORCH_CHECK(cols.device().is_cpu() && cols.scalar_type() == torch::kInt64 && cols.sizes() == rows.sizes());
  TORCH_CHECK(rows.numel() < (int64_t(1) << 31), "too many connections for int32 indices");
  rows = rows.contiguous();
  cols = cols.contiguous();
  const int64_t n = rows.size(0);
  if (n > 0) {
    TORCH_CHECK(rows.min().item<int64_t>() >= 0 && rows.max().item<int64_t>() < n_out, "row index out of range");
    TORCH_CHECK(cols.min().item<int64_t>() >= 0 && cols.max().item<int64_t>() < n_in, "column index out of range");
  }
  const auto i32 = torch::dtype(torch::kInt32);
  auto order = torch::empty({n}, torch::dtype(torch::kInt64)), by_row = torch::empty({n}, order.options());
  auto crow = torch::empty({n_out + 1}, i32), col = torch::empty({n}, i32), perm = torch::empty({n}, i32);
  auto t_crow = torch::empty({n_in + 1}, i32), t_col = torch::empty({n}, i32);
  const int64_t *r = rows.data_ptr<int64_t>(), *c = cols.data_ptr<int64_t>();
  int64_t *o = order.data_ptr<int64_t>(), *br = by_row.data_ptr<int64_t>();
  int32_t *tc = t_col.data_ptr<int32_t>(), *pm = perm.data_ptr<int32_t>(), *cl = col.data_ptr<int32_t>();
  bool duplicate = false;
  {
    pybind11::gil_scoped_release no_gil;
    counting_pass(r, nullptr, n, n_out, br, crow.data_ptr<int32_t>());
    counting_pass(c, br, n, n_in, o, t_crow.data_ptr<int32_t>());  // by (col, row)
    for (int64_t k = 0; k < n; ++k) {
      tc[k] = static_cast<int32_t>(r[o[k]]);
      duplicate |= k > 0 && tc[k] == tc[k - 1] && c[o[k]] == c[o[k - 1]];
    }
    counting_pass(tc, nullptr, n, n_out, pm, crow.data_ptr<int32_t>());  // positions by (row, col)
    for (int64_t k = 0; k < n; ++k) cl[k] = static_cast<int32_t>(c[o[pm[k]]]);
  }
  if (duplicate) throw std::invalid_argument("duplicate connection in a SparseLinear layer");
  return {order, crow, col, perm, t_crow, t_col};
}

// The layer's product as an autograd function, so that a training step pays no Python between the
// kernels: structure = {crow, col, perm, t_crow, t_col} (see SparseLinear).
class SparseMatmul : public torch::autograd::Function<SparseMatmul> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, torch::Tensor values,
                               c10::optional<torch::Tensor> bias, torch::Tensor xt,
                               std::vector<torch::Tensor> structure) {
    ctx->save_for_backward({values, xt, structure[3], structure[4]});
    ctx->saved_data["bias"] = bias.has_value();
    return spmm(structure[0], structure[1], values, structure[2], bias, xt);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &values = saved[0], &xt = saved[1], &t_crow = saved[2], &t_col = saved[3];
    const bool has_bias = ctx->saved_data["bias"].toBool();
    const size_t x_edge = has_bias ? 2 : 1;  // needs_input_grad counts the tensor inputs only
    const bool need_values = ctx->needs_input_grad(0), need_input = ctx->needs_input_grad(x_edge);
    const bool need_bias = has_bias && ctx->needs_input_grad(1);
    const torch::Tensor g = grads[0].contiguous();
    torch::Tensor gv, gx, gb;
    if (need_values) {
      auto out = ::backward(t_crow, t_col, values, g, xt, need_input, need_bias);
      gv = out[0];
      if (need_input) gx = out[1];
      if (need_bias) gb = out[2];
    } else {
      if (need_input) gx = spmm(t_crow, t_col, values, c10::nullopt, c10::nullopt, g);
      if (need_bias) gb = g.sum(1);
    }
    return {gv, gb, gx, torch::Tensor()};
  }
};

torch::Tensor sparse_matmul(torch::Tensor values, c10::optional<torch::Tensor> bias, torch::Tensor xt,
                            std::vector<torch::Tensor> structure) {
  TORCH_CHECK(structure.size() == 5, "structure is (crow, col, perm, t_crow, t_col)");
  return SparseMatmul::apply(values, bias, xt.contiguous(), structure);
}

// The machine's random-read bandwidth for rows like the kernels read: Σ of x's rows idx[0], idx[1], …
// (x float32, rows × B, feature-major as the kernels' operands; idx int32), each row prefetched
// `ahead` rows before it is added (0: none), rows split over the thread pool.  A benchmark's bound,
// not part of a layer: benchmarks/layer_locality.py times it against the kernels' own reads.
double random_read(torch::Tensor x, torch::Tensor idx, int64_t ahead) {
  TORCH_CHECK(x.scalar_type() == torch::kFloat32 && x.dim() == 2 && x.is_contiguous());
  TORCH_CHECK(idx.scalar_type() == torch::kInt32 && idx.is_contiguous() && x.size(1) <= 256);
  const float* xp = x.data_ptr<float>();
  const int* ip = idx.data_ptr<int>();
  const int64_t m = idx.size(0), B = x.size(1), rows = x.size(0);
  for (int64_t k = 0; k < m; ++k) TORCH_CHECK(ip[k] >= 0 && ip[k] < rows, "row index out of range");
  std::vector<double> partial(m / 4096 + 1, 0.0);
  at::parallel_for(0, m, 4096, [&](int64_t lo, int64_t hi) {
    for (int64_t c0 = lo; c0 < hi; c0 += 4096) {  // a grain at a time: one partial sum each
      float acc[256] = {0};
      const int64_t c1 = std::min(hi, c0 + 4096);
      for (int64_t k = c0; k < c1; ++k) {
        if (ahead > 0 && k + ahead < m) {
          const float* next = xp + static_cast<int64_t>(ip[k + ahead]) * B;
          for (int64_t b = 0; b < B; b += 16) __builtin_prefetch(next + b, 0, 3);
        }
        const float* r = xp + static_cast<int64_t>(ip[k]) * B;
#pragma omp simd
        for (int64_t b = 0; b < B; ++b) acc[b] += r[b];
      }
      double total = 0;
      for (int64_t b = 0; b < B; ++b) total += acc[b];
      partial[c0 / 4096] = total;
    }
  });
  double total = 0;
  for (double p : partial) total += p;
  return total;
}

// The instruction sets this processor runs, the one in use, and a choice among them.
std::vector<std::string> isas() {
  std::vector<std::string> names;
  for (int k = 0; k < 3; ++k)
    if (supported(static_cast<Isa>(k))) names.emplace_back(kIsaNames[k]);
  return names;
}

std::string isa() { return kIsaNames[static_cast<int>(current_isa)]; }

void set_isa(const std::string& name) {
  for (int k = 0; k < 3; ++k)
    if (name == kIsaNames[k]) {
      if (!supported(static_cast<Isa>(k))) throw std::invalid_argument("this processor does not run " + name);
      current_isa = static_cast<Isa>(k);
      return;
    }
  throw std::invalid_argument("unknown instruction set " + name + " (generic, avx2 or avx512)");
}

// The prefetch distances, as a dict, and a change of either (a benchmark's tuning knob).
std::map<std::string, int> get_tuning() {
  return {{"prefetch_bytes", tuning.prefetch_bytes}, {"gather_ahead", tuning.gather_ahead}};
}

void set_tuning(int prefetch_bytes, int gather_ahead) {
  if (prefetch_bytes < 0 || gather_ahead < 0) throw std::invalid_argument("prefetch distances must be >= 0");
  tuning.prefetch_bytes = prefetch_bytes;
  tuning.gather_ahead = gather_ahead;
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("isas", &isas, "the instruction sets of the float32 kernels this processor runs");
  m.def("isa", &isa, "the instruction set the float32 kernels use");
  m.def("set_isa", &set_isa, "use another instruction set (one of isas())");
  m.def("tuning", &get_tuning, "the kernels' prefetch distances");
  m.def("set_tuning", &set_tuning, "set the prefetch distances", pybind11::arg("prefetch_bytes"), pybind11::arg("gather_ahead"));
  m.def("random_read", &random_read, "Σ of randomly indexed rows (a random-read bandwidth probe)");
  m.def("sparse_matmul", &sparse_matmul, "W·xᵀ (+ b) with gradients, for SparseLinear");
  m.def("layout", &layout, "SparseLinear's structure from int64 (rows, cols), by counting sorts");
  m.def("spmm", &spmm, "CSR × dense (feature-major), optional int32 value permutation and bias");
  m.def("backward", &backward,
        "value gradients (input and bias gradients when asked) in one pass over the CSR of Wᵀ");
}
