// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CPython detection: find the ELF that holds _PyRuntime among a process's
 * mappings (libpython when it is shared, the executable when it is static),
 * read its symbols with libelf and pick the layout description: a table row
 * for 3.8-3.12, the target's own _Py_DebugOffsets for 3.13+.
 *
 * The ELF is opened as the process maps it (targetfile.c: through
 * /proc/PID/map_files, which works for files in other mount namespaces and
 * for deleted or replaced files), and the mapping is kept in the result
 * so that the probes placed later go on that same inode.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "python/debug_offsets.h"
#include "python/elffacts.h"
#include "sys/log.h"
#include "python/memread.h"
#include "sys/procfs.h"
#include "python/pyproc.h"
#include "python/pyversions.h"
#include "sys/targetfile.h"

#define ELF_CACHE_MAX 256
static struct elf_facts elf_cache[ELF_CACHE_MAX];
static int elf_cache_n, elf_cache_next;

void pyproc_cache_free(void)
{
	elf_cache_n = elf_cache_next = 0;
}

static int elf_facts_read(pid_t pid, const struct proc_mapping *m,
			  struct elf_facts *f)
{
	struct target_file tf;
	Elf *elf;
	int ret;

	ret = targetfile_open_mapped(pid, m, &tf);
	if (ret) {
		pr_debug("process %d: cannot open %s: %s", pid, m->path,
			 targetfile_strerror(ret));
		return ret;
	}
	elf = elf_begin(tf.fd, ELF_C_READ_MMAP, NULL);
	ret = elf ? elf_facts_parse(elf, f) : -ENOEXEC;
	if (elf)
		elf_end(elf);
	targetfile_close(&tf);
	return ret;
}

static const struct elf_facts *elf_facts_get(pid_t pid, const struct proc_mapping *m)
{
	struct elf_facts *f;
	int i;

	for (i = 0; i < elf_cache_n; i++) {
		f = &elf_cache[i];
		if (f->inode == m->inode && f->dev_major == m->dev_major &&
		    f->dev_minor == m->dev_minor)
			return f->valid ? f : NULL;
	}
	if (elf_cache_n < ELF_CACHE_MAX) {
		f = &elf_cache[elf_cache_n++];
	} else {
		f = &elf_cache[elf_cache_next];
		elf_cache_next = (elf_cache_next + 1) % ELF_CACHE_MAX;
	}
	memset(f, 0, sizeof(*f));
	if (elf_facts_read(pid, m, f) < 0)
		memset(f, 0, sizeof(*f));
	/* Cache failures too, but only for files that had an inode. */
	f->dev_major = m->dev_major;
	f->dev_minor = m->dev_minor;
	f->inode = m->inode;
	if (!m->inode)
		f->inode = (unsigned long)-1;
	return f->valid ? f : NULL;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* "libpython3.9.so.1.0", "python3.10", "python3.13-dbg" -> 3, 9 */
static bool version_from_name(const char *path, unsigned *maj, unsigned *min)
{
	const char *b = base_name(path), *p = strstr(b, "python");

	if (!p)
		return false;
	return sscanf(p + 6, "%u.%u", maj, min) == 2 && *maj == 3 &&
	       *min < 100;
}

void pyproc_cmdline(pid_t pid, char *buf, size_t len)
{
	ssize_t n = procfs_read(pid, "cmdline", buf, len);

	if (n <= 0)
		return;
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = buf[i];

		if (c == '\0')
			buf[i] = ' ';
		else if (c < 0x20 || c == ';')
			buf[i] = '_'; /* ';' separates frames in collapsed output */
	}
	buf[n] = '\0';
}

