#!/usr/bin/env bash
# Runs Pulse locally for `go tool task up|down`. With a Docker daemon, the compose stack; without
# one, a private Redis (AOF on, data under PULSE_DATA_DIR) plus `pulse serve` with every role.
#
#   stack.sh up [single|cluster]   (default: $PULSE_STACK, else single)
#   stack.sh down                  stops pulse and every Redis that `up` started, in either mode
#
# single:  one redis-server on 127.0.0.1:$PULSE_STACK_REDIS_PORT (6380).
# cluster: a Redis Cluster of 3 masters + 3 replicas on 127.0.0.1:$PULSE_STACK_CLUSTER_PORT and
#          the next five ports (7001-7006), one directory per node under $PULSE_DATA_DIR/cluster;
#          with Docker, the compose profile `cluster`.
# Neither ever uses 6379 (the machine's shared Redis). Cluster mode reuses or shuts down only
# nodes whose CONFIG GET dir is their directory here.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA_DIR=${PULSE_DATA_DIR:-./.data}
REDIS_PORT=${PULSE_STACK_REDIS_PORT:-6380} # never the shared 6379
MQTT_PORT=${PULSE_STACK_MQTT_PORT:-1884}   # nor a system Mosquitto's 1883
CLUSTER_PORT=${PULSE_STACK_CLUSTER_PORT:-7001}
CLUSTER_NODES=6 # 3 masters, one replica each
RUN_DIR="$DATA_DIR/run"
# gin without its MessagePack codec, which pulse never uses: a tenth of a first build's CPU.
TAGS=nomsgpack

docker_ok() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }
use_docker() { docker_ok && [ "${PULSE_NATIVE:-}" != 1 ]; }

# repair_aof DIR: a crash in the middle of an AOF write leaves a torn file. Redis 7.0's own repair
# at start (aof-load-truncated yes, its default) can later drop acknowledged writes
# (docs/reliability.md, Limits), so servers here start with it off, and a torn file is cut back
# to its last whole command or transaction with redis-check-aof first: the torn write was never
# acknowledged.
repair_aof() {
  local manifest="$1/appendonlydir/appendonly.aof.manifest"
  if [ -f "$manifest" ] && ! redis-check-aof "$manifest" >/dev/null 2>&1; then
    echo "repairing the torn AOF under $1 (redis-check-aof --fix)"
    echo y | redis-check-aof --fix "$manifest" >/dev/null
  fi
}

# absdir DIR: the physical absolute path of an existing directory (what redis-server reports
# for CONFIG GET dir).
absdir() { (cd "$1" && pwd -P); }

# ours PORT DIR: whether the Redis answering on 127.0.0.1:PORT is the node this script runs in
# DIR, so that nothing else listening there is ever reused or shut down.
ours() {
  local got
  got=$(redis-cli -p "$1" config get dir 2>/dev/null | sed -n 2p) || return 1
  [ -n "$got" ] && [ "$got" = "$(absdir "$2" 2>/dev/null)" ]
}

# field PORT NAME: one field of CLUSTER INFO on 127.0.0.1:PORT.
field() { redis-cli -p "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }

# replicas_seen PORT: how many healthy replicas the node on 127.0.0.1:PORT knows of.
replicas_seen() { redis-cli -p "$1" cluster nodes 2>/dev/null | grep -v fail | grep -c slave || true; }

cluster_ports() {
  case $CLUSTER_PORT in '' | *[!0-9]*)
    echo "PULSE_STACK_CLUSTER_PORT=$CLUSTER_PORT: want a port number" >&2; exit 2 ;;
  esac
  # Each node also listens on its port + 10000 (the cluster bus).
  if [ "$CLUSTER_PORT" -lt 1024 ] || [ "$CLUSTER_PORT" -gt $((65535 - 10000 - CLUSTER_NODES + 1)) ]; then
    echo "PULSE_STACK_CLUSTER_PORT=$CLUSTER_PORT: want 1024-$((65535 - 10000 - CLUSTER_NODES + 1))" >&2; exit 2
  fi
  if [ "$CLUSTER_PORT" -le 6379 ] && [ $((CLUSTER_PORT + CLUSTER_NODES - 1)) -ge 6379 ]; then
    echo "PULSE_STACK_CLUSTER_PORT=$CLUSTER_PORT: the nodes would include 6379, the shared Redis" >&2; exit 2
  fi
  seq "$CLUSTER_PORT" $((CLUSTER_PORT + CLUSTER_NODES - 1))
}

