#!/usr/bin/env bash
# Runs the benchmark suite (bench/README.md): pocosmtp against C++ Poco,
# smtplib, aiosmtplib and Postfix's smtp-source, all sending to one
# smtp-sink on 127.0.0.1. Needs the .venv made by scripts/bootstrap.sh.
#
#   scripts/bench.sh            full run, about five minutes on two cores
#   scripts/bench.sh --quick    fewer messages and rounds, about 2 minutes
#
# Arguments go to bench/run.py (--rounds N, --only reuse,threads, ...).
# Results: build/bench/results.json and results.md. Installs what is
# missing: Debian's postfix (smtp-sink, smtp-source; no daemon is left
# running) and the "bench" extra of pyproject.toml into .venv.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
python=$root/.venv/bin/python
die() { echo "bench.sh: $*" >&2; exit 1; }

[[ -x $python ]] || die "no .venv here; run scripts/bootstrap.sh first"
"$python" -c "import pocosmtp" 2>/dev/null || die "pocosmtp is not installed in .venv"

scripts/install-postfix.sh

# Only the extra's own requirements: `pip install .[bench]` would rebuild
# pocosmtp itself.
mapfile -t extra < <("$python" - <<'EOF'
try:
    import tomllib
except ImportError:  # Python < 3.11: the copy pip carries
    from pip._vendor import tomli as tomllib
with open("pyproject.toml", "rb") as f:
    print("\n".join(tomllib.load(f)["project"]["optional-dependencies"]["bench"]))
EOF
)
"$python" -m pip install -q "${extra[@]}" 2> >(grep -v "is ignored: it is neither" >&2)

bench_send=$(scripts/build-cpp-tools.sh --target bench_send)

# smtp-sink drops its privileges to this user when started as root.
sink_user=()
[[ $(id -u) == 0 ]] && sink_user=(-u nobody)
sink_pid=
stop_sink() {
    if [[ -n $sink_pid ]]; then
        kill "$sink_pid" 2>/dev/null || true
        wait "$sink_pid" 2>/dev/null || true
    fi
}
trap stop_sink EXIT

# A free port can be taken between the probe and smtp-sink's bind; retry.
for _ in 1 2 3 4 5; do
    port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    /usr/sbin/smtp-sink "${sink_user[@]}" "127.0.0.1:$port" 256 &
    sink_pid=$!
    for _ in $(seq 1 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break 2; fi
        kill -0 "$sink_pid" 2>/dev/null || break
        sleep 0.1
    done
    stop_sink
    sink_pid=
done
[[ -n $sink_pid ]] || die "smtp-sink did not start"
echo "smtp-sink on 127.0.0.1:$port" >&2

"$python" bench/run.py --port "$port" --cpp "$bench_send" "$@"