int pyproc_set_tag_layout(struct py_proc *p)
{
	const struct py_offsets *o = &p->off;
	unsigned int f[4] = { o->code_firstlineno, o->code_filename,
			      o->code_name, o->code_linetable };
	unsigned int lo = 0xffff, hi = 0;

	for (int i = 0; i < 4; i++) {
		if (f[i] == PY_OFF_NONE)
			return -EINVAL;
		lo = f[i] < lo ? f[i] : lo;
		hi = f[i] + 8 > hi ? f[i] + 8 : hi;
	}
	if (hi - lo > TAG_CHUNK)
		return -EINVAL;
	p->tag_start = lo;
	p->tag_len = hi - lo;
	p->tag_first = f[0] - lo;
	p->tag_file = f[1] - lo;
	p->tag_name = f[2] - lo;
	p->tag_lt = f[3] - lo;
	return 0;
}

/*
 * The main interpreter's GIL, for --gil and for telling GIL waits from
 * other futex waits. Left 0 (unknown) unless its locked word reads 0 or 1.
 */
static void locate_gil(pid_t pid, unsigned minor, struct py_proc *p)
{
	unsigned long long gil, interp = 0;
	unsigned int off, locked;
	bool via_interp;

	p->gil_addr = 0;
	if (py_gil_location(minor, &via_interp, &off))
		return;
	if (via_interp) {
		if (mem_read(pid_ctx(pid), p->runtime + p->off.runtime_interp_head,
			     &interp, sizeof(interp)) || !interp ||
		    mem_read(pid_ctx(pid), interp + off, &gil, sizeof(gil)) || !gil)
			return;
	} else {
		gil = p->runtime + off;
	}
	if (mem_read(pid_ctx(pid), gil + PY_GIL_LOCKED, &locked, sizeof(locked)) ||
	    locked > 1)
		return;
	p->gil_addr = gil;
	p->gil_last_holder = PY_GIL_LAST_HOLDER;
	p->gil_locked = PY_GIL_LOCKED;
	p->gil_size = PY_GIL_SIZE;
}

static int setup_layout(pid_t pid, const struct elf_facts *f,
			unsigned long long bias, const char *path,
			struct pyproc_info *out, char *err, size_t errlen)
{
	unsigned maj = 0, min = 0, mic = 0;
	unsigned long long rt = f->runtime + bias;
	int ret;

	out->bpf.runtime = rt;
	if (f->py_version) {
		unsigned int hex;

		ret = mem_read(pid_ctx(pid), f->py_version + bias, &hex, 4);
		if (ret)
			goto unreadable;
		maj = hex >> 24;
		min = (hex >> 16) & 0xff;
		mic = (hex >> 8) & 0xff;
	} else if (!version_from_name(path, &maj, &min)) {
		snprintf(err, errlen,
			 "unsupported build: cannot tell the Python version of %s",
			 path);
		return -ENOTSUP;
	}
	if (maj != 3 || min < 8) {
		snprintf(err, errlen,
			 "unsupported Python %u.%u in %s (pyrograph needs 3.8 or newer)",
			 maj, min, path);
		return -ENOTSUP;
	}
	if (min >= 13) {
		unsigned char *buf = malloc(PY_DEBUG_OFFSETS_MAX);

		if (!buf)
			return -ENOMEM;
		ret = mem_read(pid_ctx(pid), rt, buf, PY_DEBUG_OFFSETS_MAX);
		if (!ret)
			ret = py_debug_offsets_parse(buf, PY_DEBUG_OFFSETS_MAX,
						     &out->bpf.off);
		free(buf);
		if (ret == -EFAULT || ret == -ESRCH || ret == -EPERM)
			goto unreadable;
		if (ret) {
			snprintf(err, errlen,
				 "unsupported build: Python %u.%u in %s has no usable _Py_DebugOffsets (%s)",
				 maj, min, path,
				 ret == -ENOTSUP ? "unknown layout or free-threaded build" :
						   "invalid values");
			return -ENOTSUP;
		}
	} else {
		if (f->debug_build) {
			snprintf(err, errlen,
				 "unsupported build: %s is a debug (--with-pydebug) build of Python %u.%u; debug builds are supported from 3.13 on",
				 path, maj, min);
			return -ENOTSUP;
		}
		ret = py_offsets_for_version(maj, min, mic, &out->bpf.off);
		if (ret) {
			snprintf(err, errlen, "unsupported Python %u.%u in %s",
				 maj, min, path);
			return -ENOTSUP;
		}
	}
	ret = pyproc_set_tag_layout(&out->bpf);
	if (ret) {
		snprintf(err, errlen,
			 "unsupported build: implausible code object layout in %s",
			 path);
		return -ENOTSUP;
	}
	locate_gil(pid, min, &out->bpf);
	/* Before 3.11 there is no Py_Version: the micro version is unknown. */
	if (f->py_version)
		snprintf(out->version, sizeof(out->version), "%u.%u.%u", maj,
			 min, mic);
	else
		snprintf(out->version, sizeof(out->version), "%u.%u", maj, min);
	snprintf(out->binary, sizeof(out->binary), "%s", path);
	return 0;
unreadable:
	snprintf(err, errlen, "cannot read memory of process %d", pid);
	return -ESRCH;
}

