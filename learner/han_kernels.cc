#include "learner/han_kernels.h"

#include <ATen/Parallel.h>
#include <torch/autograd.h>
#include <torch/nn/functional/activation.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

namespace qosroute {

// The kernels' inner loops: plain functions over raw pointers, compiled once for AVX2 and
// once for baseline x86-64 where GCC supports function multi-versioning (picked at load
// time), so the build stays portable and still gets 8-wide vectors on current CPUs. They have
// external linkage because GCC's target_clones needs it. This file is compiled with
// -fno-trapping-math -fno-math-errno (learner/CMakeLists.txt): without them GCC keeps compares
// and rounding as branches and the exp/tanh loops stay scalar. Neither flag reorders
// arithmetic, and nothing here reads floating-point exception flags or errno.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define QR_VECTORIZE __attribute__((target_clones("avx2", "default")))
#else
#define QR_VECTORIZE
#endif
#define QR_ALWAYS_INLINE inline __attribute__((always_inline))

namespace han_kernels_detail {

// A dot product in eight independent lanes, which the compiler turns into vector code (one
// running sum cannot be reordered without -ffast-math). Fixed order: deterministic.
QR_ALWAYS_INLINE float Dot(const float* a, const float* b, int64_t n) {
  if (n < 16) {  // too short for lanes to pay off (the 6 slot features)
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) sum += a[i] * b[i];
    return sum;
  }
  float lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int l = 0; l < 8; ++l) lanes[l] += a[i + l] * b[i + l];
  }
  float sum = 0.0f;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (int l = 0; l < 8; ++l) sum += lanes[l];
  return sum;
}

