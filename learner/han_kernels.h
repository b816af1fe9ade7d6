#pragma once
// The slot-level steps of the HAN encoder, where most of its work lies (B x N x (R + W)
// slots against B x N experts), and its semantic-attention score, as fused CPU kernels with
// hand-written gradients.
//
// Composed from torch ops, each step is a dozen small kernels over [B, N, slots, ...]
// tensors plus their autograd nodes; at the reference sizes that costs more in dispatch,
// temporaries and broadcasting than in arithmetic. Each kernel here makes one pass per
// direction, skips absent slots, and splits work over fixed chunks of targets so that
// results do not depend on the thread count. On other devices (and for tests, on request)
// the same functions run the plain torch composition, which the tests hold the kernels to.
#include <torch/types.h>

namespace qosroute {

// Softmax over `dim` restricted to entries where `mask` is true; a row with no true entry
// gets all-zero weights instead of NaN.
torch::Tensor MaskedSoftmax(const torch::Tensor& scores, const torch::Tensor& mask, int64_t dim);

// GAT aggregation of each target's neighbours, over all heads at once. For target p,
// neighbour m and head k:
//   e[p, m, k]   = LeakyReLU(source[p, m, :] . score_weight[k, :] + score_bias[k]
//                            + target_score[p, k])
//   alpha[p,m,k] = softmax over the present m of e[p, :, k]   (0 if p has no neighbour)
//   out[k, p, :] = sum_m alpha[p, m, k] source[p, m, :]
// source [P, M, F] float; mask [P, M] bool, or undefined when every neighbour is present;
// score_weight [K, F]; score_bias [K]; target_score [P, K]. Returns [K, P, F] (head-major, so
// a per-head projection is one batched product). Gradients flow to source, score_weight,
// score_bias and target_score. `fused` false forces the torch composition.
torch::Tensor AttentionMix(const torch::Tensor& source, const torch::Tensor& mask,
                           const torch::Tensor& score_weight, const torch::Tensor& score_bias,
                           const torch::Tensor& target_score, double negative_slope,
                           bool fused = true);

// A slot's next-layer embedding: relu(slots @ weight^T + bias + expert[p]) where present, 0
// where absent. slots [P, M, F], mask [P, M] bool, weight [H, F], bias [H], expert [P, H];
// returns [P, M, H]. Gradients flow to slots, weight, bias and expert.
torch::Tensor EmbedSlots(const torch::Tensor& slots, const torch::Tensor& mask,
                         const torch::Tensor& weight, const torch::Tensor& bias,
                         const torch::Tensor& expert, bool fused = true);

// The semantic-attention score of each row: score[r] = sum_j query[j] tanh(pre[r, j]) for
// pre [R, S] (the semantic projection's output) and query [S]; returns [R]. Fused, tanh is
// a branch-free exp-based form (within a few 1e-7 of libm's) instead of a separate tanh pass,
// a product and their two autograd nodes. Gradients flow to pre and query.
torch::Tensor SemanticScore(const torch::Tensor& pre, const torch::Tensor& query,
                            bool fused = true);

}  // namespace qosroute