int pyproc_detect(pid_t pid, struct pyproc_info *out, char *err, size_t errlen)
{
	char path[64], exe[PATH_MAX];
	struct proc_mapping *cands = NULL;
	const struct proc_mapping *m;
	int ncands = 0, i, ret = -ENOEXEC;
	struct procfs_maps it;
	ssize_t n;

	memset(out, 0, sizeof(*out));
	out->pid = pid;
	snprintf(err, errlen, "process %d is not running CPython", pid);
	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
		exe[n - 10] = '\0';

	ret = procfs_maps_open(&it, pid);
	if (ret == -ENOENT || ret == -ESRCH) {
		snprintf(err, errlen, "no such process: %d", pid);
		return -ESRCH;
	}
	if (ret) {
		/* it exists (PID 1 of a VM's init, another pid namespace's
		 * protected process...), but what it maps cannot be read */
		snprintf(err, errlen,
			 "cannot read what process %d maps (/proc/%d/maps: %s): it cannot be profiled from here",
			 pid, pid, strerror(-ret));
		return -EACCES;
	}
	ret = -ENOEXEC;
	/* First mapping (offset 0) of libpython and of the executable. */
	cands = calloc(2, sizeof(*cands));
	if (!cands) {
		procfs_maps_close(&it);
		return -ENOMEM;
	}
	while (ncands < 2 && (m = procfs_maps_next(&it))) {
		bool lib, is_exe;

		if (m->offset || !m->inode || m->path[0] != '/')
			continue;
		lib = strstr(base_name(m->path), "libpython3") != NULL;
		is_exe = exe[0] && !strncmp(m->path, exe, strlen(exe));
		if (!lib && !is_exe)
			continue;
		for (i = 0; i < ncands; i++)
			if (cands[i].inode == m->inode)
				break;
		if (i < ncands)
			continue;
		/* libpython first: a shared build's executable has no runtime. */
		if (lib && ncands == 1) {
			cands[1] = cands[0];
			cands[0] = *m;
		} else {
			cands[ncands] = *m;
		}
		ncands++;
	}
	procfs_maps_close(&it);
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	if (!ncands && access(path, R_OK)) {
		snprintf(err, errlen, "no such process: %d", pid);
		free(cands);
		return -ESRCH;
	}
	for (i = 0; i < ncands; i++) {
		const struct elf_facts *f = elf_facts_get(pid, &cands[i]);
		unsigned long long bias;

		if (!f || !f->runtime)
			continue;
		bias = f->is_exec ? 0 : cands[i].start - f->load_vaddr;
		ret = setup_layout(pid, f, bias, cands[i].path, out, err,
				   errlen);
		out->elf_map = cands[i];
		break;
	}
	free(cands);
	if (!ret)
		pyproc_cmdline(pid, out->cmd, sizeof(out->cmd));
	return ret;
}

int pyproc_detect_young(pid_t pid, struct pyproc_info *out, char *err,
			size_t errlen)
{
	for (;;) {
		int ret = pyproc_detect(pid, out, err, errlen);
		long long age = procfs_age_ms(pid);

		if (ret != -ENOEXEC || age < 0 || age >= 2000)
			return ret;
		usleep(20000);
	}
}
