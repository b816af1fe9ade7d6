#!/usr/bin/env bash
# `qosroute train` under mpiexec, stopped and resumed (CTest: distributed_resume_*).
#   mpi_resume_test.sh MODE MPIEXEC NP QOSROUTE CONFIG RUN_DIR [qosroute train args ...]
# MODE stop-resume: stop at update 60 (test hook), check the checkpoint, resume with
#                   --resume auto, and check that counters continue and every transition of
#                   the whole run reached a shard exactly once.
# MODE damaged-newest: as stop-resume, with a damaged copy of the checkpoint placed as a newer
#                   one (ckpt_61.h5, truncated): --resume auto warns once naming it, keeps it
#                   under checkpoints/damaged/ and resumes from ckpt_60.
#                   With EXPECT_LOG set, the resumed run must also log a line matching it.
# MODE signal:      SIGUSR1 to mpiexec (which forwards it to every rank) during training:
#                   exit 0 with a checkpoint that inspect reads.
# MODE bad-file:    --resume with a file that is not HDF5: exit code 2 from every rank, one
#                   error naming the file, and the run directory left as it was.
# MODE in-use:      a second job on the run directory of a running one: exit 2, one error
#                   naming the directory and the process holding it; the first job then
#                   stops on SIGUSR1 with a checkpoint, and wrote its TensorBoard events.
# MODE bad-config:  an out-of-range config value: one error line for the whole job.
# MODE select:      model selection under mpiexec: policy_selected.h5 and metrics/select.csv
#                   from learner 0; stopped at update 60 and resumed, the selection continues
#                   (select.csv's rows up to the checkpoint stay, more follow).
set -u
mode=$1 mpiexec=$2 np=$3 qr=$4 config=$5 run_dir=$6
shift 6
fail() {
  echo "FAIL ($mode): $*"
  exit 1
}
run() { "$mpiexec" -n "$np" --allow-run-as-root --oversubscribe "$@"; }
rm -rf "$run_dir"
mkdir -p "$(dirname "$run_dir")"
train=("$qr" train --config "$config" --run-dir "$run_dir" --compare false)

