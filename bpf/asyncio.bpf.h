/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Part of profile.bpf.c: asyncio task steps, await chains and await
 * latency (async, the agent's metrics).
 */
#ifndef PYROGRAPH_ASYNCIO_BPF_H
#define PYROGRAPH_ASYNCIO_BPF_H

/* pid -> where its _asyncio module's code lies (set by userspace). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct asyncio_text);
} asyncio_text SEC(".maps");

struct step_ctx {
	__u64 coro, start, born;
	struct py_frame code;
	__u32 first_instr;
	__u32 _pad;
	/* its loop iteration's start, and the iteration's off-CPU and
	 * preempted times when the step began (loops.bpf.h) */
	__u64 iter, off0, pre0;
};

/* tid -> the step it is running (steps do not nest on a thread). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct step_ctx);
} steps SEC(".maps");

/* Where a task is suspended, and since when. */
struct suspension {
	__u64 since, born;
	__u64 chain; /* hash of its await chain */
	__u64 code;  /* its coroutine's code: a freed and reused coroutine
		      * object runs other code */
	__u32 first_instr;
	__u32 _pad;
};

/* task -> where it is suspended. LRU: a task that is never resumed
 * (cancelled: its last step is a throw(), not traced; or its loop
 * stopped) ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct task_key);
	__type(value, struct suspension);
} suspended_map SEC(".maps");

/* Chains userspace was sent (EV_CHAIN): later ones go by their hash.
 * Userspace deletes an entry, or clears the map, to have a chain sent
 * again (it forgot it). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct chain_key);
	__type(value, __u8);
} chain_seen SEC(".maps");

/* The chain being walked: 2 KiB, too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct chain_event);
} chain_scratch SEC(".maps");

/*
 * The code, instruction and tag of the interpreter frame at addr; the
 * frame's first FRAME_CHUNK bytes stay in s->chunk. known: a frame whose
 * code's tag is known already (the step's own coroutine), or NULL: its tag
 * is not read again (one read less per step).
 */
static __always_inline bool read_iframe(struct walk_scratch *s,
					const struct py_proc *proc, __u64 addr,
					struct py_frame *out,
					const struct py_frame *known)
{
	const struct py_offsets *o = &proc->off;
	__u64 code, ip, base, instr;

	__u32 len = 4096 - (__u32)(addr & 4095);

	/*
	 * A small coroutine's frame ends before the chunk does: past it may
	 * be a page never touched, which cannot be read here (and a read
	 * that faults is slow). The frame is all in touched memory: when its
	 * fields end in this page, read only up to the page's end (the rest
	 * of the chunk zero: no field there).
	 */
	if (len < FRAME_CHUNK && len >= o->frame_localsplus + 8U) {
		__builtin_memset(s->chunk, 0, sizeof(s->chunk));
		len &= FRAME_CHUNK - 1;
		if (bpf_probe_read_user(s->chunk, len, (void *)addr))
			return false;
	} else if (bpf_probe_read_user(s->chunk, sizeof(s->chunk), (void *)addr)) {
		return false;
	}
	code = chunk_u64(s->chunk, o->frame_code) & ~(__u64)o->code_tag_mask;
	if (!code)
		return false;
	ip = chunk_u64(s->chunk, o->frame_instr);
	base = code + o->code_adaptive;
	instr = ip >= base ? (ip - base) / 2 : 0;
	out->code = code;
	out->instr = instr > 0x7fffffff ? 0x7fffffff : (__u32)instr;
	out->tag = known && known->code == code ? known->tag :
						  code_tag(s, proc, code);
	return true;
}

/*
 * The top of the value stack of the frame at addr, whose first bytes are
 * in s->chunk: what a suspended coroutine awaits. 0: empty or unknown.
 */
