#!/usr/bin/env bash
# The router's own overhead (issue 16): three instant fake backends (no simulated compute),
# `qosroute serve`, and `qosroute loadgen` sending RATE req/s of whole (non-streamed) requests.
# Prints loadgen's table and client times, and the router's own time per request from its
# /metrics histogram (parse, decide, hand over to the backend).
#
#   bench/serve_overhead.sh                                  # greedy-qos, 1000 req/s, 30 s
#   POLICY="--policy-file runs/edge-s1/policy_selected.h5" bench/serve_overhead.sh
#   RATE=3000 N=30000 bench/serve_overhead.sh                # where does it stop keeping up?
#   PIN=1 bench/serve_overhead.sh                            # router on CPU 0, the rest on CPU 1
set -euo pipefail
Q=${Q:-build/qosroute}
CONFIG=${CONFIG:-configs/edge-4090.cfg}
RATE=${RATE:-1000}
N=${N:-30000}
POLICY=${POLICY:---policy greedy-qos}
EXPERTS=${EXPERTS:-alpaca-native chatglm-6b mpt-7b-instruct}
BACKEND_PREFIX=""
ROUTER_PREFIX=""
if [ "${PIN:-0}" = 1 ]; then
  ROUTER_PREFIX="taskset -c 0"
  BACKEND_PREFIX="taskset -c 1"
fi
# shellcheck source=bench/serve_common.sh
source "$(dirname "$0")/serve_common.sh"

start_backends --instant
# shellcheck disable=SC2086
start_router $POLICY
echo "serve_overhead: $N requests at $RATE req/s, router policy: $POLICY"
$BACKEND_PREFIX "$Q" loadgen --url "$router_url" --config "$CONFIG" --rate "$RATE" \
  --requests "$N" --no-stream --label router
