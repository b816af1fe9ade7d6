#!/usr/bin/env bash
# `qosroute plot` end to end: a synthetic run directory (train.csv with empty fields and
# rolling_qos, eval.csv, select.csv), a synthetic launch/sweep.sh folder, a one-file sweep CSV
# and a per-request latency CSV; every expected PNG must exist, carry the PNG signature and be
# larger than 10 kB. Missing inputs must give exit code 2 and name the file (and column).
# Fails (does not skip) without python3-matplotlib: launch/install-deps.sh installs it.
#   tests/plot_test.sh BUILD/qosroute
set -uo pipefail
QR=${1:?usage: tests/plot_test.sh QOSROUTE_BINARY}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

check_png() {  # PATH
  local f=$1
  if [ ! -f "$f" ]; then
    fail "$f was not written"
    return
  fi
  local sig size
  sig=$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')
  size=$(stat -c %s "$f")
  [ "$sig" = "89504e470d0a1a0a" ] || fail "$f does not start with the PNG signature ($sig)"
  [ "$size" -gt 10240 ] || fail "$f is only $size bytes"
  echo "ok: $f ($size bytes)"
}

expect_exit() {  # CODE NEEDLE... -- ARGS...: runs qosroute with ARGS, checks code and stderr
  local want=$1
  shift
  local needles=()
  while [ "$1" != "--" ]; do
    needles+=("$1")
    shift
  done
  shift
  local err code
  err=$("$QR" "$@" 2>&1 >/dev/null)
  code=$?
  [ "$code" -eq "$want" ] || fail "qosroute $* exited $code, expected $want: $err"
  for n in "${needles[@]}"; do
    grep -qF -- "$n" <<<"$err" || fail "qosroute $* did not name '$n': $err"
  done
  [ "$(wc -l <<<"$err")" -eq 1 ] || fail "qosroute $* printed more than one error line: $err"
  echo "ok: qosroute $* -> exit $code: $err"
}

# --- a synthetic run (the space checks that no shell sits between qosroute and python) ---
run="$tmp/run with space"
mkdir -p "$run/metrics"
awk 'BEGIN {
  srand(7)
  print "kind,frames,updates,episodes,wall_s,frames_per_s,updates_per_s,episode_qos,rolling_qos," \
        "critic_loss,actor_loss,alpha,entropy,q_mean,policy_lag"
  ep = 0; roll = ""
  for (i = 1; i <= 120; i++) {
    frames = i * 500; updates = (frames > 5000) ? (frames - 5000) / 4 : 0
    wall = i * 6.5; fps = 70 + 10 * sin(i / 7) + rand() * 5; ups = (updates > 0) ? 14 + rand() : ""
    if (i % 4 == 0) {
      ep++; q = 0.55 + 0.15 * (1 - exp(-updates / 4000)) + 0.03 * (rand() - 0.5)
      roll = (roll == "") ? q : 0.8 * roll + 0.2 * q
      printf "episode,%d,%d,%d,%.3f,,,%.6f,%.6f,,,,,,0\n", frames, updates, ep, wall, q, roll
    }
    if (updates == 0) {  # warm-up: no losses yet, so the fields are empty
      printf "log,%d,0,%d,%.3f,%.2f,,,%s,,,,,,0\n", frames, ep, wall, fps, roll
    } else {
      printf "log,%d,%d,%d,%.3f,%.2f,%.3f,,%s,%.6f,%.6f,%.6f,%.6f,%.6f,0\n", frames, updates, ep,
             wall, fps, ups, roll, 0.02 * exp(-updates / 5000) + 0.002 * rand(),
             -0.6 - 0.1 * rand(), 0.2 * exp(-updates / 3000) + 0.005, 0.9 * exp(-updates / 6000) + 0.1,
             0.5 + 0.1 * rand()
    }
  }
}' >"$run/metrics/train.csv"
awk 'BEGIN {
  srand(11)
  print "frames,updates,policy,episodes,avg_qos,avg_qos_ci95,sla_attainment,drop_rate,latency_per_token_mean"
  for (u = 1000; u <= 13750; u += 1000) {
    q = 0.6 + 0.12 * (1 - exp(-u / 4000)) + 0.01 * (rand() - 0.5)
    printf "%d,%d,sac,5,%.6f,%.6f,0.95,0.01,0.021\n", 5000 + 4 * u, u, q, 0.004 + 0.004 * rand()
  }
}' >"$run/metrics/eval.csv"
awk 'BEGIN {
  srand(13)
  print "frames,updates,margin,rate,agent_qos,greedy_qos,paired_gain,paired_gain_ci95,mean_gain,min_gain,selected"
  best = -1
  for (u = 1000; u <= 13750; u += 1000) {
    split("0 2 4", margins, " ")
    for (k = 1; k <= 3; k++) {
      m = margins[k]; base = -0.02 * exp(-u / 3000) + 0.001 * m - 0.0004 * (k - 1) * (k - 1)
      mean = 0; min = 1; n = split("2 4 6", rates, " ")
      for (j = 1; j <= n; j++) { g[j] = base + 0.001 * (rates[j] - 4) + 0.001 * (rand() - 0.5); mean += g[j] / n; if (g[j] < min) min = g[j] }
      sel = (k == 2 && mean > best) ? 1 : 0
      if (sel) best = mean
      for (j = 1; j <= n; j++)
        printf "%d,%d,%d,%d,%.6f,%.6f,%.6f,0.002,%.6f,%.6f,%d\n", 5000 + 4 * u, u, m, rates[j],
               0.7 + g[j], 0.7, g[j], mean, min, sel
    }
  }
}' >"$run/metrics/select.csv"

