# Shared by bench/serve_overhead.sh and bench/sim_to_real.sh (sourced): a temporary directory
# cleaned on exit with every background process, and helpers to start fake backends and a
# router on free ports.
dir=$(mktemp -d)
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

# wait_port FILE: the port a server wrote to its --ready-file.
wait_port() {
  for _ in $(seq 200); do
    [ -s "$1" ] && cat "$1" && return 0
    sleep 0.05
  done
  echo "$(basename "$0"): no port in $1" >&2
  exit 1
}

# start_backends [fake-backend flags...]: one per expert of $EXPERTS; sets backend_flags.
start_backends() {
  backend_flags=()
  for e in $EXPERTS; do
    ${BACKEND_PREFIX:-} "$Q" fake-backend --config "$CONFIG" --expert "$e" --port 0 \
      --ready-file "$dir/$e.port" "$@" >"$dir/$e.log" 2>&1 &
  done
  for e in $EXPERTS; do
    backend_flags+=(--backend "$e=http://127.0.0.1:$(wait_port "$dir/$e.port")")
  done
}

# start_router [serve flags...]: sets router_url.
start_router() {
  ${ROUTER_PREFIX:-} "$Q" serve --config "$CONFIG" --port 0 --ready-file "$dir/router.port" \
    "${backend_flags[@]}" "$@" >"$dir/router.log" 2>&1 &
  router_url="http://127.0.0.1:$(wait_port "$dir/router.port")"
}
