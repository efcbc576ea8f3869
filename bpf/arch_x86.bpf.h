/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * x86-64: what arch.bpf.h says every architecture provides. Register
 * names are CO-RE relocated against struct pt_regs of the running kernel.
 */
#ifndef PYROGRAPH_ARCH_X86_BPF_H
#define PYROGRAPH_ARCH_X86_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "profile.h"

/* Syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl). */
#define NR_FUTEX 202
#define NR_EPOLL_WAIT 232
#define NR_EPOLL_PWAIT 281
#define NR_EPOLL_PWAIT2 441
#define NR_MMAP 9
#define NR_MPROTECT 10
#define NR_MUNMAP 11
#define NR_BRK 12
#define NR_MREMAP 25

/*
 * At a return probe, sp is above its value at the function's entry probe
 * by this much: the return pops the return address the call pushed.
 */
#define ARCH_RET_SP_DELTA 8

/*
 * The syscall a task is in, from its saved user registers
 * (bpf_task_pt_regs()): orig_ax, since ax is the return value by the time
 * the syscall returns.
 */
static __always_inline __u64 arch_syscall_nr(struct pt_regs *regs)
{
	return BPF_CORE_READ(regs, orig_ax);
}

/* The same where regs is a trusted BTF pointer (a tp_btf argument): a
 * plain load, no helper call. */
static __always_inline __u64 arch_syscall_nr_btf(struct pt_regs *regs)
{
	return regs->orig_ax;
}

/* The first argument of the syscall a task is in (the futex word of a
 * futex wait). */
static __always_inline __u64 arch_syscall_arg1(struct pt_regs *regs)
{
	return BPF_CORE_READ(regs, di);
}

/*
 * Copies the user registers the native unwinder starts from (--native):
 * ip, sp and those the frames' CFI may restore a caller's from (bp, bx,
 * r12-r15, the callee-saved ones). Returns sp, where the stack copy
 * starts.
 */
static __always_inline __u64 arch_user_regs(struct user_regs *out,
					    struct pt_regs *regs)
{
	__u64 sp = BPF_CORE_READ(regs, sp);

	out->ip = BPF_CORE_READ(regs, ip);
	out->sp = sp;
	out->bp = BPF_CORE_READ(regs, bp);
	out->bx = BPF_CORE_READ(regs, bx);
	out->r12 = BPF_CORE_READ(regs, r12);
	out->r13 = BPF_CORE_READ(regs, r13);
	out->r14 = BPF_CORE_READ(regs, r14);
	out->r15 = BPF_CORE_READ(regs, r15);
	return sp;
}

/* Did the perf sample interrupt user mode? cs's low two bits are the
 * privilege level. */
static __always_inline bool arch_perf_user_mode(struct bpf_perf_event_data *ctx)
{
	/* Context fields must be read 8 bytes wide; cs is a u16 there. */
	__u64 cs =
		*(__u64 *)((void *)&ctx->regs + offsetof(struct pt_regs, cs));

	return cs & 3;
}

/*
 * A task's TLS base, fs: with glibc and musl on x86-64 it is also what
 * pthread_self() returns there, which CPython keeps as a thread state's
 * thread_id.
 */
static __always_inline __u64 arch_task_tls_base(struct task_struct *task)
{
	return BPF_CORE_READ(task, thread.fsbase);
}

/* The stack pointer of a uprobe's or uretprobe's user context. */
static __always_inline __u64 arch_stack_pointer(struct pt_regs *ctx)
{
	return PT_REGS_SP(ctx);
}

/*
 * At a function's first instruction (a uprobe at its entry or its PLT
 * stub): the address it will return to, which the call pushed at *sp.
 * 0 when unreadable.
 */
static __always_inline __u64 arch_entry_return_addr(struct pt_regs *ctx)
{
	__u64 ret = 0;

	if (bpf_probe_read_user(&ret, sizeof(ret),
				(void *)arch_stack_pointer(ctx)))
		return 0;
	return ret;
}

/* Argument n (0-5) of the syscall whose user registers are regs, in the
 * syscall ABI's order (r10, not cx, is the fourth). */
static __always_inline __u64 arch_syscall_arg(const struct pt_regs *regs, int n)
{
	switch (n) {
	case 0:
		return BPF_CORE_READ(regs, di);
	case 1:
		return BPF_CORE_READ(regs, si);
	case 2:
		return BPF_CORE_READ(regs, dx);
	case 3:
		return BPF_CORE_READ(regs, r10);
	case 4:
		return BPF_CORE_READ(regs, r8);
	default:
		return BPF_CORE_READ(regs, r9);
	}
}

#endif /* PYROGRAPH_ARCH_X86_BPF_H */
