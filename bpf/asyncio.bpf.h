/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Part of profile.bpf.c: asyncio task steps and await latency (async).
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
	__u64 coro, start;
	struct py_frame code;
};

/* tid -> the step it is running (steps do not nest on a thread). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct step_ctx);
} steps SEC(".maps");

/* coroutine -> where it is suspended. LRU: a task that is never resumed
 * (cancelled, or its loop stopped) ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct await_chain);
} suspended_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct await_chain);
} chain_scratch SEC(".maps");

/*
 * The code, instruction and tag of the interpreter frame at addr. known:
 * a frame whose code's tag is known already (the step's own coroutine),
 * or NULL: its tag is not read again (one read less per step).
 */
static __always_inline bool read_iframe(struct walk_scratch *s,
					const struct py_proc *proc, __u64 addr,
					struct py_frame *out,
					const struct py_frame *known)
{
	const struct py_offsets *o = &proc->off;
	__u64 code, ip, base, instr;

	if (bpf_probe_read_user(s->chunk, sizeof(s->chunk), (void *)addr))
		return false;
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

struct chain_ctx {
	struct walk_scratch *s;
	const struct py_proc *proc;
	struct await_chain *c;
	__u64 obj;  /* the coroutine at this level */
	__u64 type; /* the task coroutine's type: deeper levels must match */
	const struct py_frame *known; /* level 0's code and tag, if known */
};

/* One level: record obj's frame, then step to what it awaits. */
static long chain_step(__u32 i, void *data)
{
	struct chain_ctx *x = data;
	const struct py_offsets *o = &x->proc->off;
	__u64 frame = x->obj + o->gen_iframe, yf = 0;
	__u32 n = x->c->n;

	if (n >= AWAIT_DEPTH ||
	    !read_iframe(x->s, x->proc, frame, &x->c->frames[n & (AWAIT_DEPTH - 1)],
			 n ? NULL : x->known))
		return 1;
	x->c->n = n + 1;
	if (o->stack_kind == PY_STACK_TOP_INDEX) {
		__s32 top = (__s32)chunk_u64(x->s->chunk, o->frame_stack);

		if (top <= 0 || top > 1 << 16)
			return 1;
		yf = read_ptr(frame + o->frame_localsplus + (__u64)(top - 1) * 8);
	} else if (o->stack_kind == PY_STACK_POINTER) {
		__u64 sp = chunk_u64(x->s->chunk, o->frame_stack);

		if (sp <= frame + o->frame_localsplus || sp > frame + (1 << 20))
			return 1;
		yf = read_ptr(sp - 8) & ~(__u64)3; /* _PyStackRef tag bits */
	}
	if (n == 0 && yf)
		x->c->_pad = 1; /* the task awaits something: suspended */
	/* Only a coroutine continues the chain; a Future, a Task or a
	 * compiled (Cython) awaitable ends it. */
	if (!yf || read_ptr(yf + 8) != x->type)
		return 1;
	x->obj = yf;
	return 0;
}

static __always_inline bool steps_enabled(const struct py_proc *proc)
{
	return proc->runtime && proc->off.gen_iframe != PY_OFF_NONE;
}

/*
 * The step open on this thread ended (the thread started another step or
 * went back to its poll, whichever came first: the step itself plus what
 * little the loop did after it). Sends it; if the coroutine is suspended,
 * keeps where (its await chain) until its next step. Done here rather than
 * with a uretprobe: a return probe is a second trap per step.
 */
static __always_inline void step_end(const struct py_proc *proc, __u32 tgid,
				     __u32 tid, __u64 now)
{
	struct step_ctx *sc;
	struct step_event *e;
	struct await_chain *c;
	struct walk_scratch *s;
	__u32 zero = 0;
	int suspended = 0;

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
			.s = s, .proc = proc, .c = c, .obj = sc->coro,
			.type = read_ptr(sc->coro + 8), .known = &sc->code,
		};

		c->n = 0;
		c->since = now;
		c->_pad = 0;
		bpf_loop(AWAIT_DEPTH, chain_step, &x, 0);
		/* Suspended: the coroutine still runs the code it ran (not
		 * freed and reused) and awaits something. A finished one has
		 * an empty value stack. */
		suspended = c->n && c->frames[0].code == sc->code.code && c->_pad;
		if (suspended)
			bpf_map_update_elem(&suspended_map, &sc->coro, c, BPF_ANY);
	}
	e = step_events ? bpf_ringbuf_reserve(&events, sizeof(*e), 0) : NULL;
	if (e) {
		e->type = EV_STEP;
		e->pid = tgid;
		e->tid = tid;
		e->result = suspended;
		e->start = sc->start;
		e->ns = now - sc->start;
		e->coro = sc->coro;
		e->code = sc->code;
		bpf_ringbuf_submit(e, 0);
	} else if (step_events) {
		stat_inc(STAT_STEP_LOST);
	}
	bpf_map_delete_elem(&steps, &tid);
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
	struct asyncio_text *txt;
	struct step_ctx sc = {};
	struct await_chain *w;
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
	sc.code.instr = 0;
	bpf_map_update_elem(&steps, &tid, &sc, BPF_ANY);

	w = bpf_map_lookup_elem(&suspended_map, &coro);
	if (w) {
		struct await_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

		if (e) {
			e->type = EV_AWAIT;
			e->pid = tgid;
			e->tid = tid;
			e->n = w->n > AWAIT_DEPTH ? AWAIT_DEPTH : w->n;
			e->ktime = now;
			e->ns = now - w->since;
			e->coro = coro;
			__builtin_memcpy(e->frames, w->frames, sizeof(e->frames));
			bpf_ringbuf_submit(e, 0);
		} else {
			stat_inc(STAT_STEP_LOST);
		}
		bpf_map_delete_elem(&suspended_map, &coro);
	}
	return 0;
}

#endif /* PYROGRAPH_ASYNCIO_BPF_H */
