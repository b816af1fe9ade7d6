#!/usr/bin/env bash
# Load sweep: every heuristic plus trained SAC policies on configs/paper.cfg at each rate,
# 5 held-out episodes of 5000 requests each. Writes one CSV per rate and a summary table.
#   launch/sweep.sh OUT_DIR NAME=POLICY.h5 [NAME=POLICY.h5 ...]
# RATES="2 3 4 6 8" SEEDS=5 QR=build/qosroute override the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: launch/sweep.sh OUT_DIR NAME=POLICY.h5 ...}
shift
mkdir -p "$out"
RATES=${RATES:-"2 3 4 6 8"}
SEEDS=${SEEDS:-5}
QR=${QR:-build/qosroute}
common=(--config configs/paper.cfg --seeds "$SEEDS" --set env.lookahead_features=true --set log.level=warn)
for rate in $RATES; do
  "$QR" simulate "${common[@]}" --set workload.rate="$rate" --policy all --out "$out/heuristics_rate$rate.csv" \
    > "$out/heuristics_rate$rate.txt"
  for spec in "$@"; do
    name=${spec%%=*}
    file=${spec#*=}
    "$QR" evaluate "${common[@]}" --set workload.rate="$rate" --policy "$file" --heuristics false \
      --out "$out/${name}_rate$rate.csv" > "$out/${name}_rate$rate.txt"
  done
  echo "rate $rate done"
done
