/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Part of profile.bpf.c: off-CPU intervals of Python threads (--idle,
 * --gil, and the loop threads of async and check), and the idle time of
 * each CPU that weights its on-CPU samples (cpu_time).
 */
#ifndef PYROGRAPH_OFFCPU_BPF_H
#define PYROGRAPH_OFFCPU_BPF_H

/* tid -> when its current off-CPU interval began (EV_OFFCPU sent). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} offcpu_start SEC(".maps");

/* Is addr inside the GIL (a futex wait there is a wait for the GIL)? */
static __always_inline bool in_gil(const struct py_proc *proc, __u64 addr)
{
	return proc->gil_addr && addr >= proc->gil_addr &&
	       addr < proc->gil_addr + proc->gil_size;
}

/*
 * Off-CPU time (--idle, --gil): when a Python thread leaves the CPU its
 * stack is sent right away (current is still prev here, so its memory is
 * readable) with the kernel stack and syscall that say why; when it comes
 * back only the elapsed time is sent, and userspace joins the two by tid.
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(py_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	__u32 ntid = next->pid, tid = prev->pid, tgid = prev->tgid;
	__u32 flags = 0, why, zero = 0;
	__u64 now = 0, *start, tstate;
	struct loop_state *ls = NULL;
	struct cpu_time *ct;
	struct walk_scratch *s;
	struct py_proc *proc;

	if (!track_offcpu)
		return 0;
	ct = bpf_map_lookup_elem(&cpu_time, &zero);
	if (ct) {
		if (!tid && ct->idle_since) {
			ct->idle_total += clock_once(&now) - ct->idle_since;
			ct->idle_since = 0;
		}
		if (!ntid)
			ct->idle_since = clock_once(&now);
	}
	start = bpf_map_lookup_elem(&offcpu_start, &ntid);
	if (start) {
		struct oncpu_event *e;

		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (e) {
			e->type = EV_ONCPU;
			e->pid = next->tgid;
			e->tid = ntid;
			e->_pad = 0;
			e->ktime = clock_once(&now);
			e->offcpu_ns = now - *start;
			bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
		} else {
			stat_inc(STAT_ON_LOST);
		}
		bpf_map_delete_elem(&offcpu_start, &ntid);
	}
	if (track_loops) {
		ls = bpf_map_lookup_elem(&loops, &ntid);
		if (ls && ls->off_since) {
			__u64 off = clock_once(&now) - ls->off_since;

			ls->off_ns += off;
			if (ls->off_runnable) {
				ls->preempt_ns += off;
				ls->preempt_total += off;
			}
			ls->off_since = 0;
		}
		/* Only a loop thread leaving the CPU inside an iteration:
		 * its waits in the poll are the loop being idle. */
		ls = bpf_map_lookup_elem(&loops, &tid);
		if (!ls || !ls->iter_start)
			return 0;
		ls->off_since = clock_once(&now);
		ls->off_runnable = prev_state == 0;
		/*
		 * Preempted (still runnable): counted above, no stack. It
		 * resumes where it stopped, which its CPU samples show; a
		 * busy host preempts a loop thread thousands of times a
		 * second, and a stack walk, a kernel stack and two events
		 * each cost more than the rest of async together (~6 us a
		 * switch-out under the FastAPI benchmark).
		 */
		if (prev_state == 0)
			return 0;
	}
	if (!tgid || (prev->flags & PF_EXITING))
		return 0; /* the idle task, or a thread on its way out */
	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc || !proc->runtime)
		return 0;
	if (prev_state == 0) /* TASK_RUNNING: preempted, not blocked */
		flags |= SAMPLE_PREEMPTED;
	if (gil_only || proc->gil_addr) {
		struct pt_regs *regs =
			(struct pt_regs *)bpf_task_pt_regs(prev);
		bool gil = !(flags & SAMPLE_PREEMPTED) &&
			   arch_syscall_nr(regs) == NR_FUTEX &&
			   in_gil(proc, arch_syscall_arg1(regs));

		if (gil)
			flags |= SAMPLE_GIL_WAIT;
		else if (gil_only)
			return 0;
	}
	tstate = py_find_tstate(proc, tid);
	s = scratch_get();
	if (!tstate || !s) {
		stat_inc(STAT_OFF_NO_STACK);
		return 0;
	}
	s->ev.weight_ns = 0;
	why = emit_stack(ctx, s, proc, EV_OFFCPU, ((__u64)tgid << 32) | tid,
			 tstate, flags, true);
	if (why == STAT_T_RINGBUF_FULL) {
		stat_inc(STAT_OFF_LOST);
		return 0;
	}
	if (why) {
		stat_inc(STAT_OFF_NO_STACK);
		return 0;
	}
	clock_once(&now);
	bpf_map_update_elem(&offcpu_start, &tid, &now, BPF_ANY);
	stat_inc(STAT_OFF_EMITTED);
	return 0;
}

#endif /* PYROGRAPH_OFFCPU_BPF_H */