// y += a * x
QR_ALWAYS_INLINE void Axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// exp for x <= 0 (Cephes expf: Cody-Waite reduction and a degree-6 polynomial, within 2 ulp),
// branch-free so that softmax loops vectorise instead of calling libm per element.
QR_ALWAYS_INLINE float ExpNonPositive(float x) {
  x = std::max(x, -87.0f);
  const float n = std::floor(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

// tanh(x) = sign(x) (1 - e) / (1 + e) with e = exp(-2 |x|), branch-free.
QR_ALWAYS_INLINE float Tanh(float x) {
  const float e = ExpNonPositive(-2.0f * std::fabs(x));
  return std::copysign((1.0f - e) / (1.0f + e), x);
}

// SemanticScore forward for rows [begin, end): score[r] = <query, tanh(pre[r])>, keeping
// tanh(pre) in `th` for the backward.
QR_VECTORIZE void SemanticScoreForwardRange(const float* pre, const float* query, int64_t width,
                                            float* th, float* score, int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float* u = pre + r * width;
    float* t = th + r * width;
    for (int64_t j = 0; j < width; ++j) t[j] = Tanh(u[j]);
    score[r] = Dot(t, query, width);
  }
}

// SemanticScore backward for rows [begin, end): d pre = g q (1 - t^2); this chunk's partial
// d query += g t.
QR_VECTORIZE void SemanticScoreBackwardRange(const float* th, const float* query, const float* g,
                                             int64_t width, float* grad_pre, float* grad_query,
                                             int64_t begin, int64_t end) {
  for (int64_t r = begin; r < end; ++r) {
    const float* t = th + r * width;
    float* d = grad_pre + r * width;
    const float gr = g[r];
    for (int64_t j = 0; j < width; ++j) d[j] = gr * query[j] * (1.0f - t[j] * t[j]);
    Axpy(gr, t, grad_query, width);
  }
}

struct MixShape {
  int64_t targets, neighbours, width, heads;
};

// AttentionMix forward for targets [begin, end). Per target, scores and weights are kept
// head-major ([K, M]) so each head's softmax runs over a contiguous row. Scores take one dot
// product per head for wide inputs (w, [K, F]); for narrow ones all heads accumulate together
// over the transposed weight (wt, [F, K]). scratch: K + M floats.
QR_VECTORIZE void AttentionMixForwardRange(const float* x, const bool* present, const float* w,
                                           const float* wt, const float* b, const float* t,
                                           float slope, MixShape s, float* out, float* leaky,
                                           float* alpha, float* scratch, int64_t begin,
                                           int64_t end) {
  const int64_t m_count = s.neighbours, width = s.width, heads = s.heads;
  for (int64_t p = begin; p < end; ++p) {
    const float* xp = x + p * m_count * width;
    const bool* mp = present + p * m_count;
    float* lp = leaky + p * heads * m_count;
    float* ap = alpha + p * heads * m_count;
    // Every output of this target is written here: the buffers come uninitialised.
    std::fill_n(lp, heads * m_count, 0.0f);
    std::fill_n(ap, heads * m_count, 0.0f);
    for (int64_t k = 0; k < heads; ++k) std::fill_n(out + (k * s.targets + p) * width, width, 0.0f);
    bool any = false;
    for (int64_t m = 0; m < m_count; ++m) any = any || mp[m];
    if (!any) continue;  // no neighbour: weights and output stay 0
    for (int64_t m = 0; m < m_count; ++m) {
      if (!mp[m]) continue;
      float* acc = scratch;
      for (int64_t k = 0; k < heads; ++k) acc[k] = b[k] + t[p * heads + k];
      const float* xm = xp + m * width;
      if (width >= 16) {
        for (int64_t k = 0; k < heads; ++k) acc[k] += Dot(xm, w + k * width, width);
      } else {
        for (int64_t f = 0; f < width; ++f) Axpy(xm[f], wt + f * heads, acc, heads);
      }
      for (int64_t k = 0; k < heads; ++k) {
        lp[k * m_count + m] = acc[k] > 0.0f ? acc[k] : slope * acc[k];
      }
    }
    // 1 for present neighbours, 0 for absent ones, as floats so the softmax loops vectorise.
    float* presence = scratch + heads;
    for (int64_t m = 0; m < m_count; ++m) presence[m] = mp[m] ? 1.0f : 0.0f;
    for (int64_t k = 0; k < heads; ++k) {
      const float* lk = lp + k * m_count;
      float* ak = ap + k * m_count;
      float top = -std::numeric_limits<float>::infinity();
      for (int64_t m = 0; m < m_count; ++m) {
        if (mp[m]) top = std::max(top, lk[m]);
      }
      // Absent entries get exp(0) * 0: their scores never enter the exponent.
      for (int64_t m = 0; m < m_count; ++m) {
        ak[m] = ExpNonPositive((lk[m] - top) * presence[m]) * presence[m];
      }
      float sum = 0.0f;
      for (int64_t m = 0; m < m_count; ++m) sum += ak[m];
      for (int64_t m = 0; m < m_count; ++m) ak[m] /= sum;
      float* ok = out + (k * s.targets + p) * width;
      for (int64_t m = 0; m < m_count; ++m) {
        if (mp[m]) Axpy(ak[m], xp + m * width, ok, width);
      }
    }
  }
}

// AttentionMix backward for targets [begin, end); weight gradients go to `gw` (this chunk's
// partial sum), per-target gradients straight to gx and gt. `scratch` holds M floats.
QR_VECTORIZE void AttentionMixBackwardRange(const float* x, const bool* present, const float* w,
                                            const float* leaky, const float* alpha, const float* g,
                                            float slope, MixShape s, float* gx, float* gw,
                                            float* gt, float* scratch, int64_t begin, int64_t end) {
  const int64_t m_count = s.neighbours, width = s.width, heads = s.heads;
  for (int64_t p = begin; p < end; ++p) {
    const float* xp = x + p * m_count * width;
    const bool* mp = present + p * m_count;
    float* gxp = gx != nullptr ? gx + p * m_count * width : nullptr;
    for (int64_t k = 0; k < heads; ++k) {
      const float* lk = leaky + (p * heads + k) * m_count;
      const float* ak = alpha + (p * heads + k) * m_count;
      const float* gk = g + (k * s.targets + p) * width;
      // Through the weighted sum: d alpha_m = <g_k, x_m>, d x_m += alpha_m g_k.
      float expected = 0.0f;
      for (int64_t m = 0; m < m_count; ++m) {
        if (!mp[m]) continue;
        scratch[m] = Dot(gk, xp + m * width, width);
        expected += ak[m] * scratch[m];
        if (gxp != nullptr) Axpy(ak[m], gk, gxp + m * width, width);
      }
      // Through the softmax and the LeakyReLU to the score e = x . w_k + b_k + t_k.
      float target_grad = 0.0f;
      for (int64_t m = 0; m < m_count; ++m) {
        if (!mp[m]) continue;
        float de = ak[m] * (scratch[m] - expected);
        if (!(lk[m] > 0.0f)) de *= slope;
        target_grad += de;
        if (gw != nullptr) Axpy(de, xp + m * width, gw + k * width, width);
        if (gxp != nullptr) Axpy(de, w + k * width, gxp + m * width, width);
      }
      gt[p * heads + k] = target_grad;
    }
  }
}

// EmbedSlots forward for rows (target, slot) [begin, end).
QR_VECTORIZE void EmbedSlotsForwardRange(const float* x, const bool* present, const float* wt,
                                         const float* b, const float* e, int64_t m_count,
                                         int64_t in_dim, int64_t hidden, float* out, int64_t begin,
                                         int64_t end) {
  for (int64_t row = begin; row < end; ++row) {
    float* hr = out + row * hidden;
    if (!present[row]) {
      std::fill_n(hr, hidden, 0.0f);
      continue;
    }
    const float* ep = e + (row / m_count) * hidden;
    for (int64_t j = 0; j < hidden; ++j) hr[j] = b[j] + ep[j];
    const float* xr = x + row * in_dim;
    for (int64_t f = 0; f < in_dim; ++f) Axpy(xr[f], wt + f * hidden, hr, hidden);
    for (int64_t j = 0; j < hidden; ++j) hr[j] = std::max(hr[j], 0.0f);
  }
}

// EmbedSlots backward for rows [begin, end), all of whose targets lie in this chunk.
// gw: this chunk's partial d(W^T) [F, H] followed by d b [H]. scratch: H floats.
QR_VECTORIZE void EmbedSlotsBackwardRange(const float* x, const bool* present, const float* wt,
                                          const float* h, const float* g, int64_t m_count,
                                          int64_t in_dim, int64_t hidden, float* gx, float* gw,
                                          float* ge, float* scratch, int64_t begin, int64_t end) {
  float* gb = gw + in_dim * hidden;
  for (int64_t row = begin; row < end; ++row) {
    if (!present[row]) continue;
    const float* hr = h + row * hidden;
    const float* gr = g + row * hidden;
    for (int64_t j = 0; j < hidden; ++j) scratch[j] = hr[j] > 0.0f ? gr[j] : 0.0f;
    Axpy(1.0f, scratch, gb, hidden);
    Axpy(1.0f, scratch, ge + (row / m_count) * hidden, hidden);
    const float* xr = x + row * in_dim;
    for (int64_t f = 0; f < in_dim; ++f) Axpy(xr[f], scratch, gw + f * hidden, hidden);
    if (gx != nullptr) {
      for (int64_t f = 0; f < in_dim; ++f) {
        gx[row * in_dim + f] = Dot(scratch, wt + f * hidden, hidden);
      }
    }
  }
}

}  // namespace han_kernels_detail

