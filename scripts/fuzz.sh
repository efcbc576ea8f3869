#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# libFuzzer targets of everything that parses data a target controls
# (tests/fuzz): ELF files, _Py_DebugOffsets, line tables, str/bytes objects,
# thread states, frames and code objects in a fake address space, folded
# frame texts, the agent's metrics and its HTTP requests, container
# runtimes' state files and cgroup files.
#
#   scripts/fuzz.sh build            configure and build (CC=clang, ASan+UBSan)
#   scripts/fuzz.sh run SECONDS      each fuzzer for SECONDS on its corpus
#   scripts/fuzz.sh runs N           each fuzzer for N executions; prints a table
#   scripts/fuzz.sh regress          replay tests/fuzz/regressions/<fuzzer>/*
#
# Corpora live outside the clone (FUZZ_CORPUS, default
# /var/cache/pyrograph/fuzz) and are seeded from real data: the unit tests'
# line tables, the interpreters' _Py_DebugOffsets, real ELF files. A crash
# writes crash-* into FUZZ_ARTIFACTS (default: the build dir); once fixed,
# its input goes to tests/fuzz/regressions/<fuzzer>/.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FUZZ_BUILD_DIR:-build-fuzz}
corpus=${FUZZ_CORPUS:-/var/cache/pyrograph/fuzz}
artifacts=${FUZZ_ARTIFACTS:-$(realpath -m "$build")/artifacts}
fuzzers=(fuzz_linetable fuzz_debug_offsets fuzz_pystr fuzz_elf fuzz_frames fuzz_pystack fuzz_pythreads fuzz_asyncrep fuzz_memrep fuzz_diffrep fuzz_metrics fuzz_containers)

do_build() {
	if [ ! -f "$build/build.ninja" ]; then
		CC=clang meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined \
			-Db_lundef=false >/dev/null
	fi
	ninja -C "$build" $(printf 'tests/fuzz/%s ' "${fuzzers[@]}") >/dev/null
}

