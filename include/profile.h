/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Contract between bpf/profile.bpf.c and user/: events, map values, stats. */
#ifndef PYROGRAPH_PROFILE_H
#define PYROGRAPH_PROFILE_H

/* BPF programs get the same types from vmlinux.h. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif
#include "pyoffsets.h"
#include "pytag.h"

/*
 * The walker keeps at most this many Python frames (the innermost ones);
 * deeper stacks are flagged SAMPLE_TRUNCATED.
 */
#define MAX_PY_FRAMES 1024
/* Loop bound for the walk: skipped shim frames do not consume a slot. */
#define MAX_FRAME_STEPS 2048
/* Threads examined when looking for the sampled thread's PyThreadState. */
#define MAX_THREAD_SCAN 1024
#define TASK_COMM_LEN 16

enum event_type {
	EV_SAMPLE = 1,
	EV_EXEC = 2,	 /* a process called exec: its image changed */
	EV_EXIT = 3,	 /* a process (thread group) exited */
	EV_DISCOVER = 4, /* a sample hit a process not yet classified */
	EV_FORK = 5,	 /* a tracked process forked (--subprocesses) */
	EV_OFFCPU = 6,	 /* a thread left the CPU: its stack and why (--idle, --gil) */
	EV_ONCPU = 7,	 /* it came back: how long it was away */
	EV_STALL = 8,	 /* an event-loop iteration over the threshold (async) */
	EV_STEP = 9,	 /* an asyncio task step ended (async) */
	EV_AWAIT = 10,	 /* a suspended task resumed: where and how long (async) */
	EV_MEM = 11,	 /* a process's resident memory changed (mem): value bytes */
	EV_GC = 12,	 /* a collection ended (mem): value ns, aux[0] generation,
			  * aux[1] objects collected */
	EV_ALLOC = 13,	 /* a sampled allocation (mem --allocations): value is
			  * the bytes it stands for */
	EV_LIVE = 14,	 /* a large allocation now tracked (mem --live): value
			  * bytes, aux[0] its address */
	EV_LIVE_FREE = 15, /* a tracked allocation was freed: struct live_free */
	EV_MAP = 16,	   /* memory taken (mem's held view): value bytes,
			    * aux[0] its address, aux[1] 1 if heap (brk) growth */
	EV_UNMAP = 17,	   /* memory given back: struct live_free (no stack) */
	EV_CHAIN = 18,	   /* an await chain seen for the first time (async) */
};

enum sample_flags {
	SAMPLE_TRUNCATED = 1 << 0, /* deeper than MAX_PY_FRAMES */
	SAMPLE_READ_ERROR = 1 << 1, /* a frame could not be read; stack is partial */
	SAMPLE_NO_TSTATE = 1 << 2, /* thread has no PyThreadState (native thread) */
	SAMPLE_KERNEL = 1 << 3,	  /* sampled while in the kernel */
	SAMPLE_PREEMPTED = 1 << 4, /* EV_OFFCPU: still runnable (preempted) */
	SAMPLE_GIL_WAIT = 1 << 5, /* EV_OFFCPU: blocked on a futex in the GIL */
	SAMPLE_IN_LOOP = 1 << 6,  /* async: a loop thread inside an iteration */
	SAMPLE_NEW_STACK = 1 << 7, /* counted stacks: seen for the first time;
				    * the next ones are counted under
				    * stack_hash in stack_counts */
};

/*
 * Stacks counted in the kernel: a sample whose stack (code, instruction,
 * tag of every frame; the process, the thread with --threads, the flags)
 * was seen before only increments its count here; userspace drains the
 * counts into the stacks it learnt from the first one.
 */
struct stack_key {
	__u64 hash;  /* of the frames */
	__u32 pid;   /* host tgid */
	__u32 tid;   /* host tid with --threads, else 0 */
	__u32 flags; /* SAMPLE_TRUNCATED | SAMPLE_READ_ERROR */
	__u32 _pad;
};

/* Kernel frames kept per event (--kernel, and the reason of an off-CPU wait). */
#define MAX_KSTACK 32
/* Bytes of user stack copied per sample for --native (upper bound). */
#define MAX_USTACK 16384

struct py_frame {
	__u64 code;  /* PyCodeObject * in the target */
	__u32 instr; /* instruction offset: see enum py_instr_kind; code units for 3.11+ */
	__u32 tag;   /* py_code_tag(): guards against code-object address reuse */
};

