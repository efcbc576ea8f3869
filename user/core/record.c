// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph record: sample Python stacks host-wide (or of chosen processes)
 * and write a flame graph or folded stacks.
 *
 * The loop: BPF samples -> ring buffer -> on_event() resolves each frame
 * right away (while the process is surely alive) through the per-process
 * symbol cache and adds the folded stack to the aggregator. Process
 * discovery: a /proc scan at start, then exec/exit/fork events and
 * "unknown process sampled" events from BPF.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sys/caps.h"
#include "cmd/cmd.h"
#include "sys/container.h"
#include "model/frames.h"
#include "native/ksyms.h"
#include "sys/log.h"
#include "native/offcpu.h"
#include "output/output.h"
#include "sys/procfs.h"
#include "sys/targetfile.h"
#include "core/profiler.h"
#include "python/pyproc.h"
#include "model/stackagg.h"
#include "python/symcache.h"
#include "native/mixed.h"
#include "core/record.h"
#include "model/samplelog.h"
#include "native/unwind.h"
#include "native/waitreason.h"
#include "python/pltstub.h"
#include <libelf.h>

#define MAX_PIDS 64
#define MAX_OUTPUTS 8
#define STACK_BUF (1 << 20)
#define FRAME_BUF 2048
#define PENDING_MAX 4096
/* A process this young may still be loading libpython: look again. */
#define YOUNG_MS 2000
#define RETRY_MS 20
#define RETRY_MAX 40

#define ROOT_MAX 1024

struct tracked {
	pid_t pid;
	bool python;
	struct pyproc_info info;
	struct container_info ci;
	struct symcache *sc;
	char root[ROOT_MAX]; /* root frames: container;...;command (pid) */
	unsigned long long samples;
	bool steps_wanted;  /* async: a version whose task steps we trace */
	bool asyncio_text; /* async: _asyncio's code located */
	struct tracked *next;
};

struct pending {
	pid_t pid;
	unsigned long long due_ms;
	int tries;
	bool execed; /* just exec'd: young whatever its start time */
};

#define NBUCKETS 4096

enum group_by {
	GROUP_CONTAINER, /* container frame (when in one), then process */
	GROUP_PROCESS,
	GROUP_NONE,
};

struct record {
	/* options */
	pid_t pids[MAX_PIDS];
	int npids;
	bool all;
	char **cmd;
	bool subprocesses;
	double duration;
	unsigned int rate;
	struct {
		const char *path;
		enum out_format fmt;
	} outs[MAX_OUTPUTS];
	int nouts;
	bool threads;
	bool quiet;
	enum group_by group;
	const char *container; /* --container ID-PREFIX */
	const char *cgroup;    /* --cgroup PATH */
	unsigned int max_procs;
	size_t ringbuf_mb;
	bool idle;   /* --idle: off-CPU time too, weighted by duration */
	bool gil;    /* --gil: GIL holder samples and GIL waits only */
	bool kernel; /* --kernel: kernel frames under the Python ones */
	bool native; /* --native: C frames between the Python ones */

	/* state */
	struct profiler *prof;
	struct stackagg *agg;
	struct tracked *buckets[NBUCKETS];
	struct pending pending[PENDING_MAX];
	int npending;
	pid_t child;
	bool child_done;
	char *stackbuf;
	struct offcpu *offcpu;
	struct ksyms *ksyms;
	struct unwinder *unwinder;
	bool timed;		/* weights are microseconds, not samples */
	struct stackagg *counts; /* timed: events per stack (pprof) */
	bool want_log;		/* an output needs samples in time order */
	struct samplelog *log;
	unsigned long long start_wall_ns, log_lost;
	unsigned long long sample_ns; /* nominal period, for unknown weights */
	unsigned long long offcpu_ns, offcpu_intervals;
	unsigned long long py_samples, unresolved_frames, lost_samples;
	unsigned int nfiltered;
	unsigned int nprocs_seen, nprocs_live, nunsupported;
	unsigned long long start_ms;
	const struct live_view *view; /* top: no file, a refresh every second */
	const struct async_hooks *async; /* pyrograph async */
	const struct mem_hooks *mem;	 /* pyrograph mem */
	unsigned long long stalls;
	unsigned long long drained, drain_deadline;
	unsigned int trims;
	unsigned long long view_ms; /* when the view last refreshed */
};

static volatile sig_atomic_t stop_requested, stats_requested;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		stats_requested = 1;
	else
		stop_requested = 1;
}

/*
 * kill -USR1: one line of memory figures on stderr. The profile itself
 * grows with every distinct stack it records; the heap besides it must
 * not (scripts/soak.py reads this line to tell the two apart).
 */
static void print_stats(struct record *r)
{
	struct mallinfo2 mi = mallinfo2();
	size_t prof = stackagg__bytes(r->agg);

	if (r->counts)
		prof += stackagg__bytes(r->counts);
	fprintf(stderr,
		"pyrograph: stats: stacks %zu, profile bytes %zu, heap in use %zu, processes %u live %u seen\n",
		stackagg__count(r->agg), prof, mi.uordblks + mi.hblkhd, r->nprocs_live,
		r->nprocs_seen);
}

static unsigned long long mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns()'s clock */
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static unsigned long long now_ms(void)
{
	return mono_ns() / 1000000;
}

static struct tracked **bucket(struct record *r, pid_t pid)
{
	return &r->buckets[(unsigned int)pid % NBUCKETS];
}

static struct tracked *tracked_find(struct record *r, pid_t pid)
{
	for (struct tracked *t = *bucket(r, pid); t; t = t->next)
		if (t->pid == pid)
			return t;
	return NULL;
}

static void tracked_drop(struct record *r, pid_t pid)
{
	struct tracked **pp = bucket(r, pid), *t;

	/* its probes (task steps, collections, allocators) go with it */
	if ((r->async || r->mem) && r->prof)
		profiler__detach_steps(r->prof, pid);
	while ((t = *pp)) {
		if (t->pid == pid) {
			*pp = t->next;
			if (t->python && r->nprocs_live)
				r->nprocs_live--;
			if (t->python && r->prof && r->view && r->view->gone)
				r->view->gone(r->view->ctx, pid);
			if (r->unwinder) {
				unwinder_forget(r->unwinder, pid);
				mixed_forget(pid);
			}
			symcache__free(t->sc);
			free(t);
			return;
		}
		pp = &t->next;
	}
}

static void pending_add(struct record *r, pid_t pid, int tries, bool execed)
{
	for (int i = 0; i < r->npending; i++)
		if (r->pending[i].pid == pid)
			return;
	if (r->npending >= PENDING_MAX)
		return;
	r->pending[r->npending++] = (struct pending){
		.pid = pid, .due_ms = now_ms() + RETRY_MS, .tries = tries,
		.execed = execed
	};
}

static void process_label(const struct tracked *t, char *buf, size_t len)
{
	const char *full = t->info.cmd[0] ? t->info.cmd : "?";
	const char *sp = strchr(full, ' '), *slash = full, *q;
	char cmd[128];
	size_t l;

	/* argv[0] without its directory: the arguments are what tell apart
	 * processes of one interpreter. */
	for (q = full; *q && (!sp || q < sp); q++)
		if (*q == '/')
			slash = q + 1;
	snprintf(cmd, sizeof(cmd), "%s", slash);
	l = strlen(cmd);
	if (l >= sizeof(cmd) - 1)
		memcpy(cmd + sizeof(cmd) - 4, "...", 4);
	/* host pid, and the pid the process sees when it is in a namespace */
	if (t->ci.nspid && t->ci.nspid != t->pid)
		snprintf(buf, len, "%s (%d/%d)", cmd, t->pid, t->ci.nspid);
	else
		snprintf(buf, len, "%s (%d)", cmd, t->pid);
}

