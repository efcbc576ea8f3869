#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# libFuzzer targets of everything that parses data a target controls
# (tests/fuzz; the list is tests/fuzz/meson.build's, read from meson).
#
#   scripts/fuzz.sh build            configure and build (CC=clang, ASan+UBSan)
#   scripts/fuzz.sh list             the fuzzers meson knows
#   scripts/fuzz.sh run SECONDS      each fuzzer for SECONDS on its corpus
#   scripts/fuzz.sh runs N           each fuzzer for N executions; prints a table
#   scripts/fuzz.sh cov              libFuzzer's initial cov: of each fuzzer on
#                                    its seeds and on the empty input
#   scripts/fuzz.sh regress          replay the seeds and tests/fuzz/regressions
#                                    (meson test --suite fuzz)
#
# Seeds are in the repository, tests/fuzz/corpus/<fuzzer>/, written as bytes
# by tests/fuzz/make_corpus.py. A run's working corpus (what libFuzzer adds)
# lives outside the clone (FUZZ_CORPUS, default /var/cache/pyrograph/fuzz),
# where real files are added too, whole: libraries and extension modules for
# fuzz_elf, the _Py_DebugOffsets of the Debian trees' interpreters for
# fuzz_debug_offsets. -max_len is above the largest input, so none is cut.
# A crash writes crash-* into FUZZ_ARTIFACTS (default: the build dir); once
# fixed, its input goes to tests/fuzz/regressions/<fuzzer>/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FUZZ_BUILD_DIR:-build-fuzz}
corpus=${FUZZ_CORPUS:-/var/cache/pyrograph/fuzz}
artifacts=${FUZZ_ARTIFACTS:-$(realpath -m "$build")/artifacts}
chroots=${PYROGRAPH_CHROOTS:-/var/cache/pyrograph/chroots}

setup() {
	if [ ! -f "$build/build.ninja" ]; then
		CC=clang meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined \
			-Db_lundef=false >/dev/null
	fi
}

# The fuzzers as meson registers them (suite 'fuzz'), one a line.
list() {
	meson introspect --tests "$build" | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if "fuzz" in (s.split(":")[-1] for s in t.get("suite", [])):
        print(t["name"])'
}

do_build() {
	setup
	mapfile -t fuzzers < <(list)
	[ "${#fuzzers[@]}" -gt 0 ] || { echo "fuzz.sh: meson lists no fuzzers in $build" >&2; exit 1; }
	ninja -C "$build" $(printf 'tests/fuzz/%s ' "${fuzzers[@]}") >/dev/null
}