namespace {

using namespace han_kernels_detail;

// Scores of absent entries before the shift; finite so that a row with no present entry
// produces exp(0) * 0 = 0 rather than NaN, and large enough that exp underflows to exactly 0
// next to any real score.
constexpr float kAbsentScore = -1e30f;

// Work is split over fixed chunks of targets. A target's neighbours all fall in one chunk,
// so per-target gradients have a single writer; shared weight gradients are summed per chunk
// and then over chunks in order, so results do not depend on the thread count.
constexpr int64_t kTargetChunk = 32;

bool UseFused(const torch::Tensor& t, bool fused) {
  return fused && t.device().is_cpu() && t.scalar_type() == torch::kFloat32;
}

int64_t Chunks(int64_t targets) {
  return (targets + kTargetChunk - 1) / kTargetChunk;
}

// ---- AttentionMix ----------------------------------------------------------------------

class AttentionMixFunction : public torch::autograd::Function<AttentionMixFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& source,
                               const torch::Tensor& mask, const torch::Tensor& weight,
                               const torch::Tensor& bias, const torch::Tensor& target,
                               double slope) {
    const torch::Tensor x = source.contiguous();
    const torch::Tensor present = mask.contiguous();
    const torch::Tensor w = weight.contiguous();
    const torch::Tensor wt = weight.t().contiguous();
    const torch::Tensor b = bias.contiguous();
    const torch::Tensor t = target.contiguous();
    const MixShape s{x.size(0), x.size(1), x.size(2), w.size(0)};
    torch::Tensor out = torch::empty({s.heads, s.targets, s.width}, x.options());
    torch::Tensor leaky = torch::empty({s.targets, s.heads, s.neighbours}, x.options());
    torch::Tensor alpha = torch::empty({s.targets, s.heads, s.neighbours}, x.options());
    const float* xs = x.data_ptr<float>();
    const bool* ms = present.data_ptr<bool>();
    const float* ws = w.data_ptr<float>();
    const float* wts = wt.data_ptr<float>();
    const float* bs = b.data_ptr<float>();
    const float* ts = t.data_ptr<float>();
    float* os = out.data_ptr<float>();
    float* ls = leaky.data_ptr<float>();
    float* as = alpha.data_ptr<float>();
    const float slope_f = static_cast<float>(slope);
    at::parallel_for(0, s.targets, kTargetChunk, [&](int64_t begin, int64_t end) {
      std::vector<float> scratch(static_cast<size_t>(s.heads + s.neighbours));
      AttentionMixForwardRange(xs, ms, ws, wts, bs, ts, slope_f, s, os, ls, as, scratch.data(),
                               begin, end);
    });
    ctx->save_for_backward({x, present, w, leaky, alpha});
    ctx->saved_data["slope"] = slope;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& w = saved[2];
    const torch::Tensor g = grads[0].contiguous();
    const float slope = static_cast<float>(ctx->saved_data["slope"].toDouble());
    const bool need_source = ctx->needs_input_grad(0);
    const bool need_weight = ctx->needs_input_grad(2);
    const MixShape s{x.size(0), x.size(1), x.size(2), w.size(0)};
    const int64_t chunks = Chunks(s.targets);
    torch::Tensor grad_source = need_source ? torch::zeros_like(x) : torch::Tensor();
    torch::Tensor partial =
        need_weight ? torch::zeros({chunks, s.heads, s.width}, x.options()) : torch::Tensor();
    torch::Tensor grad_target = torch::zeros({s.targets, s.heads}, x.options());
    const float* xs = x.data_ptr<float>();
    const bool* ms = saved[1].data_ptr<bool>();
    const float* ws = w.data_ptr<float>();
    const float* ls = saved[3].data_ptr<float>();
    const float* as = saved[4].data_ptr<float>();
    const float* gs = g.data_ptr<float>();
    float* gx = need_source ? grad_source.data_ptr<float>() : nullptr;
    float* gw = need_weight ? partial.data_ptr<float>() : nullptr;
    float* gt = grad_target.data_ptr<float>();
    at::parallel_for(0, chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
      std::vector<float> scratch(static_cast<size_t>(s.neighbours));
      for (int64_t c = chunk_begin; c < chunk_end; ++c) {
        AttentionMixBackwardRange(xs, ms, ws, ls, as, gs, slope, s, gx,
                                  gw != nullptr ? gw + c * s.heads * s.width : nullptr, gt,
                                  scratch.data(), c * kTargetChunk,
                                  std::min(s.targets, (c + 1) * kTargetChunk));
      }
    });
    torch::Tensor grad_weight = need_weight ? partial.sum(0) : torch::Tensor();
    // The bias enters every score exactly as the target score does.
    torch::Tensor grad_bias = grad_target.sum(0);
    return {grad_source, torch::Tensor(), grad_weight, grad_bias, grad_target, torch::Tensor()};
  }
};

