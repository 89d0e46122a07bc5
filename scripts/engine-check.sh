#!/usr/bin/env bash
# The media engine's checks, part of `npm test`: gofmt clean, go vet clean, go test.
set -euo pipefail
cd "$(dirname "$0")/../engine"
# libopus is C compiled by cgo; its own warnings are not ours to fix.
export CGO_ENABLED=1 CGO_CFLAGS="${CGO_CFLAGS:--O2 -w}"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...
go test ./...