/*
 * Root frames of t's stacks. With --subprocesses a process sits under the
 * nearest ancestor that is itself a tracked Python process, so a pool's
 * workers appear under their parent.
 */
static void make_root(struct record *r, struct tracked *t)
{
	char label[256], cbuf[300];
	const char *c;

	process_label(t, label, sizeof(label));
	t->root[0] = '\0';
	if (r->subprocesses) {
		pid_t a = t->pid;

		for (int depth = 0; depth < 64; depth++) {
			struct proc_stat ps;
			struct tracked *up;

			if (procfs_stat(a, &ps) || ps.ppid <= 1)
				break;
			a = ps.ppid;
			up = tracked_find(r, a);
			if (up && up->python) {
				snprintf(t->root, sizeof(t->root), "%s;%s",
					 up->root, label);
				return;
			}
		}
	}
	if (r->group == GROUP_NONE)
		return;
	c = r->group == GROUP_CONTAINER ?
		    container_label(&t->ci, cbuf, sizeof(cbuf)) : NULL;
	if (c)
		snprintf(t->root, sizeof(t->root), "%s;%s", c, label);
	else
		snprintf(t->root, sizeof(t->root), "%s", label);
}

static bool selected(const struct record *r, const struct container_info *ci)
{
	if (r->container && !container_matches_id(ci, r->container))
		return false;
	if (r->cgroup && !container_matches_cgroup(ci, r->cgroup))
		return false;
	return true;
}

/*
 * Where to probe the task steps in the _asyncio file tf: its call
 * instructions of PyIter_Send (emulated by the kernel: one trap per step),
 * else the PLT stub they go through (its indirect jump is single-stepped:
 * a second trap, ~9 us more per step in a VM). Returns how many offsets.
 */
static int asyncio_sites(const struct target_file *tf, unsigned long long *off,
			 int max)
{
	Elf *elf = elf_begin(tf->fd, ELF_C_READ_MMAP, NULL);
	int n;

	if (!elf)
		return -ENOEXEC;
	n = plt_call_sites(elf, "PyIter_Send", off, max);
	if (n <= 0)
		n = plt_stub_offset(elf, "PyIter_Send", off) ? -ENOENT : 1;
	elf_end(elf);
	return n;
}

/*
 * async: once t has imported _asyncio, trace its task steps: each calls
 * PyIter_Send from _asyncio. Probing inside _asyncio sees only those calls;
 * PyIter_Send's own entry (the fallback, with the caller checked in BPF)
 * also traps for the eval loop's calls on 3.11 (every await's SEND). Both
 * files are opened as the process maps them (targetfile.h): the offsets
 * are read from, and the probes placed in, that same open file; a file
 * that is not the mapped one gets no probe (one warning).
 */
static void find_asyncio(struct record *r, struct tracked *t)
{
	unsigned long long lo = 0, hi = 0;
	unsigned long long sites[PROFILER_STEP_SITES];
	const struct proc_mapping *m;
	struct proc_mapping text = { 0 };
	struct target_file tf;
	struct procfs_maps it;
	int err, n;

	if (procfs_maps_open(&it, t->pid))
		return;
	while ((m = procfs_maps_next(&it))) {
		const char *slash = strrchr(m->path, '/');

		if (m->perms[2] != 'x' || !slash || strncmp(slash, "/_asyncio.", 10))
			continue;
		if (!lo || m->start < lo)
			lo = m->start;
		if (m->end > hi)
			hi = m->end;
		if (!text.inode)
			text = *m;
	}
	procfs_maps_close(&it);
	if (!lo)
		return; /* not imported yet */
	t->asyncio_text = true;
	err = targetfile_open_mapped(t->pid, &text, &tf);
	if (!err) {
		n = asyncio_sites(&tf, sites, PROFILER_STEP_SITES);
		err = n > 0 ? profiler__attach_steps_at(r->prof, t->pid, tf.path,
							sites, n) : n;
		if (!err)
			err = profiler__set_asyncio_text(r->prof, t->pid, 0, ~0ULL);
		if (!err)
			pr_debug("process %d: task steps at %d place%s in %s (inode %lu, first %#llx)",
				 t->pid, n, n == 1 ? "" : "s", text.path,
				 (unsigned long)tf.ino, sites[0]);
		targetfile_close(&tf);
		if (!err)
			return;
	} else {
		pr_debug("process %d: cannot open %s as the file it maps: %s",
			 t->pid, text.path, targetfile_strerror(err));
	}
	err = targetfile_open_mapped(t->pid, &t->info.elf_map, &tf);
	if (err) {
		pr_warn("process %d: asyncio task steps not traced: its %s cannot be opened as the file it maps (%s)",
			t->pid, t->info.elf_map.path, targetfile_strerror(err));
		return;
	}
	err = profiler__attach_steps(r->prof, t->pid, tf.path);
	if (!err)
		err = profiler__set_asyncio_text(r->prof, t->pid, lo, hi);
	if (err)
		pr_warn("process %d: cannot trace asyncio task steps: %s", t->pid,
			strerror(-err));
	else
		pr_debug("process %d: task steps at PyIter_Send in %s (inode %lu), callers %llx-%llx",
			 t->pid, t->info.elf_map.path, (unsigned long)tf.ino, lo, hi);
	targetfile_close(&tf);
}

/*
 * mem --live: the mapping of the library the process's malloc and free
 * come from: a preloaded allocator if one is mapped (it takes malloc over
 * for the whole process), else libc. Returns 0 or -ENOENT.
 */
static int malloc_lib(pid_t pid, struct proc_mapping *out)
{
	static const char *const preloaded[] = { "libjemalloc.so", "libtcmalloc",
						 "libmimalloc.so" };
	const struct proc_mapping *m;
	struct procfs_maps it;
	int ret = -ENOENT;

	if (procfs_maps_open(&it, pid))
		return -ENOENT;
	while ((m = procfs_maps_next(&it))) {
		const char *base = strrchr(m->path, '/');

		if (m->perms[2] != 'x' || m->path[0] != '/' || !m->inode)
			continue;
		base++;
		for (size_t i = 0; i < sizeof(preloaded) / sizeof(preloaded[0]); i++) {
			if (!strncmp(base, preloaded[i], strlen(preloaded[i]))) {
				*out = *m;
				ret = 0;
				goto out;
			}
		}
		if (ret && (!strncmp(base, "libc.so", 7) || !strncmp(base, "libc-", 5))) {
			*out = *m;
			ret = 0;
		}
	}
out:
	procfs_maps_close(&it);
	return ret;
}

/*
 * mem: collection probes (and allocator probes) in the interpreter's ELF,
 * --live probes in its C allocator. Each file is opened as the process
 * maps it (targetfile.h), and libbpf parses and probes that open file; a
 * file that is not the mapped one gets no probe (one warning).
 */
static void mem_attach(struct record *r, struct tracked *t)
{
	struct target_file bin, lib = TARGET_FILE_INIT;
	bool live = r->mem->live_min > 0;
	struct proc_mapping libm;
	int what, err;

	err = targetfile_open_mapped(t->pid, &t->info.elf_map, &bin);
	if (err) {
		pr_warn("process %d: no memory probes placed: its %s cannot be opened as the file it maps (%s)",
			t->pid, t->info.elf_map.path, targetfile_strerror(err));
		r->mem->proc(r->mem->ctx, t->pid, t->root, t->info.version, err);
		return;
	}
	if (live && malloc_lib(t->pid, &libm)) {
		pr_warn("process %d: no libc mapped: its allocations are not tracked",
			t->pid);
		live = false;
	} else if (live && (err = targetfile_open_mapped(t->pid, &libm, &lib))) {
		pr_warn("process %d: its allocations are not tracked: its %s cannot be opened as the file it maps (%s)",
			t->pid, libm.path, targetfile_strerror(err));
		live = false;
	}
	what = profiler__attach_mem(r->prof, t->pid, bin.path, r->mem->alloc_period > 0,
				    live ? lib.path : NULL);
	if (what < 0)
		pr_debug("process %d: no memory probes in %s: %s", t->pid,
			 t->info.elf_map.path, strerror(-what));
	else
		pr_debug("process %d: probes in %s (inode %lu):%s%s%s", t->pid,
			 t->info.elf_map.path, (unsigned long)bin.ino,
			 (what & PROFILER_MEM_GC) ? " collections" : "",
			 (what & PROFILER_MEM_ALLOC) ? " allocations" : "",
			 (what & PROFILER_MEM_LIVE) ? " live (C allocator)" : "");
	if (what > 0 && (what & PROFILER_MEM_LIVE))
		pr_debug("process %d: C allocator probes in %s (inode %lu)",
			 t->pid, libm.path, (unsigned long)lib.ino);
	targetfile_close(&bin);
	targetfile_close(&lib);
	r->mem->proc(r->mem->ctx, t->pid, t->root, t->info.version, what);
}