static __always_inline __u64 frame_stack_top(struct walk_scratch *s,
					     const struct py_offsets *o,
					     __u64 addr)
{
	__u64 slot;

	/* The top itself is read from the process, not from the chunk: a
	 * slot in the chunk at a variable offset made the verifier explore
	 * every offset in every level of the chain walk (0.2 s more to load
	 * each program that ends a step). */
	if (o->stack_kind == PY_STACK_TOP_INDEX) {
		__s32 top = (__s32)chunk_u64(s->chunk, o->frame_stack);

		if (top <= 0 || top > 1 << 16)
			return 0;
		slot = o->frame_localsplus + (__u64)(top - 1) * 8;
		return read_ptr(addr + slot);
	}
	if (o->stack_kind == PY_STACK_POINTER) {
		__u64 sp = chunk_u64(s->chunk, o->frame_stack);

		if (sp <= addr + o->frame_localsplus || sp > addr + (1 << 20))
			return 0;
		/* _PyStackRef: its low bits are tags. 3.15 pushes a NULL
		 * above the awaitable before SEND (on top in 3.14), as
		 * pytasks.c reads it too. */
		slot = read_ptr(sp - 8) & ~(__u64)3;
		if (slot || sp < addr + o->frame_localsplus + 16)
			return slot;
		return read_ptr(sp - 16) & ~(__u64)3;
	}
	return 0;
}

enum coro_state { CORO_UNKNOWN, CORO_CREATED, CORO_SUSPENDED, CORO_DONE };

/*
 * What gi_frame_state says of the coroutine at coro: never run, suspended,
 * or finished. Where it is not known, or the byte cannot be read:
 * CORO_UNKNOWN (callers fall back on its value stack).
 */
static __always_inline enum coro_state coro_state(const struct py_offsets *o,
						  __u64 coro)
{
	__s8 st;

	if (o->gen_frame_state == PY_OFF_NONE ||
	    bpf_probe_read_user(&st, 1, (void *)(coro + o->gen_frame_state)))
		return CORO_UNKNOWN;
	if (st == o->gen_state_created)
		return CORO_CREATED;
	if (st >= o->gen_state_done)
		return CORO_DONE;
	return st > o->gen_state_created ? CORO_SUSPENDED : CORO_UNKNOWN;
}

/* The chain walk's context. What changes from level to level lives in
 * the per-CPU scratch (s->c_*), not here on the stack: loaded from a map,
 * it is unknown to the verifier, which then verifies chain_step a few
 * times rather than once per state it could tell apart (60 passes and
 * ~0.1 s of async's start-up, before). */
struct chain_ctx {
	struct walk_scratch *s;
	const struct py_proc *proc;
	struct chain_event *c;
	__u64 type;  /* the task coroutine's type: deeper levels must match */
	const struct py_frame *known; /* level 0's code and tag, if known */
};

/* One level: record obj's frame, then step to what it awaits. */
static long chain_step(__u32 i, void *data)
{
	struct chain_ctx *x = data;
	struct walk_scratch *s = x->s;
	const struct py_offsets *o = &x->proc->off;
	__u64 frame = s->c_obj + o->gen_iframe, yf;
	struct py_frame *f;
	__u32 n = x->c->n;

	if (n >= AWAIT_STEPS) {
		s->c_more = 1;
		return 1;
	}
	f = &x->c->frames[n & (AWAIT_DEPTH - 1)];
	if (!read_iframe(s, x->proc, frame, f, n ? NULL : x->known))
		return 1;
	x->c->n = n + 1;
	s->c_hash = (s->c_hash ^ f->code) * 0x100000001b3ULL;
	s->c_hash = (s->c_hash ^ ((__u64)f->tag << 32 | f->instr)) * 0x100000001b3ULL;
	yf = frame_stack_top(s, o, frame);
	if (n == 0)
		s->c_awaits = yf != 0;
	/* Only a coroutine continues the chain; a Future, a Task or a
	 * compiled (Cython) awaitable ends it. */
	if (!yf || read_ptr(yf + 8) != x->type)
		return 1;
	s->c_obj = yf;
	return 0;
}

static __always_inline bool steps_enabled(const struct py_proc *proc)
{
	return proc->runtime && proc->off.gen_iframe != PY_OFF_NONE;
}

/* The chain just walked into c, sent unless this process was sent it
 * before. */
static __always_inline void chain_send(struct chain_event *c, __u32 tgid)
{
	struct chain_key k = { .hash = c->hash, .pid = tgid };
	__u32 n = c->n > AWAIT_DEPTH ? AWAIT_DEPTH : c->n;
	__u8 one = 1;

	if (bpf_map_lookup_elem(&chain_seen, &k))
		return;
	c->type = EV_CHAIN;
	c->pid = tgid;
	if (bpf_ringbuf_output(&events, c,
			       offsetof(struct chain_event, frames) +
				       (n & (2 * AWAIT_DEPTH - 1)) *
					       sizeof(struct py_frame),
			       ring_flags(false))) {
		stat_inc(STAT_CHAIN_LOST);
		return;
	}
	bpf_map_update_elem(&chain_seen, &k, &one, BPF_ANY);
}