/* User registers at the sample, for the native unwinder (--native). */
struct user_regs {
	__u64 ip, sp, bp, bx, r12, r13, r14, r15;
};

struct sample_event {
	__u32 type; /* EV_SAMPLE or EV_OFFCPU */
	__u32 pid;  /* host tgid */
	__u32 tid;  /* host tid */
	__u32 flags;
	__u32 nframes;
	__u32 cpu;
	__u64 ktime;
	char comm[TASK_COMM_LEN]; /* thread name */
	__s32 syscall;	/* syscall the thread is in, -1 if none */
	__u32 nkstack;	/* valid entries of kstack */
	__u64 sysarg;	/* its first argument (the futex word of a wait) */
	__u64 weight_ns; /* EV_SAMPLE: time since this CPU's previous timer
			  * tick, which this sample stands for; 0: unknown */
	__s64 value;	 /* EV_MEM, EV_GC, EV_ALLOC: see enum event_type */
	__s64 aux[2];
	__u64 kstack[MAX_KSTACK]; /* kernel return addresses, innermost first */
	struct user_regs regs;
	__u32 ustack_len; /* bytes of user stack after frames[nframes] */
	__u32 _pad;
	__u64 stack_hash; /* SAMPLE_NEW_STACK: its key's hash */
	/* innermost first; only nframes sent, then ustack_len bytes of stack
	 * copied from regs.sp upwards */
	struct py_frame frames[MAX_PY_FRAMES];
};

struct oncpu_event {
	__u32 type; /* EV_ONCPU */
	__u32 pid;
	__u32 tid;
	__u32 _pad;
	__u64 ktime;
	__u64 offcpu_ns; /* since the thread's last EV_OFFCPU */
};

/*
 * pyrograph async: an event loop is a thread that polls (epoll_wait and
 * relatives); an iteration runs from leaving the poll to entering it again.
 * Iteration lengths are counted here per thread in log2 buckets of
 * microseconds: bucket 0 is < 2 us, bucket i is [2^i, 2^(i+1)) us.
 */
#define LOOP_BUCKETS 32

struct loop_state {
	__u64 iter_start; /* ktime the thread left its poll; 0: in the poll */
	__u64 off_since;  /* inside an iteration: off the CPU since; 0: on */
	__u64 off_ns;	  /* off-CPU time in the current iteration */
	__u64 preempt_ns; /* ... of which runnable (preempted, not blocked) */
	__u64 iters;	  /* iterations measured */
	__u64 sum_ns, max_ns;
	__u64 preempt_total; /* preempted time inside iterations, all of them */
	__u32 pid;	  /* host tgid */
	__u32 off_runnable; /* the thread off the CPU now was preempted */
	__u64 hist[LOOP_BUCKETS];
};

/* The iteration was running when its thread was first seen (as it entered
 * its poll): its start is when its process was added, its length at least
 * this (STALL_BEGAN_BEFORE, in stall_event.flags). */
#define STALL_BEGAN_BEFORE 1

struct stall_event {
	__u32 type; /* EV_STALL */
	__u32 pid;
	__u32 tid;
	__u32 flags; /* STALL_* */
	__u64 start;  /* ktime the iteration began (left the poll) */
	__u64 ns;     /* its length */
	__u64 off_ns; /* of which off the CPU (blocked, or waiting to run) */
	__u64 preempt_ns; /* ... of which waiting to run (preempted) */
};

/*
 * Task steps (async): each step of an asyncio Task sends into its
 * coroutine with PyIter_Send, called from the _asyncio module. Userspace
 * says where that module's code lies per process; calls from elsewhere
 * (the eval loop's SEND on 3.11) are not steps.
 */
struct asyncio_text {
	__u64 lo, hi; /* [lo, hi): callers that are task steps */
};

/*
 * Await chains (async): from a task's coroutine through the coroutines
 * each one awaits, outermost first. At most AWAIT_STEPS levels are walked
 * (deeper: AWAIT_TRUNCATED, the innermost are missing) and the innermost
 * AWAIT_DEPTH of them kept (deeper: the outermost are dropped).
 */
#define AWAIT_DEPTH 128
#define AWAIT_STEPS 256
#define AWAIT_TRUNCATED 1

