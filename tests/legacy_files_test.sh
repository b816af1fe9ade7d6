#!/usr/bin/env bash
# Files written by qosroute before the observation schema (tests/fixtures/files-5a09ce3, made
# by the commands in its README.md) load in this build (CTest: legacy_files):
#   legacy_files_test.sh QOSROUTE FIXTURES WORK_DIR [MPIEXEC]
# - the policy file gives the same `simulate --policy sac` episodes, value for value, and
#   serves as the rollout planner's base (planner.base_file);
# - both checkpoints (one process, mpirun) inspect, with the group switches they record;
# - the single-process checkpoint resumes and the run ends with the same metrics as the old
#   build's resumed run (eval.csv and train.csv without its wall-clock columns);
# - with MPIEXEC, the distributed checkpoint resumes under mpiexec -n 2 (its records, written
#   before version-2 records, converted) and every transition reaches a shard exactly once.
set -u
qr=$1 fx=$2 work=$3 mpiexec=${4:-}
fail() {
  echo "FAIL: $*"
  exit 1
}
rm -rf "$work"
mkdir -p "$work"

"$qr" simulate --config "$fx/config.cfg" --policy sac --policy-file "$fx/policy.h5" \
  --out "$work/simulate.csv" >"$work/simulate.log" 2>&1 || fail "simulate failed: $(tail -3 "$work/simulate.log")"
# Every column the old build wrote, byte for byte (columns added since are appended at the
# end of the CSV, e.g. the TTFT ones).
columns=$(head -1 "$fx/simulate.csv" | tr ',' '\n' | wc -l)
cut -d, -f1-"$columns" "$work/simulate.csv" >"$work/simulate_old_columns.csv"
cmp -s "$work/simulate_old_columns.csv" "$fx/simulate.csv" ||
  fail "simulate episodes differ: $(diff "$fx/simulate.csv" "$work/simulate_old_columns.csv" | head -5)"

"$qr" simulate --config "$fx/config.cfg" --policy greedy-qos,rollout --seeds 1 \
  --set planner.base_file="$fx/policy.h5" --set planner.samples=2 --set planner.max_samples=2 \
  --set planner.horizon=4 --set workload.requests_per_episode=150 >"$work/planner.log" 2>&1 ||
  fail "rollout with the policy as its base failed: $(tail -3 "$work/planner.log")"
grep -q "^rollout " "$work/planner.log" || fail "no rollout row: $(tail -5 "$work/planner.log")"

for ckpt in ckpt_single.h5 ckpt_distributed.h5; do
  out=$("$qr" inspect "$fx/$ckpt" 2>&1) || fail "inspect $ckpt failed: $out"
  grep -q "optional expert features: lookahead" <<<"$out" || fail "inspect $ckpt shows no feature switches: $out"
done
grep -q "lookahead on" <<<"$("$qr" inspect "$fx/ckpt_single.h5")" || fail "the single-process checkpoint's lookahead switch"

"$qr" train --config "$fx/config.cfg" --run-dir "$work/resumed" --resume "$fx/ckpt_single.h5" \
  --compare false >"$work/resume.log" 2>&1 || fail "resume failed: $(tail -3 "$work/resume.log")"
grep -q "resuming from $fx/ckpt_single.h5" "$work/resume.log" || fail "did not resume from the fixture"
cmp -s "$work/resumed/metrics/eval.csv" "$fx/resumed_eval.csv" || fail "eval.csv after the resume differs"
# train.csv without wall_s, frames_per_s, updates_per_s (columns 5-7).
cut -d, -f1-4,8- "$work/resumed/metrics/train.csv" >"$work/train_cut.csv"
cmp -s "$work/train_cut.csv" "$fx/resumed_train_cut.csv" || fail "train.csv after the resume differs: $(diff "$fx/resumed_train_cut.csv" "$work/train_cut.csv" | head -5)"
if [ -n "$mpiexec" ]; then
  "$mpiexec" -n 2 --allow-run-as-root --oversubscribe "$qr" train --config "$fx/distributed.cfg" \
    --run-dir "$work/distributed" --compare false --resume "$fx/ckpt_distributed.h5" >"$work/distributed.log" 2>&1 ||
    fail "distributed resume failed: $(tail -3 "$work/distributed.log")"
  grep -q "resumed from $fx/ckpt_distributed.h5: 60 updates" "$work/distributed.log" || fail "did not resume the distributed fixture"
  grep -q "every transition exactly once" "$work/distributed.log" || fail "stream check after the distributed resume"
fi
echo "PASS (legacy files)"
