/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Part of profile.bpf.c: memory held (mem's default view). A Python
 * process takes memory from the kernel in mappings: pymalloc's arenas
 * (every small object lives in one), the C allocator's large blocks
 * (mmap'ed one each), its heap (brk) and its other threads' heaps (a
 * reservation made writable page by page with mprotect). Each new
 * writable private anonymous mapping, and each extension of a heap, is
 * sent with the Python stack of the thread that made it; each unmapping,
 * heap shrink or move is sent without one, and userspace takes it off the
 * mapping's maker. So memory given back is never charged to whatever runs
 * at the time, and what is never given back stays with the stack that
 * took it.
 *
 * The hooks are the syscalls' tracepoints, not the C library: a mapping
 * syscall is rare (one per arena of 1 MiB, one per large block), and the
 * allocators' hot paths never trap. (fentry/fexit on the syscalls would do
 * as well, but BPF trampolines are not available on every kernel: the VMs
 * measured refuse them.)
 */
#ifndef PYROGRAPH_HELD_BPF_H
#define PYROGRAPH_HELD_BPF_H

/* Linux's generic mmap flags and protections (x86-64 and arm64 alike). */
#define HELD_PROT_WRITE 0x2
#define HELD_MAP_SHARED 0x1
#define HELD_MAP_FIXED 0x10
#define HELD_MAP_ANONYMOUS 0x20
#define HELD_PAGE 4096ULL
/* vm_area_struct.vm_flags (include/linux/mm.h) */
#define HELD_VM_SHARED 0x00000008
/* glibc's HEAP_MAX_SIZE on 64-bit: a thread's heap starts at a multiple */
#define HELD_HEAP_ALIGN (64ULL << 20)

/* A mapping syscall in progress: its number and arguments (for brk, the
 * program break before it), per thread. */
struct held_call {
	__u64 nr;
	__u64 arg[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct held_call);
} held_calls SEC(".maps");

/* A tracked Python process, or NULL. */
static __always_inline struct py_proc *held_proc(void)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct py_proc *proc = bpf_map_lookup_elem(&procs, &tgid);

	return proc && proc->runtime ? proc : NULL;
}

/* A syscall's return value that is an address, not -errno. */
static __always_inline bool held_ok(long ret)
{
	return (unsigned long)ret < (unsigned long)-4095;
}

static __always_inline __u64 held_pages(__u64 len)
{
	if (len > (1ULL << 46))
		len = 1ULL << 46; /* no mapping is larger: a garbage length */
	return (len + HELD_PAGE - 1) & ~(HELD_PAGE - 1);
}

/* [addr, addr + len) taken, by the current thread's Python stack. */
static __always_inline void held_map(void *ctx, struct py_proc *proc,
				     __u64 addr, __u64 len, bool heap)
{
	__u32 why;

	if (!len)
		return;
	why = emit_value(ctx, proc, EV_MAP, held_pages(len), addr, heap);
	if (why == STAT_T_RINGBUF_FULL)
		stat_inc(STAT_MAP_LOST);
	else
		stat_inc(STAT_MAP_EVENTS);
}

/* [addr, addr + len) given back: userspace knows whose it was. */
static __always_inline void held_unmap(__u64 addr, __u64 len)
{
	struct live_free e = { .type = EV_UNMAP,
			       .pid = bpf_get_current_pid_tgid() >> 32,
			       .addr = addr,
			       .bytes = held_pages(len) };

	if (!len)
		return;
	e.ktime = bpf_ktime_get_ns();
	if (bpf_ringbuf_output(&events, &e, sizeof(e), BPF_RB_NO_WAKEUP))
		stat_inc(STAT_UNMAP_LOST);
}

static __always_inline bool held_nr(__u64 nr)
{
	return nr == NR_MMAP || nr == NR_MUNMAP || nr == NR_MREMAP ||
	       nr == NR_BRK || nr == NR_MPROTECT;
}

/* Entry of a mapping syscall of a tracked process: its arguments, kept
 * for the exit (the registers that held them are not kept). */
static __always_inline void held_enter(long nr, __u64 a0, __u64 a1, __u64 a2,
				       __u64 a3)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct held_call c = { .nr = nr, .arg = { a0, a1, a2, a3 } };
	struct mm_struct *mm;

	if (!held_proc())
		return;
	if (nr == NR_BRK) {
		mm = bpf_get_current_task_btf()->mm;
		if (!mm)
			return;
		c.arg[0] = BPF_CORE_READ(mm, brk);
	}
	bpf_map_update_elem(&held_calls, &tid, &c, BPF_ANY);
}

/* mmap: a fixed mapping replaces what was there (glibc trims its thread
 * heaps so); a private anonymous writable one is memory taken. */
static __always_inline void held_mmap(void *ctx, struct py_proc *proc,
				      const struct held_call *c, long ret)
{
	if (c->arg[3] & HELD_MAP_FIXED)
		held_unmap(ret, c->arg[1]);
	if ((c->arg[2] & HELD_PROT_WRITE) && (c->arg[3] & HELD_MAP_ANONYMOUS) &&
	    !(c->arg[3] & HELD_MAP_SHARED))
		held_map(ctx, proc, ret, c->arg[1], false);
}

/* bpf_find_vma's callback: is vma private, anonymous and does it start
 * where a glibc thread heap does? */