/*
 * A chain as BPF sends it the first time a process suspends at it (a hash
 * of its frames names it from then on). Level i of the n walked is in
 * frames[i % AWAIT_DEPTH]; only the first min(n, AWAIT_DEPTH) entries are
 * sent.
 */
struct chain_event {
	__u32 type; /* EV_CHAIN */
	__u32 pid;
	__u32 n;
	__u32 flags; /* AWAIT_TRUNCATED */
	__u64 hash;
	struct py_frame frames[AWAIT_DEPTH];
};

/* Where chain_seen remembers a chain was sent. */
struct chain_key {
	__u64 hash;
	__u32 pid; /* host tgid */
	__u32 _pad;
};

/*
 * A task as steps know it: its coroutine object in its process. A task's
 * life is counted from `born`, the start of the loop iteration that ran
 * its first step (0: its first step was not seen, it began before);
 * first_instr is where its coroutine was at the first step seen.
 */
struct task_key {
	__u64 coro;
	__u32 pid; /* host tgid */
	__u32 _pad;
};

struct step_event {
	__u32 type; /* EV_STEP */
	__u32 pid;
	__u32 tid;
	__s32 result; /* 1: suspended (awaits), 0: finished (returned or raised),
		       * -1: unknown (its coroutine could not be read) */
	__u64 start;  /* ktime the step began */
	__u64 ns;
	__u64 coro;   /* the coroutine object: the task's identity */
	__u64 born;
	struct py_frame code; /* the coroutine's code (instr 0) */
	__u32 first_instr;
	__u32 _pad;
	__u64 off_ns;	  /* of ns, off the CPU (a loop thread's: blocked or
			   * preempted; 0 for others) */
	__u64 preempt_ns; /* ... of which preempted (runnable) */
};

struct await_event {
	__u32 type; /* EV_AWAIT */
	__u32 pid;
	__u32 tid;
	__u32 _pad;
	__u64 ktime;	 /* when the task resumed */
	__u64 ns;	 /* how long it was suspended */
	__u64 queued_ns; /* ... of which after the loop iteration that resumed
			  * it began: ready, behind other callbacks and steps */
	__u64 coro;
	__u64 chain;	 /* the hash of its await chain (EV_CHAIN) */
};

/*
 * mem --live: an allocation sent as EV_LIVE was freed (or moved by
 * realloc). No stack: userspace charges it to the allocation's.
 */
struct live_free {
	__u32 type; /* EV_LIVE_FREE */
	__u32 pid;
	__u64 addr;
	__u64 bytes;
	__u64 ktime;
};

/* Key of the tracked large allocations (mem --live). */
struct live_key {
	__u64 addr;
	__u32 pid; /* host tgid */
	__u32 _pad;
};

struct pyproc_event {
	__u32 type; /* EV_EXEC, EV_EXIT, EV_DISCOVER, EV_FORK */
	__u32 pid;
	__u32 ppid; /* EV_FORK: parent tgid */
	__u32 _pad;
	__u64 ktime;
	char comm[TASK_COMM_LEN];
};

/* One thread, as bpf/tasks.bpf.c lists them. */
struct task_entry {
	__u32 tid;   /* host tid */
	__u32 state; /* task->__state: 0 runnable, else blocked */
	__u64 fsbase;
	char comm[TASK_COMM_LEN];
	/* Why a blocked thread waits (state != 0 and not on a CPU), as
	 * EV_OFFCPU says it: the syscall it is in (-1: none) and its first
	 * argument, and its kernel stack, innermost first. */
	__s32 syscall;
	__u32 on_cpu; /* running right now (about to block, or not yet) */
	__u64 sysarg;
	__u32 nkstack;
	__u32 _pad;
	__u64 kstack[MAX_KSTACK];
};

/* Value of the per-process map, keyed by host tgid. */
struct py_proc {
	__u64 runtime; /* address of _PyRuntime in the target; 0: unsupported build */
	struct py_offsets off;
	/* The code-object fields hashed into the tag are read as one chunk of
	 * tag_len bytes at code + tag_start; tag_* are offsets in that chunk. */
	__u16 tag_start;
	__u16 tag_len;
	__u16 tag_first, tag_file, tag_name, tag_lt;
	/* The GIL (struct _gil_runtime_state) of the main interpreter; gil_addr
	 * 0 when unknown. last_holder is a PyThreadState pointer; locked is an
	 * int. */
	__u16 gil_last_holder, gil_locked, gil_size;
	__u16 _pad;
	__u64 gil_addr;
	__u64 since; /* ktime the process was added (profiler__add_proc) */
};

