#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Quick start: install dependencies, build, and profile the bundled demo
# service for a few seconds into profile.svg.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (BPF needs it)" >&2; exit 1; }
scripts/deps.sh
scripts/build.sh
/usr/bin/python3 scripts/demo_service.py 30 &
svc=$!
trap 'kill $svc 2>/dev/null || true' EXIT
sleep 1
build/pyrograph record -p "$svc" -d "${DEMO_SECONDS:-5}" -o profile.svg
echo "demo: open profile.svg in a browser (click to zoom, Ctrl-F to search)"
