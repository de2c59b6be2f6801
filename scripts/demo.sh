#!/usr/bin/env bash
# make demo: ipnd end to end on this machine in about a minute (see
# internal/demo). Needs bin/ipnd and bin/btcd (make builds both first) and
# monerod + monero-wallet-rpc from Debian's `monero` package, which this
# script installs with apt-get when run as root; otherwise it says what to
# install. Arguments are passed to the demo program (-wait keeps everything
# running after the confirmed IPNs until Ctrl-C; -v shows ipnd's log).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GO=${GO:-go}

say() { echo "demo: $*" >&2; }
die() { say "$*"; exit 1; }

if ! command -v monerod >/dev/null || ! command -v monero-wallet-rpc >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    die "monerod and monero-wallet-rpc are missing; install them with: sudo apt-get install -y monero"
  fi
  command -v apt-get >/dev/null || die "monerod and monero-wallet-rpc are missing, and there is no apt-get to install them with"
  say "installing Debian's monero package (monerod, monero-wallet-rpc) with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q monero >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q monero >/dev/null; } \
    || die "apt-get install monero failed"
fi

export IPND_BTCD=${IPND_BTCD:-$root/bin/btcd}
[ -x "$IPND_BTCD" ] || die "btcd not found at $IPND_BTCD: run 'make bin/btcd' (needs the Go module proxy)"
[ -x bin/ipnd ] || die "bin/ipnd not found: run 'make build'"

"$GO" build -o bin/ipnd-demo ./internal/demo || die "building the demo program failed"
# exec: Ctrl-C reaches the demo directly, which stops everything it started.
exec bin/ipnd-demo -ipnd "$root/bin/ipnd" "$@"