prepare() {
  if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
    echo "redis-server is not installed. Install it (Debian/Ubuntu: sudo apt-get install -y redis-server;" >&2
    echo "macOS: brew install redis) or start Docker, then run 'go tool task up' again." >&2
    exit 1
  fi
  mkdir -p "$RUN_DIR"
  if ! command -v g++ >/dev/null 2>&1 && ! command -v clang++ >/dev/null 2>&1; then
    echo "no C++ compiler: pulse links DuckDB (the archive's query engine) with cgo. Install one" >&2
    echo "(Debian/Ubuntu: sudo apt-get install -y g++; macOS: xcode-select --install) or start Docker." >&2
    exit 1
  fi
  local web=""
  if [ ! -f frontend/dist/index.html ]; then
    if command -v npm >/dev/null 2>&1; then
      # The first run's dashboard build (mostly downloads) runs beside the compilation of
      # pulse's packages; only the package that embeds the dashboard waits for it.
      echo "building the dashboard and pulse (first run; the dashboard's log: $RUN_DIR/frontend.log)…"
      (cd frontend && npm ci --no-audit --no-fund && npm run build) >"$RUN_DIR/frontend.log" 2>&1 &
      web=$!
    else
      echo "npm not found: the API runs, the dashboard at / will say how to build it." >&2
    fi
  fi
  if [ -n "$web" ]; then
    # Every dependency of pulse that does not embed the dashboard, into the build cache.
    go list -tags "$TAGS" -deps -f '{{if not .Standard}}{{.ImportPath}}{{range .Deps}} {{.}}{{end}}{{end}}' ./cmd/pulse |
      awk '$0 !~ /\/frontend( |$)/ && NF { print $1 }' | xargs go build -tags "$TAGS"
    if ! wait "$web"; then
      cat "$RUN_DIR/frontend.log" >&2
      echo "the dashboard did not build (log above)" >&2
      exit 1
    fi
  fi
  go build -tags "$TAGS" -o bin/pulse ./cmd/pulse
}

single_up() {
  mkdir -p "$DATA_DIR/redis"
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    repair_aof "$DATA_DIR/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$(cd "$DATA_DIR/redis" && pwd)" \
      --appendonly yes --appendfsync everysec --aof-load-truncated no --save "" --daemonize yes \
      --pidfile "$(cd "$RUN_DIR" && pwd)/redis.pid" --logfile "$(cd "$DATA_DIR" && pwd)/redis.log"
    for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
  fi
  echo "redis: 127.0.0.1:$REDIS_PORT, AOF under $DATA_DIR/redis"
  export PULSE_REDIS_URL=${PULSE_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}
}

# mqtt_up starts a private Mosquitto for the mqtt role (docs/mqtt.md) when one is installed,
# with deploy/mosquitto.conf's durability settings; without one, pulse runs without MQTT.
mqtt_up() {
  local bin dir
  if [ -n "${PULSE_MQTT_URL:-}" ]; then
    echo "mqtt: $PULSE_MQTT_URL (PULSE_MQTT_URL)"
    return
  fi
  bin=$(command -v mosquitto || true)
  [ -n "$bin" ] || [ ! -x /usr/sbin/mosquitto ] || bin=/usr/sbin/mosquitto
  if [ -z "$bin" ]; then
    echo "mqtt: off (no mosquitto). To take events from devices, install it (Debian/Ubuntu:" >&2
    echo "sudo apt-get install -y mosquitto mosquitto-clients; macOS: brew install mosquitto) and run 'go tool task up' again." >&2
    return
  fi
  dir=$(mkdir -p "$DATA_DIR/mosquitto" && cd "$DATA_DIR/mosquitto" && pwd)
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$MQTT_PORT") 2>/dev/null; then
    sed -e "s|^listener 1883|listener $MQTT_PORT 127.0.0.1|" -e "s|^persistence_location .*|persistence_location $dir/|" \
      deploy/mosquitto.conf >"$dir/mosquitto.conf"
    printf 'pid_file %s\nlog_dest file %s\n' "$dir/mosquitto.pid" "$dir/mosquitto.log" >>"$dir/mosquitto.conf"
    # Started as root, mosquitto would switch to the user "mosquitto", who may not even reach
    # this folder (a checkout under /root, a 0700 temp dir): it would keep no persistence, or
    # not start. As root, it stays root.
    if [ "$(id -u)" = 0 ]; then echo 'user root' >>"$dir/mosquitto.conf"; fi
    "$bin" -d -c "$dir/mosquitto.conf"
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$MQTT_PORT") 2>/dev/null && break; sleep 0.05; done
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$MQTT_PORT") 2>/dev/null; then
      echo "mqtt: off (mosquitto did not start: see $dir/mosquitto.log, or run $bin -c $dir/mosquitto.conf)" >&2
      return
    fi
  fi
  echo "mqtt: mosquitto on 127.0.0.1:$MQTT_PORT (publish to pulse/events/#, docs/mqtt.md)"
  export PULSE_MQTT_URL=mqtt://127.0.0.1:$MQTT_PORT
}

