/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Part of profile.bpf.c: garbage collections and their pauses (mem).
 */
#ifndef PYROGRAPH_GC_BPF_H
#define PYROGRAPH_GC_BPF_H

/* A collection in progress, per thread. */
struct gc_run {
	__u64 start;
	__s64 gen;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct gc_run);
} gc_runs SEC(".maps");

/* CPython's USDT probes gc__start(int generation), gc__done(long collected). */
SEC("usdt")
int BPF_USDT(py_gc_start, int gen)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct gc_run run = { .start = bpf_ktime_get_ns(), .gen = gen };

	bpf_map_update_elem(&gc_runs, &tid, &run, BPF_ANY);
	return 0;
}

/* The pause, with the Python stack whose allocation set the collection
 * off (the frames do not change while the collector runs). */
SEC("usdt")
int BPF_USDT(py_gc_done, long collected)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, tgid = id >> 32;
	struct py_proc *proc;
	struct gc_run *run;
	__u64 ns;
	__s64 gen;

	run = bpf_map_lookup_elem(&gc_runs, &tid);
	if (!run)
		return 0;
	ns = bpf_ktime_get_ns() - run->start;
	gen = run->gen;
	bpf_map_delete_elem(&gc_runs, &tid);
	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc || !proc->runtime)
		return 0;
	if (emit_value(ctx, proc, EV_GC, ns, gen, collected) == STAT_T_RINGBUF_FULL)
		stat_inc(STAT_GC_LOST);
	return 0;
}

#endif /* PYROGRAPH_GC_BPF_H */
