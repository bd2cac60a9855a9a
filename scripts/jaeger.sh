#!/usr/bin/env bash
# Jaeger v2 (built on the OpenTelemetry collector) for looking at tlsched's
# traces locally, every listener on 127.0.0.1, traces kept in memory.
#
#   scripts/jaeger.sh build   # once: about 9 minutes and 2 GB of memory on 2 cores
#   scripts/jaeger.sh start   # OTLP on 127.0.0.1:4317 (grpc) and :4318 (http), query API on :16686
#   scripts/jaeger.sh stop
#   scripts/jaeger.sh path    # print the binary's path (for TLSCHED_JAEGER)
#
# The module is served as github.com/jaegertracing/jaeger v1.76.0; "go install"
# refuses it (its go.mod has replace directives), so build from a writable
# copy of the downloaded module. The web UI is not in the module: read traces
# with "tlworker trace ID" or the query API (/api/traces/ID).
set -euo pipefail

VERSION=v1.76.0
DIR=${TLSCHED_JAEGER_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tlsched/jaeger}
BIN=$DIR/jaeger-$VERSION
CONF=$DIR/config.yaml
PID=$DIR/jaeger.pid
LOG=$DIR/jaeger.log

build() {
	if [ -x "$BIN" ]; then
		echo "$BIN"
		return
	fi
	mkdir -p "$DIR"
	src=$(go mod download -json "github.com/jaegertracing/jaeger@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -n "$src" ] || { echo "jaeger.sh: go mod download gave no directory" >&2; exit 1; }
	rm -rf "$DIR/src"
	cp -r "$src" "$DIR/src"
	chmod -R u+w "$DIR/src"
	(cd "$DIR/src" && GOFLAGS=-mod=mod go build -o "$BIN.tmp" ./cmd/jaeger)
	mv "$BIN.tmp" "$BIN"
	rm -rf "$DIR/src"
	echo "$BIN"
}

config() {
	mkdir -p "$DIR"
	cat >"$CONF" <<'YAML'
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn

extensions:
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: 127.0.0.1:16686
    grpc:
      endpoint: 127.0.0.1:16685
  healthcheckv2:
    use_v2: true
    http:
      endpoint: 127.0.0.1:13133

receivers:
  otlp:
    protocols:
      grpc:
        endpoint: 127.0.0.1:4317
      http:
        endpoint: 127.0.0.1:4318

processors:
  batch:

exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
YAML
}

start() {
	[ -x "$BIN" ] || { echo "jaeger.sh: not built yet: run scripts/jaeger.sh build" >&2; exit 1; }
	if [ -f "$PID" ] && kill -0 "$(cat "$PID")" 2>/dev/null; then
		echo "jaeger already running (pid $(cat "$PID"))"
		return
	fi
	config
	nohup "$BIN" --config "$CONF" >"$LOG" 2>&1 &
	echo $! >"$PID"
	for _ in $(seq 1 60); do
		if (exec 3<>/dev/tcp/127.0.0.1/16686) 2>/dev/null; then
			echo "jaeger running (pid $(cat "$PID")): OTLP 127.0.0.1:4317 (grpc), 127.0.0.1:4318 (http); query http://127.0.0.1:16686"
			return
		fi
		kill -0 "$(cat "$PID")" 2>/dev/null || { echo "jaeger.sh: jaeger exited; see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
		sleep 0.5
	done
	echo "jaeger.sh: jaeger did not open its query port within 30 s; see $LOG" >&2
	exit 1
}

stop() {
	if [ -f "$PID" ]; then
		kill "$(cat "$PID")" 2>/dev/null || true
		rm -f "$PID"
	fi
}

case "${1:-}" in
build) build ;;
start) start ;;
stop) stop ;;
path) echo "$BIN" ;;
config) config && cat "$CONF" ;;
*)
	echo "usage: scripts/jaeger.sh build|start|stop|path|config" >&2
	exit 2
	;;
esac