cluster_up() {
  local ports p dir fresh=0 urls="" state="" masters replicas created=reused
  mapfile -t ports < <(cluster_ports)
  mkdir -p "$DATA_DIR/cluster"
  # Remembered for `down` (with those of an earlier `up` on other ports), even if
  # PULSE_STACK_CLUSTER_PORT is not set then.
  { cat "$RUN_DIR/cluster.ports" 2>/dev/null || true; printf '%s\n' "${ports[@]}"; } | sort -un >"$RUN_DIR/cluster.ports.new"
  mv "$RUN_DIR/cluster.ports.new" "$RUN_DIR/cluster.ports"
  for p in "${ports[@]}"; do
    dir="$DATA_DIR/cluster/$p"
    mkdir -p "$dir"
    if redis-cli -p "$p" ping >/dev/null 2>&1 && ! ours "$p" "$dir"; then
      echo "127.0.0.1:$p answers but is not this stack's node (its dir is not $dir):" >&2
      echo "left alone. Free the port or set PULSE_STACK_CLUSTER_PORT to another first port." >&2
      exit 1
    fi
  done
  for p in "${ports[@]}"; do
    # A node still running from an earlier `up` is reused.
    if redis-cli -p "$p" ping >/dev/null 2>&1; then continue; fi
    dir=$(absdir "$DATA_DIR/cluster/$p")
    repair_aof "$dir"
    # nodes.conf in the node's directory keeps its ID and the cluster across restarts.
    redis-server --port "$p" --bind 127.0.0.1 --dir "$dir" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --cluster-announce-ip 127.0.0.1 \
      --appendonly yes --appendfsync everysec --aof-load-truncated no --save "" --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 200); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
    if ! redis-cli -p "$p" ping >/dev/null 2>&1; then
      echo "redis cluster node 127.0.0.1:$p did not start; its log:" >&2
      tail -n 20 "$DATA_DIR/cluster/$p/redis.log" >&2 || true
      exit 1
    fi
    # A node that knows only itself and serves no slot has never been in a cluster.
    if [ "$(field "$p" cluster_known_nodes)" = 1 ] && [ "$(field "$p" cluster_slots_assigned)" = 0 ]; then
      fresh=$((fresh + 1))
    fi
  done
  if [ "$fresh" = "${#ports[@]}" ]; then
    local addrs=()
    for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
    redis-cli --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$DATA_DIR/cluster/create.log" 2>&1 || {
      cat "$DATA_DIR/cluster/create.log" >&2
      exit 1
    }
    created=created
  elif [ "$fresh" != 0 ]; then
    echo "redis cluster: $fresh of ${#ports[@]} nodes under $DATA_DIR/cluster are new, the others already" >&2
    echo "in a cluster. To start over: go tool task down && rm -rf $DATA_DIR/cluster" >&2
    exit 1
  fi
  # Ready when every node says cluster_state:ok and sees all three replicas (just after the
  # create, a node may still show a replica as a slotless master for a second or two).
  for _ in $(seq 600); do
    state=ok
    for p in "${ports[@]}"; do
      if [ "$(field "$p" cluster_state)" != ok ] || [ "$(replicas_seen "$p")" != $((CLUSTER_NODES / 2)) ]; then
        state=$p
        break
      fi
    done
    [ "$state" = ok ] && break
    sleep 0.1
  done
  if [ "$state" != ok ]; then
    echo "redis cluster: 127.0.0.1:$state is not ready after 60 s (want cluster_state:ok, $((CLUSTER_NODES / 2)) replicas):" >&2
    redis-cli -p "$state" cluster info >&2 || true
    redis-cli -p "$state" cluster nodes >&2 || true
    exit 1
  fi
  masters=$(redis-cli -p "${ports[0]}" cluster nodes | grep -v fail | grep -c master) || true
  replicas=$(replicas_seen "${ports[0]}")
  echo "redis cluster ($created): $masters masters + $replicas replicas on 127.0.0.1:${ports[0]}-${ports[${#ports[@]} - 1]}, AOF under $DATA_DIR/cluster/<port>"
  for p in "${ports[@]}"; do urls+="${urls:+,}redis://127.0.0.1:$p"; done
  if [ -n "${PULSE_REDIS_URL:-}" ] && [ "$PULSE_REDIS_URL" != "$urls" ]; then
    echo "cluster mode: PULSE_REDIS_URL=$PULSE_REDIS_URL ignored" >&2
  fi
  export PULSE_REDIS_URL=$urls
  # The embedded search index follows its Redis: one apart from the single mode's.
  DATA_DIR="$DATA_DIR/cluster/pulse"
}

