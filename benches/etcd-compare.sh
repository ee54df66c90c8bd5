#!/usr/bin/env bash
# raft-kv against etcd on this machine: three servers of each on loopback,
# data on the same disk, the same load generator (`raft-kv bench`, etcd's
# JSON gateway requests) at 1, 16 and 256 clients. Installs Debian's
# etcd-server if it is missing (tests never need it).
#
#   benches/etcd-compare.sh [OPS]        OPS puts per run (default 20000; 2000 with 1 client)
#
# etcd's clients are given its leader's endpoint only (no forwarding hop:
# the best case for etcd); raft-kv's are given all three and follow the
# redirect to the leader. Prints one JSON line per run and a table.
set -euo pipefail
cd "$(dirname "$0")/.."
OPS=${1:-20000}
BASE=$(mktemp -d "${TMPDIR:-/var/tmp}/etcd-compare.XXXXXX")
trap 'pkill -P $$ 2>/dev/null || true; sleep 0.5; rm -rf "$BASE"' EXIT

if ! command -v etcd >/dev/null; then
  echo "installing etcd-server (Debian's package)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
fi
cargo build --release -q -p raft-kv
BIN=${CARGO_TARGET_DIR:-target}/release/raft-kv
echo "etcd: $(etcd --version | head -1); data in $BASE" >&2

bench() { # system endpoints clients
  local ops=$OPS
  [ "$3" = 1 ] && ops=$((OPS / 10))
  "$BIN" bench --clients "$3" --ops "$ops" --endpoints "$2" --json | sed "s/^{/{\"system\":\"$1\",/"
}

# raft-kv: three servers.
PEERS=1=127.0.0.1:17001,2=127.0.0.1:17002,3=127.0.0.1:17003
CLIENTS=1=127.0.0.1:18001,2=127.0.0.1:18002,3=127.0.0.1:18003
for id in 1 2 3; do
  RUST_LOG=warn "$BIN" serve --id $id --peers $PEERS --clients $CLIENTS \
    --data-dir "$BASE/raft-kv/n$id" 2>"$BASE/raft-kv-n$id.log" &
done
sleep 2
RESULTS=()
for c in 1 16 256; do
  RESULTS+=("$(bench raft-kv 127.0.0.1:18001,127.0.0.1:18002,127.0.0.1:18003 $c)")
  echo "${RESULTS[-1]}"
done
pkill -TERM -f "raft-kv serve --id" || true
sleep 1

# etcd: three members.
CLUSTER=a=http://127.0.0.1:12380,b=http://127.0.0.1:22380,c=http://127.0.0.1:32380
for m in a:1 b:2 c:3; do
  name=${m%%:*}; n=${m##*:}
  etcd --name $name --data-dir "$BASE/etcd/$name" \
    --listen-peer-urls http://127.0.0.1:${n}2380 --initial-advertise-peer-urls http://127.0.0.1:${n}2380 \
    --listen-client-urls http://127.0.0.1:${n}2379 --advertise-client-urls http://127.0.0.1:${n}2379 \
    --initial-cluster $CLUSTER --initial-cluster-state new --log-level warn 2>"$BASE/etcd-$name.log" &
done
sleep 3
LEADER=""
for n in 1 2 3; do
  status=$(curl -s -X POST http://127.0.0.1:${n}2379/v3/maintenance/status -d '{}' || true)
  member=$(echo "$status" | sed -n 's/.*"member_id":"\([0-9]*\)".*/\1/p')
  leader=$(echo "$status" | sed -n 's/.*"leader":"\([0-9]*\)".*/\1/p')
  if [ -n "$member" ] && [ "$member" = "$leader" ]; then LEADER=127.0.0.1:${n}2379; fi
done
[ -n "$LEADER" ] || { echo "no etcd leader found" >&2; exit 1; }
for c in 1 16 256; do
  RESULTS+=("$(bench etcd "$LEADER" $c)")
  echo "${RESULTS[-1]}"
done

python3 - "${RESULTS[@]}" <<'PY'
import json, sys
rows = [json.loads(r) for r in sys.argv[1:]]
by = {(r["system"], r["clients"]): r for r in rows}
print()
print("| clients | raft-kv puts/s | etcd puts/s | ratio | raft-kv p50 / p99 µs | etcd p50 / p99 µs | p50 ratio (etcd / raft-kv) |")
print("|---|---|---|---|---|---|---|")
for c in (1, 16, 256):
    r, e = by[("raft-kv", c)], by[("etcd", c)]
    print(f"| {c} | {r['ops_per_sec']:.0f} | {e['ops_per_sec']:.0f} | {r['ops_per_sec']/e['ops_per_sec']:.2f}x "
          f"| {r['p50_us']} / {r['p99_us']} | {e['p50_us']} / {e['p99_us']} | {e['p50_us']/r['p50_us']:.2f}x |")
PY
