/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The Python stack walker. It lives here and only here: every program that
 * needs a Python stack calls py_find_tstate() and py_walk_stack().
 *
 * All reads of target memory go through bpf_probe_read_user(); every value
 * read is treated as hostile (the target may be corrupt or lying), so every
 * loop is bounded and every offset comes from the per-process py_proc entry
 * that userspace validated.
 */
#ifndef PYROGRAPH_PYWALK_BPF_H
#define PYROGRAPH_PYWALK_BPF_H

#include "profile.h"
#include "arch.bpf.h"

/* Bytes of an interpreter frame read in one go; covers every field we need. */
#define FRAME_CHUNK 128

struct walk_scratch {
	struct sample_event ev;
	/* --native: the user stack copy continues past ev.frames[nframes] */
	__u8 ustack_tail[MAX_USTACK];
	__u8 chunk[FRAME_CHUNK];
	__u8 codebuf[TAG_CHUNK];
	__u64 hash; /* of the frames walked (stacks counted in the kernel) */
	/* the outermost frame owned by a coroutine (or generator), and its
	 * index in ev.frames + 1 (0: none): where record --tasks finds the
	 * running task (the frame lives inside the coroutine object) */
	__u64 coro_frame;
	__u32 coro_index;
	/* The walk's running state (walk_step). Kept here, not in the
	 * loop's context on the stack: values loaded from a map are unknown
	 * to the verifier, so it verifies the loop body a few times instead
	 * of once per frame count and flag combination it could tell apart
	 * (35 passes, 0.3 s of every start-up, before). */
	__u64 w_frame;
	__u64 w_hash;
	__u32 w_n;
	__u32 w_flags;
	/* the await-chain walk's (asyncio.bpf.h chain_step), likewise */
	__u64 c_obj;  /* the coroutine at this level */
	__u64 c_hash;
	__u8 c_awaits; /* the task's own coroutine awaits something */
	__u8 c_more;   /* stopped at AWAIT_STEPS with a coroutine left */
};

/*
 * One scratch area per CPU, indexed by CPU id. Not a per-CPU array: its
 * values are limited to 32 KiB, and the --native stack copy does not fit.
 * Userspace sets max_entries to the number of possible CPUs.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk_scratch);
} walk_scratch SEC(".maps");

static __always_inline struct walk_scratch *scratch_get(void)
{
	__u32 cpu = bpf_get_smp_processor_id();

	return bpf_map_lookup_elem(&walk_scratch, &cpu);
}

/* tid -> PyThreadState *, re-validated on every use. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} tstate_cache SEC(".maps");

static __always_inline __u64 read_ptr(__u64 addr)
{
	__u64 v = 0;

	if (bpf_probe_read_user(&v, sizeof(v), (void *)addr))
		return 0;
	return v;
}

struct tscan_ctx {
	const struct py_offsets *off;
	__u64 tstate;
	__u64 want; /* pthread id == TLS base of the sampled thread */
	__u64 found;
};

static long tscan_step(__u32 i, void *data)
{
	struct tscan_ctx *c = data;
	__u64 tid;

	if (!c->tstate)
		return 1;
	tid = read_ptr(c->tstate + c->off->tstate_thread_id);
	if (tid == c->want) {
		c->found = c->tstate;
		return 1;
	}
	c->tstate = read_ptr(c->tstate + c->off->tstate_next);
	return 0;
}

/*
 * Finds the PyThreadState of the current thread by comparing each thread
 * state's thread_id (pthread_self()) with the task's TLS base. Unlike the TLS
 * variable this works while the thread has released the GIL. The result is
 * cached per tid and re-validated with one read.
 */
static __noinline __u64 py_find_tstate(const struct py_proc *proc, __u32 tid)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	const struct py_offsets *off = &proc->off;
	struct tscan_ctx c = {};
	__u64 *cached, interp;

	c.want = arch_task_tls_base(task);
	if (!c.want)
		return 0;
	cached = bpf_map_lookup_elem(&tstate_cache, &tid);
	if (cached && *cached &&
	    read_ptr(*cached + off->tstate_thread_id) == c.want)
		return *cached;

	c.off = off;
	interp = read_ptr(proc->runtime + off->runtime_interp_head);
	/* Sub-interpreters are rare; look at the first few. */
	for (int i = 0; i < 4 && interp; i++) {
		c.tstate = read_ptr(interp + off->interp_threads_head);
		bpf_loop(MAX_THREAD_SCAN, tscan_step, &c, 0);
		if (c.found) {
			bpf_map_update_elem(&tstate_cache, &tid, &c.found,
					    BPF_ANY);
			return c.found;
		}
		interp = read_ptr(interp + off->interp_next);
	}
	return 0;
}