out=$("$QR" plot "$run")
code=$?
[ "$code" -eq 0 ] || fail "qosroute plot RUN_DIR exited $code"
echo "$out"
for f in learning_curve throughput losses; do
  check_png "$run/plots/$f.png"
  grep -qxF "$run/plots/$f.png" <<<"$out" || fail "qosroute plot did not print $run/plots/$f.png"
done

# --- a synthetic launch/sweep.sh folder: heuristics_rateR.csv and han_rateR.csv ---
sweep="$tmp/sweep"
mkdir -p "$sweep"
header="policy,episodes,avg_qos,avg_qos_ci95,avg_score,sla_attainment,latency_per_token_mean,latency_per_token_p50,latency_per_token_p95,latency_per_token_p99,kv_utilization,throughput_tokens_per_s,drop_rate,preemptions,upper_bound,paired_vs_greedy_qos,paired_vs_greedy_qos_ci95"
for rate in 2 4 6 8; do
  awk -v rate="$rate" -v header="$header" -v learned=0 -f - >"$sweep/heuristics_rate$rate.csv" <<'AWK'
BEGIN {
  print header
  n = split("random round-robin shortest-queue-first least-kv-load quality greedy-qos", p, " ")
  for (i = 1; i <= n; i++) {
    load = rate / 8; q = 0.72 - load * load * (0.6 - 0.07 * i); lat = 0.012 + 0.05 * load * load * (7 - i)
    printf "%s,5,%.6f,%.6f,0.7,0.9,%.6f,%.6f,%.6f,%.6f,0.5,900,0.01,3,0.740,%s\n", p[i], q,
           0.002 + 0.004 * load, lat, lat, 2 * lat, 3 * lat, (p[i] == "greedy-qos") ? "0.000000,0.000000" : ","
  }
}
AWK
  { echo "$header"; grep '^greedy-qos,' "$sweep/heuristics_rate$rate.csv";
    awk -v rate="$rate" 'BEGIN { printf "sac,5,%.6f,0.004,0.7,0.9,0.02,0.02,0.04,0.06,0.5,900,0.01,3,0.740,0.003,0.002\n", 0.73 - 0.02 * rate / 8 }'; } \
    >"$sweep/han_rate$rate.csv"