/*
 * async: task steps need 3.11+ (coroutine frames inside the coroutine
 * object); traced once _asyncio is imported (retried from the main loop).
 */
static void async_attach(struct record *r, struct tracked *t)
{
	if (t->info.bpf.off.gen_iframe == PY_OFF_NONE || r->async->no_steps)
		return;
	t->steps_wanted = true;
	find_asyncio(r, t);
}

/* Processes whose _asyncio was not loaded yet: look again. */
static void async_rescan(struct record *r)
{
	for (int i = 0; i < NBUCKETS; i++)
		for (struct tracked *t = r->buckets[i]; t; t = t->next)
			if (t->python && t->steps_wanted && !t->asyncio_text)
				find_asyncio(r, t);
}

/*
 * Classifies pid. Returns true when it is settled (Python or not), false
 * when it should be looked at again (young process, libpython not mapped).
 */
static bool try_detect(struct record *r, pid_t pid, int tries, bool execed)
{
	struct tracked *t;
	struct pyproc_info info;
	struct container_info ci;
	char err[512];
	int ret;

	t = tracked_find(r, pid);
	if (t && t->python)
		return true;
	if (container_read(pid, &ci))
		return true; /* gone */
	if (!selected(r, &ci)) {
		r->nfiltered++;
		return true;
	}
	ret = pyproc_detect(pid, &info, err, sizeof(err));
	if (ret == -ESRCH)
		return true;
	if (ret == -ENOEXEC) {
		long long age = procfs_age_ms(pid);

		/* An exec'd process keeps its start time but is as new as a
		 * fresh one: its libpython may not be mapped yet either. */
		if (tries < RETRY_MAX && (execed || (age >= 0 && age < YOUNG_MS))) {
			pending_add(r, pid, tries + 1, execed);
			return false;
		}
		return true;
	}
	if (ret == -ENOTSUP) {
		struct py_proc none = { 0 };

		/* Counted in BPF (runtime 0) so its samples show as drops. */
		profiler__add_proc(r->prof, pid, &none);
		r->nunsupported++;
		pr_warn("%s", err);
		return true;
	}
	if (ret) {
		pr_debug("process %d: %s", pid, err);
		return true;
	}
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return true;
		t->pid = pid;
		t->next = *bucket(r, pid);
		*bucket(r, pid) = t;
	}
	t->info = info;
	t->ci = ci;
	t->sc = symcache__new(pid, &info.bpf.off);
	if (!t->sc) {
		tracked_drop(r, pid);
		return true;
	}
	make_root(r, t);
	if (profiler__add_proc(r->prof, pid, &info.bpf)) {
		pr_warn("cannot track process %d (%s): too many processes (--max-procs)",
			pid, info.cmd);
		tracked_drop(r, pid);
		return true;
	}
	t->python = true;
	if (r->async) {
		char lbl[ROOT_MAX + 320], cbuf[300];
		const char *c = container_label(&t->ci, cbuf, sizeof(cbuf));

		/* the report names a container's processes with it */
		snprintf(lbl, sizeof(lbl), "%s%s%s", c ? c : "", c ? ": " : "",
			 t->root);
		r->async->proc(r->async->ctx, pid, lbl);
		async_attach(r, t);
	}
	if (r->mem)
		mem_attach(r, t);
	r->nprocs_seen++;
	r->nprocs_live++;
	pr_debug("tracking %s: Python %s (%s)", t->root, info.version,
		 info.binary);
	return true;
}

static void run_pending(struct record *r)
{
	unsigned long long now = now_ms();
	int i = 0;

	while (i < r->npending) {
		struct pending p = r->pending[i];

		if (p.due_ms > now) {
			i++;
			continue;
		}
		r->pending[i] = r->pending[--r->npending];
		try_detect(r, p.pid, p.tries, p.execed);
	}
}

static size_t append(char *buf, size_t pos, const char *s)
{
	size_t l = strlen(s);

	if (pos + l + 2 >= STACK_BUF)
		return pos;
	if (pos)
		buf[pos++] = ';';
	memcpy(buf + pos, s, l);
	pos += l;
	buf[pos] = '\0';
	return pos;
}

struct append_ctx {
	struct record *r;
	size_t pos;
};

static void append_frame(void *ctx, const char *frame)
{
	struct append_ctx *ac = ctx;

	ac->pos = append(ac->r->stackbuf, ac->pos, frame);
}

/* Kernel frames, outermost first, with perf's "_[k]" suffix. */
static size_t append_kernel(struct record *r, size_t pos,
			    const struct sample_event *e)
{
	char frame[FRAME_BUF];
	__u32 nk = e->nkstack < MAX_KSTACK ? e->nkstack : MAX_KSTACK;
	__u32 inner = 0;

	/* At a context switch the innermost frames are the scheduler and
	 * this tracer; what matters is what called schedule(). */
	if (e->type == EV_OFFCPU) {
		for (__u32 i = 0; i < nk; i++) {
			const char *f = ksyms__name(r->ksyms, e->kstack[i]);

			if (f && (strstr(f, "schedule") || strstr(f, "bpf") ||
				  strstr(f, "__traceiter")))
				inner = i + 1;
		}
	}
	for (__u32 i = nk; i-- > inner;) {
		const char *f = ksyms__name(r->ksyms, e->kstack[i]);

		if (f)
			snprintf(frame, sizeof(frame), "%s_[k]", f);
		else
			snprintf(frame, sizeof(frame), "0x%llx_[k]",
				 (unsigned long long)e->kstack[i]);
		pos = append(r->stackbuf, pos, frame);
	}
	return pos;
}

/* The leaf naming why an EV_OFFCPU thread left the CPU. */
static const char *offcpu_reason(struct record *r, const struct sample_event *e,
				 char *buf, size_t len)
{
	const char *names[MAX_KSTACK];
	struct wait_info w = {
		.syscall = e->syscall,
		.sysarg = e->sysarg,
		.preempted = e->flags & SAMPLE_PREEMPTED,
		.gil = e->flags & SAMPLE_GIL_WAIT,
		.kfuncs = names,
		.nkfuncs = e->nkstack < MAX_KSTACK ? e->nkstack : MAX_KSTACK,
	};

	for (size_t i = 0; i < w.nkfuncs; i++)
		names[i] = ksyms__name(r->ksyms, e->kstack[i]);
	return wait_reason(&w, buf, len);
}

/* --idle/--gil weights: the time since the CPU's previous tick. */
static unsigned long long sample_us(const struct record *r,
				    const struct sample_event *e)
{
	unsigned long long ns = e->weight_ns;

	/* The first tick on a CPU has no predecessor; a gap far beyond the
	 * slowest drawn period means the timer was stopped meanwhile. */
	if (!ns || ns > 4 * r->sample_ns)
		ns = r->sample_ns;
	return (ns + 500) / 1000;
}

