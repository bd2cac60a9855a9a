#!/usr/bin/env bash
# Smoke test against real Telegram: log in, resolve, send to yourself, an
# ordered batch, and a trace, through tlworker (which uses the library's
# Client.Login, the entity cache and the scheduler as an embedder would).
#
# No test in this repository can reach Telegram (the tests run against
# tgsim and gotd's tgtest on loopback), so this script is run by hand, by
# someone with an account. It has never been run by the test suite; CI only
# checks that it parses (bash -n) and that tlworker builds.
#
# You need:
#   TLSCHED_API_ID, TLSCHED_API_HASH   from my.telegram.org (API development tools)
#   TLSCHED_BOT_TOKEN                  a bot's token from @BotFather
#   TLSCHED_SMOKE_TO                   your own @username; send /start to the bot first,
#                                      or a bot may not write to you
# or, to log in as a user instead of a bot:
#   TLSCHED_PHONE                      your number, +…; the code is asked on stdin,
#                                      the 2FA password too (or TLSCHED_PASSWORD);
#                                      messages then go to your Saved Messages ("me")
#                                      unless TLSCHED_SMOKE_TO says otherwise
# Optional:
#   TLSCHED_SMOKE_DIR                  where the session and outputs go (default: a new
#                                      temporary directory, printed; the session file
#                                      holds an auth key: keep it private, delete it after)
#   OTEL_EXPORTER_OTLP_ENDPOINT        send the trace to a collector (otlp-grpc, e.g.
#                                      scripts/jaeger.sh start; OTEL_EXPORTER_OTLP_INSECURE=true
#                                      for a local one) instead of writing spans to STEP.stderr
#   TLSCHED_SMOKE_SERVER               server flags for a rehearsal against another server
#                                      instead of Telegram, e.g. against `tlworker sim`:
#                                      '--dc 1=127.0.0.1:P1 --dc 2=… --dc 3=… --server-key /abs/tgsim-key.pem'
#                                      (with the bot token sim prints, and TLSCHED_SMOKE_TO=@user5)
#
# Secrets are read from the environment only, never from argv (the process
# list shows argv to every user of the machine).
#
#   TLSCHED_API_ID=… TLSCHED_API_HASH=… TLSCHED_BOT_TOKEN=… TLSCHED_SMOKE_TO=@me \
#     scripts/smoke-telegram.sh
#
# It sends 4 messages to TLSCHED_SMOKE_TO: one alone, then "ordered 1/3" to
# "3/3" as one ordered batch, which must arrive in that order. Exit status 0
# when every step answered; each step's result lines are in the directory.
set -euo pipefail

die() { echo "smoke-telegram: $*" >&2; exit 1; }

: "${TLSCHED_API_ID:?set TLSCHED_API_ID (my.telegram.org)}"
: "${TLSCHED_API_HASH:?set TLSCHED_API_HASH (my.telegram.org)}"
if [ -z "${TLSCHED_BOT_TOKEN:-}" ] && [ -z "${TLSCHED_PHONE:-}" ]; then
	die "set TLSCHED_BOT_TOKEN (a bot) or TLSCHED_PHONE (a user)"
fi
to=${TLSCHED_SMOKE_TO:-}
if [ -z "$to" ]; then
	[ -n "${TLSCHED_PHONE:-}" ] || die "a bot cannot write to itself: set TLSCHED_SMOKE_TO=@yourname (after sending /start to the bot)"
	to=me
fi
export TLSCHED_API_ID TLSCHED_API_HASH