/* Largest chunk the walker reads for the tag. */
#define TAG_CHUNK 128

/*
 * Every selected tick lands in exactly one of the STAT_T_* buckets, so the
 * summary can account for every sample. STAT_PARTIAL and STAT_TRUNCATED
 * qualify emitted samples; STAT_DROP_EVENTS counts lost process events.
 */
enum stat_idx {
	STAT_TICKS,		/* timer ticks on a busy CPU, each selected for a
				 * sample; userspace calibrates the rate on them */
	STAT_T_OTHER,		/* a task of a process not (yet) known as Python */
	STAT_T_UNSUPPORTED,	/* a Python process we cannot read */
	STAT_T_NO_TSTATE,	/* a thread without a PyThreadState */
	STAT_T_NO_FRAMES,	/* a Python thread not running Python code */
	STAT_T_UNREADABLE,	/* the thread state or first frame was unreadable */
	STAT_T_NOT_GIL,		/* --gil: the thread did not hold the GIL */
	STAT_T_RINGBUF_FULL,	/* walked, but the ring buffer was full */
	STAT_T_EMITTED,		/* sent to userspace */
	STAT_PARTIAL,		/* emitted with a frame chain that broke off */
	STAT_TRUNCATED,		/* emitted, deeper than MAX_PY_FRAMES */
	STAT_DROP_EVENTS,	/* process events lost (ring buffer full) */
	STAT_OFF_EMITTED,	/* off-CPU intervals opened (EV_OFFCPU sent) */
	STAT_OFF_LOST,		/* switch-outs lost: ring buffer full */
	STAT_OFF_NO_STACK,	/* switch-outs of Python threads with no stack */
	STAT_ON_LOST,		/* returns lost (EV_ONCPU): interval dropped */
	STAT_USTACK_FAIL,	/* --native: user stack could not be copied */
	STAT_LOOP_FULL,		/* async: polling threads beyond the loops map */
	STAT_STALL_LOST,	/* async: stall events lost (ring buffer full) */
	STAT_T_NOT_LOOP,	/* async: a tick outside an event-loop iteration */
	STAT_STEP_LOST,		/* async: task steps or resumes lost (ring buffer full) */
	STAT_MEM_EVENTS,	/* mem: resident-memory changes sent */
	STAT_MEM_NO_STACK,	/* mem: ... of which without a Python stack */
	STAT_MEM_LOST,		/* mem: changes lost (ring buffer full) */
	STAT_GC_LOST,		/* mem: collections lost (ring buffer full) */
	STAT_ALLOC_LOST,	/* mem: allocation samples lost (ring buffer full) */
	STAT_LIVE_EVENTS,	/* mem --live: large allocations tracked (EV_LIVE) */
	STAT_LIVE_FULL,		/* ... not tracked: the live map was full */
	STAT_LIVE_LOST,		/* ... not tracked: ring buffer full */
	STAT_LIVE_FREE_LOST,	/* frees of tracked ones lost (ring buffer full):
				 * userspace keeps counting them live */
	STAT_MAP_EVENTS,	/* mem: mappings and heap growth sent (EV_MAP) */
	STAT_MAP_LOST,		/* ... lost (ring buffer full) */
	STAT_UNMAP_LOST,	/* unmappings lost (ring buffer full): their
				 * memory stays counted as held */
	STAT_T_COUNTED,		/* counted in stack_counts (a stack seen before) */
	STAT_COUNT_FULL,	/* a new stack found stack_counts full: sent
				 * as every sample of it will be (not lost) */
	STAT_CHAIN_LOST,	/* async: await chains lost (ring buffer full); sent
				 * again at the next suspension there */
	STAT_CHAIN_DEEP,	/* async: await chains deeper than AWAIT_STEPS */
	STAT_MAP_UNCHECKED,	/* mem: mprotects whose mapping could not be
				 * looked at (its mm busy): not counted */
	STAT_NR,
};

#endif /* PYROGRAPH_PROFILE_H */
