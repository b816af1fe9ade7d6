#!/usr/bin/env bash
# One command for a new user: install deps, build, train SAC + HAN on configs/quickstart.cfg
# in one process (no cluster needed), evaluate it against every heuristic and print the table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install-deps.sh
JOBS=${JOBS:-2}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS" --target qosroute
echo "== BLAS used by LibTorch: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"
RUN_DIR=${RUN_DIR:-runs/quickstart-$(date +%Y%m%d-%H%M%S)}
build/qosroute train --config configs/quickstart.cfg --run-dir "$RUN_DIR" "$@"
echo
echo "== figures (learning curve, throughput, losses; TensorBoard: tensorboard --logdir $RUN_DIR/tb)"
build/qosroute plot "$RUN_DIR"
echo
echo "policy_selected.h5 is the snapshot and deviation margin chosen on validation episodes"
echo "(metrics/select.csv); policy.h5 is the last snapshot. Evaluate either on another load with:"
echo "  build/qosroute evaluate --policy $RUN_DIR/policy_selected.h5 --config $RUN_DIR/config.cfg --set workload.rate=8"
