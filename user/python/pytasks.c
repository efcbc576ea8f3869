// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * asyncio tasks read from outside (see pytasks.h).
 *
 * Finding every task:
 * - 3.11: _asyncio._all_tasks, a WeakSet: sys.modules['_asyncio'] ->
 *   its dict -> the WeakSet -> its 'data' set -> weak references -> tasks.
 * - 3.12/3.13: _asyncio._scheduled_tasks (a WeakSet, as above) and
 *   _asyncio._eager_tasks (a set of the tasks running eagerly).
 * - 3.14+: each thread state's list of its tasks, and the interpreter's
 *   list of those whose thread is gone (circular lists of llist nodes
 *   inside the tasks; offsets from the AsyncioDebug section).
 * Who awaits whom: 3.14+ keep it themselves (task_awaited_by: one object
 * or a set). Before, it is found from the waiting side: a task waits on
 * task_fut_waiter; a Task there is awaited by it, a gather()'s future
 * (_GatheringFuture) holds the awaited ones in _children; a TaskGroup's
 * child has the group's _on_task_done as its first done callback, and the
 * group knows its _parent_task.
 * A coroutine stack: the task's coroutine, then while a coroutine is
 * suspended in an await, the object on top of its frame's value stack when
 * it is a coroutine too (what CPython's own cr_await reads).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "python/asyncio_offsets.h"
#include "python/pyproc.h"
#include "python/pystack.h"
#include "python/pytasks.h"
#include "sys/targetfile.h"

#define OB_TYPE		 8
#define MODULE_DICT	 16
#define WEAKREF_OBJECT	 16
#define METHOD_SELF	 24
#define FUTURE_CALLBACK0 24
#define FRAME_READ	 128   /* bytes of an interpreter frame read */
#define LIST_MAX	 65536 /* nodes of one 3.14+ task list */
#define THREADS_MAX	 1024
#define INTERPS_MAX	 4
#define GATHER_DEPTH	 4   /* gathers of gathers followed */
#define TAGS		 256 /* code tags remembered per pass */
#define LOOK_AGAIN_NS	 1000000000ULL
#define ADDRS_FIRST	 256

struct pytasks {
	pid_t pid;
	struct py_proc proc;
	struct proc_mapping elf_map; /* the interpreter's ELF */
	struct pyobj obj;
	struct asyncio_layout lay;
	unsigned minor;
	int layout; /* 0 known, -EAGAIN to look for (3.14+), -ENOTSUP */
	unsigned long long next_look_ns;
	long long modules_used;	    /* sys.modules' size when searched */
	unsigned long long sets[2]; /* 3.11-3.13: WeakSet, eager set */
	/* the tasks' addresses, of room for addrs_cap (grown up to
	 * PYTASKS_MAX as the process has more: most have a few) */
	unsigned long long *addrs;
	int addrs_cap;
	struct tag_slot {
		unsigned long long code;
		__u32 tag;
	} tags[TAGS];
	char why[160];
};

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

struct pytasks *pytasks_new(pid_t pid, const struct pyproc_info *info)
{
	struct pytasks *pt = calloc(1, sizeof(*pt));
	unsigned minor = (info->bpf.off.version >> 16) & 0xff;

	if (!pt)
		return NULL;
	pt->addrs = calloc(ADDRS_FIRST, sizeof(*pt->addrs));
	if (!pt->addrs) {
		free(pt);
		return NULL;
	}
	pt->addrs_cap = ADDRS_FIRST;
	pt->pid = pid;
	pt->proc = info->bpf;
	pt->elf_map = info->elf_map;
	pt->modules_used = -1;
	pt->minor = minor;
	pt->layout = asyncio_layout_for(minor, &pt->lay);
	if (pyobj_init(&pt->obj, pid, &info->bpf.off) || !info->bpf.runtime ||
	    info->bpf.off.gen_iframe == PY_OFF_NONE ||
	    (!pt->lay.task_lists && pt->layout == 0 &&
	     info->bpf.off.interp_modules == PY_OFF_NONE) ||
	    info->bpf.off.stack_kind == PY_STACK_NONE)
		pt->layout = -ENOTSUP;
	if (pt->layout == -ENOTSUP)
		snprintf(pt->why, sizeof(pt->why),
			 "asyncio tasks are read on CPython 3.11-3.15, not %s",
			 info->version);
	return pt;
}

void pytasks_free(struct pytasks *pt)
{
	if (pt)
		free(pt->addrs);
	free(pt);
}

const char *pytasks_why(const struct pytasks *pt)
{
	return pt->why[0] ? pt->why : "no reason known";
}

/* The AsyncioDebug section of the file behind mapping m: 0 or -errno. */
static int section_read(struct pytasks *pt, const struct proc_mapping *m,
			unsigned char *buf)
{
	struct target_file tf = TARGET_FILE_INIT;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	unsigned int nscn = 0;
	Elf *elf = NULL;
	int ret = targetfile_open_mapped(pt->pid, m, &tf);

	if (ret)
		return ret;
	ret = -ENOENT;
	elf = elf_begin(tf.fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_getshdrstrndx(elf, &shstrndx))
		goto out;
	while ((scn = elf_nextscn(elf, scn)) && nscn++ < 65536) {
		GElf_Shdr sh;
		Elf_Data *d;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ASYNCIO_DEBUG_SECTION))
			continue;
		d = elf_getdata(scn, NULL);
		if (d && d->d_buf && d->d_size >= ASYNCIO_DEBUG_SIZE) {
			memcpy(buf, d->d_buf, ASYNCIO_DEBUG_SIZE);
			ret = 0;
		} else {
			ret = -EINVAL;
		}
		break;
	}
