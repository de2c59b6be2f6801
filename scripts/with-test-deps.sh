#!/usr/bin/env bash
# Runs a command (make test's go test) with the real components the
# integration tests need, providing each one or saying what to install:
#   - a MySQL/MariaDB server: $IPND_TEST_MYSQL_DSN if set; else root on
#     127.0.0.1:3306 if it answers; else Debian's mariadb-server (installed
#     with apt when root) as a private instance on a free loopback port in a
#     temp dir, stopped again at the end;
#   - monerod and monero-wallet-rpc: Debian's `monero` package;
#   - litecoind and litecoin-cli (Litecoin Core 0.21, the Bitcoin Core-family
#     node of the tests): Debian's `litecoind` package;
#   - btcd: built into ./bin by make (bin/btcd target), found via IPND_BTCD;
#   - systemd-analyze (Debian's `systemd`), which checks contrib/systemd;
#   - curl, which runs the README's API examples.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

say() { echo "test-deps: $*" >&2; }
die() { say "$*"; exit 1; }
as_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
  as_root || die "missing $*: install with: sudo apt-get install -y $*"
  command -v apt-get >/dev/null || die "missing $*, and no apt-get to install it with"
  say "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "$@" >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1; apt-get install -y -q "$@" >/dev/null; } \
    || die "apt-get install $* failed"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
  local p
  for p in $(seq 23306 23406); do port_open "$p" || { echo "$p"; return; }; done
  die "no free port for a private MariaDB"
}

# --- Monero ---------------------------------------------------------------
if ! command -v monerod >/dev/null || ! command -v monero-wallet-rpc >/dev/null; then
  apt_install monero
fi

# --- curl (the README's API examples run as printed) ----------------------
command -v curl >/dev/null || apt_install curl

# --- systemd-analyze (the unit file tests) --------------------------------
command -v systemd-analyze >/dev/null || apt_install systemd

# --- Litecoin Core -------------------------------------------------------
if ! command -v litecoind >/dev/null || ! command -v litecoin-cli >/dev/null; then
  apt_install litecoind
fi

# --- btcd -----------------------------------------------------------------
export IPND_BTCD=${IPND_BTCD:-$root/bin/btcd}
[ -x "$IPND_BTCD" ] || die "btcd not found at $IPND_BTCD: run 'make bin/btcd' (needs the Go module proxy)"

# --- Chromium (browser tests, internal/browsertest) -------------------------
# Debian's chromium; IPND_CHROMIUM points the tests at another binary.
if [ -n "${IPND_CHROMIUM:-}" ]; then
  [ -x "$IPND_CHROMIUM" ] || die "IPND_CHROMIUM=$IPND_CHROMIUM is not an executable: fix it or unset it to use Debian's chromium"
elif [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi

# --- MySQL / MariaDB ------------------------------------------------------
private_dir=""
cleanup() {
  if [ -n "$private_dir" ]; then
    [ -f "$private_dir/mariadb.pid" ] && kill "$(cat "$private_dir/mariadb.pid")" 2>/dev/null || true
    for _ in $(seq 50); do [ -f "$private_dir/mariadb.pid" ] || break; sleep 0.1; done
    rm -rf "$private_dir"
  fi
}
trap cleanup EXIT

if [ -n "${IPND_TEST_MYSQL_DSN:-}" ]; then
  say "MySQL: using IPND_TEST_MYSQL_DSN"
elif port_open 3306; then
  export IPND_TEST_MYSQL_DSN="root@tcp(127.0.0.1:3306)/"
  say "MySQL: using the server on 127.0.0.1:3306 as root"
else
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || apt_install mariadb-server
  mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
  private_dir=$(mktemp -d /tmp/ipnd-mariadb.XXXXXX)
  port=$(free_port)
  say "MySQL: starting a private MariaDB on 127.0.0.1:$port in $private_dir"
  mariadb-install-db --no-defaults --datadir="$private_dir/data" --user="$(id -un)" --auth-root-authentication-method=normal \
    --skip-test-db >"$private_dir/install.log" 2>&1 || { cat "$private_dir/install.log" >&2; die "mariadb-install-db failed"; }
  "$mariadbd" --no-defaults --datadir="$private_dir/data" --socket="$private_dir/mysql.sock" --port="$port" \
    --bind-address=127.0.0.1 --user="$(id -un)" --pid-file="$private_dir/mariadb.pid" \
    --log-error="$private_dir/error.log" --skip-log-bin >/dev/null 2>&1 &
  for _ in $(seq 100); do port_open "$port" && break; sleep 0.1; done
  port_open "$port" || { cat "$private_dir/error.log" >&2; die "private MariaDB did not start"; }
  export IPND_TEST_MYSQL_DSN="root@tcp(127.0.0.1:$port)/"
fi

export IPND_REQUIRE_INTEGRATION=1
"$@"