// ---- EmbedSlots ------------------------------------------------------------------------

class EmbedSlotsFunction : public torch::autograd::Function<EmbedSlotsFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& slots,
                               const torch::Tensor& mask, const torch::Tensor& weight_t,
                               const torch::Tensor& bias, const torch::Tensor& expert) {
    const torch::Tensor x = slots.contiguous();
    const torch::Tensor present = mask.contiguous();
    const torch::Tensor wt = weight_t.contiguous();  // [F, H]: each input's weights contiguous
    const torch::Tensor b = bias.contiguous();
    const torch::Tensor e = expert.contiguous();
    const int64_t targets = x.size(0), m_count = x.size(1), in_dim = x.size(2);
    const int64_t hidden = wt.size(1);
    torch::Tensor h = torch::empty({targets, m_count, hidden}, x.options());
    const float* xs = x.data_ptr<float>();
    const bool* ms = present.data_ptr<bool>();
    const float* ws = wt.data_ptr<float>();
    const float* bs = b.data_ptr<float>();
    const float* es = e.data_ptr<float>();
    float* hs = h.data_ptr<float>();
    at::parallel_for(0, targets * m_count, kTargetChunk * m_count, [&](int64_t begin, int64_t end) {
      EmbedSlotsForwardRange(xs, ms, ws, bs, es, m_count, in_dim, hidden, hs, begin, end);
    });
    ctx->save_for_backward({x, present, wt, h});
    return h;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor& wt = saved[2];
    const torch::Tensor g = grads[0].contiguous();
    const bool need_slots = ctx->needs_input_grad(0);
    const int64_t targets = x.size(0), m_count = x.size(1), in_dim = x.size(2);
    const int64_t hidden = wt.size(1);
    const int64_t chunks = Chunks(targets);
    // Per chunk: partial d(W^T) [F, H] and d b [H].
    torch::Tensor partial = torch::zeros({chunks, in_dim + 1, hidden}, x.options());
    torch::Tensor grad_expert = torch::zeros({targets, hidden}, x.options());
    torch::Tensor grad_slots = need_slots ? torch::zeros_like(x) : torch::Tensor();
    const float* xs = x.data_ptr<float>();
    const bool* ms = saved[1].data_ptr<bool>();
    const float* ws = wt.data_ptr<float>();
    const float* hs = saved[3].data_ptr<float>();
    const float* gs = g.data_ptr<float>();
    float* part = partial.data_ptr<float>();
    float* ge = grad_expert.data_ptr<float>();
    float* gx = need_slots ? grad_slots.data_ptr<float>() : nullptr;
    at::parallel_for(0, chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
      std::vector<float> scratch(static_cast<size_t>(hidden));
      for (int64_t c = chunk_begin; c < chunk_end; ++c) {
        EmbedSlotsBackwardRange(xs, ms, ws, hs, gs, m_count, in_dim, hidden, gx,
                                part + c * (in_dim + 1) * hidden, ge, scratch.data(),
                                c * kTargetChunk * m_count,
                                std::min(targets, (c + 1) * kTargetChunk) * m_count);
      }
    });
    const torch::Tensor summed = partial.sum(0);  // [F + 1, H]
    return {grad_slots, torch::Tensor(), summed.slice(0, 0, in_dim), summed[in_dim], grad_expert};
  }
};