out:
	if (elf)
		elf_end(elf);
	targetfile_close(&tf);
	return ret;
}

/*
 * 3.14+: the layout from the AsyncioDebug section of the _asyncio module
 * the process has loaded, or of its interpreter, where _asyncio is built
 * in (Debian's 3.15). -ENOENT until asyncio is imported.
 */
static int find_layout(struct pytasks *pt)
{
	unsigned char buf[ASYNCIO_DEBUG_SIZE];
	struct procfs_maps it;
	const struct proc_mapping *m;
	unsigned long last_inode = 0;
	int ret = -ENOENT;

	if (now_ns() < pt->next_look_ns)
		return -ENOENT;
	pt->next_look_ns = now_ns() + LOOK_AGAIN_NS;
	if (procfs_maps_open(&it, pt->pid))
		return -EFAULT;
	while (ret && (m = procfs_maps_next(&it))) {
		const char *base = strrchr(m->path, '/');
		bool own = m->inode == pt->elf_map.inode &&
			   m->dev_major == pt->elf_map.dev_major &&
			   m->dev_minor == pt->elf_map.dev_minor;

		if (!m->inode || m->inode == last_inode ||
		    (!own && (!base || strncmp(base, "/_asyncio.", 10))))
			continue;
		last_inode = m->inode;
		if (section_read(pt, m, buf))
			continue;
		ret = asyncio_layout_parse(pt->minor, buf, sizeof(buf),
					   &pt->lay);
		if (ret)
			snprintf(
				pt->why, sizeof(pt->why),
				"the AsyncioDebug section of %.100s is not a layout known here",
				m->path);
	}
	procfs_maps_close(&it);
	if (ret == -ENOENT)
		snprintf(
			pt->why, sizeof(pt->why),
			"asyncio is not imported (no AsyncioDebug section mapped)");
	return ret == -EINVAL || ret == -ENOTSUP ? -ENOTSUP : ret;
}

/*
 * 3.11-3.13: the sets asyncio registers its tasks in, once the program
 * has imported asyncio (sys.modules is searched again only when it grew).
 */
