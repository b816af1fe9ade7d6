#!/usr/bin/python3
"""Plain-PyTorch reference for the C++ learner: the SAC+HAN update of BM_LearnerUpdate/1.

Same model and update as bench/learner_bench.cc (learner/han_encoder.cc, learner/sac.cc):
HAN with 2 layers, hidden 64, 4 heads, semantic hidden 128; per-action heads with MLP
[64, 64]; twin critics with Polyak targets; automatic temperature; batch 256 of N = 3
experts x R = W = 10 slots; one torch thread. Written in its fastest plain form: dense
batched tensors, no Python loop over graphs or slots, the same "mix inputs, then project"
attention algebra as the C++ (no slot projection in the last layer), foreach Adam and Polyak.
What it lacks is only the C++'s fused kernels (learner/han_kernels.cc).

Install the interpreter's torch with Debian's package (the same LibTorch 1.13 and OpenBLAS
as the C++ build):  apt-get install -y python3-torch
Run with the system interpreter (a pyenv or venv python3 does not see the package):
  /usr/bin/python3 bench/python/sac_han_update.py [--updates 200] [--warmup 20]
Prints updates/s (wall time), and the OpenBLAS core where torch's BLAS is OpenBLAS.
"""
import argparse
import ctypes
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

N, R, W = 3, 10, 10
REQUEST_F, EXPERT_F, SLOT_F = 3, 12, 6
HIDDEN, HEADS, SEMANTIC, LAYERS = 64, 4, 128, 2
MLP = [64, 64]
BATCH = 256
GAMMA, TAU, LR, ALPHA_LR, ENTROPY_RATIO = 0.99, 0.005, 3e-5, 3e-4, 0.5


class HanLayer(nn.Module):
    def __init__(self, dq, de, ds, last):
        super().__init__()
        self.last = last
        self.request_proj = nn.Linear(dq, HIDDEN)
        self.expert_proj = nn.Linear(de, HIDDEN)
        self.running_proj = nn.Linear(ds, HIDDEN)
        self.waiting_proj = nn.Linear(ds, HIDDEN)
        d = HIDDEN // HEADS

        def att():
            t = torch.empty(HEADS, d)
            nn.init.xavier_uniform_(t)
            return nn.Parameter(t)

        self.e2q_src, self.e2q_dst = att(), att()
        self.r2e_src, self.r2e_dst = att(), att()
        self.w2e_src, self.w2e_dst = att(), att()
        self.semantic_proj = nn.Linear(HIDDEN, SEMANTIC)
        self.semantic_query = nn.Linear(SEMANTIC, 1, bias=False)

    def attend(self, source, proj, target, att_src, att_dst, mask):
        # GAT per head with p_j = W x_j + b, computed from the inputs x_j (as the C++ does):
        # scores x_j . (W_k^T a_src_k) + b_k . a_src_k, output W_k (sum_j alpha_jk x_j) + b_k.
        d = HIDDEN // HEADS
        fin, m = source.shape[-1], source.shape[-2]
        weight = proj.weight.view(HEADS, d, fin)
        bias = proj.bias.view(HEADS, d)
        src = source.reshape(-1, m, fin)  # [P, M, F]
        p = src.shape[0]
        target_score = (target.reshape(p, HEADS, d) * att_dst).sum(-1)  # [P, K]
        score_w = (weight * att_src.unsqueeze(-1)).sum(1)  # [K, F]
        score_b = (bias * att_src).sum(-1)  # [K]
        e = F.leaky_relu(src @ score_w.t() + score_b + target_score.unsqueeze(1), 0.2)
        if mask is not None:
            m2 = mask.reshape(p, m, 1)
            alpha = torch.softmax(e.masked_fill(~m2, float("-inf")), 1).masked_fill(~m2, 0.0)
        else:
            alpha = torch.softmax(e, 1)  # [P, M, K]
        mixed = torch.bmm(alpha.transpose(1, 2), src)  # [P, K, F]
        out = torch.bmm(mixed.transpose(0, 1), weight.transpose(1, 2)).transpose(0, 1)
        if mask is not None:
            out = out + mask.reshape(p, m).any(1).to(bias.dtype).view(p, 1, 1) * bias
        else:
            out = out + bias
        return out.reshape(target.shape)

    def type_score(self, z):
        return torch.tanh(self.semantic_proj(z)) @ self.semantic_query.weight.view(-1)

    def forward(self, x, running_mask, waiting_mask):
        xq, xe, xr, xw = x
        q = self.request_proj(xq)  # [B, H]
        e = self.expert_proj(xe)  # [B, N, H]
        request_in = self.attend(xe, self.expert_proj, q, self.e2q_src, self.e2q_dst, None)
        from_r = self.attend(xr, self.running_proj, e, self.r2e_src, self.r2e_dst, running_mask)
        from_w = self.attend(xw, self.waiting_proj, e, self.w2e_src, self.w2e_dst, waiting_mask)
        scores = torch.stack(
            [self.type_score(q), self.type_score(from_r).mean(1), self.type_score(from_w).mean(1)],
            1)
        beta = torch.softmax(scores, 1).unsqueeze(-1)  # [B, 3, 1]
        expert_in = (beta[:, 0:1] * q.unsqueeze(1) + beta[:, 1:2] * from_r
                     + beta[:, 2:3] * from_w)
        if self.last:
            return request_in + q, expert_in + e, None, None
        slot_r = torch.relu(self.running_proj(xr) + e.unsqueeze(2)) * running_mask.unsqueeze(-1)
        slot_w = torch.relu(self.waiting_proj(xw) + e.unsqueeze(2)) * waiting_mask.unsqueeze(-1)
        return torch.relu(request_in + q), torch.relu(expert_in + e), slot_r, slot_w


class HanEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(
            [HanLayer(REQUEST_F if l == 0 else HIDDEN, EXPERT_F if l == 0 else HIDDEN,
                      SLOT_F if l == 0 else HIDDEN, l + 1 == LAYERS) for l in range(LAYERS)])

    def forward(self, b):
        x = (b["request"], b["expert"], b["running"] * b["running_mask"].unsqueeze(-1),
             b["waiting"] * b["waiting_mask"].unsqueeze(-1))
        for layer in self.layers:
            x = layer(x, b["running_mask"], b["waiting_mask"])
        return x[0], x[1]


def mlp(sizes_in, skip_first=False):
    layers, d = [], sizes_in
    for i, h in enumerate(MLP):
        if i > 0 or not skip_first:
            layers.append(nn.Linear(d, h))
        layers.append(nn.ReLU())
        d = h
    layers.append(nn.Linear(d, 1))
    return nn.Sequential(*layers)


class ActionHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.from_request = nn.Linear(HIDDEN, MLP[0])
        self.from_expert = nn.Linear(HIDDEN, MLP[0], bias=False)
        self.expert_mlp = mlp(MLP[0], skip_first=True)
        self.drop_mlp = mlp(HIDDEN)

    def forward(self, emb):
        req, experts = emb
        first = self.from_request(req).unsqueeze(1) + self.from_expert(experts)
        return torch.cat([self.expert_mlp(first).squeeze(-1), self.drop_mlp(req)], 1)


