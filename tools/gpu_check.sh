#!/usr/bin/env bash
# GPU check of the distributed learner (issue 4), for a machine with a GPU and PyTorch's CUDA
# LibTorch (pip torch). Self-contained: needs only g++, CUDA headers/runtime, NCCL (from
# /usr/local/cuda or pip's nvidia-nccl) and python3 + torch; no MPI, HDF5 or Boost. It builds
# the learner's torch sources and the NCCL gradient-sync backend (learner/gradient_sync_nccl.cc,
# which has no MPI in it) with a small driver, then runs, on one GPU:
#   1. a single-rank NCCL all-reduce / broadcast smoke test through GradientSync on CUDA tensors;
#   2. SAC + HAN learner updates/s on the GPU (ComputeGradients -> NCCL AllReduceMean ->
#      ApplyGradients, the distributed learner's update), and the same on the CPU for reference;
#   3. the pieces of a distributed checkpoint resume that touch the GPU (issue 5): learner 0's
#      checkpoint decision riding as one extra CUDA value in the gradient all-reduce, and a
#      CUDA learner taking parameters and Adam state saved from a CPU agent, then updating.
# Usage: tools/gpu_check.sh [updates]   (from the repository root; about 1-3 minutes, most of it
# compiling). Prints "GPU CHECK PASSED" at the end; exit code 0 on success.
set -euo pipefail
cd "$(dirname "$0")/.."
UPDATES=${1:-200}
WORK=${GPU_CHECK_DIR:-$(mktemp -d /tmp/qosroute-gpu-check.XXXXXX)}
PY=${PYTHON:-python3}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
TORCH_DIR=$($PY -c 'import torch, os; print(os.path.dirname(torch.__file__))')
TORCH_CUDA=$($PY -c 'import torch; print(torch.version.cuda)')
ABI=$($PY -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')
echo "torch $($PY -c 'import torch; print(torch.__version__)') at $TORCH_DIR, CUDA $TORCH_CUDA, cxx11 abi $ABI"
[ "$TORCH_CUDA" != "None" ] || { echo "this torch has no CUDA"; exit 1; }

# NCCL and CUDA runtime: pip's nvidia-* wheels first (they match torch), then /usr/local/cuda.
SITE=$($PY -c 'import site; print(site.getsitepackages()[0])')
INC=(-I. -isystem "$TORCH_DIR/include" -isystem "$TORCH_DIR/include/torch/csrc/api/include")
LIBS=(-L"$TORCH_DIR/lib" -Wl,-rpath,"$TORCH_DIR/lib")
for d in "$SITE/nvidia/nccl" "$SITE/nvidia/cuda_runtime" /usr/local/cuda; do
  [ -d "$d/include" ] && INC+=(-isystem "$d/include")
  for l in lib lib64; do
    [ -d "$d/$l" ] && LIBS+=(-L"$d/$l" -Wl,-rpath,"$d/$l")
  done
done
# pip wheels ship libnccl.so.2 / libcudart.so.12 without the unversioned link name.
mkdir -p "$WORK/lib"
for lib in nccl cudart; do
  if ! ls "$SITE"/nvidia/*/lib/lib$lib.so >/dev/null 2>&1 && ! [ -e /usr/local/cuda/lib64/lib$lib.so ]; then
    found=$(ls "$SITE"/nvidia/*/lib/lib$lib.so.* 2>/dev/null | head -1 || true)
    [ -n "$found" ] && ln -sf "$found" "$WORK/lib/lib$lib.so"
  fi
done
LIBS+=(-L"$WORK/lib")

cat > "$WORK/gpu_check_main.cc" <<'EOF'
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "common/rng.h"
#include "learner/gradient_sync.h"
#include "learner/sac.h"

using namespace qosroute;

static Observation RandomObservation(Rng& rng) {
  Observation o;
  o.Resize(3, 10, 10);
  for (auto& v : o.request) v = static_cast<float>(rng.Uniform());
  for (auto& v : o.expert) v = static_cast<float>(rng.Uniform());
  for (auto& v : o.running) v = static_cast<float>(rng.Uniform());
  for (auto& v : o.waiting) v = static_cast<float>(rng.Uniform());
  for (auto& m : o.running_mask) m = rng.Below(2);
  for (auto& m : o.waiting_mask) m = rng.Below(2);
  for (auto& m : o.action_mask) m = 1;
  return o;
}