static int find_sets(struct pytasks *pt)
{
	struct pyobj *r = &pt->obj;
	const struct py_offsets *o = &pt->proc.off;
	unsigned long long interp, modules, mod, dict, ws, eager = 0;
	long long used;

	interp = pyobj_ptr(r, pt->proc.runtime + o->runtime_interp_head);
	modules = interp ? pyobj_ptr(r, interp + o->interp_modules) : 0;
	if (!modules || pyobj_read(r, modules + 16, &used, sizeof(used)))
		return -EFAULT;
	if (used == pt->modules_used)
		return -ENOENT;
	pt->modules_used = used;
	mod = pyobj_dict_get(r, modules, "_asyncio");
	dict = mod ? pyobj_ptr(r, mod + MODULE_DICT) : 0;
	if (!dict) {
		snprintf(pt->why, sizeof(pt->why), "asyncio is not imported");
		return -ENOENT;
	}
	if (pt->minor == 11) {
		ws = pyobj_dict_get(r, dict, "_all_tasks");
	} else {
		ws = pyobj_dict_get(r, dict, "_scheduled_tasks");
		eager = pyobj_dict_get(r, dict, "_eager_tasks");
	}
	ws = ws && pyobj_is(r, ws, "WeakSet") ? pyobj_attr(r, ws, "data") : 0;
	if (!ws || !pyobj_is(r, ws, "set")) {
		snprintf(
			pt->why, sizeof(pt->why),
			"_asyncio has no task set: a Python without the C Task?");
		pt->modules_used = -1;
		return -ENOENT;
	}
	pt->sets[0] = ws;
	pt->sets[1] = eager && pyobj_is(r, eager, "set") ? eager : 0;
	return 0;
}

/* Adds the tasks of set s (weak references to them when weak). */
static int add_set(struct pytasks *pt, unsigned long long s, bool weak, int n,
		   unsigned int *dropped)
{
	int room = pt->addrs_cap - n, got;

	if (!s)
		return n;
	got = pyobj_set_items(&pt->obj, s, pt->addrs + n, room);
	if (got < 0)
		return n;
	for (int i = 0; i < got; i++)
		if (weak)
			pt->addrs[n + i] = pyobj_ptr(
				&pt->obj, pt->addrs[n + i] + WEAKREF_OBJECT);
	if (got == room)
		(*dropped)++;
	return n + got;
}

/* 3.14+: the tasks on the list whose head is at head. */
static int add_list(struct pytasks *pt, unsigned long long head, int n,
		    unsigned int *dropped)
{
	unsigned long long node = pyobj_ptr(&pt->obj, head);

	for (int k = 0; node && node != head && k < LIST_MAX; k++) {
		if (n >= pt->addrs_cap) {
			(*dropped)++;
			break;
		}
		pt->addrs[n++] = node - pt->lay.task_node;
		node = pyobj_ptr(&pt->obj, node);
	}
	return n;
}