struct walk_ctx {
	struct walk_scratch *s;
	const struct py_proc *proc;
};

/* _PyInterpreterFrame.owner of a generator's or coroutine's frame
 * (FRAME_OWNED_BY_GENERATOR: 1 in 3.11-3.15). */
#define PY_OWNER_GENERATOR 1

_Static_assert(FRAME_CHUNK == TAG_CHUNK, "chunk_u64 serves both buffers");

/* 8 bytes at off of a FRAME_CHUNK-sized scratch buffer; 0 when out of range. */
static __always_inline __u64 chunk_u64(const __u8 *chunk, __u16 off)
{
	__u64 v = 0;

	if (off > FRAME_CHUNK - 8)
		return 0;
	__builtin_memcpy(&v, chunk + (off & (FRAME_CHUNK - 1)), 8);
	return v;
}

/* See include/pytag.h: one read of the code object, hashed. */
static __always_inline __u32 code_tag(struct walk_scratch *s,
				      const struct py_proc *p, __u64 code)
{
	__u32 len = p->tag_len, first;

	if (len == 0 || len > TAG_CHUNK)
		return 0;
	if (bpf_probe_read_user(s->codebuf, len & (TAG_CHUNK - 1) ?: TAG_CHUNK,
				(void *)(code + p->tag_start)))
		return 0;
	first = (__u32)chunk_u64(s->codebuf, p->tag_first);
	if (p->tag_first > TAG_CHUNK - 8) /* the int may sit at the very end */
		return 0;
	return py_code_tag(first, chunk_u64(s->codebuf, p->tag_file),
			   chunk_u64(s->codebuf, p->tag_name),
			   chunk_u64(s->codebuf, p->tag_lt));
}