case $mode in
  stop-resume | damaged-newest)
    out=$(QOSROUTE_TEST_STOP_AT_UPDATES=60 run -x QOSROUTE_TEST_STOP_AT_UPDATES "${train[@]}" "$@" 2>&1)
    rc=$?
    echo "$out" | tail -5
    [ $rc = 0 ] || fail "stopped run exited $rc"
    grep -q "stopped by signal .* 60 updates" <<<"$out" || fail "no stop message"
    ckpt="$run_dir/checkpoints/ckpt_60.h5"
    [ -f "$ckpt" ] || fail "no $ckpt"
    "$qr" inspect "$ckpt" | grep -q "updates 60" || fail "inspect does not show 60 updates"
    if [ "$mode" = damaged-newest ]; then
      damaged="$run_dir/checkpoints/ckpt_61.h5"
      head -c $(($(stat -c %s "$ckpt") / 3)) "$ckpt" >"$damaged"
    fi
    out=$(run "${train[@]}" "$@" --resume auto 2>&1)
    rc=$?
    echo "$out" | grep -E "resumed|stream check|trained|--resume auto"
    [ $rc = 0 ] || fail "resumed run exited $rc"
    if [ "$mode" = damaged-newest ]; then
      [ "$(grep -c -- "--resume auto: checkpoint $damaged" <<<"$out")" = 1 ] || fail "want one warning naming $damaged"
      cmp -s <(head -c $(($(stat -c %s "$ckpt") / 3)) "$ckpt") "$run_dir/checkpoints/damaged/ckpt_61.h5" ||
        fail "the damaged file was not kept as it was under checkpoints/damaged/"
      grep -q "resumed at [0-9]* frames, 60 updates" <<<"$out" || fail "the closing line does not say where it resumed"
    fi
    grep -q "resumed from .*ckpt_60.h5: 60 updates" <<<"$out" || fail "did not resume at 60 updates"
    grep -q "every transition exactly once" <<<"$out" || fail "stream check failed"
    grep -q "trained 1200 frames, 125 updates" <<<"$out" || fail "totals differ from the plan"
    grep -q "learners bitwise identical: yes" <<<"$out" || fail "learners differ"
    if [ -n "${EXPECT_LOG:-}" ]; then
      grep -qE "$EXPECT_LOG" <<<"$out" || fail "the resumed run logged no line matching '$EXPECT_LOG'"
    fi
    # One event file per process of the run; the resumed one starts at the checkpoint's step.
    [ "$(ls "$run_dir"/tb/events.out.tfevents.* | wc -l)" = 2 ] || fail "want two TensorBoard files"
    head -1 "$run_dir/metrics/train.csv" | grep -q ",rolling_qos," || fail "train.csv lacks rolling_qos"
    ;;
  signal)
    log="$run_dir.log"
    rm -f "$log"
    # mpiexec itself must get the signal (it forwards SIGUSR1 to every rank).
    "$mpiexec" -n "$np" --allow-run-as-root --oversubscribe "${train[@]}" "$@" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 600); do
      grep -q "frames [0-9]*/" "$log" && break
      sleep 0.1
    done
    grep -q "frames [0-9]*/" "$log" || fail "training did not start"
    kill -USR1 "$pid"
    wait "$pid"
    rc=$?
    tail -5 "$log"
    [ $rc = 0 ] || fail "exit code $rc after SIGUSR1"
    grep -q "stopped by signal 10" "$log" || fail "no stop message"
    ckpt=$(ls "$run_dir"/checkpoints/ckpt_*.h5 | head -1)
    [ -n "$ckpt" ] || fail "no checkpoint"
    "$qr" inspect "$ckpt" >/dev/null || fail "inspect cannot read $ckpt"
    ;;
  bad-file)
    mkdir -p "$run_dir"
    echo "not a checkpoint" >"$run_dir/junk.h5"
    before=$(ls -R "$run_dir")
    out=$(run "${train[@]}" "$@" --resume "$run_dir/junk.h5" 2>&1)
    rc=$?
    echo "$out" | grep "error"
    [ $rc != 0 ] || fail "a bad checkpoint did not fail the job"
    [ "$(grep -c "error: checkpoint $run_dir/junk.h5" <<<"$out")" = 1 ] || fail "want one error naming the file"
    [ "$(ls -R "$run_dir")" = "$before" ] || fail "the run directory changed"
    ;;
  in-use)
    log="$run_dir.log"
    rm -f "$log"
    "$mpiexec" -n "$np" --allow-run-as-root --oversubscribe "${train[@]}" "$@" >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 600); do
      grep -q "frames [0-9]*/" "$log" && break
      sleep 0.1
    done
    grep -q "frames [0-9]*/" "$log" || fail "training did not start"
    out=$(run "${train[@]}" "$@" 2>&1)
    rc=$?
    echo "$out" | grep "error"
    [ $rc != 0 ] || fail "a second job on a run directory in use did not fail"
    [ "$(grep -c "error: run directory $run_dir is in use by process" <<<"$out")" = 1 ] ||
      fail "want one error naming the directory and the holder"
    kill -USR1 "$pid"
    wait "$pid"
    rc=$?
    tail -3 "$log"
    [ $rc = 0 ] || fail "the first job exited $rc"
    grep -q "stopped by signal 10" "$log" || fail "the first job did not stop cleanly"
    ls "$run_dir"/tb/events.out.tfevents.* >/dev/null || fail "no TensorBoard event file"
    ;;
  select)
    sel=(--set select.rates=2,8 --set select.seeds=1 --set select.requests_per_episode=200
         --set train.eval_every_frames=400)
    out=$(QOSROUTE_TEST_STOP_AT_UPDATES=60 run -x QOSROUTE_TEST_STOP_AT_UPDATES "${train[@]}" "${sel[@]}" "$@" 2>&1)
    rc=$?
    echo "$out" | grep -E "validation|stopped"
    [ $rc = 0 ] || fail "stopped run exited $rc"
    [ -s "$run_dir/policy_selected.h5" ] || fail "no policy_selected.h5 before the stop"
    before=$(cat "$run_dir/metrics/select.csv")
    [ "$(wc -l <<<"$before")" -ge 2 ] || fail "select.csv has no rows before the stop"
    out=$(run "${train[@]}" "${sel[@]}" "$@" --resume auto 2>&1)
    rc=$?
    echo "$out" | grep -E "validation|selected policy|trained"
    [ $rc = 0 ] || fail "resumed run exited $rc"
    grep -q "selected policy: the snapshot at [0-9]* updates" <<<"$out" || fail "no selection reported"
    after=$(cat "$run_dir/metrics/select.csv")
    [ "${after:0:${#before}}" = "$before" ] || fail "select.csv lost its rows from before the stop"
    [ ${#after} -gt ${#before} ] || fail "no validation after the resume"
    "$qr" inspect "$run_dir/checkpoints/ckpt_60.h5" >/dev/null || fail "inspect cannot read the checkpoint"
    ;;
  bad-config)
    out=$(run "${train[@]}" "$@" --set train.batch_size=-4 2>&1)
    rc=$?
    echo "$out" | grep "error"
    [ $rc != 0 ] || fail "a bad config did not fail the job"
    [ "$(grep -c "error:" <<<"$out")" = 1 ] || fail "want one error line for the job"
    [ ! -e "$run_dir" ] || fail "a run directory was created"
    ;;
  *) fail "unknown mode" ;;
esac
echo "PASS ($mode)"
