/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Part of profile.bpf.c. mem --live: who keeps memory. Uprobes on the C
 * allocator (malloc, calloc, realloc, free of the process's libc) see every
 * allocation, whatever CPython inlined on the way (Debian's LTO builds call
 * malloc straight from PyObject_Malloc); those of at least live_min bytes
 * are remembered here until freed, and sent with the Python stack that made
 * them.
 */
#ifndef PYROGRAPH_LIVE_BPF_H
#define PYROGRAPH_LIVE_BPF_H

/* (pid, address) -> bytes of each allocation tracked until freed. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536); /* resized by userspace */
	__type(key, struct live_key);
	__type(value, __u64); /* bytes */
} live SEC(".maps");

/* An allocator call in progress that will be tracked if it succeeds. */
struct live_call {
	__u64 bytes;
	__u64 sp; /* at entry: the return probe checks it is the same call */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct live_call);
} live_calls SEC(".maps");

static __always_inline void live_enter(struct pt_regs *ctx, __u64 bytes)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct live_call c = { .bytes = bytes,
			       .sp = arch_stack_pointer(ctx) };

	if (bytes < live_min)
		return;
	/* a nested call (realloc's own malloc) replaces it: that one's
	 * return is the one that hands the memory out */
	bpf_map_update_elem(&live_calls, &tid, &c, BPF_ANY);
}

/* Forgets addr if tracked, and tells userspace. */
static __always_inline void live_forget(__u32 pid, __u64 addr)
{
	struct live_key k = { .addr = addr, .pid = pid };
	struct live_free e = { .type = EV_LIVE_FREE, .pid = pid, .addr = addr };
	__u64 *bytes;

	if (!addr)
		return;
	bytes = bpf_map_lookup_elem(&live, &k);
	if (!bytes)
		return;
	e.bytes = *bytes;
	if (bpf_map_delete_elem(&live, &k))
		return; /* a racing free of the same address got it */
	e.ktime = bpf_ktime_get_ns();
	if (bpf_ringbuf_output(&events, &e, sizeof(e), BPF_RB_NO_WAKEUP))
		stat_inc(STAT_LIVE_FREE_LOST);
}

SEC("uprobe")
int BPF_KPROBE(py_live_malloc, __u64 size)
{
	live_enter(ctx, size);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(py_live_calloc, __u64 nelem, __u64 elsize)
{
	if (elsize && nelem > (1ULL << 40) / elsize)
		nelem = (1ULL << 40) / elsize;
	live_enter(ctx, nelem * elsize);
	return 0;
}

/*
 * The old block counts as freed here, not at the return: a realloc that
 * moves the block may free it with an inner call, and a failed realloc
 * (the old block stays) is rare enough to be counted as a free.
 */
SEC("uprobe")
int BPF_KPROBE(py_live_realloc, __u64 ptr, __u64 size)
{
	live_forget(bpf_get_current_pid_tgid() >> 32, ptr);
	live_enter(ctx, size);
	return 0;
}

SEC("uprobe")
int BPF_KPROBE(py_live_free, __u64 ptr)
{
	live_forget(bpf_get_current_pid_tgid() >> 32, ptr);
	return 0;
}

/* Return of malloc, calloc or realloc: the address, if the call is one
 * live_enter kept. */
SEC("uretprobe")
int BPF_KRETPROBE(py_live_ret, __u64 addr)
{
	__u64 id = bpf_get_current_pid_tgid(), bytes;
	__u64 sp = arch_stack_pointer(ctx);
	__u32 tid = (__u32)id, tgid = id >> 32;
	struct live_key k = { .pid = tgid };
	struct live_call *c;
	struct py_proc *proc;

	c = bpf_map_lookup_elem(&live_calls, &tid);
	if (!c)
		return 0;
	/* the same call: sp as at entry plus the return address the return
	 * popped (ARCH_RET_SP_DELTA), or as at entry where it pops none */
	if (sp != c->sp && sp != c->sp + ARCH_RET_SP_DELTA)
		return 0;
	bytes = c->bytes;
	bpf_map_delete_elem(&live_calls, &tid);
	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!addr || !proc || !proc->runtime)
		return 0;
	k.addr = addr;
	/* Tracked before it is sent: a free on another thread right after the
	 * return finds it. An untracked one was never sent. */
	if (bpf_map_update_elem(&live, &k, &bytes, BPF_ANY)) {
		stat_inc(STAT_LIVE_FULL);
		return 0;
	}
	if (emit_value(ctx, proc, EV_LIVE, bytes, addr, 0) == STAT_T_RINGBUF_FULL) {
		bpf_map_delete_elem(&live, &k);
		stat_inc(STAT_LIVE_LOST);
		return 0;
	}
	stat_inc(STAT_LIVE_EVENTS);
	return 0;
}

#endif /* PYROGRAPH_LIVE_BPF_H */
