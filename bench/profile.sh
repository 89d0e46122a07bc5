#!/bin/bash
# Profiles phonebridge and the responder with perf during a load test.
#   bash bench/profile.sh [CALLS=10] [DURATION=50]
# Needs perf (apt-get install linux-perf) and permission to attach (root or
# kernel.perf_event_paranoid <= 1). Writes /tmp/pb-profile/{server,resp}.{data,txt} and prints
# the per-thread and main-thread split (bench/perf-attribute.py).
set -euo pipefail
CALLS=${1:-10}
DUR=${2:-50}
OUT=/tmp/pb-profile
mkdir -p "$OUT"
cd "$(dirname "$0")/.."
npx tsx scripts/loadtest.ts --calls "$CALLS" --duration "$DUR" --label "profile-$CALLS" \
  --server-node-args="--perf-basic-prof-only-functions --interpreted-frames-native-stack" \
  >"$OUT/loadtest.log" 2>&1 &
LT=$!
# Ramp (10 calls/s) plus 20 s of steady state before sampling 15 s.
sleep $((CALLS / 10 + 25))
SP=$(pgrep -f "entry.ts serve" -n)
RP=$(pgrep -f "entry.ts responder" -n)
perf record -F 297 -g -p "$SP" -o "$OUT/server.data" -- sleep 15 2>/dev/null &
perf record -F 297 -g -p "$RP" -o "$OUT/resp.data" -- sleep 15 2>/dev/null &
wait %2 %3 || true
for f in server resp; do
  perf script -i "$OUT/$f.data" -F comm,tid,ip,sym,dso 2>/dev/null >"$OUT/$f.txt"
  echo "== $f"
  python3 bench/perf-attribute.py "$OUT/$f.txt"
done
wait $LT || true
tail -8 "$OUT/loadtest.log"