/* speedscope: one profile per thread, named by its root frames and tid. */
static void log_span(struct record *r, pid_t tid, const char *stack,
		     unsigned long long start, unsigned long long ns)
{
	char name[ROOT_MAX + 64];
	const char *p = stack;
	struct frame_parts fp;
	size_t rootlen = 0;

	if (!r->log)
		return;
	/* the leading container/process/thread frames name the profile */
	for (;;) {
		const char *semi = strchr(p, ';');

		frame_parse(p, semi ? (size_t)(semi - p) : strlen(p), true, &fp);
		if (fp.kind != FRAME_CONTAINER && fp.kind != FRAME_PROCESS &&
		    fp.kind != FRAME_THREAD)
			break;
		rootlen = semi ? (size_t)(semi - stack) : strlen(stack);
		if (!semi)
			break;
		p = semi + 1;
	}
	snprintf(name, sizeof(name), "%.*s%sthread %d", (int)rootlen, stack,
		 rootlen ? " / " : "", tid);
	if (samplelog__add(r->log, name, stack + rootlen + (stack[rootlen] == ';'),
			   start, ns))
		r->log_lost++;
}

static void add_offcpu(void *ctx, uint32_t pid, uint32_t tid, const char *stack,
		       uint64_t start, uint64_t ns)
{
	struct record *r = ctx;
	unsigned long long us = (ns + 500) / 1000;

	r->offcpu_ns += ns;
	r->offcpu_intervals++;
	if (r->async) {
		r->async->stack(r->async->ctx, pid, tid, stack, false, start, ns);
		return;
	}
	if (us && stackagg__add(r->agg, stack, us))
		r->lost_samples++;
	if (us)
		stackagg__add(r->counts, stack, 1);
	log_span(r, tid, stack, start, ns);
}

static void on_sample(struct record *r, const struct sample_event *e,
		      size_t size)
{
	char frame[FRAME_BUF];
	struct tracked *t;
	size_t pos = 0;
	__u32 n = e->nframes;

	if (n > MAX_PY_FRAMES ||
	    size < offsetof(struct sample_event, frames) + n * sizeof(e->frames[0])) {
		r->lost_samples++;
		return;
	}
	t = tracked_find(r, e->pid);
	if (!t || !t->python) {
		r->lost_samples++;
		return;
	}
	r->stackbuf[0] = '\0';
	if (t->root[0])
		pos = append(r->stackbuf, pos, t->root);
	if (r->threads) {
		char comm[TASK_COMM_LEN + 1];

		memcpy(comm, e->comm, TASK_COMM_LEN);
		comm[TASK_COMM_LEN] = '\0';
		for (char *c = comm; *c; c++)
			if (*c == ';')
				*c = '_';
		snprintf(frame, sizeof(frame), "thread %s (%u)", comm, e->tid);
		pos = append(r->stackbuf, pos, frame);
	}
	if (r->native) {
		struct append_ctx ac = { r, pos };

		r->unresolved_frames += mixed_stack(r->unwinder, t->sc,
						    &t->info.bpf.off, e, size,
						    append_frame, &ac);
		pos = ac.pos;
	} else {
		/* Innermost frames were kept: the missing part is the outer end. */
		if (e->flags & SAMPLE_TRUNCATED)
			pos = append(r->stackbuf, pos, "[truncated]");
		else if (e->flags & SAMPLE_READ_ERROR)
			pos = append(r->stackbuf, pos, "[unreadable frames]");
		for (__u32 i = n; i-- > 0;) {
			if (symcache__frame(t->sc, &e->frames[i], frame,
					    sizeof(frame)))
				r->unresolved_frames++;
			pos = append(r->stackbuf, pos, frame);
		}
	}
	if (r->mem && e->type != EV_SAMPLE && e->type != EV_OFFCPU) {
		if (!n)
			append(r->stackbuf, pos, "[no Python frame]");
		r->mem->event(r->mem->ctx, e->pid, e->type, r->stackbuf, e->value,
			      e->aux[0], e->aux[1], e->ktime);
		return;
	}
	if (e->type == EV_OFFCPU) {
		pos = append(r->stackbuf, pos,
			     offcpu_reason(r, e, frame, sizeof(frame)));
		if (r->kernel)
			pos = append_kernel(r, pos, e);
		if (offcpu__begin(r->offcpu, e->tid, e->pid, e->ktime,
				  r->stackbuf))
			r->lost_samples++;
		return;
	}
	if (r->kernel && (e->flags & SAMPLE_KERNEL))
		pos = append_kernel(r, pos, e);
	if (r->async) {
		unsigned long long ns = sample_us(r, e) * 1000;

		r->py_samples++;
		t->samples++;
		/* stalls are made of loop threads' samples inside iterations
		 * (all that BPF sends, unless sample_all) */
		if (e->flags & SAMPLE_IN_LOOP)
			r->async->stack(r->async->ctx, e->pid, e->tid, r->stackbuf,
					true, e->ktime - ns, ns);
		if (r->async->sample_all && stackagg__add(r->agg, r->stackbuf, 1))
			r->lost_samples++;
		return;
	}
	if (r->timed)
		stackagg__add(r->counts, r->stackbuf, 1);
	if (r->log) {
		unsigned long long ns = sample_us(r, e) * 1000;

		log_span(r, e->tid, r->stackbuf, e->ktime - ns, ns);
	}
	if (stackagg__add(r->agg, r->stackbuf, r->timed ? sample_us(r, e) : 1) ==
	    0) {
		r->py_samples++;
		t->samples++;
	} else {
		r->lost_samples++;
	}
}

static void on_step(struct record *r, const struct step_event *e)
{
	struct tracked *t = tracked_find(r, e->pid);
	char frame[FRAME_BUF];

	if (!t || !t->python || !r->async->step)
		return;
	if (symcache__frame(t->sc, &e->code, frame, sizeof(frame)))
		r->unresolved_frames++;
	r->async->step(r->async->ctx, e->pid, e->tid, e->coro, frame, e->start,
		       e->ns, e->result);
}

static void on_await(struct record *r, const struct await_event *e)
{
	struct tracked *t = tracked_find(r, e->pid);
	char frame[FRAME_BUF];
	size_t pos = 0;

	if (!t || !t->python || !e->n)
		return;
	r->stackbuf[0] = '\0';
	for (__u32 i = 0; i < e->n && i < AWAIT_DEPTH; i++) {
		if (symcache__frame(t->sc, &e->frames[i], frame, sizeof(frame)))
			r->unresolved_frames++;
		pos = append(r->stackbuf, pos, frame);
	}
	r->async->resume(r->async->ctx, e->pid, e->tid, e->coro, r->stackbuf,
			 e->ktime, e->ns);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct record *r = ctx;
	const struct pyproc_event *pe = data;
	int ret = 0;

	/* A drain longer than this yields to the loop (timers, -d, keys);
	 * the rest stays queued in the ring buffer. */
	if ((++r->drained & 63) == 0 && mono_ns() > r->drain_deadline)
		ret = -EAGAIN;

	if (size < sizeof(__u32))
		return 0;
	switch (pe->type) {
	case EV_SAMPLE:
	case EV_OFFCPU:
		on_sample(r, data, size);
		break;
	case EV_MEM:
	case EV_GC:
	case EV_ALLOC:
	case EV_LIVE:
		if (r->mem)
			on_sample(r, data, size);
		break;
	case EV_LIVE_FREE:
		if (r->mem && size >= sizeof(struct live_free)) {
			const struct live_free *lf = data;

			r->mem->event(r->mem->ctx, lf->pid, EV_LIVE_FREE, NULL,
				      (long long)lf->bytes, (long long)lf->addr, 0,
				      lf->ktime);
		}
		break;
	case EV_ONCPU:
		if (size >= sizeof(struct oncpu_event)) {
			const struct oncpu_event *oe = data;

			offcpu__end(r->offcpu, oe->tid, oe->offcpu_ns,
				    add_offcpu, r);
		}
		break;
	case EV_STEP:
		if (size >= sizeof(struct step_event) && r->async)
			on_step(r, data);
		break;
	case EV_AWAIT:
		if (size >= sizeof(struct await_event) && r->async)
			on_await(r, data);
		break;
	case EV_STALL:
		if (size >= sizeof(struct stall_event) && r->async) {
			r->stalls++;
			r->async->stall(r->async->ctx, data);
		}
		break;
	case EV_DISCOVER:
	case EV_FORK:
		if (size >= sizeof(*pe))
			try_detect(r, pe->pid, 0, false);
		break;
	case EV_EXEC:
		if (size >= sizeof(*pe)) {
			/* New image: forget the old layout and symbols. */
			tracked_drop(r, pe->pid);
			try_detect(r, pe->pid, 0, true);
		}
		break;
	case EV_EXIT:
		if (size >= sizeof(*pe)) {
			offcpu__close_all(r->offcpu, pe->pid, pe->ktime,
					  add_offcpu, r);
			tracked_drop(r, pe->pid);
		}
		break;
	}
	return ret;
}

