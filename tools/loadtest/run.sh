#!/usr/bin/env bash
# Load test: wxgate serve handling distinct safe-mode pushes over loopback,
# against a bare net/http handler answering "success" in the same run.
#   bash tools/loadtest/run.sh [duration] [connections] [format]
# Needs wrk (apt-get install wrk). Prints both rates and their ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${1:-10s}"; CONNS="${2:-64}"; FORMAT="${3:-xml}"; THREADS=1
N="${N:-400000}"
TMP="$(mktemp -d)"; trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$TMP"' EXIT
command -v wrk >/dev/null || { echo "wrk is not installed: apt-get install wrk" >&2; exit 1; }

go build -o "$TMP/wxgate" ./cmd/wxgate
go build -o "$TMP/loadtest" ./tools/loadtest
TOKEN="$("$TMP/wxgate" keygen --env | sed -n 's/^WXGATE_TOKEN=//p')"
KEY="$("$TMP/wxgate" keygen --env | sed -n 's/^WXGATE_AES_KEY=//p')"
APPID=wx0123456789abcdef

WXGATE_TOKEN="$TOKEN" WXGATE_AES_KEY="$KEY" "$TMP/wxgate" serve --addr 127.0.0.1:9002 \
  --appid "$APPID" --mode safe --log-format json ${SERVE_FLAGS:-} 2>"$TMP/serve.log" &
"$TMP/loadtest" bare -addr 127.0.0.1:9001 ${BARE_FLAGS:-} &
sleep 1

run() { # name url
  "$TMP/loadtest" gen -n "$N" -out "$TMP/pushes.tsv" -token "$TOKEN" -aes-key "$KEY" -appid "$APPID" -format "$FORMAT"
  echo "-- $1" >&2
  wrk -t "$THREADS" -c "$CONNS" -d "$DURATION" -s tools/loadtest/replay.lua "$2" -- "$TMP/pushes.tsv" "$THREADS" | tail -1
}
bare="$(run bare http://127.0.0.1:9001)"
gate="$(run "wxgate serve" http://127.0.0.1:9002)"
echo "bare net/http:  $bare"
echo "wxgate serve:   $gate"
b=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' <<<"$bare"); g=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' <<<"$gate")
req=$(sed -n 's/^requests=\([0-9]*\).*/\1/p' <<<"$gate")
[ "$req" -le "$N" ] || echo "note: $req requests > $N distinct pushes: some were duplicates" >&2
ok=$(grep -c '"result":"ok"' "$TMP/serve.log" || true)
echo "ratio: $(awk -v g="$g" -v b="$b" 'BEGIN{printf "%.1f%%", 100*g/b}')  (pushes handled by wxgate: $ok)"
