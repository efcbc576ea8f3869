#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Build Debian interpreter trees for the tests (CPython builds that pyenv
# does not give us: Debian's static-libpython, -dbg and -nopie interpreters).
#
#   scripts/build-chroots.sh [trixie] [sid] [experimental]   (default: all)
#
#   trixie        python3.13 (+ python3.13-dbg, python3.13-nopie if they exist)
#   sid           python3.14 (+ -dbg, -nopie)
#   experimental  sid + experimental, python3.15 from experimental (+ -dbg, -nopie)
#
# The trees of released interpreters also get the Python packages of the
# asyncio web tests (FastAPI on uvicorn, aiohttp: tree_pkgs). A tree's
# <tree>/.pyrograph-extras lists the ones installed; a cached tree whose
# list differs from tree_pkgs gets them installed in place on the next run
# (apt-get in a private mount namespace, as for a build), so a changed list
# reaches trees built before it.
#
# Trees live outside the repository, in ${PYROGRAPH_CHROOTS:-/var/cache/pyrograph/chroots}/<tree>.
# A tree is built in a temporary directory next to it and renamed into place
# only once it is complete, so a tree that exists is always usable.  Its
# <tree>/.pyrograph-ready stamp lists the interpreters, one per line:
#     python3.13 3.13.5
#     python3.13-pie 3.13.5
#     python3.13d 3.13.5
# python3.X-nopie diverts Debian's /usr/bin/python3.X to /usr/bin/python3.X-pie
# and installs its own build as /usr/bin/python3.X (on amd64 both are ET_EXEC,
# linked at different addresses); python3.X-dbg adds the debug build python3.Xd.
# Re-running is cheap (existing trees are reported as "cached").  Runs are
# serialised with flock(1) on <cache>/.lock.  Everything that needs a mount
# (debootstrap's /proc and /sys, our /proc for apt) happens inside a private
# mount namespace (unshare -m) that dies with the build, so nothing stays
# mounted, whatever way the build ends.  A full log per tree is kept in
# <cache>/.logs/<tree>.log.
#
# Environment:
#   PYROGRAPH_CHROOTS  cache directory (default /var/cache/pyrograph/chroots)
#   PYROGRAPH_MIRROR   Debian mirror (default: the first non-security Debian
#                      URI configured in /etc/apt/sources.list*)
#
# What the interpreters need at run time: nothing mounted for
#   chroot TREE /usr/bin/python3.X -c 'import sys; print(sys.version)'
# (debootstrap leaves static /dev/null, /dev/urandom, ... in TREE/dev, and
# CPython gets its hash seed from getrandom()).  /proc is only needed by code
# that inspects the process (os.listdir('/proc/self/fd'), psutil-like code,
# a profiler reading its own maps) and /dev/shm by multiprocessing.  Tests
# that need /proc run the interpreter as a container whose /proc matches its
# pid namespace:
#   unshare --pid --mount --fork --mount-proc --root=TREE /usr/bin/python3.X ...
# (unshare chroots first, then mounts proc on TREE/proc inside the new mount
# namespace; nothing is left mounted on the host).
set -euo pipefail

ALL_TREES=(trixie sid experimental)
CACHE=${PYROGRAPH_CHROOTS:-/var/cache/pyrograph/chroots}
SELF=$(readlink -f "${BASH_SOURCE[0]}")
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

die() { echo "build-chroots: $*" >&2; exit 1; }

# The Debian mirror this host uses: the first URI of a deb822 or one-line
# source that is not the security archive.
host_mirror() {
	local f uri
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -r $f ]] || continue
		while read -r uri; do
			[[ $uri == *debian-security* || $uri == *security.debian.org* ]] && continue
			[[ $uri == */debian || $uri == */debian/ ]] || continue
			echo "${uri%/}"
			return 0
		done < <(sed -nE -e 's/^URIs:[[:space:]]*([^[:space:]]+).*/\1/p' \
			-e 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+).*/\2/p' "$f")
	done
	echo "http://deb.debian.org/debian"
}