static void scan_proc(struct record *r)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (*end || pid <= 0 || pid == self)
			continue;
		try_detect(r, (pid_t)pid, RETRY_MAX, false);
	}
	closedir(d);
}

static unsigned long long dropped(const unsigned long long st[STAT_NR])
{
	return st[STAT_T_RINGBUF_FULL] + st[STAT_T_UNREADABLE] +
	       st[STAT_T_UNSUPPORTED];
}

static void status_line(struct record *r, bool final)
{
	unsigned long long st[STAT_NR];
	double el = (now_ms() - r->start_ms) / 1000.0;

	profiler__stats(r->prof, st);
	if (r->mem && !r->async) {
		fprintf(stderr,
			"\r\033[K[%6.1fs] memory changes %llu  processes %u  lost %llu%s",
			el, st[STAT_MEM_EVENTS], r->nprocs_seen,
			st[STAT_MEM_LOST] + st[STAT_GC_LOST] + st[STAT_ALLOC_LOST] +
				st[STAT_LIVE_FULL] + st[STAT_LIVE_LOST] +
				st[STAT_LIVE_FREE_LOST],
			final ? "\n" : "");
		return;
	}
	fprintf(stderr,
		"\r\033[K[%6.1fs] samples %llu  python %llu  processes %u  drops %llu%s",
		el, st[STAT_TICKS], r->py_samples, r->nprocs_seen, dropped(st),
		final ? "\n" : "");
}

static void print_summary(struct record *r, double elapsed)
{
	unsigned long long st[STAT_NR];
	unsigned long long period;
	double hz;

	profiler__stats(r->prof, st);
	profiler__timing(r->prof, &period, &hz);
	fprintf(stderr,
		"pyrograph: %.1f s at %.0f Hz: %llu samples, %llu Python samples, %u Python process%s\n",
		elapsed, hz, st[STAT_TICKS], r->py_samples, r->nprocs_seen,
		r->nprocs_seen == 1 ? "" : "es");
	fprintf(stderr,
		"pyrograph: drops: %llu buffer full, %llu unreadable frame, %llu truncated stack, %llu unsupported build\n",
		st[STAT_T_RINGBUF_FULL], st[STAT_T_UNREADABLE],
		st[STAT_TRUNCATED], st[STAT_T_UNSUPPORTED]);
	/* Every selected tick is in exactly one of these. */
	fprintf(stderr,
		"pyrograph: accounting: %llu samples = %llu Python + %llu other processes + %llu threads without a Python thread state + %llu idle in native code + %llu not holding the GIL + %llu outside event-loop iterations + %llu dropped + %llu lost in userspace\n",
		st[STAT_TICKS], r->py_samples, st[STAT_T_OTHER],
		st[STAT_T_NO_TSTATE], st[STAT_T_NO_FRAMES], st[STAT_T_NOT_GIL],
		st[STAT_T_NOT_LOOP], dropped(st), r->lost_samples);
	if (r->async)
		fprintf(stderr,
			"pyrograph: event loops: %llu stalls; %llu stalls lost (buffer full); %llu polling threads beyond the table\n",
			r->stalls, st[STAT_STALL_LOST], st[STAT_LOOP_FULL]);
	if (r->idle || r->gil || r->async)
		fprintf(stderr,
			"pyrograph: off-CPU: %llu intervals, %.3f s%s; %llu switch-outs and %llu returns lost (buffer full), %llu intervals unmeasured, %llu switch-outs without a Python stack\n",
			r->offcpu_intervals, r->offcpu_ns / 1e9,
			r->gil ? " waiting for the GIL" : "",
			st[STAT_OFF_LOST], st[STAT_ON_LOST],
			(unsigned long long)offcpu__lost(r->offcpu),
			st[STAT_OFF_NO_STACK]);
	if (st[STAT_PARTIAL] || r->unresolved_frames)
		fprintf(stderr,
			"pyrograph: %llu stacks broke off at an unreadable frame ([unreadable frames]); %llu frames could not be resolved\n",
			st[STAT_PARTIAL], r->unresolved_frames);
	if (st[STAT_DROP_EVENTS])
		fprintf(stderr, "pyrograph: %llu process events lost\n",
			st[STAT_DROP_EVENTS]);
	if (st[STAT_T_RINGBUF_FULL])
		fprintf(stderr,
			"pyrograph: hint: the ring buffer overflowed; raise --buffer-size or lower --rate\n");
}

/* The view's tick: cumulative loop timings first, then the counters. */
static int view_tick(struct record *r)
{
	struct record_health h = {
		.py_samples = r->py_samples,
		.lost_samples = r->lost_samples,
		.stalls = r->stalls,
		.nprocs_live = r->nprocs_live,
		.nprocs_seen = r->nprocs_seen,
	};

	if (r->async && r->async->loop)
		profiler__loops(r->prof, r->async->loop, r->async->ctx);
	profiler__stats(r->prof, h.stats);
	return r->view->tick(r->view->ctx, &h);
}

/* Hands the view the stacks since its last refresh, then starts over. */
static int live_refresh(struct record *r, unsigned long long now)
{
	const struct stack_count *sc;
	struct stackagg *fresh;
	unsigned long long period;
	double hz, secs;
	size_t n;
	int ret;

	fresh = stackagg__new();
	if (!fresh)
		return -ENOMEM;
	profiler__timing(r->prof, &period, &hz);
	secs = (now - (r->view_ms ? r->view_ms : r->start_ms)) / 1000.0;
	sc = stackagg__sorted(r->agg, &n);
	ret = r->view->refresh(r->view->ctx, sc, n, hz > 0 ? hz : r->rate,
			       secs, r->nprocs_live);
	stackagg__free(r->agg);
	r->agg = fresh;
	r->view_ms = now;
	return ret;
}

static int start_child(struct record *r, int *go_fd)
{
	int pfd[2];
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		char c;

		close(pfd[1]);
		/* Wait until the sampler is attached, so nothing is missed. */
		if (read(pfd[0], &c, 1) != 1)
			_exit(127);
		execvp(r->cmd[0], r->cmd);
		fprintf(stderr, "pyrograph: cannot run %s: %s\n", r->cmd[0],
			strerror(errno));
		_exit(127);
	}
	close(pfd[0]);
	*go_fd = pfd[1];
	r->child = pid;
	return 0;
}

/* -p: is any named process (or a tracked child of one) still there? */
static bool targets_alive(struct record *r)
{
	if (r->nprocs_live || r->npending)
		return true;
	for (int i = 0; i < r->npids; i++) {
		struct proc_stat ps;

		/* a zombie is gone for us, though its parent has not reaped it */
		if (!procfs_stat(r->pids[i], &ps) && ps.state != 'Z' &&
		    ps.state != 'X')
			return true;
	}
	return false;
}

