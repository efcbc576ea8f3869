/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Part of profile.bpf.c: the maps and helpers that several features share
 * (the process table, the target filter, discovery, the event ring buffer,
 * the drop counters and the event-loop table).
 */
#ifndef PYROGRAPH_MAPS_BPF_H
#define PYROGRAPH_MAPS_BPF_H

/* Counters of what was sent and what was dropped (enum stat_idx). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_NR);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1; /* per-CPU slot: no atomics needed */
}

/* tgid -> its Python runtime's address and layout, set by userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096); /* resized by userspace */
	__type(key, __u32);
	__type(value, struct py_proc);
} procs SEC(".maps");

/* Processes selected with -p / a command; unused when target_all. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

/*
 * Processes already reported with EV_DISCOVER; keeps a busy non-Python
 * process from flooding userspace. Userspace deletes an entry to ask for
 * another look (a process that had not loaded libpython yet).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} seen SEC(".maps");

/*
 * tid -> its event-loop timing (async); userspace reads it at the end.
 * Written by loops.bpf.h; the on-CPU and off-CPU programs look up whether
 * a thread is inside an iteration.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct loop_state);
} loops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by userspace */
} events SEC(".maps");

/*
 * The time, read on first use: programs that run for every context switch
 * or poll on the host mostly stop at a map lookup, and reading the clock
 * costs more than the lookup on the VMs measured (~230 ns a read under
 * kvm-clock, where a hash lookup is well under 100).
 */
static __always_inline __u64 clock_once(__u64 *now)
{
	if (!*now)
		*now = bpf_ktime_get_ns();
	return *now;
}

/* A new stack wakes the reader while less than this is pending (a few
 * events): the first ones after a drain, not every one of a burst. */
#define NEW_STACK_WAKE_BYTES 4096

/*
 * How an event is committed to the ring: without waking the reader, which
 * drains every 20 ms while events flow (session.c), unless the buffer is
 * filling up (wakeup_bytes), or urgent and little is pending. A wakeup is
 * an irq_work self-IPI on the target's CPU: at one per event (the default
 * whenever the reader has caught up) it cost a FastAPI app under `async`
 * more than the BPF programs did.
 */
static __always_inline __u64 ring_flags(bool urgent)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);

	return avail >= wakeup_bytes ||
			       (urgent && avail < NEW_STACK_WAKE_BYTES) ?
		       BPF_RB_FORCE_WAKEUP :
		       BPF_RB_NO_WAKEUP;
}

static __always_inline void emit_proc_event(__u32 type, __u32 pid, __u32 ppid)
{
	struct pyproc_event *e;

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(STAT_DROP_EVENTS);
		return;
	}
	e->type = type;
	e->pid = pid;
	e->ppid = ppid;
	e->_pad = 0;
	e->ktime = bpf_ktime_get_ns();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, BPF_RB_FORCE_WAKEUP);
}

static __always_inline bool is_target(__u32 tgid)
{
	return target_all || bpf_map_lookup_elem(&targets, &tgid);
}

/* task_struct.flags: the task is past its exit tracepoint */
#define PF_EXITING 0x00000004

#endif /* PYROGRAPH_MAPS_BPF_H */