class Sac(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder, self.actor, self.q1, self.q2 = HanEncoder(), ActionHead(), ActionHead(), ActionHead()
        self.t_encoder, self.t_q1, self.t_q2 = HanEncoder(), ActionHead(), ActionHead()
        self.log_alpha = nn.Parameter(torch.zeros(()))
        self.critic_params = [*self.encoder.parameters(), *self.q1.parameters(), *self.q2.parameters()]
        self.target_params = [*self.t_encoder.parameters(), *self.t_q1.parameters(), *self.t_q2.parameters()]
        with torch.no_grad():
            for t, o in zip(self.target_params, self.critic_params):
                t.copy_(o)
                t.requires_grad_(False)
        self.opt_critic = torch.optim.Adam(self.critic_params, lr=LR, foreach=True)
        self.opt_actor = torch.optim.Adam(self.actor.parameters(), lr=LR, foreach=True)
        self.opt_alpha = torch.optim.Adam([self.log_alpha], lr=ALPHA_LR, foreach=True)

    def logits(self, emb, mask):
        return self.actor(emb).masked_fill(~mask, float("-inf"))

    def update(self, obs, actions, rewards, next_obs, dones):
        for opt in (self.opt_critic, self.opt_actor, self.opt_alpha):
            opt.zero_grad(set_to_none=True)
        alpha = self.log_alpha.detach().exp()
        emb = self.encoder(obs)
        q1, q2 = self.q1(emb), self.q2(emb)
        with torch.no_grad():
            nmask = next_obs["action_mask"]
            next_logp = torch.log_softmax(self.logits(self.encoder(next_obs), nmask), 1)
            temb = self.t_encoder(next_obs)
            next_q = torch.min(self.t_q1(temb), self.t_q2(temb))
            soft_q = (next_q - alpha * next_logp).masked_fill(~nmask, 0.0)
            target = rewards + GAMMA * (1.0 - dones) * (next_logp.exp() * soft_q).sum(1)
        a = actions.view(-1, 1)
        q1_taken, q2_taken = q1.gather(1, a).squeeze(1), q2.gather(1, a).squeeze(1)
        critic = F.mse_loss(q1_taken, target) + F.mse_loss(q2_taken, target)
        mask = obs["action_mask"]
        logp = torch.log_softmax(self.logits((emb[0].detach(), emb[1].detach()), mask), 1)
        probs = logp.exp()
        safe = logp.masked_fill(~mask, 0.0)
        q_min = torch.min(q1, q2).detach()
        entropy = -(probs * safe).sum(1).detach()
        actor = (probs * (alpha * safe - q_min)).sum(1).mean()
        target_entropy = ENTROPY_RATIO * mask.sum(1).float().log()
        alpha_loss = (self.log_alpha * (entropy - target_entropy)).mean()
        (critic + actor + alpha_loss).backward()
        out = [t.item() for t in (critic, actor, alpha_loss, alpha, entropy.mean(), q1_taken.detach().mean())]
        self.opt_critic.step()
        self.opt_actor.step()
        self.opt_alpha.step()
        with torch.no_grad():
            torch._foreach_mul_(self.target_params, 1.0 - TAU)
            torch._foreach_add_(self.target_params, self.critic_params, alpha=TAU)
        return out


def random_batch(g):
    """Observations like bench/learner_bench.cc's RealisticObservation (loaded cluster)."""
    def u(*shape):
        return torch.rand(*shape, generator=g)
    running = torch.randint(0, R + 1, (BATCH, N, 1), generator=g)
    waiting = torch.randint(0, W // 2 + 1, (BATCH, N, 1), generator=g)
    return {
        "request": u(BATCH, REQUEST_F),
        "expert": u(BATCH, N, EXPERT_F),
        "running": u(BATCH, N, R, SLOT_F),
        "running_mask": torch.arange(R).view(1, 1, R) < running,
        "waiting": u(BATCH, N, W, SLOT_F),
        "waiting_mask": torch.arange(W).view(1, 1, W) < waiting,
        "action_mask": torch.ones(BATCH, N + 1, dtype=torch.bool),
    }


def openblas_core():
    """The loaded BLAS's OpenBLAS core (torch loads its libraries privately, so by path)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line and "/" in line}
    for path in sorted(paths):
        try:
            fn = ctypes.CDLL(path).openblas_get_corename
        except (AttributeError, OSError):
            continue
        fn.restype = ctypes.c_char_p
        return f"{fn().decode()} ({path})"
    return "n/a (not OpenBLAS)"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    sac = Sac()
    batches = []
    for _ in range(4):  # pre-built, so the loop times the update alone (as the C++ bench)
        batches.append((random_batch(g), torch.randint(0, N + 1, (BATCH,), generator=g),
                        torch.rand(BATCH, generator=g), random_batch(g),
                        (torch.rand(BATCH, generator=g) < 0.01).float()))
    for i in range(args.warmup):
        sac.update(*batches[i % 4])
    start = time.perf_counter()
    for i in range(args.updates):
        losses = sac.update(*batches[i % 4])
    seconds = time.perf_counter() - start
    assert all(math.isfinite(v) for v in losses), losses
    params = sum(p.numel() for p in [*sac.critic_params, *sac.actor.parameters(), sac.log_alpha])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), openblas core "
          f"{openblas_core()}, {params} trainable parameters")
    print(f"{args.updates} updates in {seconds:.2f} s: {args.updates / seconds:.1f} updates/s")


if __name__ == "__main__":
    main()