done
out=$("$QR" plot --sweep "$sweep")
code=$?
[ "$code" -eq 0 ] || fail "qosroute plot --sweep FOLDER exited $code"
echo "$out"
check_png "$sweep/plots/sweep_qos.png"
check_png "$sweep/plots/sweep_latency.png"

# --- one sweep CSV with rate and SLA columns ---
{
  echo "rate,sla_s,$header"
  for rate in 2 4 6 8; do
    tail -n +2 "$sweep/heuristics_rate$rate.csv" | sed "s/^/$rate,0.03,/"
  done
} >"$tmp/sweep.csv"
out=$("$QR" plot --sweep "$tmp/sweep.csv" --out "$tmp/one csv")
code=$?
[ "$code" -eq 0 ] || fail "qosroute plot --sweep FILE.csv exited $code"
check_png "$tmp/one csv/sweep_qos.png"
check_png "$tmp/one csv/sweep_latency.png"

# --- per-request latencies ---
awk 'BEGIN {
  srand(5)
  print "policy,latency_per_token_s,sla_s"
  for (i = 0; i < 600; i++) {
    printf "greedy-qos,%.5f,0.03\n", 0.012 + 0.01 * rand() * rand()
    printf "random,%.5f,0.03\n", 0.012 + 0.05 * rand() * rand() * rand()
    if (i % 10 == 0) print "sac,,0.03"; else printf "sac,%.5f,0.03\n", 0.011 + 0.012 * rand() * rand()
  }
}' >"$tmp/latency.csv"
out=$("$QR" plot --latency "$tmp/latency.csv" --out "$tmp/lat")
code=$?
[ "$code" -eq 0 ] || fail "qosroute plot --latency exited $code"
check_png "$tmp/lat/latency_cdf.png"

# --- errors: one message naming the file (and column), exit code 2 ---
mv "$run/metrics/eval.csv" "$tmp/eval.csv"
expect_exit 2 "eval.csv" -- plot "$run" --out "$tmp/x"
cp "$tmp/eval.csv" "$run/metrics/eval.csv"
sed -i '1s/avg_qos,/mean_qos,/' "$run/metrics/eval.csv"
expect_exit 2 "eval.csv" "avg_qos" -- plot "$run" --out "$tmp/x"
cut -d, -f2- "$tmp/sweep.csv" >"$tmp/norate.csv"
expect_exit 2 "norate.csv" "rate" -- plot --sweep "$tmp/norate.csv"
expect_exit 2 "latency_per_token_s" -- plot --latency "$sweep/han_rate2.csv" --out "$tmp/x"
expect_exit 2 "--out" -- plot --latency "$tmp/latency.csv"
expect_exit 2 "exactly one" -- plot "$run" --sweep "$tmp/sweep.csv"
cp "$tmp/eval.csv" "$run/metrics/eval.csv"  # a good run again: these fail before reading it
QOSROUTE_PLOT_SCRIPT="$tmp/none.py" expect_exit 2 "none.py" -- plot "$run"
QOSROUTE_PYTHON="$tmp/no-python" expect_exit 2 "install-deps.sh" -- plot "$run"
# A python3 without site-packages cannot import matplotlib: one error pointing at install-deps.
printf '#!/bin/sh\nexec %s -S "$@"\n' "$(command -v /usr/bin/python3 || command -v python3)" >"$tmp/bare-python"
chmod +x "$tmp/bare-python"
QOSROUTE_PYTHON="$tmp/bare-python" expect_exit 2 "matplotlib" "install-deps.sh" -- plot "$run"

if [ "$failures" -ne 0 ]; then
  echo "plot_test: $failures failure(s)"
  exit 1
fi
echo "plot_test: all checks passed"