# Real files into the working corpora, once.
seed_real() {
	local d
	for f in "${fuzzers[@]}"; do mkdir -p "$corpus/$f"; done
	d=$corpus/fuzz_elf
	for lib in /usr/bin/true /usr/lib/x86_64-linux-gnu/libz.so.1 \
		/usr/lib/python3.11/lib-dynload/_asyncio.cpython-311-x86_64-linux-gnu.so \
		"$chroots"/*/usr/lib/python3.1[3-9]/lib-dynload/_asyncio.cpython-31[3-9]-x86_64-linux-gnu.so; do
		[ -f "$lib" ] && [ ! -e "$d/real-$(basename "$lib")" ] &&
			cp "$lib" "$d/real-$(basename "$lib")"
	done
	d=$corpus/fuzz_debug_offsets
	# the first KiB of each 3.13+ interpreter's _PyRuntime, located with readelf
	python3 - "$d" "$chroots"/*/usr/bin/python3.1[3-9] "$chroots"/*/usr/bin/python3.1[3-9]d <<'PY' || true
import os, subprocess, sys
out = sys.argv[1]
for exe in sys.argv[2:]:
    dst = os.path.join(out, "real-" + exe.strip("/").replace("/", "_"))
    if not os.path.isfile(exe) or os.path.exists(dst):
        continue
    syms = subprocess.run(["readelf", "-Ws", exe], capture_output=True, text=True).stdout
    addr = next((int(l.split()[1], 16) for l in syms.splitlines()
                 if l.split()[-1:] == ["_PyRuntime"]), None)
    secs = subprocess.run(["readelf", "-WS", exe], capture_output=True, text=True).stdout
    for l in secs.splitlines():
        if "]" not in l or addr is None:
            continue
        f = l.split("]", 1)[1].split()
        if len(f) < 5 or f[1] == "NOBITS":
            continue
        try:
            a, o, z = int(f[2], 16), int(f[3], 16), int(f[4], 16)
        except ValueError:
            continue
        if a <= addr < a + z:
            with open(exe, "rb") as src:
                src.seek(o + addr - a)
                data = src.read(1024)
            with open(dst, "wb") as d:
                d.write(data)
            break
PY
}

# The corpus directories of fuzzer $1: the working one first (libFuzzer
# adds to the first), then the seeds and the past crashes.
dirs_of() {
	local f=$1
	echo "$corpus/$f"
	[ -d "tests/fuzz/corpus/$f" ] && echo "tests/fuzz/corpus/$f"
	[ -d "tests/fuzz/regressions/$f" ] && echo "tests/fuzz/regressions/$f"
	return 0
}

run_one() { # fuzzer, libFuzzer options...
	local f=$1 max dirs
	shift
	mkdir -p "$artifacts"
	mapfile -t dirs < <(dirs_of "$f")
	# above the largest input (real ELF files are over 64 KiB), so none is cut
	max=$(find "${dirs[@]}" -type f -printf '%s\n' 2>/dev/null | sort -n | tail -1)
	max=$(( ${max:-0} + 4096 > 65536 ? ${max:-0} + 4096 : 65536 ))
	"$build/tests/fuzz/$f" -max_len="$max" -artifact_prefix="$artifacts/$f-" "$@" \
		"${dirs[@]}" 2>&1
}

# libFuzzer's "cov: N" once the inputs given are loaded (INITED)
inited_cov() {
	sed -n 's/.*INITED cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \2/p' | tail -1
}

cmd=${1:-}
case $cmd in
build)
	do_build ;;
list)
	setup
	list ;;
run)
	do_build
	seed_real
	for f in "${fuzzers[@]}"; do
		echo "fuzz.sh: $f for ${2:-30} s"
		log=$(run_one "$f" -max_total_time="${2:-30}" -print_final_stats=1) || {
			echo "$log" | tail -40; echo "fuzz.sh: $f FAILED"; exit 1; }
		echo "$log" | awk '/stat::number_of_executed_units/ { n = $2 }
			/ cov: / { for (i = 1; i < NF; i++) { if ($i == "cov:") c = $(i + 1); if ($i == "ft:") t = $(i + 1) } }
			END { print "  " n " executions, cov: " c " ft: " t }'
	done ;;
runs)
	do_build
	seed_real
	printf '| fuzzer | executions | seconds | exec/s | cov | ft | corpus |\n|---|---|---|---|---|---|---|\n'
	for f in "${fuzzers[@]}"; do
		start=$(date +%s.%N)
		log=$(run_one "$f" -runs="${2:-10000000}" -print_final_stats=1) || {
			echo "$log" | tail -30; echo "fuzz.sh: $f FAILED"; exit 1; }
		end=$(date +%s.%N)
		echo "$log" | awk -v f="$f" -v s="$start" -v e="$end" -v c="$(ls "$corpus/$f" | wc -l)" '
			/stat::number_of_executed_units/ { n = $2 }
			/ cov: / { for (i = 1; i < NF; i++) { if ($i == "cov:") cv = $(i + 1); if ($i == "ft:") t = $(i + 1) } }
			END { printf "| %s | %d | %.0f | %.0f | %s | %s | %d |\n", f, n, e - s, n / (e - s), cv, t, c }'
	done ;;
cov)
	do_build
	empty=$(mktemp -d)
	printf '| fuzzer | seeds | cov: seeds | cov: empty input |\n|---|---|---|---|\n'
	for f in "${fuzzers[@]}"; do
		seeds=tests/fuzz/corpus/$f
		with=$("$build/tests/fuzz/$f" -runs=0 "$seeds" 2>&1 | inited_cov)
		without=$("$build/tests/fuzz/$f" -runs=0 "$empty" 2>&1 | inited_cov)
		echo "| $f | $(ls "$seeds" 2>/dev/null | wc -l) | ${with%% *} | ${without%% *} |"
	done
	rmdir "$empty" ;;
regress)
	do_build
	meson test -C "$build" --suite fuzz --print-errorlogs >/dev/null ||
		{ echo "fuzz.sh: a seed or a past crash input fails (meson test -C $build --suite fuzz)"; exit 1; }
	echo "fuzz.sh: seeds and regressions pass" ;;
*)
	sed -n '3,22p' "$0" | sed 's/^# \{0,1\}//'
	exit 2 ;;
esac
