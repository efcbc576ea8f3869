// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Task iterator for `pyrograph dump`: lists one process's threads with
 * their TLS base, which is what CPython stores as a thread state's
 * thread_id (pthread_self()). That pairs every PyThreadState with its
 * kernel thread on every Python version, in any pid namespace, without
 * stopping the target.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "profile.h"
#include "arch.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile __u32 want_tgid = 0;

SEC("iter/task")
int list_threads(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	struct task_entry e = {};

	if (!t || t->tgid != want_tgid)
		return 0;
	e.tid = t->pid;
	e.state = t->__state;
	e.fsbase = arch_task_tls_base(t);
	BPF_CORE_READ_STR_INTO(&e.comm, t, comm);
	bpf_seq_write(ctx->meta->seq, &e, sizeof(e));
	return 0;
}
