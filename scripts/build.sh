#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Configures (once) and builds pyrograph into build/ (or $BUILD_DIR).
# Extra arguments go to meson setup, e.g. -Db_sanitize=address,undefined.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" "$@"
fi
ninja -C "$build"
