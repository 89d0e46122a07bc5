#!/usr/bin/env bash
# Renders the offline prompts of the echo agent (and the spoken test fixtures) with
# Debian's espeak-ng, then converts them with sox to mono PCM16 WAV.
#
# espeak-ng is GPL: it runs only here, at authoring time. The repository ships its audio
# output, and nothing GPL runs with phonebridge. Re-run after changing a phrase:
#   apt-get install -y espeak-ng sox && npm run render-prompts
set -euo pipefail

cd "$(dirname "$0")/.."
command -v espeak-ng >/dev/null || { echo "espeak-ng is missing: apt-get install -y espeak-ng" >&2; exit 1; }
command -v sox >/dev/null || { echo "sox is missing: apt-get install -y sox" >&2; exit 1; }

VOICE="${VOICE:-en-us}"
SPEED="${SPEED:-160}" # words per minute; espeak's default 175 is hurried on a phone line

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# render <out.wav> <rate Hz> <text>
render() {
  local out="$1" rate="$2" text="$3"
  espeak-ng -v "$VOICE" -s "$SPEED" -w "$tmp/raw.wav" "$text"
  # Trim espeak's leading/trailing silence, leave 100 ms of air, normalise to -3 dBFS.
  # -D: no dither, so re-rendering unchanged phrases gives byte-identical files.
  sox -D "$tmp/raw.wav" -r "$rate" -c 1 -b 16 -e signed-integer "$out" \
    silence 1 0.01 0.1% reverse silence 1 0.01 0.1% reverse pad 0.1 0.1 norm -3
  echo "rendered $out ($(soxi -D "$out") s)"
}

# Agent prompts: 16 kHz keeps more of the voice than 8 kHz; LiveKit resamples anyway.
render assets/prompts/greeting.wav 16000 \
  "Hello, this is the phonebridge echo line. Say something and I will repeat it."
render assets/prompts/apology.wav 16000 \
  "Sorry, something went wrong. Please call again later. Goodbye."
render assets/prompts/still-there.wav 16000 "Are you still there?"
render assets/prompts/goodbye.wav 16000 "I did not hear anything, so I will hang up now. Goodbye."
# Left on an answering machine by the offline modes; the same words as VOICEMAIL_MESSAGE's default.
render assets/prompts/voicemail.wav 16000 \
  "Hello, this is an automated call from the phonebridge demo line. Please call us back when you can. Goodbye."

# The simulator's callee (src/sim/callee.ts), at the phone's 8 kHz: a person picking up,
# and an answering machine's greeting (the beep after it is generated).
render assets/sim/callee-hello.wav 8000 "Hello?"
render assets/sim/voicemail-greeting.wav 8000 "Hi, this is Alex. Please leave a message after the tone."

# Test fixtures: caller speech at the phone's 8 kHz, about one second long.
render test/fixtures/fake-realtime/caller-hello.wav 8000 "Can you hear me now"
# What the fake Realtime server "says", at the Realtime API's 24 kHz.
render test/fixtures/fake-realtime/assistant-reply.wav 24000 "Sure, I can help with that."