static long walk_step(__u32 i, void *data)
{
	struct walk_ctx *c = data;
	const struct py_offsets *o = &c->proc->off;
	struct walk_scratch *s = c->s;
	__u64 code, prev, instr = 0;
	__u32 tag = 0, n;
	__u16 off;

	if (!s->w_frame)
		return 1;
	if (s->w_n >= MAX_PY_FRAMES) {
		s->w_flags |= SAMPLE_TRUNCATED;
		return 1;
	}
	if (bpf_probe_read_user(s->chunk, sizeof(s->chunk), (void *)s->w_frame)) {
		/* The chunk may run past the end of a mapping: retry small. */
		__builtin_memset(s->chunk, 0, sizeof(s->chunk));
		off = o->frame_code;
		if (off > FRAME_CHUNK - 8 ||
		    bpf_probe_read_user(s->chunk + (off & (FRAME_CHUNK - 1)), 8,
					(void *)(s->w_frame + off))) {
			s->w_flags |= SAMPLE_READ_ERROR;
			return 1;
		}
		off = o->frame_previous;
		if (off <= FRAME_CHUNK - 8)
			bpf_probe_read_user(s->chunk + (off & (FRAME_CHUNK - 1)),
					    8, (void *)(s->w_frame + off));
		off = o->frame_instr;
		if (off <= FRAME_CHUNK - 8)
			bpf_probe_read_user(s->chunk + (off & (FRAME_CHUNK - 1)),
					    8, (void *)(s->w_frame + off));
		off = o->frame_owner;
		if (off <= FRAME_CHUNK - 8)
			bpf_probe_read_user(s->chunk + (off & (FRAME_CHUNK - 1)),
					    1, (void *)(s->w_frame + off));
	}
	code = chunk_u64(s->chunk, o->frame_code) & ~(__u64)o->code_tag_mask;
	prev = chunk_u64(s->chunk, o->frame_previous);
	if (o->frame_owner != PY_OFF_NONE && o->frame_owner < FRAME_CHUNK) {
		__u8 owner = s->chunk[o->frame_owner & (FRAME_CHUNK - 1)];

		/* track_tasks is a load-time constant: without --tasks the
		 * verifier drops this, and the walk verifies as before */
		if (track_tasks && owner == PY_OWNER_GENERATOR && code) {
			s->coro_frame = s->w_frame;
			s->coro_index = s->w_n + 1;
		}
		if (owner >= o->owner_skip_min) {
			/* Entry/shim frame owned by the C stack: not Python
			 * code, but it says the frame before it (inner) was
			 * the first of an eval-loop call. */
			n = s->w_n;
			if (n > 0 && n <= MAX_PY_FRAMES)
				s->ev.frames[(n - 1) & (MAX_PY_FRAMES - 1)].instr |=
					PY_INSTR_ENTRY;
			s->w_frame = prev;
			return 0;
		}
	}
	if (prev == s->w_frame) {
		/* A frame that is its own parent: corrupt chain. */
		s->w_flags |= SAMPLE_READ_ERROR;
		prev = 0;
	}
	if (!code) {
		s->w_frame = prev;
		return 0;
	}
	if (o->instr_kind == PY_INSTR_PTR) {
		__u64 ip = chunk_u64(s->chunk, o->frame_instr);
		__u64 base = code + o->code_adaptive;

		instr = ip >= base ? (ip - base) / 2 : 0;
		if (instr > 0xffffffffULL)
			instr = 0xffffffff;
	} else {
		instr = (__u32)chunk_u64(s->chunk, o->frame_instr);
	}
	tag = code_tag(s, c->proc, code);

	n = s->w_n;
	if (n < MAX_PY_FRAMES) {
		struct py_frame *f = &s->ev.frames[n & (MAX_PY_FRAMES - 1)];

		f->code = code;
		f->instr = (__u32)instr;
		if (instr > 0x7fffffff && o->instr_kind == PY_INSTR_PTR)
			f->instr = 0x7fffffff;
		if (o->frame_is_entry < FRAME_CHUNK &&
		    s->chunk[o->frame_is_entry & (FRAME_CHUNK - 1)])
			f->instr |= PY_INSTR_ENTRY;
		f->tag = tag;
		s->w_n = n + 1;
		/* the frame as userspace resolves it: the eval-loop entry bit
		 * (set on it later, by a shim frame) does not change its line */
		s->w_hash = (s->w_hash ^ code) * 0x100000001b3ULL;
		s->w_hash = (s->w_hash ^ ((__u64)tag << 32 | (f->instr & ~PY_INSTR_ENTRY))) *
			  0x100000001b3ULL;
	}
	s->w_frame = prev;
	return 0;
}

/*
 * Walks the Python stack of tstate into s->ev.frames, innermost first.
 * Returns the number of frames; sets SAMPLE_* flags in *flags.
 */
static __noinline __u32 py_walk_stack(struct walk_scratch *s,
				      const struct py_proc *proc, __u64 tstate,
				      __u32 *flags)
{
	const struct py_offsets *o = &proc->off;
	struct walk_ctx c = { .s = s, .proc = proc };
	__u32 n;

	s->w_frame = read_ptr(tstate + o->tstate_frame);
	if (o->frame_link == PY_LINK_CFRAME && s->w_frame)
		s->w_frame = read_ptr(s->w_frame + o->cframe_current_frame);
	if (!s->w_frame)
		return 0;
	s->w_hash = 0xcbf29ce484222325ULL;
	s->w_n = 0;
	s->w_flags = 0;
	/* coro_index is not clamped to n: userspace checks it against the
	 * frames it got */
	s->coro_frame = 0;
	s->coro_index = 0;
	bpf_loop(MAX_FRAME_STEPS, walk_step, &c, 0);
	/* Frames left over: too deep, or a chain that loops through shims. */
	if (s->w_frame && !(s->w_flags & SAMPLE_READ_ERROR))
		s->w_flags |= SAMPLE_TRUNCATED;
	*flags |= s->w_flags;
	n = s->w_n;
	s->hash = s->w_hash ^ n;
	return n;
}

#endif /* PYROGRAPH_PYWALK_BPF_H */
