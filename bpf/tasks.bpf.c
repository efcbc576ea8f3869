// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Task iterator: lists one process's threads with their TLS base, which is
 * what CPython stores as a thread state's thread_id (pthread_self()). That
 * pairs every PyThreadState with its kernel thread on every Python
 * version, in any pid namespace, without stopping the target. For a thread
 * that is blocked it also says why, the way EV_OFFCPU does (syscall, first
 * argument, kernel stack): `dump`, and record --idle for threads blocked
 * since before the recording (they send no EV_OFFCPU).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "profile.h"
#include "arch.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The process listed: set before each listing (one loaded program lists
 * any number of processes). The kernel filters too where it can (6.1+:
 * the iterator's link is made for one process). */
__u32 want_tgid = 0;

/* One entry is too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct task_entry);
} entry_scratch SEC(".maps");

SEC("iter/task")
int list_threads(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct task_entry *e;
	struct pt_regs *regs;
	__u32 zero = 0;
	long n;

	if (!t || t->tgid != want_tgid)
		return 0;
	e = bpf_map_lookup_elem(&entry_scratch, &zero);
	if (!e)
		return 0;
	e->tid = t->pid;
	e->state = t->__state;
	e->fsbase = arch_task_tls_base(t);
	BPF_CORE_READ_STR_INTO(&e->comm, t, comm);
	e->on_cpu = BPF_CORE_READ(t, on_cpu);
	e->syscall = -1;
	e->sysarg = 0;
	e->nkstack = 0;
	e->_pad = 0;
	if (e->state && !e->on_cpu) {
		regs = (struct pt_regs *)bpf_task_pt_regs(t);
		e->syscall = (__s32)arch_syscall_nr(regs);
		e->sysarg = arch_syscall_arg1(regs);
		n = bpf_get_task_stack(t, e->kstack, sizeof(e->kstack), 0);
		e->nkstack = n > 0 ? n / sizeof(e->kstack[0]) : 0;
	}
	bpf_seq_write(ctx->meta->seq, e, sizeof(*e));
	return 0;
}