/*
 * The step open on this thread ended (the thread started another step or
 * went back to its poll, whichever came first: the step itself plus what
 * little the loop did after it). Sends it; if the coroutine is suspended,
 * walks its await chain (sent once per process, then named by its hash)
 * and keeps where and since when until its next step. Done here rather
 * than with a uretprobe: a return probe is a second trap per step.
 */
static __always_inline void step_end(const struct py_proc *proc, __u32 tgid,
				     __u32 tid, __u64 now)
{
	struct step_ctx *sc;
	struct step_event *e;
	struct chain_event *c;
	struct walk_scratch *s;
	__u32 zero = 0;
	int result = -1;

	if (!track_steps)
		return;
	sc = bpf_map_lookup_elem(&steps, &tid);
	if (!sc)
		return;
	if (!proc)
		proc = bpf_map_lookup_elem(&procs, &tgid);
	c = bpf_map_lookup_elem(&chain_scratch, &zero);
	s = scratch_get();
	if (proc && c && s && steps_enabled(proc) &&
	    proc->off.stack_kind != PY_STACK_NONE) {
		struct chain_ctx x = {
			.s = s, .proc = proc, .c = c,
			.type = read_ptr(sc->coro + 8), .known = &sc->code,
		};

		enum coro_state st = coro_state(&proc->off, sc->coro);

		c->n = 0;
		c->flags = 0;
		s->c_obj = sc->coro;
		s->c_hash = 0xcbf29ce484222325ULL;
		s->c_awaits = 0;
		s->c_more = 0;
		/* a finished coroutine's value stack may still hold what it
		 * last awaited (3.11): its state says it is done */
		if (st != CORO_DONE)
			bpf_loop(AWAIT_STEPS + 1, chain_step, &x, 0);
		/* Suspended: the coroutine still runs the code it ran (not
		 * freed and reused) and awaits something. */
		if (st == CORO_DONE)
			result = 0;
		else if (c->n)
			result = c->frames[0].code == sc->code.code && s->c_awaits &&
				 st != CORO_CREATED;
		if (result == 1) {
			struct task_key k = { .coro = sc->coro, .pid = tgid };
			struct suspension w = {
				.since = now, .born = sc->born,
				.chain = s->c_hash ^ c->n, .code = sc->code.code,
				.first_instr = sc->first_instr,
			};

			c->hash = w.chain;
			if (s->c_more) {
				c->flags = AWAIT_TRUNCATED;
				stat_inc(STAT_CHAIN_DEEP);
			}
			chain_send(c, tgid);
			bpf_map_update_elem(&suspended_map, &k, &w, BPF_ANY);
		}
	}
	/* without every step, still each task's end: its life (metrics) */
	e = step_events || result == 0 ?
		    bpf_ringbuf_reserve(&events, sizeof(*e), 0) : NULL;
	if (e) {
		struct loop_state *ls = bpf_map_lookup_elem(&loops, &tid);

		/* off the CPU during the step: what its iteration counted
		 * since it began (the same iteration: the step ends at the
		 * latest when its thread polls again) */
		e->off_ns = e->preempt_ns = 0;
		if (ls && sc->iter && ls->iter_start == sc->iter &&
		    ls->off_ns >= sc->off0 && ls->off_ns - sc->off0 <= now - sc->start) {
			e->off_ns = ls->off_ns - sc->off0;
			if (ls->preempt_ns >= sc->pre0 &&
			    ls->preempt_ns - sc->pre0 <= e->off_ns)
				e->preempt_ns = ls->preempt_ns - sc->pre0;
		}
		e->type = EV_STEP;
		e->pid = tgid;
		e->tid = tid;
		e->result = result;
		e->start = sc->start;
		e->ns = now - sc->start;
		e->coro = sc->coro;
		e->born = sc->born;
		e->code = sc->code;
		e->first_instr = sc->first_instr;
		e->_pad = 0;
		bpf_ringbuf_submit(e, ring_flags(false));
	} else if (step_events || result == 0) {
		stat_inc(STAT_STEP_LOST);
	}
	bpf_map_delete_elem(&steps, &tid);
}