static void check_child(struct record *r)
{
	int status;

	if (r->child > 0 && !r->child_done &&
	    waitpid(r->child, &status, WNOHANG) == r->child)
		r->child_done = true;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pyrograph record [OPTIONS] [-p PID]... | -a | -- COMMAND [ARGS]\n"
		"\n"
		"Samples the Python stacks of running processes from the kernel (eBPF) and\n"
		"writes a flame graph or folded stacks. Nothing is injected into, restarted\n"
		"or paused in the targets.\n"
		"\n"
		"Targets (default: -a):\n"
		"  -p, --pid PID         profile this process (repeatable)\n"
		"  -a, --all             every Python process on the host, including ones\n"
		"                        started during the recording\n"
		"  -- COMMAND [ARGS]     run COMMAND and profile it until it exits\n"
		"  -s, --subprocesses    with a command or -p: follow child processes too,\n"
		"                        each shown under its parent\n"
		"      --container ID    only processes in containers whose id starts with ID\n"
		"      --cgroup PATH     only processes in cgroup PATH (v2 path) or below\n"
		"\n"
		"Options:\n"
		"  -o, --output FILE     output file, '-' for stdout (default: profile.svg);\n"
		"                        repeat it for several files (formats from names)\n"
		"  -f, --format FMT      flamegraph (interactive SVG), collapsed (folded\n"
		"                        'frame;frame;frame COUNT' lines), speedscope (JSON,\n"
		"                        one timeline per thread) or pprof (gzipped\n"
		"                        profile.proto, labels pid/process/container/thread)\n"
		"                        (default: from the name: .txt/.folded/.collapsed,\n"
		"                        .json, .pb.gz/.pprof, else flamegraph)\n"
		"  -d, --duration SEC    stop after SEC seconds (default: until Ctrl-C, or\n"
		"                        until COMMAND exits; a COMMAND still running then\n"
		"                        gets SIGTERM)\n"
		"  -r, --rate HZ         mean samples per second of busy CPU (default 100); the\n"
		"                        intervals are randomised (0.5x-1.5x the mean) so\n"
		"                        periodic work is not aliased\n"
		"  -t, --threads         add a 'thread NAME (TID)' frame under each process\n"
		"  -i, --idle            also record time threads spend off the CPU, with a\n"
		"                        leaf frame saying why: [sleep], [lock], [GIL wait],\n"
		"                        [disk I/O], [network], [poll], [pipe], [page fault],\n"
		"                        [preempted]...; weights become microseconds of wall\n"
		"                        time instead of sample counts\n"
		"      --gil             only samples of the thread holding the GIL, plus the\n"
		"                        time threads wait for the GIL ([GIL wait]);\n"
		"                        weights are microseconds\n"
		"  -n, --native          native frames too: C extensions, libpython and libc\n"
		"                        between the Python frames that called them and the\n"
		"                        ones they called, as 'symbol [module]' (user stack\n"
		"                        copied in BPF, unwound with elfutils from .eh_frame;\n"
		"                        build-id debuginfo under /usr/lib/debug is used)\n"
		"      --kernel          kernel frames (suffix _[k]) under the Python frames\n"
		"  -g, --group-by KIND   root frames: container (a 'container ID' frame, then\n"
		"                        'command (pid)'; the default with -a), process\n"
		"                        (the default otherwise) or none\n"
		"  -q, --quiet           no live status line\n"
		"      --buffer-size MB  BPF ring buffer size (default 8)\n"
		"      --max-procs N     Python processes tracked at once (default 4096)\n"
		"  -v, --verbose         debug messages (libbpf, detection)\n"
		"  -h, --help            this help\n"
		"\n"
		"Frames read 'qualname (file.py:LINE)', outermost first, under a\n"
		"'command (pid)' root frame; 'command (pid/nspid)' for a process in a pid\n"
		"namespace (host pid / pid in the container). File paths are as the process\n"
		"sees them. Ctrl-C or SIGTERM stops early and still writes a complete file.\n"
		"\n"
		"Examples:\n"
		"  pyrograph record -p 1234 -d 30 -o profile.svg\n"
		"  pyrograph record -a -d 10 -o host.svg\n"
		"  pyrograph record -o out.svg -- python3 app.py --port 8000\n"
		"  pyrograph record -a -d 5 -f collapsed -o - | sort -k2 -n | tail\n"
		"  pyrograph record -p 1234 -d 30 -o cpu.pb.gz -o cpu.speedscope.json\n"
		"  pyrograph record --container 3f2a9c -d 10 -o web.svg\n");
}

static int parse_uint(const char *s, const char *what, unsigned long lo,
		      unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		pr_err("invalid %s '%s' (expected %lu..%lu)", what, s, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_args(struct record *r, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'a' },
		{ "subprocesses", no_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "format", required_argument, NULL, 'f' },
		{ "duration", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "threads", no_argument, NULL, 't' },
		{ "idle", no_argument, NULL, 'i' },
		{ "gil", no_argument, NULL, 'L' },
		{ "kernel", no_argument, NULL, 'K' },
		{ "native", no_argument, NULL, 'n' },
		{ "group-by", required_argument, NULL, 'g' },
		{ "container", required_argument, NULL, 'C' },
		{ "cgroup", required_argument, NULL, 'G' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "buffer-size", required_argument, NULL, 'B' },
		{ "max-procs", required_argument, NULL, 'M' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *fmt = NULL, *group = NULL;
	unsigned long v;
	char *end;
	int c;

	r->rate = 100;
	r->max_procs = 4096;
	r->ringbuf_mb = 8;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+p:aso:f:d:r:ting:qvh", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'p':
			if (parse_uint(optarg, "pid", 1, INT_MAX, &v))
				return -EINVAL;
			if (r->npids >= MAX_PIDS) {
				pr_err("at most %d --pid options", MAX_PIDS);
				return -EINVAL;
			}
			r->pids[r->npids++] = (pid_t)v;
			break;
		case 'a':
			r->all = true;
			break;
		case 's':
			r->subprocesses = true;
			break;
		case 'o':
			if (r->nouts >= MAX_OUTPUTS) {
				pr_err("at most %d --output options", MAX_OUTPUTS);
				return -EINVAL;
			}
			r->outs[r->nouts++].path = optarg;
			break;
		case 'f':
			fmt = optarg;
			break;
		case 'd':
			errno = 0;
			r->duration = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(r->duration > 0) ||
			    r->duration > 1e7) {
				pr_err("invalid duration '%s' (seconds, > 0)",
				       optarg);
				return -EINVAL;
			}
			break;
		case 'r':
			if (parse_uint(optarg, "rate", 1, 100000, &v))
				return -EINVAL;
			r->rate = v;
			break;
		case 't':
			r->threads = true;
			break;
		case 'i':
			r->idle = true;
			break;
		case 'L':
			r->gil = true;
			break;
		case 'K':
			r->kernel = true;
			break;
		case 'n':
			r->native = true;
			break;
		case 'g':
			group = optarg;
			break;
		case 'C':
			r->container = optarg;
			break;
		case 'G':
			r->cgroup = optarg;
			break;
		case 'q':
			r->quiet = true;
			break;
		case 'B':
			if (parse_uint(optarg, "buffer size", 1, 1024, &v))
				return -EINVAL;
			r->ringbuf_mb = v;
			break;
		case 'M':
			if (parse_uint(optarg, "max-procs", 1, 1 << 20, &v))
				return -EINVAL;
			r->max_procs = v;
			break;
		case 'v':
			log_verbosity = 2;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc)
		r->cmd = argv + optind;
	if ((r->cmd != NULL) + (r->npids > 0) + r->all > 1) {
		pr_err("choose one kind of target: -p PID, -a, or -- COMMAND");
		return -EINVAL;
	}
	if ((r->container || r->cgroup) && (r->cmd || r->npids)) {
		pr_err("--container and --cgroup select among all processes: not with -p or a command");
		return -EINVAL;
	}
	if (!r->cmd && !r->npids)
		r->all = true;
	r->group = r->all ? GROUP_CONTAINER : GROUP_PROCESS;
	if (group) {
		if (!strcmp(group, "container"))
			r->group = GROUP_CONTAINER;
		else if (!strcmp(group, "process"))
			r->group = GROUP_PROCESS;
		else if (!strcmp(group, "none"))
			r->group = GROUP_NONE;
		else {
			pr_err("unknown --group-by '%s' (container, process, none)",
			       group);
			return -EINVAL;
		}
	}
	if (r->all && r->subprocesses) {
		pr_err("--subprocesses needs -p or a command (-a already sees every process)");
		return -EINVAL;
	}
	if (fmt && r->nouts > 1) {
		pr_err("--format with several --output files: each file's format comes from its name");
		return -EINVAL;
	}
	if (!r->nouts)
		r->outs[r->nouts++].path = NULL;
	for (int i = 0; i < r->nouts; i++) {
		enum out_format *f = &r->outs[i].fmt;

		if (fmt) {
			if (output_format_parse(fmt, f)) {
				pr_err("unknown format '%s' (flamegraph, collapsed, speedscope, pprof)",
				       fmt);
				return -EINVAL;
			}
		} else {
			*f = output_format_guess(r->outs[i].path);
		}
		if (!r->outs[i].path)
			r->outs[i].path = *f == OUT_COLLAPSED ? "profile.txt" :
					  *f == OUT_SPEEDSCOPE ? "profile.speedscope.json" :
					  *f == OUT_PPROF ? "profile.pb.gz" :
							   "profile.svg";
		if (*f == OUT_SPEEDSCOPE)
			r->want_log = true;
		if ((*f == OUT_PPROF || *f == OUT_SPEEDSCOPE) &&
		    !strcmp(r->outs[i].path, "-") && isatty(STDOUT_FILENO)) {
			pr_err("%s is not for a terminal: give a file with -o",
			       output_format_name(*f));
			return -EINVAL;
		}
	}
	/* The ring buffer size must be a power of two multiple of pages. */
	r->ringbuf_mb = 1UL << (63 - __builtin_clzl(r->ringbuf_mb));
	return 0;
}

