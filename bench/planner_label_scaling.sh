#!/usr/bin/env bash
# Search-guided SAC's collection rate (issue 25): labelled frames/s with 1, 2 and 4 actor
# ranks of `qosroute train` under mpirun, every decision labelled by the rollout planner
# (train.planner_share = 1), one learner hosting the replay shard. Prints, per actor count,
# the collection rate over training (the progress line's frames/s, all of them labelled) and
# learner 0's busy share (its update loop's time not spent waiting for samples).
#
#   bench/planner_label_scaling.sh                       # 1, 2, 4 actors; 2400 frames each
#   ACTORS="1 2 4 8" FRAMES=4800 bench/planner_label_scaling.sh
# On a machine with fewer cores than ranks the ranks are oversubscribed: say so with the figures.
set -euo pipefail
Q=${Q:-build/qosroute}
CONFIG=${CONFIG:-configs/edge-4090-planner.cfg}
FRAMES=${FRAMES:-2400}
ACTORS=${ACTORS:-1 2 4}
MPIEXEC=${MPIEXEC:-mpiexec}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "planner_label_scaling: $FRAMES frames per run, $(nproc) cores, config $CONFIG"
printf '%-7s %-6s %-20s %s\n' actors ranks "labelled frames/s" "learner busy"
for a in $ACTORS; do
  ranks=$((a + 1))
  log="$out/run_$a.log"
  "$MPIEXEC" -n "$ranks" --allow-run-as-root --oversubscribe "$Q" train --config "$CONFIG" \
    --run-dir "$out/run_$a" --compare false \
    --set launch.learners=1 --set launch.replay_shards=0 \
    --set train.total_frames="$FRAMES" --set train.warmup_frames=$((FRAMES / 4)) \
    --set train.planner_share=1 --set train.num_envs=4 --set train.eval_every_frames=100000000 \
    --set train.log_every_frames=100000000 >"$log" 2>&1 || {
    tail -20 "$log"
    exit 1
  }
  fps=$(grep -o "frames $FRAMES/$FRAMES | [0-9.]* frames/s" "$log" | tail -1 | awk '{print $4}')
  busy=$(grep -o 'learner 0 busy [0-9]*%' "$log" | tail -1 | awk '{print $4}')
  printf '%-7s %-6s %-20s %s\n' "$a" "$ranks" "${fps:-?}" "${busy:-?}"
done