// ---- SemanticScore ---------------------------------------------------------------------

constexpr int64_t kRowChunk = 256;

class SemanticScoreFunction : public torch::autograd::Function<SemanticScoreFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& pre,
                               const torch::Tensor& query) {
    const torch::Tensor u = pre.contiguous();
    const torch::Tensor q = query.contiguous();
    const int64_t rows = u.size(0), width = u.size(1);
    torch::Tensor th = torch::empty_like(u);
    torch::Tensor score = torch::empty({rows}, u.options());
    const float* us = u.data_ptr<float>();
    const float* qs = q.data_ptr<float>();
    float* ts = th.data_ptr<float>();
    float* ss = score.data_ptr<float>();
    at::parallel_for(0, rows, kRowChunk, [&](int64_t begin, int64_t end) {
      SemanticScoreForwardRange(us, qs, width, ts, ss, begin, end);
    });
    ctx->save_for_backward({th, q});
    return score;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& th = saved[0];
    const torch::Tensor g = grads[0].contiguous();
    const int64_t rows = th.size(0), width = th.size(1);
    const int64_t chunks = (rows + kRowChunk - 1) / kRowChunk;
    torch::Tensor grad_pre = torch::empty_like(th);
    torch::Tensor partial = torch::zeros({chunks, width}, th.options());
    const float* ts = th.data_ptr<float>();
    const float* qs = saved[1].data_ptr<float>();
    const float* gs = g.data_ptr<float>();
    float* dp = grad_pre.data_ptr<float>();
    float* dq = partial.data_ptr<float>();
    at::parallel_for(0, chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
      for (int64_t c = chunk_begin; c < chunk_end; ++c) {
        SemanticScoreBackwardRange(ts, qs, gs, width, dp, dq + c * width, c * kRowChunk,
                                   std::min(rows, (c + 1) * kRowChunk));
      }
    });
    return {grad_pre, partial.sum(0)};
  }
};

}  // namespace

