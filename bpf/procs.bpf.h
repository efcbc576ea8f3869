/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Part of profile.bpf.c. Process exec/exit/fork are traced so userspace can
 * keep the per-process table current without rescanning /proc. Included
 * last: an exit drops what every feature keeps per thread and process.
 */
#ifndef PYROGRAPH_PROCS_BPF_H
#define PYROGRAPH_PROCS_BPF_H

SEC("tp_btf/sched_process_exec")
int BPF_PROG(py_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);

	/* The image changed: whatever we knew about this process is stale. */
	bpf_map_delete_elem(&procs, &tgid);
	bpf_map_delete_elem(&seen, &tgid);
	if (is_target(tgid))
		emit_proc_event(EV_EXEC, tgid, 0);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(py_exit, struct task_struct *p, bool group_dead)
{
	__u32 tid = BPF_CORE_READ(p, pid), tgid = BPF_CORE_READ(p, tgid);

	/* tids are reused: never let a new thread inherit a cached tstate. */
	bpf_map_delete_elem(&tstate_cache, &tid);
	bpf_map_delete_elem(&offcpu_start, &tid);
	bpf_map_delete_elem(&steps, &tid);
	bpf_map_delete_elem(&gc_runs, &tid);
	bpf_map_delete_elem(&alloc_left, &tid);
	if (loops_reap)
		bpf_map_delete_elem(&loops, &tid);
	bpf_map_delete_elem(&live_calls, &tid);
	if (!group_dead)
		return 0;
	bpf_map_delete_elem(&seen, &tgid);
	bpf_map_delete_elem(&asyncio_text, &tgid);
	bpf_map_delete_elem(&mem_last, &tgid);
	if (bpf_map_lookup_elem(&procs, &tgid) ||
	    (!target_all && bpf_map_lookup_elem(&targets, &tgid)))
		emit_proc_event(EV_EXIT, tgid, 0);
	if (!target_all)
		bpf_map_delete_elem(&targets, &tgid);
	/* Released here, not by userspace, so a lagging reader cannot let the
	 * map fill up with dead processes. */
	bpf_map_delete_elem(&procs, &tgid);
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(py_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 cpid = BPF_CORE_READ(child, pid), ctgid = BPF_CORE_READ(child, tgid);
	__u8 one = 1;

	if (target_all || !follow_children || cpid != ctgid)
		return 0; /* a new thread, not a new process */
	if (!bpf_map_lookup_elem(&targets, &ptgid))
		return 0;
	bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY);
	emit_proc_event(EV_FORK, ctgid, ptgid);
	return 0;
}

#endif /* PYROGRAPH_PROCS_BPF_H */
