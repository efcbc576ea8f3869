/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Part of profile.bpf.c: event-loop iterations, from one poll to the next,
 * and the stalls among them (async, check, the agent's metrics).
 */
#ifndef PYROGRAPH_LOOPS_BPF_H
#define PYROGRAPH_LOOPS_BPF_H

/* A new loop_state starts as a copy of this (too big for the BPF stack). */
static struct loop_state empty_loop;

static __always_inline bool is_poll(long nr)
{
	return nr == NR_EPOLL_WAIT || nr == NR_EPOLL_PWAIT ||
	       nr == NR_EPOLL_PWAIT2;
}

/* floor(log2(v)) for v > 0, without a loop. */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, s;

	s = (v > 0xFFFFFFFFULL) << 5; v >>= s; r |= s;
	s = (v > 0xFFFF) << 4; v >>= s; r |= s;
	s = (v > 0xFF) << 3; v >>= s; r |= s;
	s = (v > 0xF) << 2; v >>= s; r |= s;
	s = (v > 0x3) << 1; v >>= s; r |= s;
	r |= (v >> 1);
	return r;
}

static __always_inline void send_stall(__u32 pid, __u32 tid, __u64 start,
				      __u64 ns, const struct loop_state *ls,
				      __u32 flags)
{
	struct stall_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		stat_inc(STAT_STALL_LOST);
		return;
	}
	e->type = EV_STALL;
	e->pid = pid;
	e->tid = tid;
	e->flags = flags;
	e->start = start;
	e->ns = ns;
	e->off_ns = ls ? ls->off_ns : 0;
	e->preempt_ns = ls ? ls->preempt_ns : 0;
	bpf_ringbuf_submit(e, 0);
}

/*
 * A Python process's thread first seen entering its poll was inside an
 * iteration since at least when its process was added (leaving the poll
 * after that would have made its entry): a stall if that is long enough,
 * sent with its start unseen. Not in the histogram (its length is a lower
 * bound). The entry made here keeps it to once per thread, also when the
 * table is full.
 */
static __always_inline void first_poll(__u32 tgid, __u32 tid, __u64 *clock)
{
	struct py_proc *proc = bpf_map_lookup_elem(&procs, &tgid);
	struct loop_state *ls;
	__u64 now;

	if (!proc || !proc->runtime || !proc->since)
		return;
	now = clock_once(clock);
	if (now < proc->since)
		return;
	if (bpf_map_update_elem(&loops, &tid, &empty_loop, BPF_NOEXIST)) {
		if (!bpf_map_lookup_elem(&loops, &tid))
			stat_inc(STAT_LOOP_FULL);
		return;
	}
	ls = bpf_map_lookup_elem(&loops, &tid);
	if (!ls)
		return;
	ls->pid = tgid;
	if (now - proc->since >= stall_ns)
		send_stall(tgid, tid, proc->since, now - proc->since, NULL,
			   STALL_BEGAN_BEFORE);
}

/*
 * Entering the poll ends an iteration: count its length, and send it when
 * it is a stall. asyncio (epoll selector) and uvloop (libuv) both poll
 * with epoll; a poll with a zero timeout (callbacks were ready) still ends
 * an iteration, as it does for the loop itself.
 */
static __always_inline void poll_enter(void)
{
	__u64 id = bpf_get_current_pid_tgid(), now = 0, ns, us;
	__u32 tid = (__u32)id, b;
	struct loop_state *ls;

	/* back to the poll: the last task step is over */
	if (track_steps)
		step_end(NULL, id >> 32, tid, clock_once(&now));
	/* most polls on a host are other programs': without task steps they
	 * stop here, before reading the clock */
	ls = bpf_map_lookup_elem(&loops, &tid);
	if (!ls) {
		first_poll(id >> 32, tid, &now);
		return;
	}
	if (!ls->iter_start)
		return;
	ns = clock_once(&now) - ls->iter_start;
	us = ns / 1000;
	b = us ? log2_u64(us) : 0;
	if (b >= LOOP_BUCKETS)
		b = LOOP_BUCKETS - 1;
	/* the verifier loses the bound through log2_u64's shifts: mask it
	 * where the compiler cannot fold the mask away */
	asm volatile("" : "+r"(b));
	ls->hist[b & (LOOP_BUCKETS - 1)]++;
	ls->iters++;
	ls->sum_ns += ns;
	if (ns > ls->max_ns)
		ls->max_ns = ns;
	if (ns >= stall_ns)
		send_stall(ls->pid, tid, ls->iter_start, ns, ls, 0);
	ls->iter_start = 0;
}

/* Leaving the poll starts an iteration (of a Python process's thread). */
static __always_inline void poll_exit(void)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, tgid = id >> 32;
	struct loop_state *ls;

	ls = bpf_map_lookup_elem(&loops, &tid);
	if (!ls) {
		struct py_proc *proc = bpf_map_lookup_elem(&procs, &tgid);

		if (!proc || !proc->runtime)
			return;
		if (bpf_map_update_elem(&loops, &tid, &empty_loop, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&loops, &tid)) {
			stat_inc(STAT_LOOP_FULL);
			return;
		}
		ls = bpf_map_lookup_elem(&loops, &tid);
		if (!ls)
			return;
	}
	if (ls->pid != tgid) {
		/* new, or a reused tid: a different thread now */
		if (ls->pid)
			bpf_map_update_elem(&loops, &tid, &empty_loop, BPF_EXIST);
		ls->pid = tgid;
	}
	ls->iter_start = bpf_ktime_get_ns();
	ls->off_ns = 0;
	ls->preempt_ns = 0;
	ls->off_since = 0;
}

/*
 * The hooks, in one of two forms; userspace loads one (profiler.c). The
 * per-syscall tracepoints run only for the epoll syscalls: attached by
 * userspace to sys_enter_/sys_exit_ epoll_wait, epoll_pwait and
 * epoll_pwait2 (those the kernel has), so a bare SEC: no auto-attach.
 * The kernel tests the syscall number against those enabled before it runs
 * any BPF, so every other syscall costs about what it costs with no
 * program at all (the issue measured ~1,076 against ~1,040-1,130 ns per
 * getppid() on this VM, against ~1,330 with the fallback).
 */
SEC("?tracepoint")
int py_poll_enter(void *ctx)
{
	poll_enter();
	return 0;
}

SEC("?tracepoint")
int py_poll_exit(void *ctx)
{
	poll_exit();
	return 0;
}

/*
 * The fallback, for kernels without syscall tracepoints (or without
 * tracefs): BPF on every syscall of the host, which tests the number.
 */
SEC("?tp_btf/sys_enter")
int BPF_PROG(py_sys_enter, struct pt_regs *regs, long nr)
{
	if (is_poll(nr))
		poll_enter();
	return 0;
}

SEC("?tp_btf/sys_exit")
int BPF_PROG(py_sys_exit, struct pt_regs *regs, long ret)
{
	/* regs is a trusted BTF pointer here: a plain load, no helper call
	 * (this runs for every syscall on the host) */
	if (is_poll(arch_syscall_nr_btf(regs)))
		poll_exit();
	return 0;
}

#endif /* PYROGRAPH_LOOPS_BPF_H */
