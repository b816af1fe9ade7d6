#!/usr/bin/env bash
# The test command: install deps, configure into build/, build, run every CTest suite; then
# the simulator's tests again under AddressSanitizer + UndefinedBehaviorSanitizer (no torch,
# so that build stays cheap).
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/install-deps.sh
JOBS=${JOBS:-2}

echo "== BLAS used by LibTorch: $(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$JOBS"
(cd build && ctest --output-on-failure -j "$JOBS" --timeout 600)

if [ "${QOSROUTE_SKIP_SANITIZE:-0}" != "1" ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DQOSROUTE_SANITIZE=ON -DQOSROUTE_WITH_TORCH=OFF \
    -DQOSROUTE_BUILD_BENCH=OFF
  cmake --build build-asan -j "$JOBS"
  (cd build-asan && ctest --output-on-failure -j "$JOBS" --timeout 900)
fi