static double UpdatesPerSecond(const std::string& device, GradientSync& sync, int updates) {
  SacConfig config;  // the paper's HAN + SAC sizes
  config.device = device;
  config.torch_threads = 0;
  SacAgent agent(config);
  Rng rng(1);
  const int batch = 256;
  std::vector<Observation> obs(batch), next(batch);
  for (int i = 0; i < batch; ++i) {
    obs[i] = RandomObservation(rng);
    next[i] = RandomObservation(rng);
  }
  std::vector<const Observation*> po, pn;
  for (int i = 0; i < batch; ++i) {
    po.push_back(&obs[i]);
    pn.push_back(&next[i]);
  }
  const torch::Device dev(device);
  const GraphBatch b = BatchObservations(po).to(dev), nb = BatchObservations(pn).to(dev);
  const auto actions = torch::randint(0, 4, {batch}, torch::kInt64).to(dev);
  const auto rewards = torch::rand({batch}).to(dev);
  const auto dones = torch::zeros({batch}).to(dev);
  auto step = [&] {
    agent.ComputeGradients(b, actions, rewards, nb, dones);
    std::vector<torch::Tensor> grads;
    for (auto& p : agent.networks()->parameters()) {
      if (p.grad().defined()) grads.push_back(p.grad());
    }
    sync.AllReduceMean(grads, SyncWait{});
    agent.ApplyGradients();
  };
  for (int i = 0; i < 10; ++i) step();
  if (dev.is_cuda()) torch::cuda::synchronize();
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < updates; ++i) step();
  if (dev.is_cuda()) torch::cuda::synchronize();
  return updates / std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int main(int argc, char** argv) {
  const int updates = argc > 1 ? std::atoi(argv[1]) : 200;
  if (!NcclBackendCompiled() || !CudaDeviceUsable()) {
    std::printf("FAIL: NCCL backend compiled %d, CUDA usable %d\n", NcclBackendCompiled(), CudaDeviceUsable());
    return 1;
  }
  // 1. Single-rank NCCL smoke test through the GradientSync interface.
  auto nccl = MakeNcclGradientSync(0, 1, NewNcclUniqueId(), 0);
  std::vector<torch::Tensor> t = {torch::full({1000}, 3.0f, torch::kCUDA), torch::arange(12, torch::kCUDA).to(torch::kFloat32).view({3, 4})};
  nccl->AllReduceMean(t, SyncWait{});
  nccl->Broadcast(t, 0, SyncWait{});
  const bool ok = t[0].eq(3.0f).all().item<bool>() && t[1][2][3].item<float>() == 11.0f;
  std::printf("NCCL single-rank all-reduce + broadcast on CUDA tensors: %s\n", ok ? "ok" : "WRONG");
  if (!ok) return 1;
  // 2. Learner updates/s (HAN hidden 64, 4 heads, 2 layers; batch 256; N = 3, R = W = 10).
  const double gpu = UpdatesPerSecond("cuda:0", *nccl, updates);
  std::printf("learner updates/s on GPU (NCCL sync, 1 rank): %.1f\n", gpu);
  LocalGradientSync local;
  const double cpu = UpdatesPerSecond("cpu", local, std::max(20, updates / 10));
  std::printf("learner updates/s on CPU (same build, all cores): %.1f\n", cpu);
  // 3a. The checkpoint decision (learner/distributed_run.cc) appended to the gradients.
  {
    std::vector<torch::Tensor> list = {torch::ones({64}, torch::kCUDA), torch::zeros({1}, torch::kCUDA)};
    list[1].fill_(2.0f);
    nccl->AllReduceMean(list, SyncWait{});
    const int decision = static_cast<int>(std::lround(list[1].to(torch::kCPU).item<float>() * 1));
    std::printf("checkpoint decision through the NCCL all-reduce: %d (%s)\n", decision, decision == 2 ? "ok" : "WRONG");
    if (decision != 2) return 1;
  }
  // 3b. Resume onto a GPU learner: CPU-saved parameters and Adam state, then an update.
  {
    SacConfig cpu_config;
    cpu_config.device = "cpu";
    SacAgent saved(cpu_config);
    Rng rng(5);
    std::vector<Observation> obs(32), next(32);
    std::vector<const Observation*> po, pn;
    for (int i = 0; i < 32; ++i) {
      obs[i] = RandomObservation(rng);
      next[i] = RandomObservation(rng);
      po.push_back(&obs[i]);
      pn.push_back(&next[i]);
    }
    const GraphBatch b = BatchObservations(po), nb = BatchObservations(pn);
    const auto actions = torch::randint(0, 4, {32}, torch::kInt64);
    const auto rewards = torch::rand({32});
    const auto dones = torch::zeros({32});
    for (int i = 0; i < 3; ++i) saved.Update(b, actions, rewards, nb, dones);
    SacConfig gpu_config;
    gpu_config.device = "cuda:0";
    SacAgent resumed(gpu_config);
    resumed.LoadParameters(saved.NamedParameters());
    resumed.LoadOptimizerState(saved.OptimizerState());
    double max_diff = 0.0;
    const auto a = saved.NamedParameters(), g = resumed.NamedParameters();
    for (size_t i = 0; i < a.size(); ++i) {
      max_diff = std::max(max_diff, (a[i].second - g[i].second.to(torch::kCPU)).abs().max().item<double>());
    }
    // A control: the same parameters without the Adam state.
    SacAgent no_adam(gpu_config);
    no_adam.LoadParameters(saved.NamedParameters());
    const torch::Device cuda("cuda:0");
    saved.Update(b, actions, rewards, nb, dones);
    for (SacAgent* agent : {&resumed, &no_adam}) {
      agent->Update(b.to(cuda), actions.to(cuda), rewards.to(cuda), nb.to(cuda), dones.to(cuda));
    }
    auto deviation = [&](const SacAgent& agent) {
      double d = 0.0;
      const auto x = saved.NamedParameters(), y = agent.NamedParameters();
      for (size_t i = 0; i < x.size(); ++i) {
        d = std::max(d, (x[i].second - y[i].second.to(torch::kCPU)).abs().max().item<double>());
      }
      return d;
    };
    const double after = deviation(resumed), control = deviation(no_adam);
    const bool ok = max_diff == 0.0 && after < 1e-4;
    std::printf("CPU-saved state on a CUDA learner: loaded exactly (%.1e); after one more update it "
                "agrees with the CPU learner to %.1e (without the Adam state: %.1e) (%s)\n",
                max_diff, after, control, ok ? "ok" : "WRONG");
    if (!ok) return 1;
  }
  std::printf("GPU CHECK PASSED\n");
  return 0;
}
EOF