dir=${TLSCHED_SMOKE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/tlsched-smoke.XXXXXX")}
mkdir -p "$dir"
chmod 700 "$dir"
echo "smoke-telegram: working in $dir"
session=$dir/smoke.session
run=$(date +%s) # job ids, and so random_ids, differ between runs

tlw=${TLSCHED_SMOKE_TLWORKER:-} # a tlworker binary already built (the rehearsal test's)
if [ -z "$tlw" ]; then
	(cd "$(dirname "$0")/.." && go build -o "$dir/tlworker" ./cmd/tlworker)
	tlw=$dir/tlworker
fi
# shellcheck disable=SC2206 # the flags are meant to be split
server=(${TLSCHED_SMOKE_SERVER:-})

trace=(--trace-exporter stdout)
if [ -n "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ]; then
	trace=(--trace-exporter otlp-grpc)
fi

# step NAME JOBS...: runs the jobs (JSON lines) with tracing, and checks
# every result line says "ok":true. tlworker send writes the stdout
# exporter's spans to stderr (its stdout may carry result lines), so
# NAME.stderr holds the spans and any error.
step() {
	local name=$1
	shift
	printf '%s\n' "$@" >"$dir/$name.jobs.jsonl"
	if ! "$tlw" send --session "$session" ${server[@]+"${server[@]}"} --jobs "$dir/$name.jobs.jsonl" --out "$dir/$name.out.jsonl" \
		--progress none "${trace[@]}" --service-name tlsched-smoke 2>"$dir/$name.stderr"; then
		grep -v '^{"Name"' "$dir/$name.stderr" >&2 || true
		die "$name: tlworker send failed (above)"
	fi
	local want got
	want=$#
	got=$(grep -c '"ok":true' "$dir/$name.out.jsonl" || true)
	if [ "$got" != "$want" ]; then
		cat "$dir/$name.out.jsonl" >&2
		die "$name: $got of $want jobs answered ok (result lines above)"
	fi
	echo "smoke-telegram: $name: $want ok"
}

# 1. Log in (the token, phone and password come from the environment).
if [ ! -s "$session.account.json" ]; then
	"$tlw" login --session "$session" ${server[@]+"${server[@]}"}
else
	echo "smoke-telegram: login: reusing $session"
fi

# 2. Resolve: who am I, and the target (through the entity cache).
jobs=("{\"id\":\"self-$run\",\"method\":\"users.getUsers\",\"params\":{\"id\":[\"me\"]}}")
if [ "$to" != me ]; then
	jobs+=("{\"id\":\"resolve-$run\",\"method\":\"contacts.resolveUsername\",\"params\":{\"username\":\"${to#@}\"}}")
fi
step resolve "${jobs[@]}"

# 3. Send to yourself.
step send "{\"id\":\"one-$run\",\"method\":\"messages.sendMessage\",\"params\":{\"peer\":\"$to\",\"message\":\"tlsched smoke $run: one message\"}}"

# 4. An ordered batch: one invokeAfterMsg chain.
step ordered \
	"{\"id\":\"o1-$run\",\"method\":\"messages.sendMessage\",\"params\":{\"peer\":\"$to\",\"message\":\"tlsched smoke $run: ordered 1/3\"}}" \
	"{\"id\":\"o2-$run\",\"method\":\"messages.sendMessage\",\"params\":{\"peer\":\"$to\",\"message\":\"tlsched smoke $run: ordered 2/3\"},\"after\":\"o1-$run\"}" \
	"{\"id\":\"o3-$run\",\"method\":\"messages.sendMessage\",\"params\":{\"peer\":\"$to\",\"message\":\"tlsched smoke $run: ordered 3/3\"},\"after\":\"o2-$run\"}"

# 5. The trace: every call above was a span.
if [ -z "${OTEL_EXPORTER_OTLP_ENDPOINT:-}" ]; then
	grep -q '"Name":"messages.sendMessage"' "$dir/ordered.stderr" || die "no messages.sendMessage span in $dir/ordered.stderr"
	echo "smoke-telegram: trace: spans (JSON lines) in $dir/*.stderr"
else
	echo "smoke-telegram: trace: sent to $OTEL_EXPORTER_OTLP_ENDPOINT (service tlsched-smoke)"
fi
echo "smoke-telegram: all steps passed; check that \"ordered 1/3\" to \"3/3\" arrived in order"
