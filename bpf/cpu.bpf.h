/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Part of profile.bpf.c. On-CPU sampler: a cpu-clock perf event on every
 * CPU runs py_sample(), which finds the sampled thread's PyThreadState and
 * walks its Python frames in the kernel.
 */
#ifndef PYROGRAPH_CPU_BPF_H
#define PYROGRAPH_CPU_BPF_H

/*
 * Per CPU, to weight on-CPU samples by the busy time they stand for: the
 * time since the previous tick minus the time the CPU idled meanwhile (the
 * timer does not tick in idle). Idle time is only tracked with --idle/--gil,
 * the only modes that use weights.
 */
struct cpu_time {
	__u64 last_tick;
	__u64 idle_at_tick; /* idle_total at last_tick */
	__u64 idle_since;   /* 0: not idle */
	__u64 idle_total;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_time);
} cpu_time SEC(".maps");

/* Stacks counted in the kernel (see struct stack_key); resized by
 * userspace (--stack-map), which drains and trims it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct stack_key);
	__type(value, __u64);
} stack_counts SEC(".maps");

/*
 * A sample whose stack was seen before is only counted (true); a new one
 * is to be sent with its key's hash and SAMPLE_NEW_STACK (false), and
 * counted from the next sample on (count_new).
 */
static __always_inline bool counted(struct walk_scratch *s, struct stack_key *k,
				    __u64 id, __u32 *flags)
{
	__u64 *count;

	k->hash = s->hash;
	k->pid = id >> 32;
	k->tid = count_tid ? (__u32)id : 0;
	k->flags = *flags & (SAMPLE_TRUNCATED | SAMPLE_READ_ERROR);
	count = bpf_map_lookup_elem(&stack_counts, k);
	if (count) {
		*count += 1; /* this CPU's slot: no atomics */
		if (*flags & SAMPLE_READ_ERROR)
			stat_inc(STAT_PARTIAL);
		if (*flags & SAMPLE_TRUNCATED)
			stat_inc(STAT_TRUNCATED);
		return true;
	}
	s->ev.stack_hash = k->hash;
	*flags |= SAMPLE_NEW_STACK;
	return false;
}

/* A new stack was sent: count it from the next sample on. */
static __always_inline void count_new(const struct stack_key *k)
{
	__u64 zero = 0;

	if (bpf_map_update_elem(&stack_counts, k, &zero, BPF_NOEXIST) &&
	    !bpf_map_lookup_elem(&stack_counts, k))
		stat_inc(STAT_COUNT_FULL);
}

/* Does tstate hold the GIL right now? */
static __always_inline bool holds_gil(const struct py_proc *proc, __u64 tstate)
{
	__u32 locked = 0;

	if (bpf_probe_read_user(&locked, sizeof(locked),
				(void *)(proc->gil_addr + proc->gil_locked)))
		return false;
	return locked &&
	       read_ptr(proc->gil_addr + proc->gil_last_holder) == tstate;
}

SEC("perf_event")
int py_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id, why;
	struct walk_scratch *s;
	struct py_proc *proc;
	__u64 tstate, now = bpf_ktime_get_ns(), weight = 0;
	struct stack_key k = {};
	struct cpu_time *ct;
	__u32 zero = 0, flags = 0, n;
	bool in_loop;

	if (!tgid)
		return 0; /* idle */
	/* The busy time since the previous busy tick on this CPU is what this
	 * sample stands for: the periods are randomised, and restarting the
	 * timer to re-draw them makes the nominal period inexact. A tick in
	 * idle leaves it alone, so busy time is never dropped with it. */
	ct = bpf_map_lookup_elem(&cpu_time, &zero);
	if (ct) {
		if (ct->last_tick)
			weight = now - ct->last_tick -
				 (ct->idle_total - ct->idle_at_tick);
		ct->last_tick = now;
		ct->idle_at_tick = ct->idle_total;
	}
	stat_inc(STAT_TICKS);

	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc) {
		__u8 one = 1;

		stat_inc(STAT_T_OTHER);
		if (!is_target(tgid))
			return 0;
		/* A process past its exit tracepoint would leave a stale
		 * entry behind (nothing deletes it any more). */
		if (bpf_get_current_task_btf()->flags & PF_EXITING)
			return 0;
		if (bpf_map_update_elem(&seen, &tgid, &one, BPF_NOEXIST) == 0)
			emit_proc_event(EV_DISCOVER, tgid, 0);
		return 0;
	}
	if (!proc->runtime) {
		stat_inc(STAT_T_UNSUPPORTED);
		return 0;
	}
	tstate = py_find_tstate(proc, tid);
	if (!tstate) {
		stat_inc(STAT_T_NO_TSTATE);
		return 0;
	}
	if (track_loops) {
		struct loop_state *ls = bpf_map_lookup_elem(&loops, &tid);

		if (ls && ls->iter_start) {
			flags |= SAMPLE_IN_LOOP;
		} else if (loops_only) {
			stat_inc(STAT_T_NOT_LOOP);
			return 0;
		}
	}
	if (gil_only && proc->gil_addr && !holds_gil(proc, tstate)) {
		stat_inc(STAT_T_NOT_GIL);
		return 0;
	}
	s = scratch_get();
	if (!s) {
		stat_inc(STAT_T_UNREADABLE);
		return 0;
	}
	s->ev.weight_ns = weight;
	s->ev.stack_hash = 0;
	s->ev.aux[0] = s->ev.aux[1] = 0;
	flags |= arch_perf_user_mode(ctx) ? 0 : SAMPLE_KERNEL;
	/* one walk and one send in this program: the verifier walks each
	 * path through them once */
	n = py_walk_stack(s, proc, tstate, &flags);
	if (!n) {
		stat_inc((flags & SAMPLE_READ_ERROR) ? STAT_T_UNREADABLE :
						       STAT_T_NO_FRAMES);
		return 0;
	}
	if (track_tasks) {
		s->ev.aux[0] = (__s64)s->coro_frame;
		s->ev.aux[1] = s->coro_index;
	}
	/* a loop thread's sample inside an iteration goes to the stall it
	 * belongs to: sent on its own. in_loop is a constant false when
	 * loops are not timed, so the verifier then walks one path only. */
	in_loop = track_loops && (flags & SAMPLE_IN_LOOP);
	if (count_stacks && !in_loop && counted(s, &k, id, &flags)) {
		stat_inc(STAT_T_COUNTED);
		return 0;
	}
	why = emit_walked(ctx, s, n, EV_SAMPLE, id, flags, want_kstack);
	if (count_stacks && !why && !in_loop)
		count_new(&k);
	stat_inc(why ?: STAT_T_EMITTED);
	return 0;
}

#endif /* PYROGRAPH_CPU_BPF_H */
