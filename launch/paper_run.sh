#!/usr/bin/env bash
# The longer SAC+HAN run of docs/RESULTS.md: configs/paper.cfg's cluster, workload and predictor
# with the learned router's recipe of configs/quickstart.cfg, over a mix of loads (one policy
# for every rate), 100,000 frames = 24,000 updates (about 35 minutes on 2 cores), with the
# quickstart's model selection (policy_selected.h5 beside the final policy.h5).
#   launch/paper_run.sh RUN_DIR [--set section.key=value ...]
#   EPISODE_RATES= launch/paper_run.sh RUN_DIR --set workload.rate=6   # one load instead
# Extra arguments go to `qosroute train` last (a key may be given once: see EPISODE_RATES).
set -euo pipefail
cd "$(dirname "$0")/.."
run_dir=${1:?usage: launch/paper_run.sh RUN_DIR [--set ...]}
shift
QR=${QR:-build/qosroute}
recipe=(
  # Training episodes of 2000 requests (evaluation keeps paper.cfg's 5000) at a load drawn
  # per episode, so that 16 envs finish several episodes at each load.
  --set workload.requests_per_episode=2000
  --set env.impact_penalty=false
  --set env.lookahead_features=true
  --set env.expert_score_prior=true
  --set env.potential_shaping=true
  --set env.shaping_potential=lookahead
  --set env.undiscounted_credit=true
  --set train.total_frames=100000
  --set train.warmup_frames=4000
  --set train.warmup_policy=greedy-qos
  --set train.warmup_epsilon=0.3
  --set train.num_envs=16
  --set train.updates_per_frame=0.25
  --set train.eval_every_frames=16000
  --set train.log_every_frames=8000
  --set train.threads=1
  --set sac.actor_lr=3e-4
  --set sac.critic_lr=3e-4
  --set sac.lr_final_fraction=0.1
  --set sac.dueling=true
  --set sac.prior=greedy-qos
  --set sac.prior_temperature=0.01
  --set sac.alpha_init=0.01
  --set sac.alpha_lr=0
  # Model selection on validation episodes, as in configs/quickstart.cfg (docs/LEARNER.md).
  --set select.rates=2,4,8
  --set select.margins=0,2,4,8,16
  --set select.seeds=5
  --set select.tolerance=0.0003
)
episode_rates=${EPISODE_RATES-2,3,4,6,8}
if [[ -n "$episode_rates" ]]; then recipe+=(--set workload.episode_rates="$episode_rates"); fi
exec "$QR" train --config configs/paper.cfg --run-dir "$run_dir" --compare false "${recipe[@]}" "$@"
