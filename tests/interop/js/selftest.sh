#!/usr/bin/env bash
# JS<->JS self-test of peer.mjs: starts `listen`, runs every `dial` test
# against it, prints each result line, exits non-zero if any test fails.
# Usage: ./selftest.sh [extra dial options, e.g. --timeout 120]
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
run="$here/run_node.sh"
tmp="$(mktemp -d)"
listener_pid=""
cleanup() {
  if [[ -n "$listener_pid" ]]; then kill -TERM "$listener_pid" 2>/dev/null; wait "$listener_pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
"$run" listen --seed "$(printf '01%.0s' {1..32})" --ignore-stdin >"$tmp/listen.out" 2>"$tmp/listen.err" &
listener_pid=$!
addr=""
for _ in $(seq 1 300); do  # up to 30 s for the listener to come up
  addr="$(grep -o '"/ip4/[^"]*' "$tmp/listen.out" 2>/dev/null | head -1 | tr -d '"')"
  [[ -n "$addr" ]] && break
  kill -0 "$listener_pid" 2>/dev/null || break
  sleep 0.1
done
if [[ -z "$addr" ]]; then
  echo "listener did not start:"; cat "$tmp/listen.out" "$tmp/listen.err"; exit 1
fi
expected_id="12D3KooWK99VoVxNE7XzyBwXEzW7xhK7Gpv85r9F3V3fyKSUKPH5"  # seed 0x01 * 32
if [[ "$addr" != *"/p2p/$expected_id" ]]; then
  echo "listener peer id mismatch: $addr (expected $expected_id)"; exit 1
fi
failed=0
seed="$(printf '02%.0s' {1..32})"
for test in echo concurrent ping identify throughput expect-fail; do
  extra=()
  [[ "$test" == identify ]] && extra=(--expect-protocols /hm/echo/1.0.0,/hm/sink/1.0.0,/ipfs/id/1.0.0,/ipfs/ping/1.0.0)
  "$run" dial "$addr" --seed "$seed" --test "$test" "${extra[@]}" "$@" || failed=$((failed + 1))
done
echo "{\"event\":\"selftest\",\"failed\":$failed}"
exit $((failed > 0))