torch::Tensor MaskedSoftmax(const torch::Tensor& scores, const torch::Tensor& mask, int64_t dim) {
  const torch::Tensor filled = scores.masked_fill(mask.logical_not(), kAbsentScore);
  // The shift cancels in the ratio, so it needs no gradient.
  const torch::Tensor shift = std::get<0>(filled.max(dim, /*keepdim=*/true)).detach();
  const torch::Tensor weights = (filled - shift).exp() * mask;
  // A row with no present entry has sum 0; the clamp turns 0/0 into 0/tiny = 0.
  return weights / weights.sum(dim, /*keepdim=*/true).clamp_min(1e-30f);
}

torch::Tensor AttentionMix(const torch::Tensor& source, const torch::Tensor& mask,
                           const torch::Tensor& score_weight, const torch::Tensor& score_bias,
                           const torch::Tensor& target_score, double negative_slope, bool fused) {
  const torch::Tensor present =
      mask.defined()
          ? mask
          : torch::ones({source.size(0), source.size(1)},
                        torch::TensorOptions().dtype(torch::kBool).device(source.device()));
  if (UseFused(source, fused)) {
    return AttentionMixFunction::apply(source, present, score_weight, score_bias, target_score,
                                       negative_slope);
  }
  namespace F = torch::nn::functional;
  const torch::Tensor scores = F::leaky_relu(
      torch::matmul(source, score_weight.t()) + score_bias + target_score.unsqueeze(1),
      F::LeakyReLUFuncOptions().negative_slope(negative_slope));  // [P, M, K]
  const torch::Tensor alpha = MaskedSoftmax(scores, present.unsqueeze(-1), 1);
  return torch::matmul(alpha.transpose(1, 2), source).transpose(0, 1);  // [K, P, F]
}

torch::Tensor SemanticScore(const torch::Tensor& pre, const torch::Tensor& query, bool fused) {
  if (UseFused(pre, fused)) {
    const auto shape = pre.sizes();
    const torch::Tensor rows = pre.reshape({-1, shape.back()});
    auto out_shape = shape.vec();
    out_shape.pop_back();
    return SemanticScoreFunction::apply(rows, query).view(out_shape);
  }
  return (torch::tanh(pre) * query).sum(-1);
}

torch::Tensor EmbedSlots(const torch::Tensor& slots, const torch::Tensor& mask,
                         const torch::Tensor& weight, const torch::Tensor& bias,
                         const torch::Tensor& expert, bool fused) {
  if (UseFused(slots, fused)) {
    return EmbedSlotsFunction::apply(slots, mask, weight.t(), bias, expert);
  }
  return torch::relu(torch::linear(slots, weight, bias) + expert.unsqueeze(1))
      .masked_fill(mask.logical_not().unsqueeze(-1), 0.0f);
}

}  // namespace qosroute
