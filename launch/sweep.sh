#!/usr/bin/env bash
# Load sweep: every heuristic plus trained SAC policies on configs/paper.cfg at each rate,
# 5 held-out episodes of 5000 requests each. Writes one CSV and one table per rate and policy
# (each with the heuristics beside it, so the paired difference against greedy-qos on the same
# episodes is in every policy's file) and OUT_DIR/summary.md (avg QoS ± 95% interval).
#   launch/sweep.sh OUT_DIR [NAME=POLICY.h5 ...]
# RATES="2 3 4 6 8" SEEDS=5 QR=build/qosroute CONFIG=configs/paper.cfg override the defaults. A policy is evaluated
# with the observation features it was trained with (qosroute evaluate reads them from it).
# PLANNERS="rollout hindsight" adds the planners ([planner] keys; SET="planner.horizon=24" and
# the like override config keys of every run): one more table per rate with greedy-qos beside
# them (paired differences and the headroom column), and a summary row each.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: launch/sweep.sh OUT_DIR NAME=POLICY.h5 ...}
shift
mkdir -p "$out"
RATES=${RATES:-"2 3 4 6 8"}
SEEDS=${SEEDS:-5}
QR=${QR:-build/qosroute}
CONFIG=${CONFIG:-configs/paper.cfg}
PLANNERS=${PLANNERS:-}
common=(--config "$CONFIG" --seeds "$SEEDS" --set log.level=warn)
for kv in ${SET:-}; do common+=(--set "$kv"); done
for rate in $RATES; do
  "$QR" simulate "${common[@]}" --set workload.rate="$rate" --policy all --out "$out/heuristics_rate$rate.csv" \
    > "$out/heuristics_rate$rate.txt"
  for spec in "$@"; do
    name=${spec%%=*}
    file=${spec#*=}
    "$QR" evaluate "${common[@]}" --set workload.rate="$rate" --policy "$file" \
      --out "$out/${name}_rate$rate.csv" > "$out/${name}_rate$rate.txt"
  done
  if [ -n "$PLANNERS" ]; then
    "$QR" simulate "${common[@]}" --set workload.rate="$rate" \
      --policy "greedy-qos,$(echo $PLANNERS | tr ' ' ',')" --out "$out/planners_rate$rate.csv" \
      > "$out/planners_rate$rate.txt"
  fi
  echo "rate $rate done"
done

# Summary: one row per heuristic and per policy, one column per rate; a policy's cell adds its
# paired difference against greedy-qos (mean ± 95% interval over the same episodes).
{
  printf '| policy |'
  for rate in $RATES; do printf ' rate %s |' "$rate"; done
  printf '\n|---|'
  for rate in $RATES; do printf -- '---|'; done
  printf '\n'
  first=${RATES%% *}
  for h in $(tail -n +2 "$out/heuristics_rate$first.csv" | cut -d, -f1); do
    printf '| %s |' "$h"
    for rate in $RATES; do
      awk -F, -v p="$h" '$1 == p { printf " %.4f ± %.4f |", $3, $4 }' "$out/heuristics_rate$rate.csv"
    done
    printf '\n'
  done
  for spec in "$@"; do
    name=${spec%%=*}
    printf '| %s |' "$name"
    for rate in $RATES; do
      awk -F, '$1 == "sac" { printf " %.4f ± %.4f (%+.4f ± %.4f) |", $3, $4, $16, $17 }' \
        "$out/${name}_rate$rate.csv"
    done
    printf '\n'
  done
  for planner in $PLANNERS; do
    printf '| %s |' "$planner"
    for rate in $RATES; do
      awk -F, -v p="$planner" '$1 == p { printf " %.4f ± %.4f (%+.4f ± %.4f) |", $3, $4, $16, $17 }' \
        "$out/planners_rate$rate.csv"
    done
    printf '\n'
  done
  printf '| upper bound |'
  for rate in $RATES; do
    awk -F, 'NR == 2 { printf " %.4f |", $15 }' "$out/heuristics_rate$rate.csv"
  done
  printf '\n'
} > "$out/summary.md"
cat "$out/summary.md"
