#!/usr/bin/env bash
# Sim-to-real check (issue 16): the same requests (workload, rate, seeds, predictions) through
# `simulate` and through three real-time fake backends + `qosroute serve` + `qosroute loadgen`,
# per policy and seed. Prints one line per (policy, seed): simulated and live avg QoS.
#
#   bench/sim_to_real.sh                                   # greedy-qos, 60 req/s, 3 x 1500
#   POLICY_FILE=runs/edge-s1/policy_selected.h5 bench/sim_to_real.sh
set -euo pipefail
Q=${Q:-build/qosroute}
CONFIG=${CONFIG:-configs/edge-4090.cfg}
RATE=${RATE:-60}
N=${N:-1500}
SEEDS=${SEEDS:-3}
SEED_BASE=${SEED_BASE:-1000000}
EXPERTS=${EXPERTS:-alpaca-native chatglm-6b mpt-7b-instruct}
if [ -n "${POLICY_FILE:-}" ]; then
  router_policy=(--policy-file "$POLICY_FILE")
  sim_policy=(--policy sac --policy-file "$POLICY_FILE")
  name=sac
else
  router_policy=(--policy "${POLICY:-greedy-qos}")
  sim_policy=(--policy "${POLICY:-greedy-qos}")
  name=${POLICY:-greedy-qos}
fi

# shellcheck source=bench/serve_common.sh
source "$(dirname "$0")/serve_common.sh"
start_backends
start_router "${router_policy[@]}"
url=$router_url

qos() { awk -v row="$1" '$1 == row { print $2 }'; }
echo "policy seed simulated live live-simulated (rate $RATE req/s, $N requests, $CONFIG)"
for k in $(seq 0 $((SEEDS - 1))); do
  seed=$((SEED_BASE + k))
  sim=$("$Q" simulate --config "$CONFIG" "${sim_policy[@]}" --seeds 1 --set "eval.seed_base=$seed" \
    --set "workload.rate=$RATE" --set "workload.requests_per_episode=$N" 2>/dev/null | qos "$name")
  live=$("$Q" loadgen --url "$url" --config "$CONFIG" --rate "$RATE" --requests "$N" \
    --seed "$seed" --label live 2>/dev/null | qos live)
  awk -v p="$name" -v s="$seed" -v a="$sim" -v b="$live" \
    'BEGIN { printf "%s %d %.4f %.4f %+.4f\n", p, s, a, b, b - a }' | tee -a "$dir/rows"
done
# Means over the seeds and simulate's 95% interval (Student t, as `simulate --seeds` prints it).
awk 'BEGIN { split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262", t, " ") }
  { n++; a[n] = $3; b[n] = $4; sa += $3; sb += $4 }
  END {
    ma = sa / n; mb = sb / n; v = 0
    for (i = 1; i <= n; i++) v += (a[i] - ma) ^ 2
    ci = n > 1 ? (n - 1 <= 9 ? t[n - 1] : 1.96) * sqrt(v / (n - 1) / n) : 0
    printf "mean: simulated %.4f (95%% interval %.4f..%.4f), live %.4f, live-simulated %+.4f: %s\n",
      ma, ma - ci, ma + ci, mb, mb - ma, (mb >= ma - ci && mb <= ma + ci) ? "inside" : "outside"
  }' "$dir/rows"