int cmd_record(int argc, char **argv)
{
	return record_main(argc, argv, NULL);
}

int parse_time(const char *s, double unit_ns, double min_ns, double max_ns,
	       unsigned long long *ns)
{
	char *end;
	double v, mul = unit_ns;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v > 0))
		return -EINVAL;
	if (!strcmp(end, "us"))
		mul = 1e3;
	else if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "s"))
		mul = 1e9;
	else if (*end)
		return -EINVAL;
	v *= mul;
	if (!(v >= min_ns && v <= max_ns))
		return -EINVAL;
	*ns = (unsigned long long)v;
	return 0;
}

bool record_forward_opt(int opt, char *arg, char **argv, int *argc)
{
	static const struct {
		int opt;
		const char *name;
	} fwd[] = {
		{ 'p', "-p" },	      { 'a', NULL },	     { 'C', "--container" },
		{ 'G', "--cgroup" },  { 'd', "-d" },	     { 'B', "--buffer-size" },
		{ 'q', NULL },	      { 'v', NULL },
	};

	for (size_t i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++) {
		if (fwd[i].opt != opt)
			continue;
		if (!fwd[i].name) { /* a flag: -a, -q, -v */
			argv[(*argc)++] = opt == 'a' ? "-a" : opt == 'q' ? "-q" : "-v";
			return true;
		}
		argv[(*argc)++] = (char *)fwd[i].name;
		argv[(*argc)++] = arg;
		return true;
	}
	return false;
}

int record_forward_command(int argc, char **argv, int optind, char **rargv, int *rargc,
			   int max)
{
	if (optind < argc) {
		if (*rargc + (argc - optind) + 2 > max) {
			pr_err("too many arguments");
			return -E2BIG;
		}
		rargv[(*rargc)++] = "--";
		while (optind < argc)
			rargv[(*rargc)++] = argv[optind++];
	}
	rargv[*rargc] = NULL;
	return 0;
}

