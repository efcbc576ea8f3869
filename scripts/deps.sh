#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Installs the Debian packages pyrograph needs to build and test.
set -euo pipefail
pkgs=(clang llvm libbpf-dev libelf-dev libdw-dev zlib1g-dev bpftool meson ninja-build
      pkg-config libcurl4-openssl-dev openssl gcc gdb python3 python3-pytest chromium debootstrap
      libxml2-utils util-linux python3.11-dbg python3.11-dev tmux golang-go nodejs
      python3-fastapi python3-uvicorn python3-uvloop python3-asyncpg python3-aiohttp postgresql wrk
      prometheus podman runc libjson-c-dev)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "scripts/deps.sh: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's nodejs comes without npm (a separate package); nodesource's
# includes it and conflicts with Debian's npm package.
if ! command -v npm >/dev/null; then
	echo "scripts/deps.sh: installing npm"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	apt-get install -y -q --no-install-recommends npm
fi
# Root podman on the test VMs (tests/e2e/test_container_names.py) refuses
# the default nofile/nproc ulimits: a drop-in of our own clears them (the
# admin's containers.conf is never touched; an existing drop-in is kept).
dropin=/etc/containers/containers.conf.d/50-pyrograph-tests.conf
if [ ! -e "$dropin" ]; then
	echo "scripts/deps.sh: writing $dropin"
	mkdir -p "$(dirname "$dropin")"
	printf '%s\n' '# Written by pyrograph scripts/deps.sh for its tests: the default' \
		'# nofile/nproc ulimits are refused on the test VMs.' \
		'[containers]' 'default_ulimits = []' > "$dropin"
fi
