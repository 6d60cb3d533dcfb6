#!/usr/bin/env bash
# One command from a fresh Debian 12/13 machine to a working pocosmtp:
#   1. system packages (compiler, OpenSSL headers, Python venv support);
#   2. Poco's source archive into Conan's download cache (offline-capable);
#   3. a virtual environment in .venv with pocosmtp built from this tree
#      (Poco compiled once by Conan and cached; later runs reuse it);
#   4. the main job: compose a multipart message with an attachment and send
#      it through Poco to a capture server on 127.0.0.1 that this run starts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

step "system packages"
packages=(build-essential libssl-dev python3-dev python3-venv ca-certificates)
if [[ $(id -u) == 0 ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}"
else
    missing=$(dpkg-query -W -f='${Status} ${Package}\n' "${packages[@]}" 2>&1 | grep -v '^install ok installed' || true)
    if [[ -n $missing ]]; then
        echo "bootstrap: run as root, or install: ${packages[*]}" >&2
        exit 1
    fi
fi

step "Poco 1.14.2 source archive"
"$root/scripts/fetch-poco-source.sh"

step "virtual environment .venv and pocosmtp (first run builds Poco: a few minutes)"
python=${PYTHON:-python3}
[[ -x .venv/bin/python ]] || "$python" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install ".[test]"

step "main job: a multipart message with an attachment, sent through Poco"
.venv/bin/python examples/send_with_attachment.py --out build/demo-mail