static long thread_heap_vma(struct task_struct *task,
			    struct vm_area_struct *vma, void *data)
{
	bool *yes = data;

	*yes = !vma->vm_file && !(vma->vm_flags & HELD_VM_SHARED) &&
	       !(vma->vm_start & (HELD_HEAP_ALIGN - 1));
	return 0;
}

/*
 * mprotect: glibc grows a thread's heap (every thread but the first
 * mallocs from one) by making the next pages of its PROT_NONE reservation
 * writable: memory taken. The reservation is aligned to HEAP_MAX_SIZE, and
 * its writable part, one mapping from the start, then starts there. Thread
 * stacks are made writable the same way, but a page above their mapping's
 * start (the guard): left out, as before, rather than charge 8 MiB to
 * whoever started a thread.
 */
static __always_inline void held_mprotect(void *ctx, struct py_proc *proc,
					  const struct held_call *c)
{
	bool yes = false;

	if (!(c->arg[2] & HELD_PROT_WRITE))
		return;
	if (bpf_find_vma(bpf_get_current_task_btf(), c->arg[0],
			 thread_heap_vma, &yes, 0)) {
		stat_inc(STAT_MAP_UNCHECKED);
		return;
	}
	if (yes)
		held_map(ctx, proc, c->arg[0], c->arg[1], false);
}

static __always_inline void held_exit(void *ctx, long nr, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct held_call c, *cp;
	struct py_proc *proc;

	cp = bpf_map_lookup_elem(&held_calls, &tid);
	if (!cp)
		return;
	c = *cp;
	bpf_map_delete_elem(&held_calls, &tid);
	proc = held_proc();
	if (!proc || c.nr != (__u64)nr)
		return;
	switch (c.nr) {
	case NR_MMAP:
		if (held_ok(ret))
			held_mmap(ctx, proc, &c, ret);
		break;
	case NR_MUNMAP:
		if (!ret)
			held_unmap(c.arg[0], c.arg[1]);
		break;
	case NR_MPROTECT:
		if (!ret)
			held_mprotect(ctx, proc, &c);
		break;
	case NR_MREMAP:
		/* moved or resized: the old one given back, the new one
		 * taken by the stack that resized it (realloc of a large
		 * block) */
		if (held_ok(ret)) {
			held_unmap(c.arg[0], c.arg[1]);
			held_map(ctx, proc, ret, c.arg[2], false);
		}
		break;
	case NR_BRK:
		/* the heap grows at its top and shrinks from it: userspace
		 * takes a shrink off the stacks that grew its top part */
		if (c.arg[0] && (__u64)ret > c.arg[0])
			held_map(ctx, proc, c.arg[0], (__u64)ret - c.arg[0], true);
		else if (c.arg[0] && (__u64)ret < c.arg[0])
			held_unmap(ret, c.arg[0] - (__u64)ret);
		break;
	}
}

/*
 * The hooks, in one of two forms; userspace loads one (held_hooks.c). The
 * tracepoints of the four syscalls run only for them (attached by
 * userspace, so a bare SEC: no auto-attach); the fallback, for kernels
 * without syscall tracepoints or without tracefs, runs for every syscall
 * of the host and tests the number first.
 */
/* The kernel refuses a program that reads past the arguments of the
 * syscall it is attached to: one per number of arguments read. mmap and
 * mremap: four (mremap has five, mmap six). */
SEC("?tracepoint")
int py_held_tp_enter(struct trace_event_raw_sys_enter *ctx)
{
	held_enter(ctx->id, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3]);
	return 0;
}

/* mprotect: three */
SEC("?tracepoint")
int py_held_tp_enter3(struct trace_event_raw_sys_enter *ctx)
{
	held_enter(ctx->id, ctx->args[0], ctx->args[1], ctx->args[2], 0);
	return 0;
}

/* munmap: two */
SEC("?tracepoint")
int py_held_tp_enter2(struct trace_event_raw_sys_enter *ctx)
{
	held_enter(ctx->id, ctx->args[0], ctx->args[1], 0, 0);
	return 0;
}

/* brk: none (the break before it is read from the mm) */
SEC("?tracepoint")
int py_held_tp_enter0(struct trace_event_raw_sys_enter *ctx)
{
	held_enter(ctx->id, 0, 0, 0, 0);
	return 0;
}

SEC("?tracepoint")
int py_held_tp_exit(struct trace_event_raw_sys_exit *ctx)
{
	held_exit(ctx, ctx->id, ctx->ret);
	return 0;
}

SEC("?tp_btf/sys_enter")
int BPF_PROG(py_held_enter, struct pt_regs *regs, long nr)
{
	if (held_nr(nr))
		held_enter(nr, arch_syscall_arg(regs, 0), arch_syscall_arg(regs, 1),
			   arch_syscall_arg(regs, 2), arch_syscall_arg(regs, 3));
	return 0;
}

SEC("?tp_btf/sys_exit")
int BPF_PROG(py_held_exit, struct pt_regs *regs, long ret)
{
	/* regs is a trusted BTF pointer here: a plain load (this runs for
	 * every syscall on the host) */
	long nr = arch_syscall_nr_btf(regs);

	if (held_nr(nr))
		held_exit(ctx, nr, ret);
	return 0;
}

#endif /* PYROGRAPH_HELD_BPF_H */
