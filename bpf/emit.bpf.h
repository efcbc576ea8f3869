/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Part of profile.bpf.c: sending the current thread's Python stack to
 * userspace, the one path every stack event takes (on-CPU and off-CPU
 * samples, memory, collections, allocations).
 */
#ifndef PYROGRAPH_EMIT_BPF_H
#define PYROGRAPH_EMIT_BPF_H

struct ucopy_ctx {
	struct walk_scratch *s;
	__u64 src;  /* next user address to copy */
	__u32 base; /* where the copy starts in s->ev.frames (bytes) */
	__u32 done;
	__u32 want;
};

/* Copies the user stack a page at a time: the stack's top page is the
 * boundary, and one oversized read would fail as a whole. */
static long ucopy_step(__u32 i, void *data)
{
	struct ucopy_ctx *c = data;
	__u32 chunk = 4096 - (c->src & 4095), off;

	if (c->done >= c->want)
		return 1;
	if (chunk > c->want - c->done)
		chunk = c->want - c->done;
	off = (c->base & (MAX_PY_FRAMES * sizeof(struct py_frame) * 2 - 1)) +
	      (c->done & (MAX_USTACK - 1));
	if (chunk > 4096 || chunk == 0 ||
	    off > sizeof(c->s->ev.frames) + MAX_USTACK - 4096)
		return 1;
	if (bpf_probe_read_user((__u8 *)c->s->ev.frames + off, chunk & 4095 ?: 4096,
				(void *)c->src))
		return 1;
	c->done += chunk;
	c->src += chunk;
	return 0;
}

/*
 * Sends the n frames just walked into s as one event of the given type,
 * with what the thread was doing in the kernel and, for --native, its user
 * registers and stack. Returns 0, or STAT_T_RINGBUF_FULL.
 */
static __always_inline __u32 emit_walked(void *ctx, struct walk_scratch *s,
					 __u32 n, __u32 type, __u64 id,
					 __u32 flags, bool kstack)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	__u32 ulen = 0;
	long sz, ks;

	s->ev.type = type;
	s->ev.pid = id >> 32;
	s->ev.tid = (__u32)id;
	s->ev.nframes = n;
	s->ev.cpu = bpf_get_smp_processor_id();
	s->ev.ktime = bpf_ktime_get_ns();
	bpf_get_current_comm(s->ev.comm, sizeof(s->ev.comm));
	s->ev.syscall = (__s32)arch_syscall_nr(regs);
	s->ev.sysarg = arch_syscall_arg1(regs);
	s->ev.nkstack = 0;
	if (kstack) {
		ks = bpf_get_stack(ctx, s->ev.kstack, sizeof(s->ev.kstack), 0);
		if (ks > 0)
			s->ev.nkstack = ks / sizeof(__u64);
	}
	if (ustack_bytes) {
		struct ucopy_ctx u = {
			.s = s,
			.src = arch_user_regs(&s->ev.regs, regs),
			.base = n * sizeof(struct py_frame),
			.want = ustack_bytes,
		};

		bpf_loop(MAX_USTACK / 4096 + 1, ucopy_step, &u, 0);
		ulen = u.done;
		if (!ulen)
			stat_inc(STAT_USTACK_FAIL);
	}
	s->ev.ustack_len = ulen;
	s->ev.flags = flags;

	sz = offsetof(struct sample_event, frames) +
	     (long)(n & (2 * MAX_PY_FRAMES - 1)) * sizeof(struct py_frame) +
	     (ulen & (2 * MAX_USTACK - 1));
	if (sz > (long)(sizeof(s->ev) + MAX_USTACK))
		sz = sizeof(s->ev) + MAX_USTACK;
	/* Samples do not wake the reader, which drains every few tens of
	 * milliseconds, unless the buffer is filling up. A new stack does,
	 * when little is pending: its process may be short-lived, and while
	 * stacks are counted here nothing else makes the reader look. */
	if (bpf_ringbuf_output(&events, &s->ev, sz,
			       ring_flags(flags & SAMPLE_NEW_STACK)))
		return STAT_T_RINGBUF_FULL;
	if (flags & SAMPLE_READ_ERROR)
		stat_inc(STAT_PARTIAL);
	if (flags & SAMPLE_TRUNCATED)
		stat_inc(STAT_TRUNCATED);
	return 0;
}

/*
 * Walks the current thread's Python stack and sends it (emit_walked).
 * Returns 0, or the STAT_T_* bucket that explains why nothing was sent.
 */
static __always_inline __u32 emit_stack(void *ctx, struct walk_scratch *s,
					const struct py_proc *proc, __u32 type,
					__u64 id, __u64 tstate, __u32 flags,
					bool kstack)
{
	__u32 n = py_walk_stack(s, proc, tstate, &flags);

	if (!n)
		return (flags & SAMPLE_READ_ERROR) ? STAT_T_UNREADABLE :
						     STAT_T_NO_FRAMES;
	s->ev.stack_hash = 0;
	return emit_walked(ctx, s, n, type, id, flags, kstack);
}

/*
 * Sends the current thread's Python stack with a value (EV_MEM, EV_GC,
 * EV_ALLOC, EV_LIVE); a thread with no Python frame (starting up, or a native
 * thread) is sent with none, so the bytes are still accounted. Returns 0,
 * or STAT_T_RINGBUF_FULL.
 */
static __always_inline __u32 emit_value(void *ctx, const struct py_proc *proc,
					__u32 type, __s64 value, __s64 aux0,
					__s64 aux1)
{
	__u64 id = bpf_get_current_pid_tgid(), tstate;
	struct walk_scratch *s = scratch_get();
	__u32 why = STAT_T_NO_TSTATE;

	if (!s)
		return STAT_T_RINGBUF_FULL;
	s->ev.weight_ns = 0;
	s->ev.value = value;
	s->ev.aux[0] = aux0;
	s->ev.aux[1] = aux1;
	tstate = py_find_tstate(proc, (__u32)id);
	if (tstate)
		why = emit_stack(ctx, s, proc, type, id, tstate, 0, false);
	if (why == 0 || why == STAT_T_RINGBUF_FULL)
		return why;
	/* no stack: the header alone */
	s->ev.type = type;
	s->ev.pid = id >> 32;
	s->ev.tid = (__u32)id;
	s->ev.flags = SAMPLE_NO_TSTATE;
	s->ev.nframes = 0;
	s->ev.nkstack = 0;
	s->ev.ustack_len = 0;
	s->ev.ktime = bpf_ktime_get_ns();
	if (bpf_ringbuf_output(&events, &s->ev, offsetof(struct sample_event, frames),
			       BPF_RB_NO_WAKEUP))
		return STAT_T_RINGBUF_FULL;
	return STAT_T_NO_TSTATE;
}

#endif /* PYROGRAPH_EMIT_BPF_H */
