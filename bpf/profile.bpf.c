// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * On-CPU sampler: a cpu-clock perf event on every CPU runs py_sample(),
 * which finds the sampled thread's PyThreadState and walks its Python
 * frames in the kernel. Process exec/exit/fork are traced so userspace can
 * keep the per-process table current without rescanning /proc.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "pywalk.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by userspace between open and load. */
const volatile bool target_all = true;	    /* every process, else `targets` */
const volatile bool follow_children = false; /* add forked children to targets */
/*
 * Samples wake the reader only once this much is queued: a wakeup is an
 * irq_work self-IPI, which cost more than the whole stack walk on the VMs
 * measured (1.5 us per sample without, 3-6 us with). Userspace drains on a
 * 20 ms timer anyway. Process events always wake it: detection is urgent.
 */
const volatile __u64 wakeup_bytes = 1 << 20;

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

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* resized by userspace */
} events SEC(".maps");

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

SEC("perf_event")
int py_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id, zero = 0, flags = 0, n;
	struct walk_scratch *s;
	struct py_proc *proc;
	__u64 tstate;
	long sz;

	stat_inc(STAT_TIMER);
	if (!tgid)
		return 0; /* idle */
	stat_inc(STAT_TICKS);

	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc) {
		__u8 one = 1;

		stat_inc(STAT_T_OTHER);
		if (!is_target(tgid))
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
	s = bpf_map_lookup_elem(&walk_scratch, &zero);
	if (!s) {
		stat_inc(STAT_T_UNREADABLE);
		return 0;
	}
	n = py_walk_stack(s, proc, tstate, &flags);
	if (!n) {
		stat_inc((flags & SAMPLE_READ_ERROR) ? STAT_T_UNREADABLE :
						       STAT_T_NO_FRAMES);
		return 0;
	}
	s->ev.type = EV_SAMPLE;
	s->ev.pid = tgid;
	s->ev.tid = tid;
	s->ev.flags = flags;
	s->ev.nframes = n;
	s->ev.cpu = bpf_get_smp_processor_id();
	s->ev.ktime = bpf_ktime_get_ns();
	bpf_get_current_comm(s->ev.comm, sizeof(s->ev.comm));

	sz = offsetof(struct sample_event, frames) +
	     (long)(n & (2 * MAX_PY_FRAMES - 1)) * sizeof(struct py_frame);
	if (sz > (long)sizeof(s->ev))
		sz = sizeof(s->ev);
	if (bpf_ringbuf_output(&events, &s->ev, sz,
			       bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >=
					       wakeup_bytes ?
				       BPF_RB_FORCE_WAKEUP :
				       BPF_RB_NO_WAKEUP)) {
		stat_inc(STAT_T_RINGBUF_FULL);
		return 0;
	}
	stat_inc(STAT_T_EMITTED);
	if (flags & SAMPLE_READ_ERROR)
		stat_inc(STAT_PARTIAL);
	if (flags & SAMPLE_TRUNCATED)
		stat_inc(STAT_TRUNCATED);
	return 0;
}

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
	if (!group_dead)
		return 0;
	bpf_map_delete_elem(&seen, &tgid);
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
