#!/usr/bin/env bash
# Renders the demo caller's sentence once with Debian's espeak-ng (GPL program, run at
# build time only; the WAV it writes is shipped, so nothing GPL runs with phonebridge).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp --suffix=.wav)
espeak-ng -v en-us -s 160 -w "$tmp" "Hello! I am calling to check that phonebridge works. Can you hear me?"
sox "$tmp" -r 8000 -c 1 -b 16 assets/demo/caller.wav
rm -f "$tmp"
echo "wrote assets/demo/caller.wav"
