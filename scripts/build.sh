#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Configures (once) and builds pyrograph into build/ (or $BUILD_DIR).
# Extra arguments go to meson setup, e.g. -Db_sanitize=address,undefined.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
	# shellcheck disable=SC2086 # MESON_ARGS is a list of options
	meson setup "$build" ${MESON_ARGS:-} "$@"
fi
ninja -C "$build"
