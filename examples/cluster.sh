#!/usr/bin/env bash
# Three raft-kv servers on localhost: peers on 7001-7003, clients on
# 8001-8003, data in ./cluster-data/n1..n3, logs in ./cluster-data/n*.log.
#
#   examples/cluster.sh start        build (release) and start all three
#   examples/cluster.sh start 2      start server 2 again (on its data)
#   examples/cluster.sh kill 2       kill -9 server 2
#   examples/cluster.sh stop         SIGTERM every server (a clean stop)
#   examples/cluster.sh status       each server's /health
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${CLUSTER_DATA:-cluster-data}
BIN=${RAFT_KV:-target/release/raft-kv}
PEERS=1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003
CLIENTS=1=127.0.0.1:8001,2=127.0.0.1:8002,3=127.0.0.1:8003

start_one() {
  local id=$1
  mkdir -p "$DATA"
  if [ -f "$DATA/n$id.pid" ] && kill -0 "$(cat "$DATA/n$id.pid")" 2>/dev/null; then
    echo "server $id is already running (pid $(cat "$DATA/n$id.pid"))"
    return
  fi
  "$BIN" serve --id "$id" --peers "$PEERS" --clients "$CLIENTS" \
    --data-dir "$DATA/n$id" >>"$DATA/n$id.log" 2>&1 &
  echo $! >"$DATA/n$id.pid"
  echo "server $id started (pid $!), clients on 127.0.0.1:800$id, log $DATA/n$id.log"
}

signal_one() {
  local signal=$1 id=$2
  if [ -f "$DATA/n$id.pid" ]; then
    kill "-$signal" "$(cat "$DATA/n$id.pid")" 2>/dev/null || true
    rm -f "$DATA/n$id.pid"
  fi
}

case "${1:-}" in
  start)
    if [ -n "${2:-}" ]; then
      start_one "$2"
    else
      [ -n "${RAFT_KV:-}" ] || cargo build --release -q -p raft-kv
      for id in 1 2 3; do start_one "$id"; done
    fi
    ;;
  kill) signal_one KILL "${2:?which server?}"; echo "server $2 killed (SIGKILL)" ;;
  stop) for id in 1 2 3; do signal_one TERM "$id"; done; echo "stopped" ;;
  status)
    for id in 1 2 3; do
      echo "server $id: $(curl -s --max-time 1 http://127.0.0.1:800$id/health || echo down)"
    done
    ;;
  *) sed -n '2,10p' "$0"; exit 2 ;;
esac