# LibTorch 2.x keys Adam's state by TensorImpl* where older releases (Debian's) use a string:
# the check builds a copy of sac.cc whose AdamKey adapts to whichever key type this torch has.
$PY - "$WORK/sac.cc" <<'PATCH'
import re, sys
src = open("learner/sac.cc").read()
adaptive = """template <typename Key> Key AdamKeyAs(const torch::Tensor& p);
template <> [[maybe_unused]] std::string AdamKeyAs<std::string>(const torch::Tensor& p) {
  std::ostringstream s;
  s << p.unsafeGetTensorImpl();
  return s.str();
}
template <> [[maybe_unused]] void* AdamKeyAs<void*>(const torch::Tensor& p) { return p.unsafeGetTensorImpl(); }
using AdamStateKey = std::decay_t<decltype(std::declval<torch::optim::Adam&>().state().begin()->first)>;
AdamStateKey AdamKey(const torch::Tensor& p) { return AdamKeyAs<AdamStateKey>(p); }"""
patched, n = re.subn(r"std::string AdamKey\(const torch::Tensor& p\) \{.*?\n\}", adaptive, src, flags=re.S)
open(sys.argv[1], "w").write("#include <sstream>\n#include <type_traits>\n" + patched)
print("sac.cc: AdamKey adapted" if n else "sac.cc: AdamKey not found, building it unchanged")
PATCH
SOURCES=(common/error.cc comm/transport.cc env/observation.cc learner/graph_batch.cc learner/han_encoder.cc
         learner/flat_encoder.cc "$WORK/sac.cc" learner/gradient_sync.cc learner/gradient_sync_nccl.cc)
[ -f learner/han_kernels.cc ] && SOURCES+=(learner/han_kernels.cc)
echo "compiling ${#SOURCES[@]} sources + driver in $WORK ..."
OBJS=()
for src in "${SOURCES[@]}" "$WORK/gpu_check_main.cc"; do
  obj="$WORK/$(basename "${src%.cc}").o"
  g++ -std=c++17 -O2 -DNDEBUG -DQOSROUTE_HAVE_NCCL -D_GLIBCXX_USE_CXX11_ABI=$ABI "${INC[@]}" -c "$src" -o "$obj" &
  OBJS+=("$obj")
done
wait
g++ -o "$WORK/gpu_check" "${OBJS[@]}" "${LIBS[@]}" -Wl,--no-as-needed -ltorch -ltorch_cuda -ltorch_cpu -lc10_cuda -lc10 \
  -Wl,--as-needed -lnccl -lcudart -lpthread
"$WORK/gpu_check" "$UPDATES"