# Seeds from real data, once.
seed() {
	local d
	for f in "${fuzzers[@]}"; do mkdir -p "$corpus/$f"; done
	d=$corpus/fuzz_linetable
	if [ -z "$(ls -A "$d")" ]; then
		# tests/unit/data/linetable-*.txt: "case NAME FIRSTLINE ..." then
		# "table HEX" lines
		python3 - "$d" tests/unit/data/linetable-*.txt <<'PY'
import binascii, os, struct, sys
out, n = sys.argv[1], 0
for path in sys.argv[2:]:
    minor = int(os.path.basename(path).split("-")[1].split(".")[1])
    first = 1
    for line in open(path):
        parts = line.split()
        if parts[:1] == ["case"] and len(parts) > 2 and parts[2].isdigit():
            first = int(parts[2])
        elif parts[:1] == ["table"] and len(parts) == 2 and len(parts[1]) % 2 == 0:
            blob = bytes([minor - 8]) + struct.pack("<iI", first, 0) + binascii.unhexlify(parts[1])
            with open(os.path.join(out, "seed%05d" % n), "wb") as f:
                f.write(blob)
            n += 1
PY
	fi
	d=$corpus/fuzz_debug_offsets
	if [ -z "$(ls -A "$d")" ]; then
		# the first KiB of each 3.13+ interpreter's _PyRuntime, located
		# with readelf
		python3 - "$d" /var/cache/pyrograph/chroots/*/usr/bin/python3.1[3-9] <<'PY' || true
import os, subprocess, sys
out = sys.argv[1]
for exe in sys.argv[2:]:
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
            with open(os.path.join(out, os.path.basename(exe)), "wb") as dst:
                dst.write(data)
            break
PY
	fi
	d=$corpus/fuzz_asyncrep
	if [ -z "$(ls -A "$d")" ]; then
		# kind byte, 8 number bytes, text (see tests/fuzz/fuzz_asyncrep.c)
		printf '%s\n' \
			'501234567app.py (1)' \
			'0\x21\x02\x03\x04\x05\x06\x07\x08app (1);<module> (/a.py:3);run (/usr/lib/python3.11/asyncio/runners.py:190);Handle._run (/usr/lib/python3.11/asyncio/events.py:80);sleepy (/a.py:18);[sleep]' \
			'0\x00\x02\x03\x04\x05\x06\x07\x08app (1);<module> (/a.py:3);crunch (/a.py:30)' \
			'1\x01\x02\x03\x04\x05\x06\x07\x08' \
			'2\x01\x02\x03\x04\x05\x06\x07\x08ticker (/a.py:54)' \
			'3\x01\x02\x03\x04\x05\x06\x07\x08seq (/a.py:49);fetch_user (/a.py:38)' \
			'3\x01\x02\x03\x04\x05\x06\x07\x08seq (/a.py:50);fetch_orders (/a.py:43)' \
			'4\x01\x02\x03\x04\x05\x06\x07\x08python3' \
			'6\x01\x02\x03\x04\x05\x06\x07\x08a, b = await x()' > "$d/seed"
	fi
	d=$corpus/fuzz_memrep
	if [ -z "$(ls -A "$d")" ]; then
		# kind byte, 8 number bytes, text (see tests/fuzz/fuzz_memrep.c)
		printf '%s\n' \
			'0\x01\x82\x03\x04\x05\x06\x07\x08app.py (1)' \
			'1\x01\x80\x00\x00\x00\x01\x07\x08app (1);<module> (/a.py:3);leaky (/a.py:12)' \
			'1\x01\x80\xff\xff\xff\x02\x07\x08app (1);<module> (/a.py:3);churn (/a.py:20)' \
			'2\x01\x02\x03\x04\x05\x06\x07\x08app (1);full (/a.py:9)' \
			'3\x01\x02\x03\x04\x05\x06\x07\x08app (1);alloc (/a.py:5)' \
			'4\x01\x02\x03\x04\x05\x06\x07\x08' \
			'6\x01\x01\x08\x00\x00\x01\x07\x08app (1);<module> (/a.py:3);leaky (/a.py:12)' \
			'6\x01\x02\x00\x01\x00\x01\x07\x08app (1);<module> (/a.py:3);churn (/a.py:20)' \
			'7\x01\x02\x03\x04\x05\x02\x07\x08' > "$d/seed"
	fi
	d=$corpus/fuzz_diffrep
	if [ -z "$(ls -A "$d")" ]; then
		# BEFORE, a NUL byte, AFTER (see tests/fuzz/fuzz_diffrep.c)
		printf 'python3 a.py (1);<module> (/a.py:3);f (/a.py:9) 50\npython3 a.py (1);g (/a.py:5) 20\n\0python3 a.py (2);<module> (/a.py:3);f (/a.py:9) 90\nthread w (3);h [libc.so.6] 4\n' > "$d/seed"
	fi
	d=$corpus/fuzz_metrics
	if [ -z "$(ls -A "$d")" ]; then
		# kind byte, 8 number bytes, text (see tests/fuzz/fuzz_metrics.c)
		printf '%s\n' \
			'0\x01\x02\x03\x04\x05\x06\x07\x08app' \
			'2\x01\x02\x03\x04\x05\x06\x07\x08' \
			'3\x01\x02\x03\x04\x05\x06\x07\x08' \
			'4\x01\x02\x03\x04\x05\x06\x07\x08[sleep]' \
			'5\x01\x02\x03\x04\x05\x06\x07\x08fetch (/a.py:4)' \
			'6\x01\x02\x03\x04\x05\x06\x07\x08' \
			'8\x01\x02\x03\x04\x05\x06\x07\x08a"b\\c' > "$d/seed"
		printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n' > "$d/request"
	fi
	d=$corpus/fuzz_containers
	if [ -z "$(ls -A "$d")" ]; then
		# the unit tests' runtime state files (docker, containerd, cri-o,
		# podman), a cgroup file, a root frame
		find tests/unit/data/containers -type f | while read -r f; do
			cp "$f" "$d/$(printf '%s' "$f" | md5sum | cut -c1-12)"
		done
		printf '9:name=systemd:/libpod_parent/libpod-%064d\n0::/docker/%064d\n' 1 2 > "$d/cgroup"
		printf 'pod batch/jobs-7f9c4d8b5-q8w2e container worker (d8328e7459d8, python:3.12)' \
			> "$d/label"
	fi
	d=$corpus/fuzz_pythreads
	if [ -z "$(ls -A "$d")" ]; then
		# a 3.11 process with one thread, 'alpha' (tid 1234), laid out as
		# user/python/pythreads.c reads it (see tests/fuzz/fuzz_pythreads.c)
		python3 - "$d/seed" <<'PY'
import struct, sys
B = 0x10000000
img = bytearray(0x1800)
def q(off, v): struct.pack_into("<Q", img, off, v)
def s(off, text):  # compact ASCII str, 3.11 (PyASCIIObject is 48 bytes)
    q(off + 16, len(text)); struct.pack_into("<I", img, off + 32, 0x64)
    img[off + 48:off + 48 + len(text)] = text.encode()
def keys(off, kind, entries):  # log2 size 3, 8 one-byte indices
    img[off + 8:off + 11] = bytes([3, 3, kind]); q(off + 24, len(entries))
    esz = 16 if kind else 24
    for i, (k, v) in enumerate(entries):
        q(off + 40 + i * esz + (0 if kind else 8), k)
        if v is not None:
            q(off + 40 + i * esz + (8 if kind else 16), v)
def dict_(off, k):
    q(off + 8, 0x900); q(off + 16, 1); q(off + 32, k)
q(40, B + 0x100)                      # runtime -> interpreters.head
q(0x100 + 64, B + 0x200)              # interp -> modules
dict_(0x200, B + 0x300); keys(0x300, 1, [(B + 0x400, B + 0x500)]); s(0x400, "threading")
q(0x500 + 16, B + 0x600)              # module -> md_dict
dict_(0x600, B + 0x700); keys(0x700, 1, [(B + 0x800, B + 0xa00)]); s(0x800, "_active")
dict_(0xa00, B + 0xb00); keys(0xb00, 0, [(B + 0xc00, B + 0xd00)])
q(0xc00 + 8, 0x980); q(0xc00 + 16, 2); struct.pack_into("<II", img, 0xc00 + 24, 0x2b80, 0x1fc5)
q(0xd00 - 32, B + 0x1400)             # managed values, 3.11
q(0xd00 + 8, B + 0xe00)               # Thread -> its type
q(0xe00 + 32, 24); q(0xe00 + 168, 1 << 4); q(0xe00 + 872, B + 0x1300)
keys(0x1300, 2, [(B + 0x1500, None), (B + 0x1580, None)])
q(0x1400, B + 0x1600); q(0x1408, B + 0x1700)
s(0x1500, "_name"); s(0x1580, "_native_id"); s(0x1600, "alpha")
q(0x1700 + 8, 0x980); q(0x1700 + 16, 1); struct.pack_into("<I", img, 0x1700 + 24, 1234)
open(sys.argv[1], "wb").write(bytes([3, 0]) + img)
PY
	fi
	d=$corpus/fuzz_elf
	if [ -z "$(ls -A "$d")" ]; then
		cp /usr/bin/true "$d/true" 2>/dev/null || true
		cp /usr/lib/x86_64-linux-gnu/libz.so.1 "$d/libz" 2>/dev/null || true
		cp /usr/lib/python3.11/lib-dynload/_asyncio.cpython-311-x86_64-linux-gnu.so \
			"$d/asyncio" 2>/dev/null || true
	fi
}

run_one() { # fuzzer, libFuzzer options...
	local f=$1 dirs
	shift
	mkdir -p "$artifacts"
	dirs=("$corpus/$f")
	# past crashes seed the run too
	[ -d "tests/fuzz/regressions/$f" ] && dirs+=("tests/fuzz/regressions/$f")
	"$build/tests/fuzz/$f" -max_len=65536 -artifact_prefix="$artifacts/$f-" "$@" \
		"${dirs[@]}" 2>&1
}

cmd=${1:-}
case $cmd in
build)
	do_build ;;
run)
	do_build
	seed
	for f in "${fuzzers[@]}"; do
		echo "fuzz.sh: $f for ${2:-30} s"
		log=$(run_one "$f" -max_total_time="${2:-30}" -print_final_stats=1) || {
			echo "$log" | tail -40; echo "fuzz.sh: $f FAILED"; exit 1; }
		echo "$log" | awk '/stat::number_of_executed_units/ { print "  " $2 " executions" }' 
	done ;;
runs)
	do_build
	seed
	printf '| fuzzer | executions | seconds | exec/s | corpus |\n|---|---|---|---|---|\n'
	for f in "${fuzzers[@]}"; do
		start=$(date +%s.%N)
		log=$(run_one "$f" -runs="${2:-10000000}" -print_final_stats=1) || {
			echo "$log" | tail -30; echo "fuzz.sh: $f FAILED"; exit 1; }
		end=$(date +%s.%N)
		n=$(echo "$log" | awk '/stat::number_of_executed_units/ { print $2 }')
		c=$(ls "$corpus/$f" | wc -l)
		awk -v f="$f" -v n="$n" -v s="$start" -v e="$end" -v c="$c" \
			'BEGIN { printf "| %s | %d | %.0f | %.0f | %d |\n", f, n, e - s, n / (e - s), c }'
	done ;;
regress)
	do_build
	for f in "${fuzzers[@]}"; do
		d=tests/fuzz/regressions/$f
		[ -d "$d" ] && [ -n "$(ls -A "$d")" ] || continue
		"$build/tests/fuzz/$f" "$d"/* >/dev/null 2>&1 || { echo "fuzz.sh: $f fails on $d"; exit 1; }
	done
	echo "fuzz.sh: regressions pass" ;;
*)
	sed -n '3,20p' "$0" | sed 's/^# \{0,1\}//'
	exit 2 ;;
esac
