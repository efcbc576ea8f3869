#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Builds if needed and runs the whole test suite as root: unit tests of the
# parsers and end-to-end tests of the real binary on the interpreter matrix.
# The Debian interpreter trees are built once and cached outside the clone
# (PYROGRAPH_CHROOTS, default /var/cache/pyrograph/chroots).
# Sanitizers: BUILD_DIR=build-asan MESON_ARGS=-Db_sanitize=address,undefined
# Arguments go to pytest, e.g. -k nested_chain.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test: run as root (BPF needs it)" >&2; exit 1; }
scripts/deps.sh
scripts/build.sh
# libFuzzer targets (clang, ASan+UBSan), run briefly by tests/test_fuzz.py.
FUZZ_BUILD_DIR=build-fuzz scripts/fuzz.sh build ||
	echo "test: the fuzz build failed (see above)"
export PYROGRAPH_FUZZ_BUILD="$PWD/build-fuzz"
# The suite tests the binary and unit tests of this build directory.
export PYROGRAPH_BUILD="$PWD/${BUILD_DIR:-build}"
# npm packages of the browser and format tests (cached outside the clone);
# without them those tests fail in CI and are skipped elsewhere.
NODE_PATH=$(scripts/node-deps.sh) && export NODE_PATH ||
	echo "test: npm packages could not be installed (see above)"
# A tree that cannot be built is reported by the tests as not prepared.
scripts/build-chroots.sh || echo "test: some interpreter trees could not be built (see above)"
exec /usr/bin/python3 -m pytest -ra -p no:cacheprovider tests "$@"
