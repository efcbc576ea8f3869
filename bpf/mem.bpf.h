/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Part of profile.bpf.c: memory growth (mem), charged to the Python stack
 * that caused it.
 */
#ifndef PYROGRAPH_MEM_BPF_H
#define PYROGRAPH_MEM_BPF_H

/* Resident pages of a process, per mm counter, as of its last change. */
struct mem_last {
	__s64 pages[NR_MM_COUNTERS];
};

/* tgid -> its counters; entries go with the process (py_exit). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096); /* resized by userspace, as procs */
	__type(key, __u32);
	__type(value, struct mem_last);
} mem_last SEC(".maps");

static __always_inline __s64 mm_pages(struct mm_struct *mm, int member)
{
	__s64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v),
			      &mm->rss_stat[member & (NR_MM_COUNTERS - 1)].count);
	return v;
}

/* A Python process to watch, or NULL (and a discovery event for a new one). */
static __always_inline struct py_proc *mem_proc(__u32 tgid)
{
	struct py_proc *proc = bpf_map_lookup_elem(&procs, &tgid);
	__u8 one = 1;

	if (proc)
		return proc->runtime ? proc : NULL;
	if (is_target(tgid) && !(bpf_get_current_task_btf()->flags & PF_EXITING) &&
	    bpf_map_update_elem(&seen, &tgid, &one, BPF_NOEXIST) == 0)
		emit_proc_event(EV_DISCOVER, tgid, 0);
	return NULL;
}

/*
 * Every change of a process's resident-page counters. The counters are
 * per-CPU with a global sum folded in batches (32 pages here), so the sum
 * read here moves in steps and the thread that folds a batch in is the one
 * that filled it: each step is charged to that thread's Python stack.
 * Returns to the OS (munmap, a trimmed heap, MADV_DONTNEED) are negative
 * steps, charged the same way.
 */
SEC("tp_btf/rss_stat")
int BPF_PROG(py_rss, struct mm_struct *mm, int member)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = task->tgid, why;
	struct py_proc *proc;
	struct mem_last *ml;
	__s64 now, old;

	/* Swap entries are not resident; changes made from another context
	 * (reclaim, exit teardown, another process) are not this thread's. */
	if (member < 0 || member >= NR_MM_COUNTERS || member == MM_SWAPENTS ||
	    task->mm != mm)
		return 0;
	proc = mem_proc(tgid);
	if (!proc)
		return 0;
	now = mm_pages(mm, member);
	ml = bpf_map_lookup_elem(&mem_last, &tgid);
	if (!ml) {
		struct mem_last init = {};

		/* The first change seen sets the baseline: what the process
		 * had before is not growth seen here. */
		for (int i = 0; i < NR_MM_COUNTERS; i++)
			init.pages[i] = mm_pages(mm, i);
		bpf_map_update_elem(&mem_last, &tgid, &init, BPF_NOEXIST);
		return 0;
	}
	old = __sync_lock_test_and_set(&ml->pages[member & (NR_MM_COUNTERS - 1)], now);
	if (now == old)
		return 0;
	why = emit_value(ctx, proc, EV_MEM, (now - old) * 4096, member, 0);
	if (why == STAT_T_RINGBUF_FULL) {
		stat_inc(STAT_MEM_LOST);
		return 0;
	}
	stat_inc(STAT_MEM_EVENTS);
	if (why)
		stat_inc(STAT_MEM_NO_STACK);
	return 0;
}

#endif /* PYROGRAPH_MEM_BPF_H */