up() {
  local mode=${1:-${PULSE_STACK:-single}}
  case $mode in
    single | cluster) ;;
    *) echo "stack.sh up: mode '$mode': want single or cluster" >&2; exit 2 ;;
  esac
  if [ "$mode" = cluster ]; then cluster_ports >/dev/null; fi # a bad port range fails now
  if use_docker; then
    [ -f deploy/meili.env ] || cp deploy/meili.env.example deploy/meili.env
    if [ "$mode" = cluster ]; then
      # Only the cluster profile's services: six nodes, the one-shot init, pulse-cluster.
      export PULSE_CLUSTER_HTTP_PORT=${PULSE_CLUSTER_HTTP_PORT:-8080}
      echo "docker compose, profile cluster: redis cluster of 3 masters + 3 replicas (redis-cluster-1..6), pulse on http://localhost:$PULSE_CLUSTER_HTTP_PORT"
      exec docker compose --profile cluster up --build pulse-cluster
    fi
    exec docker compose up --build
  fi
  prepare
  if [ "$mode" = cluster ]; then cluster_up; else single_up; fi
  mqtt_up
  mkdir -p "$DATA_DIR"
  export PULSE_DATA_DIR=$DATA_DIR
  local addr=${PULSE_ADDR:-:8080}
  [ "${addr#:}" != "$addr" ] && addr=localhost$addr
  echo "pulse: http://$addr  (redis $PULSE_REDIS_URL; Ctrl-C or 'go tool task down' stops it)"
  # exec keeps one process: Ctrl-C reaches pulse, which drains and exits.
  echo $$ >"$RUN_DIR/pulse.pid"
  exec ./bin/pulse serve
}

cluster_down() {
  local ports=() p dir pid replicas=() masters=() pids=() stopped=()
  # The ports `up` recorded, and those PULSE_STACK_CLUSTER_PORT names now.
  mapfile -t ports < <({ cat "$RUN_DIR/cluster.ports" 2>/dev/null || true; cluster_ports; } | sort -un)
  for p in "${ports[@]}"; do
    [ "$p" != 6379 ] || continue # never the shared Redis
    dir="$DATA_DIR/cluster/$p"
    redis-cli -p "$p" ping >/dev/null 2>&1 || continue
    if ! ours "$p" "$dir"; then
      echo "127.0.0.1:$p is not this stack's node: left alone" >&2
      continue
    fi
    # Replicas first: a master then has no replica to wait for.
    if [ "$(redis-cli -p "$p" role 2>/dev/null | head -n 1)" = slave ]; then replicas+=("$p"); else masters+=("$p"); fi
  done
  for p in ${replicas[@]+"${replicas[@]}"} ${masters[@]+"${masters[@]}"}; do
    pid=$(cat "$DATA_DIR/cluster/$p/redis.pid" 2>/dev/null || true)
    redis-cli -p "$p" shutdown >/dev/null 2>&1 || true # AOF and nodes.conf are saved on shutdown
    pids+=("$pid")
    stopped+=("$p")
  done
  for pid in ${pids[@]+"${pids[@]}"}; do
    [ -n "$pid" ] || continue
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -f "$RUN_DIR/cluster.ports"
  if [ ${#stopped[@]} -gt 0 ]; then echo "redis cluster nodes stopped: ${stopped[*]}"; fi
}

down() {
  if use_docker && docker compose --profile cluster ps -q 2>/dev/null | grep -q .; then
    docker compose --profile cluster down
    return
  fi
  if [ -f "$RUN_DIR/pulse.pid" ]; then
    pid=$(cat "$RUN_DIR/pulse.pid")
    if kill -TERM "$pid" 2>/dev/null; then
      for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      echo "pulse stopped"
    fi
    rm -f "$RUN_DIR/pulse.pid"
  fi
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true # AOF is fsynced on shutdown
    echo "redis 127.0.0.1:$REDIS_PORT stopped"
  fi
  if [ -f "$DATA_DIR/mosquitto/mosquitto.pid" ]; then
    pid=$(cat "$DATA_DIR/mosquitto/mosquitto.pid")
    if kill -TERM "$pid" 2>/dev/null; then # saves sessions and queued messages
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      echo "mosquitto 127.0.0.1:$MQTT_PORT stopped"
    fi
    rm -f "$DATA_DIR/mosquitto/mosquitto.pid"
  fi
  cluster_down
  echo "stopped"
}

case "${1:-}:$#" in
  up:1 | up:2) up "${2:-}" ;;
  down:1) down ;;
  *) echo "usage: $0 up [single|cluster] | down" >&2; exit 2 ;;
esac
