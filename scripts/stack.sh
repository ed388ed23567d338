#!/usr/bin/env bash
# Runs Pulse locally for `go tool task up|down`: with a Docker daemon, the compose stack; without
# one, a private redis-server (AOF on, data under PULSE_DATA_DIR) plus `pulse serve` with every role.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA_DIR=${PULSE_DATA_DIR:-./.data}
REDIS_PORT=${PULSE_STACK_REDIS_PORT:-6380} # never the shared 6379
RUN_DIR="$DATA_DIR/run"

docker_ok() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

up() {
  if docker_ok && [ "${PULSE_NATIVE:-}" != 1 ]; then
    [ -f deploy/meili.env ] || cp deploy/meili.env.example deploy/meili.env
    exec docker compose up --build
  fi
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "redis-server is not installed. Install it (Debian/Ubuntu: sudo apt-get install -y redis-server;" >&2
    echo "macOS: brew install redis) or start Docker, then run 'go tool task up' again." >&2
    exit 1
  fi
  mkdir -p "$DATA_DIR/redis" "$RUN_DIR"
  if [ ! -f frontend/dist/index.html ]; then
    if command -v npm >/dev/null 2>&1; then
      echo "building the dashboard (first run)…"
      (cd frontend && npm ci --no-audit --no-fund && npm run build)
    else
      echo "npm not found: the API runs, the dashboard at / will say how to build it." >&2
    fi
  fi
  go build -o bin/pulse ./cmd/pulse
  if ! redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$(cd "$DATA_DIR/redis" && pwd)" \
      --appendonly yes --appendfsync everysec --save "" --daemonize yes \
      --pidfile "$(cd "$RUN_DIR" && pwd)/redis.pid" --logfile "$(cd "$DATA_DIR" && pwd)/redis.log"
    for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
  fi
  export PULSE_REDIS_URL=${PULSE_REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}
  export PULSE_DATA_DIR=$DATA_DIR
  echo "pulse: http://localhost${PULSE_ADDR:-:8080}  (redis $PULSE_REDIS_URL; Ctrl-C or 'go tool task down' stops it)"
  # exec keeps one process: Ctrl-C reaches pulse, which drains and exits.
  echo $$ > "$RUN_DIR/pulse.pid"
  exec ./bin/pulse serve
}

down() {
  if docker_ok && [ "${PULSE_NATIVE:-}" != 1 ] && docker compose ps -q 2>/dev/null | grep -q .; then
    docker compose down
    return
  fi
  if [ -f "$RUN_DIR/pulse.pid" ]; then
    pid=$(cat "$RUN_DIR/pulse.pid")
    if kill -TERM "$pid" 2>/dev/null; then
      for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$RUN_DIR/pulse.pid"
  fi
  if redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
    redis-cli -p "$REDIS_PORT" shutdown >/dev/null 2>&1 || true # AOF is fsynced on shutdown
  fi
  echo "stopped"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
