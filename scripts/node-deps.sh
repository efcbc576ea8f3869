#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# npm packages the browser and format tests use, installed outside the
# clone (cached across runs): puppeteer-core (drives Debian's chromium),
# speedscope (ships the file format's JSON schema), ajv (validates it).
# Prints the node_modules directory to use as NODE_PATH.
set -euo pipefail
dir=${PYROGRAPH_NODE:-/var/cache/pyrograph/node}
want="puppeteer-core@22.15.0 speedscope@1.22.2 ajv@8.20.0"
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ "$(cat "$dir/.installed" 2>/dev/null)" != "$want" ]; then
	command -v npm >/dev/null || { echo "node-deps.sh: npm missing (scripts/deps.sh installs it)" >&2; exit 1; }
	(cd "$dir" && [ -f package.json ] || echo '{"private": true}' > package.json)
	(cd "$dir" && npm install --no-audit --no-fund --silent $want >&2)
	echo "$want" > "$dir/.installed"
fi
echo "$dir/node_modules"