/* The start of the loop iteration thread tid is in, or now. */
static __always_inline __u64 iteration_start(__u32 tid, __u64 now)
{
	struct loop_state *ls = bpf_map_lookup_elem(&loops, &tid);

	return ls && ls->iter_start && ls->iter_start <= now ? ls->iter_start : now;
}

/* Where thread tid's iteration is as step sc begins (see step_ctx). */
static __always_inline void step_loop_times(__u32 tid, struct step_ctx *sc)
{
	struct loop_state *ls = bpf_map_lookup_elem(&loops, &tid);

	if (ls && ls->iter_start) {
		sc->iter = ls->iter_start;
		sc->off0 = ls->off_ns;
		sc->pre0 = ls->preempt_ns;
	}
}

/* A suspended task resumes: how long it waited, at which chain, and how
 * much of that it was ready (since its loop iteration began). */
static __always_inline void task_resumed(__u32 tgid, __u32 tid, __u64 coro,
					 __u64 now, const struct suspension *w)
{
	struct await_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	__u64 ready = iteration_start(tid, now);

	if (!e) {
		stat_inc(STAT_STEP_LOST);
		return;
	}
	if (ready < w->since)
		ready = w->since;
	e->type = EV_AWAIT;
	e->pid = tgid;
	e->tid = tid;
	e->_pad = 0;
	e->ktime = now;
	e->ns = now - w->since;
	e->queued_ns = now - ready;
	e->coro = coro;
	e->chain = w->chain;
	bpf_ringbuf_submit(e, ring_flags(false));
}

/*
 * A task step begins: _asyncio calls PyIter_Send(coro, ...). The probe is
 * where userspace could put it most cheaply (see record.c): at a call
 * instruction in _asyncio (the return address is not there yet), at the
 * PLT stub or at PyIter_Send's entry (it is: arch_entry_return_addr());
 * asyncio_text says which callers count.
 */
SEC("uprobe")
int BPF_KPROBE(py_send_enter, __u64 coro) /* BPF_UPROBE: libbpf >= 1.2 */
{
	__u64 id = bpf_get_current_pid_tgid(), now, ret;
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct task_key k = { .coro = coro, .pid = tgid };
	enum coro_state state;
	struct asyncio_text *txt;
	struct step_ctx sc = {};
	struct suspension *w;
	struct walk_scratch *s;
	struct py_proc *proc;

	txt = bpf_map_lookup_elem(&asyncio_text, &tgid);
	if (!txt)
		return 0;
	if (txt->lo || txt->hi != ~0ULL) {
		ret = arch_entry_return_addr(ctx);
		if (ret < txt->lo || ret >= txt->hi)
			return 0;
	}
	proc = bpf_map_lookup_elem(&procs, &tgid);
	s = scratch_get();
	if (!proc || !steps_enabled(proc) || !s || !coro)
		return 0;
	now = bpf_ktime_get_ns();
	step_end(proc, tgid, tid, now);
	sc.coro = coro;
	sc.start = now;
	read_iframe(s, proc, coro + proc->off.gen_iframe, &sc.code, NULL);
	sc.first_instr = sc.code.instr;
	sc.code.instr = 0;

	w = bpf_map_lookup_elem(&suspended_map, &k);
	state = coro_state(&proc->off, coro);
	/* a coroutine never run is a new task, whatever an older one at the
	 * same address left here */
	if (w && w->code == sc.code.code && state != CORO_CREATED) {
		sc.born = w->born;
		sc.first_instr = w->first_instr;
		task_resumed(tgid, tid, coro, now, w);
	} else if (state == CORO_CREATED) {
		/* its first step: the task was created (create_task schedules
		 * the first step) at most an iteration before */
		sc.born = iteration_start(tid, now);
	} else {
		sc.born = 0; /* it began before it was seen: its life is not known */
	}
	if (w)
		bpf_map_delete_elem(&suspended_map, &k);
	step_loop_times(tid, &sc);
	bpf_map_update_elem(&steps, &tid, &sc, BPF_ANY);
	return 0;
}

#endif /* PYROGRAPH_ASYNCIO_BPF_H */
