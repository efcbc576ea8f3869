/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Part of profile.bpf.c: sampled allocations (mem --allocations).
 */
#ifndef PYROGRAPH_ALLOC_BPF_H
#define PYROGRAPH_ALLOC_BPF_H

/* Bytes left before the thread's next allocation sample. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __s64);
} alloc_left SEC(".maps");

/* Uniform in [period/2, 3*period/2): no lattice for a periodic pattern of
 * allocation sizes to line up with, and the mean stays the period. */
static __always_inline __s64 alloc_draw(void)
{
	__u64 p = alloc_period ?: 1;

	return p / 2 + bpf_get_prandom_u32() % p;
}

/*
 * An allocation of bytes: sampled about once per alloc_period bytes, so an
 * allocation's chance of a sample is proportional to its size and each
 * sample stands for alloc_period bytes (an allocation spanning several
 * periods for as many).
 */
static __always_inline void alloc_sample(void *ctx, __u64 bytes)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, tgid = id >> 32;
	struct py_proc *proc;
	__s64 *left, l, periods;

	if (!bytes)
		return;
	left = bpf_map_lookup_elem(&alloc_left, &tid);
	if (!left) {
		l = alloc_draw();
		bpf_map_update_elem(&alloc_left, &tid, &l, BPF_ANY);
		left = bpf_map_lookup_elem(&alloc_left, &tid);
		if (!left)
			return;
	}
	if (bytes > (1ULL << 40))
		bytes = 1ULL << 40; /* a garbage size must not overflow */
	*left -= bytes;
	if (*left > 0)
		return;
	periods = 1 + (__u64)(-*left) / (alloc_period ?: 1);
	*left = alloc_draw();
	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc || !proc->runtime)
		return;
	if (emit_value(ctx, proc, EV_ALLOC, periods * alloc_period, 0, 0) ==
	    STAT_T_RINGBUF_FULL)
		stat_inc(STAT_ALLOC_LOST);
}

SEC("uprobe")
int BPF_KPROBE(py_alloc_malloc, __u64 size) /* PyObject_Malloc, PyMem_Malloc */
{
	alloc_sample(ctx, size);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(py_alloc_calloc, __u64 nelem, __u64 elsize) /* *_Calloc */
{
	if (elsize && nelem > (1ULL << 40) / elsize)
		nelem = (1ULL << 40) / elsize;
	alloc_sample(ctx, nelem * elsize);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(py_alloc_realloc, __u64 ptr, __u64 size) /* *_Realloc */
{
	alloc_sample(ctx, size);
	return 0;
}

#endif /* PYROGRAPH_ALLOC_BPF_H */