int record_main(int argc, char **argv, const struct live_view *view)
{
	struct record *r;
	struct profiler_opts po = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned long long end_ms = 0, next_status, next_jitter = 0;
	unsigned long long next_calibrate = 0, next_view = 0, next_tick = 0;
	int go_fd = -1, ret;
	struct profile_data pd = { 0 };
	unsigned long long period;
	char title[256];
	double elapsed;

	r = calloc(1, sizeof(*r));
	if (!r)
		return 1;
	r->view = view;
	r->async = view ? view->async : NULL;
	r->mem = view ? view->mem : NULL;
	ret = parse_args(r, argc, argv);
	if (ret)
		goto out;
	if (view) {
		/* A live view owns the output: one root frame per process. */
		r->group = view->group_container ? GROUP_CONTAINER : GROUP_PROCESS;
		if (!r->async && !r->mem)
			r->quiet = true;
		r->threads = false;
	}
	ret = check_privileges();
	if (ret)
		goto out;
	/* Targets named by pid must exist and run CPython: say so up front. */
	for (int i = 0; i < r->npids; i++) {
		struct pyproc_info info;
		char err[512];

		ret = pyproc_detect(r->pids[i], &info, err, sizeof(err));
		if (ret) {
			pr_err("%s", err);
			goto out;
		}
	}
	for (int i = 0; !view && i < r->nouts; i++) {
		ret = output_check_writable(r->outs[i].path);
		if (ret)
			goto out;
	}
	r->agg = stackagg__new();
	r->stackbuf = malloc(STACK_BUF);
	r->offcpu = offcpu__new();
	r->counts = stackagg__new();
	if (r->want_log)
		r->log = samplelog__new();
	if (!r->agg || !r->stackbuf || !r->offcpu || !r->counts ||
	    (r->want_log && !r->log)) {
		ret = -ENOMEM;
		goto out;
	}
	if (r->cmd) {
		ret = start_child(r, &go_fd);
		if (ret) {
			pr_err("cannot start %s: %s", r->cmd[0], strerror(-ret));
			goto out;
		}
	}

	po.all = r->all;
	po.follow_children = r->subprocesses;
	po.rate_hz = r->rate;
	po.ringbuf_bytes = r->ringbuf_mb << 20;
	po.max_procs = r->max_procs;
	po.offcpu = r->idle;
	po.gil_only = r->gil;
	po.kstack = r->kernel;
	po.ustack_bytes = r->native ? MAX_USTACK : 0;
	if (r->async) {
		po.loops = true;
		po.stall_ns = r->async->stall_ns;
		po.sample_all = r->async->sample_all;
		po.loops_reap = r->async->reap_loops;
		/* a consumer without a step hook: BPF need not send them */
		po.no_step_events = !r->async->step;
	}
	if (r->mem) {
		po.mem = true;
		po.no_rss = r->mem->gc_only;
		po.alloc_period = r->mem->alloc_period;
		po.live_min = r->mem->live_min;
		po.live_max = r->mem->live_max;
	}
	if (r->native) {
		/* symbols come from local files only: no network lookups */
		unsetenv("DEBUGINFOD_URLS");
		r->unwinder = unwinder_new();
		if (!r->unwinder) {
			pr_err("cannot set up the native unwinder: %s",
			       strerror(errno));
			ret = -errno;
			goto out;
		}
	}
	r->timed = r->idle || r->gil || r->async;
	r->sample_ns = 1000000000ULL / r->rate;
	if (r->idle || r->gil || r->kernel || r->async) {
		r->ksyms = ksyms__load("/proc/kallsyms");
		if (!r->ksyms)
			pr_warn("cannot read kernel symbols (%s): off-CPU reasons will be coarse",
				strerror(errno));
	}
	ret = profiler__open(&r->prof, &po, on_event, r);
	if (ret)
		goto out;
	for (int i = 0; i < r->npids; i++)
		profiler__add_target(r->prof, r->pids[i]);
	if (r->child > 0)
		profiler__add_target(r->prof, r->child);

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	if (r->all)
		scan_proc(r);
	for (int i = 0; i < r->npids; i++)
		try_detect(r, r->pids[i], RETRY_MAX, false);
	/* Everything privileged is set up: keep only what reading needs. */
	ret = drop_capabilities();
	if (ret)
		pr_warn("could not drop capabilities: %s", strerror(-ret));
	ret = profiler__start(r->prof);
	if (ret) {
		pr_err("cannot enable the perf events: %s", strerror(-ret));
		goto out;
	}
	if (go_fd >= 0) {
		if (write(go_fd, "g", 1) != 1)
			pr_warn("could not start the command");
		close(go_fd);
		go_fd = -1;
	}
	r->start_ms = now_ms();
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		r->start_wall_ns = ts.tv_sec * 1000000000ULL + ts.tv_nsec;
	}
	if (r->duration > 0)
		end_ms = r->start_ms + (unsigned long long)(r->duration * 1000);
	next_status = r->start_ms + 1000;
	if (!r->quiet && !isatty(STDERR_FILENO))
		r->quiet = true;
	if (!r->quiet && r->mem && !r->async)
		pr_info("watching the memory of %s; Ctrl-C to stop",
			r->container || r->cgroup ? "the selected containers" :
			r->all ? "all Python processes" :
			r->cmd ? r->cmd[0] : "the selected processes");
	else if (!r->quiet)
		pr_info("recording %s at %u Hz; Ctrl-C to stop",
			r->container || r->cgroup ? "the selected containers" :
			r->all ? "all Python processes" :
			r->cmd ? r->cmd[0] : "the selected processes",
			r->rate);

	while (!stop_requested) {
		unsigned long long now;

		/* Short timeouts: the timer jitter and detection retries run
		 * from this loop. */
		r->drain_deadline = mono_ns() + 200000000ULL;
		ret = profiler__poll(r->prof, PROFILER_JITTER_MS);
		if (ret < 0) {
			pr_err("error reading samples: %s", strerror(-ret));
			break;
		}
		run_pending(r);
		if (stats_requested) {
			stats_requested = 0;
			print_stats(r);
		}
		if (r->mem && r->mem->tick)
			r->mem->tick(r->mem->ctx);
		now = now_ms();
		if (now >= next_jitter) {
			profiler__jitter(r->prof);
			next_jitter = now + PROFILER_JITTER_MS;
		}
		if (now >= next_calibrate) {
			profiler__calibrate(r->prof);
			if (r->async)
				async_rescan(r);
			next_calibrate = now + 1000;
			/* Per-process symbol caches come and go with churn; give
			 * the freed heap back instead of letting it fragment. */
			if (++r->trims % 30 == 0)
				malloc_trim(0);
		}
		if (end_ms && now >= end_ms)
			break;
		if (r->child > 0) {
			check_child(r);
			if (r->child_done)
				break;
		}
		if (!r->cmd && !r->all && !targets_alive(r)) {
			pr_info("every target process has exited");
			break;
		}
		if (!r->quiet && now >= next_status) {
			status_line(r, false);
			next_status = now + 1000;
		}
		if (view && view->input && view->input(view->ctx))
			break;
		/* top and the agent: each interval's stacks (check takes the
		 * whole run's at the end: no interval) */
		if (view && view->refresh && view->interval_ms) {
			if (!next_view)
				next_view = now + view->interval_ms;
			if (now >= next_view) {
				if (live_refresh(r, now))
					break;
				next_view = now + view->interval_ms;
			}
		}
		if (view && view->tick && now >= next_tick) {
			if (view_tick(r))
				break;
			next_tick = now + 1000;
		}
	}
	/* Whatever is still in the ring buffer belongs to this recording;
	 * stop the timers first so the counters and the samples agree. */
	profiler__stop(r->prof);
	/* The final drain takes what was queued when sampling stopped: at
	 * most the ring buffer; bounded anyway, a slow consumer (--native on
	 * a loaded machine) must not keep us past the end. */
	r->drain_deadline = mono_ns() + 5000000000ULL;
	while (profiler__poll(r->prof, 0) > 0 && mono_ns() < r->drain_deadline)
		;
	/* Threads still blocked now were off the CPU until now. */
	offcpu__close_all(r->offcpu, 0, mono_ns(), add_offcpu, r);
	elapsed = (now_ms() - r->start_ms) / 1000.0;
	if (r->async || r->mem) {
		ret = 0;
		if (r->async) {
			ret = profiler__loops(r->prof, r->async->loop, r->async->ctx);
			print_summary(r, elapsed);
		}
		if (r->mem) {
			unsigned long long st[STAT_NR];

			if (!r->quiet && !r->async)
				status_line(r, true);
			profiler__stats(r->prof, st);
			if (r->mem->done)
				r->mem->done(r->mem->ctx, st);
		}
		/* check: the CPU samples of the whole run */
		if (!ret && view->refresh)
			ret = live_refresh(r, now_ms());
		goto out;
	}
	if (view) {
		ret = 0;
		if (view->refresh_on_exit)
			live_refresh(r, now_ms());
		goto out;
	}
	if (!r->quiet)
		status_line(r, true);

	snprintf(title, sizeof(title),
		 "%llu samples%s, %u Python processes, %u Hz, %.1f s%s",
		 (unsigned long long)r->py_samples,
		 r->idle ? " + off-CPU time" : r->gil ? " + GIL waits" : "",
		 r->nprocs_seen, r->rate, elapsed,
		 r->timed ? "; weights in microseconds" : "");
	pd.agg = r->agg;
	pd.counts = r->counts;
	pd.timed = r->timed;
	profiler__timing(r->prof, &period, &pd.hz);
	pd.start_ns = r->start_wall_ns;
	pd.start_mono_ns = r->start_ms * 1000000ULL;
	pd.duration_ns = (unsigned long long)(elapsed * 1e9);
	pd.log = r->log;
	pd.title = "pyrograph record";
	pd.subtitle = title;
	ret = 0;
	for (int i = 0; i < r->nouts; i++) {
		int err = output_write(r->outs[i].path, r->outs[i].fmt, &pd);

		if (!err)
			fprintf(stderr, "pyrograph: wrote %s (%s, %zu distinct stacks)\n",
				strcmp(r->outs[i].path, "-") ? r->outs[i].path : "stdout",
				output_format_name(r->outs[i].fmt),
				stackagg__count(r->agg));
		ret = ret ? ret : err;
	}
	print_summary(r, elapsed);
	if (!ret && r->all == false && r->npids && !r->py_samples)
		pr_warn("no Python samples: was the process idle?");
out:
	if (go_fd >= 0)
		close(go_fd); /* the child sees EOF and exits */
	if (r->child > 0 && !r->child_done) {
		/* We started it; like timeout(1), stop it with the recording. */
		kill(r->child, SIGTERM);
		waitpid(r->child, NULL, 0);
	}
	profiler__close(r->prof);
	r->prof = NULL; /* tracked_drop() below must not touch it */
	for (int i = 0; i < NBUCKETS; i++)
		while (r->buckets[i])
			tracked_drop(r, r->buckets[i]->pid);
	stackagg__free(r->agg);
	stackagg__free(r->counts);
	samplelog__free(r->log);
	offcpu__free(r->offcpu);
	ksyms__free(r->ksyms);
	unwinder_free(r->unwinder);
	mixed_free();
	free(r->stackbuf);
	free(r);
	pyproc_cache_free();
	return ret ? 1 : 0;
}