# tree -> suite debootstrap installs, extra suite added afterwards, python minor.
tree_suite() { case $1 in trixie) echo trixie ;; sid|experimental) echo sid ;; esac; }
tree_extra() { case $1 in experimental) echo experimental ;; *) echo "" ;; esac; }
tree_python() { case $1 in trixie) echo python3.13 ;; sid) echo python3.14 ;; experimental) echo python3.15 ;; esac; }

# Python packages of the tests, from the tree's suite. Not in experimental:
# sid's packages are built for python3.14 (pydantic-core, aiohttp, uvloop
# have compiled parts that python3.15 cannot load), and installing them
# there would only pull in python3.14.
EXTRA_PKGS=(python3-fastapi python3-uvicorn python3-aiohttp)
tree_pkgs() { case $1 in experimental) ;; *) printf '%s\n' "${EXTRA_PKGS[@]}" ;; esac; }

APT_OPTS=(-y -q -o Acquire::Check-Valid-Until=false -o Acquire::Retries=3
	-o APT::Install-Recommends=false -o APT::Install-Suggests=false
	-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)

# The stamp: every interpreter binary of tree root with the version it
# reports, into file out; and the interpreter packages' versions. Args:
# root python3.X out.
write_stamp() {
	local root=$1 py=$2 stamp=$3 bin name ver
	: > "$stamp"
	for bin in "$root"/usr/bin/python3.*; do
		name=${bin##*/}
		# python3.X-dbg is a symlink to python3.Xd: list real files only.
		[[ $name =~ ^python3\.[0-9]+(d|-pie)?$ ]] || continue
		[[ -f $bin && -x $bin && ! -L $bin ]] || continue
		ver=$(chroot "$root" "/usr/bin/$name" -I -S -c 'import sys; print(sys.version.split()[0])') ||
			{ echo "== $name does not run"; return 1; }
		echo "$name $ver" >> "$stamp"
	done
	grep -q "^$py " "$stamp" || { echo "== $py missing after install"; return 1; }
	# shellcheck disable=SC2016 # dpkg-query's format, not shell
	chroot "$root" dpkg-query -W -f '${Package} ${Version}\n' "$py*" "lib$py*" |
		awk 'NF == 2' > "$root/.pyrograph-packages" || true
}

# ---------------------------------------------------------------------------
# Inner build: runs in its own mount namespace (see main below).
# Args: tree tmpdir mirror.  Output goes to the tree's log.
# ---------------------------------------------------------------------------
inner_build() {
	local tree=$1 root=$2 mirror=$3
	local suite extra py
	suite=$(tree_suite "$tree")
	extra=$(tree_extra "$tree")
	py=$(tree_python "$tree")

	# Mounts made here (and by debootstrap) must never reach the host.
	mount --make-rprivate /

	echo "== debootstrap $suite from $mirror"
	# minbase: only Essential + apt.  debootstrap mounts /proc and /sys in the
	# target itself and unmounts them when it is done.
	debootstrap --variant=minbase "$suite" "$root" "$mirror"

	in_root() { chroot "$root" "$@"; }
	mount -t proc proc "$root/proc"
	# No service may start from a maintainer script.
	printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	# Keep the tree small: no recommends, no docs beyond copyright.
	cat > "$root/etc/apt/apt.conf.d/90pyrograph" <<-'EOF'
		APT::Install-Recommends "false";
		APT::Install-Suggests "false";
		Acquire::Check-Valid-Until "false";
		Acquire::Languages "none";
	EOF
	cat > "$root/etc/dpkg/dpkg.cfg.d/90pyrograph" <<-'EOF'
		path-exclude=/usr/share/doc/*
		path-include=/usr/share/doc/*/copyright
		path-exclude=/usr/share/man/*
		path-exclude=/usr/share/locale/*
		path-exclude=/usr/share/info/*
	EOF

	{
		echo "deb $mirror $suite main"
		if [[ $suite == trixie ]]; then
			echo "deb $mirror trixie-updates main"
		fi
		if [[ -n $extra ]]; then echo "deb $mirror $extra main"; fi
	} > "$root/etc/apt/sources.list"

	echo "== apt-get update"
	in_root apt-get "${APT_OPTS[@]}" update

	local target=() pkgs=("$py") p extras=()
	[[ -n $extra ]] && target=(-t "$extra")
	for p in "$py-dbg" "$py-nopie"; do
		# Only variants that exist in this tree's archive(s).
		if in_root apt-cache show --no-all-versions "$p" >/dev/null 2>&1; then
			pkgs+=("$p")
		else
			echo "== $p: not in the archive, skipped"
		fi
	done
	# Which suite each package comes from (experimental may not have it:
	# then -t experimental falls back to sid's version).
	in_root apt-cache policy "${pkgs[@]}"
	echo "== apt-get ${target[*]} install ${pkgs[*]}"
	in_root apt-get "${APT_OPTS[@]}" "${target[@]}" install "${pkgs[@]}"
	mapfile -t extras < <(tree_pkgs "$tree")
	if ((${#extras[@]})); then
		echo "== apt-get ${target[*]} install ${extras[*]}"
		in_root apt-get "${APT_OPTS[@]}" "${target[@]}" install "${extras[@]}"
	fi
	tree_pkgs "$tree" > "$root/.pyrograph-extras"
	in_root apt-get -q clean
	rm -rf "$root"/var/lib/apt/lists/*_Packages "$root"/var/lib/apt/lists/*_Release \
		"$root"/var/lib/apt/lists/*_InRelease "$root"/var/cache/apt/*.bin

	write_stamp "$root" "$py" "$root/.pyrograph-ready.new" || return 1

	umount "$root/proc"
	# A mount left behind would make the rename below move a live mount.
	if grep -q " $root/" /proc/self/mountinfo; then
		echo "== something is still mounted under $root"
		return 1
	fi
	mv "$root/.pyrograph-ready.new" "$root/.pyrograph-ready"
}

# The extra packages, into a tree that has everything else; the list
# installed goes to <tree>/.pyrograph-extras. Args: tree root. Runs in its
# own mount namespace, like inner_build (the tree's apt lists were removed:
# they are fetched again).
inner_extras() {
	local tree=$1 root=$2 target=() extras=()
	mount --make-rprivate /
	mount -t proc proc "$root/proc"
	[[ -n $(tree_extra "$tree") ]] && target=(-t "$(tree_extra "$tree")")
	mapfile -t extras < <(tree_pkgs "$tree")
	if ((${#extras[@]})); then
		echo "== apt-get update (extras)"
		chroot "$root" apt-get "${APT_OPTS[@]}" update
		echo "== apt-get ${target[*]} install ${extras[*]}"
		chroot "$root" apt-get "${APT_OPTS[@]}" "${target[@]}" install "${extras[@]}"
	fi
	chroot "$root" apt-get -q clean
	rm -rf "$root"/var/lib/apt/lists/*_Packages "$root"/var/lib/apt/lists/*_Release \
		"$root"/var/lib/apt/lists/*_InRelease "$root"/var/cache/apt/*.bin
	# apt may have upgraded an interpreter to satisfy a dependency
	write_stamp "$root" "$(tree_python "$tree")" "$root/.pyrograph-ready.new" || return 1
	mv "$root/.pyrograph-ready.new" "$root/.pyrograph-ready"
	umount "$root/proc"
	tree_pkgs "$tree" > "$root/.pyrograph-extras"
}

if [[ ${1:-} == --extras ]]; then
	shift
	inner_extras "$@"
	exit $?
fi

if [[ ${1:-} == --inner ]]; then
	shift
	inner_build "$@"
	exit $?
fi

# ---------------------------------------------------------------------------
# Main.
# ---------------------------------------------------------------------------
[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, chroot)"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
command -v unshare >/dev/null || die "unshare (util-linux) is not installed"
command -v flock >/dev/null || die "flock (util-linux) is not installed"

trees=("$@")
[[ ${#trees[@]} -gt 0 ]] || trees=("${ALL_TREES[@]}")
for t in "${trees[@]}"; do
	case $t in trixie|sid|experimental) ;; *) die "unknown tree '$t' (known: ${ALL_TREES[*]})" ;; esac
done

MIRROR=${PYROGRAPH_MIRROR:-$(host_mirror)}
mkdir -p "$CACHE" "$CACHE/.logs"
exec 9> "$CACHE/.lock"
if ! flock -n 9; then
	echo "build-chroots: waiting for another build ($CACHE/.lock)"
	flock 9
fi

# Is anything mounted at or below $1 (in our namespace)?
mounted_under() { awk -v d="$1" '$5 == d || index($5, d "/") == 1 { f = 1 } END { exit !f }' /proc/self/mountinfo; }

# Remove a directory that we own, never crossing into a mount.
remove_tree() {
	local d=$1
	[[ -e $d ]] || return 0
	if mounted_under "$d"; then
		echo "build-chroots: not removing $d: something is mounted below it" >&2
		return 1
	fi
	rm -rf --one-file-system -- "$d"
}

# Leftovers of an interrupted run (we hold the lock: nobody is using them).
for d in "$CACHE"/.*.tmp.*; do
	[[ -d $d ]] && { remove_tree "$d" || true; }
done

# Does tree (at path) have exactly its tree_pkgs installed (as last
# recorded)? Args: tree path.
extras_current() {
	[[ -f $2/.pyrograph-extras ]] &&
		[[ $(cat "$2/.pyrograph-extras") == "$(tree_pkgs "$1")" ]]
}

failed=0
for tree in "${trees[@]}"; do
	final="$CACHE/$tree"
	if [[ -f $final/.pyrograph-ready ]] && ! extras_current "$tree" "$final"; then
		log="$CACHE/.logs/$tree-extras.log"
		echo "$tree: extra packages: $(tree_pkgs "$tree" | paste -sd' ' | grep . || echo none) (the list changed; log $log)"
		if ! unshare --mount --propagation private -- bash "$SELF" --extras "$tree" "$final" > "$log" 2>&1; then
			reason=$(grep -E '^(E:|Err:)' "$log" | tail -n 1 || true)
			echo "$tree: FAILED to install the extra packages (${reason:-see $log})"
			failed=1
		fi
	fi
	if [[ -f $final/.pyrograph-ready ]]; then
		echo "$tree: cached ($(du -sh --one-file-system "$final" | cut -f1)): $(paste -sd, "$final/.pyrograph-ready" | sed 's/,/, /g')"
		continue
	fi
	if [[ -e $final ]]; then
		# Not made by us (we rename only complete trees): rebuild.
		echo "$tree: $final exists without a stamp, rebuilding"
		remove_tree "$final" || { echo "$tree: FAILED (cannot remove incomplete $final)"; failed=1; continue; }
	fi

	log="$CACHE/.logs/$tree.log"
	tmp=$(mktemp -d "$CACHE/.$tree.tmp.XXXXXX")
	chmod 755 "$tmp"
	start=$SECONDS
	suites=$(tree_suite "$tree")
	[[ -z $(tree_extra "$tree") ]] || suites+="+$(tree_extra "$tree")"
	echo "$tree: building ($suites from $MIRROR, log $log)"
	if unshare --mount --propagation private -- bash "$SELF" --inner "$tree" "$tmp" "$MIRROR" > "$log" 2>&1 &&
		[[ -f $tmp/.pyrograph-ready ]] && mv -T "$tmp" "$final"; then
		secs=$((SECONDS - start))
		echo "$tree: built in ${secs}s ($(du -sh --one-file-system "$final" | cut -f1)): $(paste -sd, "$final/.pyrograph-ready" | sed 's/,/, /g')"
	else
		secs=$((SECONDS - start))
		reason=$(grep -E '^(E:|W: Failure|== .*(missing|not run|mounted))|debootstrap:|Err:' "$log" | tail -n 1 || true)
		[[ -n $reason ]] || reason=$(tail -n 1 "$log")
		echo "$tree: FAILED after ${secs}s (${reason:-no output}; see $log)"
		remove_tree "$tmp" || true
		failed=1
	fi
done
exit "$failed"