static int add_lists(struct pytasks *pt, unsigned int *dropped)
{
	struct pyobj *r = &pt->obj;
	const struct py_offsets *o = &pt->proc.off;
	unsigned long long interp, ts;
	int n = 0;

	interp = pyobj_ptr(r, pt->proc.runtime + o->runtime_interp_head);
	if (!interp)
		return -EFAULT;
	for (int i = 0; i < INTERPS_MAX && interp; i++) {
		n = add_list(pt, interp + pt->lay.interp_tasks_head, n,
			     dropped);
		ts = pyobj_ptr(r, interp + o->interp_threads_head);
		for (int k = 0; k < THREADS_MAX && ts; k++) {
			n = add_list(pt, ts + pt->lay.tstate_tasks_head, n,
				     dropped);
			ts = pyobj_ptr(r, ts + o->tstate_next);
		}
		interp = pyobj_ptr(r, interp + o->interp_next);
	}
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a;
	unsigned long long y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

/* Room for cap addresses: 0, or -ENOMEM (the room there was stays). */
static int addrs_grow(struct pytasks *pt, int cap)
{
	unsigned long long *a = realloc(pt->addrs, cap * sizeof(*a));

	if (!a)
		return -ENOMEM;
	pt->addrs = a;
	pt->addrs_cap = cap;
	return 0;
}

/* Every task's address, sorted, each once: how many, or -errno. */
static int collect(struct pytasks *pt, unsigned int *dropped)
{
	int n = 0, ret, k = 0;

	if (pt->layout == -EAGAIN) {
		ret = find_layout(pt);
		if (ret)
			return ret;
		pt->layout = 0;
	}
	if (pt->lay.task_lists) {
		/* a full table: a larger one, and the lists again */
		while ((n = add_lists(pt, dropped)) >= 0 && *dropped &&
		       pt->addrs_cap < PYTASKS_MAX &&
		       !addrs_grow(pt, pt->addrs_cap * 4 < PYTASKS_MAX ?
					       pt->addrs_cap * 4 :
					       PYTASKS_MAX))
			*dropped = 0;
	} else {
		/* still the sets found before? (the module can go, and
		 * sys.modules be searched again) */
		if (pt->sets[0] && !pyobj_is(&pt->obj, pt->sets[0], "set")) {
			pt->sets[0] = 0;
			pt->modules_used = -1;
		}
		if (!pt->sets[0]) {
			ret = find_sets(pt);
			if (ret)
				return ret;
		}
		for (;;) {
			n = add_set(pt, pt->sets[0], true, 0, dropped);
			n = add_set(pt, pt->sets[1], false, n, dropped);
			if (!*dropped || pt->addrs_cap >= PYTASKS_MAX ||
			    addrs_grow(pt, pt->addrs_cap * 4 < PYTASKS_MAX ?
						   pt->addrs_cap * 4 :
						   PYTASKS_MAX))
				break;
			*dropped = 0;
		}
	}
	if (n <= 0)
		return n;
	qsort(pt->addrs, n, sizeof(pt->addrs[0]), cmp_u64);
	for (int i = 0; i < n; i++)
		if (pt->addrs[i] && (!k || pt->addrs[i] != pt->addrs[k - 1]))
			pt->addrs[k++] = pt->addrs[i];
	return k;
}

static __u32 code_tag(struct pytasks *pt, unsigned long long code)
{
	struct tag_slot *t = &pt->tags[(code >> 4) % TAGS];

	if (t->code != code) {
		t->code = code;
		t->tag = pystack_code_tag(pt->pid, &pt->proc, code);
		pt->obj.reads++;
	}
	return t->tag;
}

static unsigned long long u64_at(const unsigned char *b, size_t off)
{
	unsigned long long v;

	memcpy(&v, b + off, sizeof(v));
	return v;
}

/* What a suspended frame (its first FRAME_READ bytes in f) awaits. */
static unsigned long long awaited(struct pytasks *pt, unsigned long long frame,
				  const unsigned char *f)
{
	const struct py_offsets *o = &pt->proc.off;
	unsigned long long sp, top_ref;
	int top;

	if (o->frame_stack > FRAME_READ - 8)
		return 0;
	if (o->stack_kind == PY_STACK_TOP_INDEX) {
		memcpy(&top, f + o->frame_stack, sizeof(top));
		if (top <= 0 || top > 1 << 16)
			return 0;
		return pyobj_ptr(&pt->obj,
				 frame + o->frame_localsplus +
					 (unsigned long long)(top - 1) * 8);
	}
	sp = u64_at(f, o->frame_stack);
	if (sp < frame + o->frame_localsplus + 8 || sp > frame + (1 << 20))
		return 0;
	/* _PyStackRef tags in the low bits; 3.15 pushes a NULL above the
	 * awaitable before SEND (it is on top in 3.14) */
	top_ref = pyobj_ptr(&pt->obj, sp - 8) & ~3ULL;
	if (top_ref || sp < frame + o->frame_localsplus + 16)
		return top_ref;
	return pyobj_ptr(&pt->obj, sp - 16) & ~3ULL;
}

/*
 * The coroutine stack of t, outermost first; sets t->state RUNNING when
 * its coroutine executes (the other states come from its waiter).
 */
static void read_stack(struct pytasks *pt, struct py_task *t)
{
	const struct py_offsets *o = &pt->proc.off;
	unsigned char b[256 + FRAME_READ];
	unsigned long long coro = t->coro, type, code, ip, base;
	size_t len = o->gen_iframe + FRAME_READ;
	/* enum _framestate, in every version: CREATED, the SUSPENDED kinds,
	 * EXECUTING, then the done ones from gen_state_done on (the BPF
	 * await-chain walk reads the same py_offsets facts) */
	signed char created = o->gen_state_created,
		    executing = (signed char)(o->gen_state_done - 1);

	if (len > sizeof(b) || o->gen_frame_state >= o->gen_iframe) {
		t->flags |= PYTASK_UNREADABLE;
		return;
	}
	type = pyobj_ptr(&pt->obj, coro + OB_TYPE);
	for (unsigned int level = 0; coro; level++) {
		const unsigned char *f = b + o->gen_iframe;
		signed char st;
		struct py_frame *pf;

		if (level >= PYTASK_FRAMES) {
			t->flags |= PYTASK_TRUNCATED;
			return;
		}
		if (pyobj_read(&pt->obj, coro, b, len) ||
		    u64_at(b, OB_TYPE) != type) {
			t->flags |= PYTASK_UNREADABLE;
			return;
		}
		st = (signed char)b[o->gen_frame_state];
		if (level == 0 && st == executing)
			t->state = PYTASK_RUNNING;
		if (st < created || st > executing)
			return; /* done: its frame is cleared */
		code = u64_at(f, o->frame_code) &
		       ~(unsigned long long)o->code_tag_mask;
		if (!code)
			return;
		ip = u64_at(f, o->frame_instr);
		base = code + o->code_adaptive;
		pf = &t->frames[t->nframes++];
		pf->code = code;
		pf->instr = ip >= base && (ip - base) / 2 < 0x7fffffff ?
				    (__u32)((ip - base) / 2) :
				    0;
		pf->tag = code_tag(pt, code);
		if (st == created || st == executing)
			return; /* running, or not started: awaits nothing */
		coro = awaited(pt, coro + o->gen_iframe, f);
		/* only a coroutine continues the stack: a future (and what
		 * wraps one) ends it */
		if (coro && pyobj_ptr(&pt->obj, coro + OB_TYPE) != type)
			coro = 0;
	}
}

/* The name of t: a str, or an int n meaning "Task-n" (3.13+ make the
 * string only when asked). */
static void read_name(struct pytasks *pt, unsigned long long obj, char *out,
		      size_t len)
{
	long long n;

	if (pyobj_str(&pt->obj, obj, out, len) >= 0 && out[0])
		goto clean;
	if (!pyobj_long(&pt->obj, obj, &n)) {
		snprintf(out, len, "Task-%lld", n);
		return;
	}
	snprintf(out, len, "task at 0x%llx", obj);
	return;
clean:
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
}

/* The task at addr into t: 0, or -ENOENT when it is not a pending Task. */
static int read_task(struct pytasks *pt, unsigned long long addr,
		     struct py_task *t)
{
	const struct asyncio_layout *l = &pt->lay;
	struct pyobj *r = &pt->obj;
	unsigned char b[1024];
	const struct pyobj_type *wt;
	int state;

	if (l->task_size > sizeof(b) || pyobj_read(r, addr, b, l->task_size) ||
	    !pyobj_type_is(r, pyobj_type_of(r, addr), "_asyncio.Task"))
		return -ENOENT;
	memcpy(&state, b + l->state, sizeof(state));
	if (state != 0) /* done or cancelled: not in any tree any more */
		return -ENOENT;
	memset(t, 0, offsetof(struct py_task, frames));
	t->addr = addr;
	t->loop = u64_at(b, l->loop);
	t->coro = u64_at(b, l->coro);
	t->waiter = u64_at(b, l->waiter);
	read_name(pt, u64_at(b, l->name), t->name, sizeof(t->name));
	t->state = t->waiter ? PYTASK_WAITING : PYTASK_READY;
	if (l->awaited_by) {
		t->awaiter_obj = u64_at(b, l->awaited_by);
		t->awaiter_set = b[l->awaited_by_is_set];
	}
	if (t->waiter && (wt = pyobj_type_of(r, t->waiter))) {
		snprintf(t->waiter_type, sizeof(t->waiter_type), "%s",
			 wt->name);
		t->awaits = pyobj_type_is(r, wt, "_asyncio.Task") ?
				    PYAWAIT_TASK :
			    pyobj_type_is(r, wt, "_GatheringFuture") ?
				    PYAWAIT_GATHER :
				    PYAWAIT_FUTURE;
	}
	if (t->coro)
		read_stack(pt, t);
	return 0;
}

/* The index of the task at addr in t[0..n) (sorted by address), or -1. */
static int find(const struct py_task *t, int n, unsigned long long addr)
{
	int lo = 0, hi = n - 1;

	while (addr && lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		if (t[mid].addr == addr)
			return mid;
		if (t[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

static void add_awaiter(struct py_task *t, int child, int parent)
{
	struct py_task *c = &t[child];

	if (child < 0 || parent < 0 || child == parent)
		return;
	for (int i = 0; i < c->nawaited_by; i++)
		if (c->awaited_by[i] == parent)
			return;
	if (c->nawaited_by < PYTASK_AWAITERS)
		c->awaited_by[c->nawaited_by++] = parent;
}

/* The tasks (and gathers of them) gathered in fut: awaited by parent. */
static void link_gather(struct pytasks *pt, struct py_task *t, int n,
			int parent, unsigned long long fut, int depth)
{
	unsigned long long kids[PYTASK_CHILDREN];
	unsigned long long list = pyobj_attr(&pt->obj, fut, "_children");
	int k = list && pyobj_is(&pt->obj, list, "list") ?
			pyobj_list_items(&pt->obj, list, kids,
					 PYTASK_CHILDREN) :
			0;

	for (int i = 0; i < k; i++) {
		int j = find(t, n, kids[i]);

		if (j >= 0)
			add_awaiter(t, j, parent);
		else if (depth < GATHER_DEPTH &&
			 pyobj_is(&pt->obj, kids[i], "_GatheringFuture"))
			link_gather(pt, t, n, parent, kids[i], depth + 1);
	}
}

/* A TaskGroup's child: its first done callback is the group's
 * _on_task_done, and the group knows the task it runs in. */
static int taskgroup_parent(struct pytasks *pt, const struct py_task *c,
			    const struct py_task *t, int n)
{
	struct pyobj *r = &pt->obj;
	unsigned long long cb = pyobj_ptr(r, c->addr + FUTURE_CALLBACK0), tg;

	if (!cb || !pyobj_is(r, cb, "method"))
		return -1;
	tg = pyobj_ptr(r, cb + METHOD_SELF);
	if (!tg || !pyobj_is(r, tg, "TaskGroup"))
		return -1;
	return find(t, n, pyobj_attr(r, tg, "_parent_task"));
}

/* Who awaits whom, into awaited_by and nawaiting. */
static void link(struct pytasks *pt, struct py_task *t, int n)
{
	unsigned long long ab[PYTASK_AWAITERS * 4];

	for (int i = 0; i < n; i++) {
		int k = 0;

		if (pt->lay.task_lists) {
			/* 3.14+: the task says, gathers and groups too */
			if (t[i].awaiter_set && t[i].awaiter_obj)
				k = pyobj_set_items(&pt->obj, t[i].awaiter_obj,
						    ab, PYTASK_AWAITERS * 4);
			else if (t[i].awaiter_obj)
				ab[k++] = t[i].awaiter_obj;
			for (int a = 0; a < k; a++)
				add_awaiter(t, i, find(t, n, ab[a]));
		} else if (t[i].awaits == PYAWAIT_TASK) {
			add_awaiter(t, find(t, n, t[i].waiter), i);
		} else if (t[i].awaits == PYAWAIT_GATHER) {
			link_gather(pt, t, n, i, t[i].waiter, 0);
		}
	}
	for (int i = 0; i < n && !pt->lay.task_lists; i++)
		if (!t[i].nawaited_by)
			add_awaiter(t, i, taskgroup_parent(pt, &t[i], t, n));
	for (int i = 0; i < n; i++)
		for (int a = 0; a < t[i].nawaited_by; a++)
			t[t[i].awaited_by[a]].nawaiting++;
}

int pytasks_read(struct pytasks *pt, struct py_task *out, int max,
		 struct pytasks_stats *st)
{
	unsigned long long t0 = now_ns(), reads0 = pt->obj.reads;
	int n, k = 0;

	memset(st, 0, sizeof(*st));
	if (pt->layout == -ENOTSUP)
		return -ENOTSUP;
	pyobj_forget(&pt->obj);
	memset(pt->tags, 0, sizeof(pt->tags));
	n = collect(pt, &st->dropped);
	for (int i = 0; i < n; i++) {
		if (k >= max) {
			st->dropped++;
			continue;
		}
		if (!read_task(pt, pt->addrs[i], &out[k]))
			k++;
	}
	if (n >= 0)
		link(pt, out, k);
	st->found = k;
	st->reads = pt->obj.reads - reads0;
	st->ns = now_ns() - t0;
	return n < 0 ? n : k;
}
