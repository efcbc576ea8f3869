// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The profiler's one BPF object (one skeleton, profile.skel.h): the knobs
 * userspace sets (user/core/profiler.c) and the programs, one header per
 * feature. The headers are parts of this file, not standalone: each uses
 * these knobs and what the headers included before it define, so the order
 * of the includes below is their order of dependency. Registers, the TLS
 * base and syscall numbers are named only in arch_<arch>.bpf.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include <bpf/usdt.bpf.h>

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
/* --idle / --gil: trace context switches of Python threads. */
const volatile bool track_offcpu = false;
/* --gil: on-CPU samples only from the GIL holder; off-CPU only GIL waits. */
const volatile bool gil_only = false;
/* --kernel: kernel frames with on-CPU samples. */
const volatile bool want_kstack = false;
/* --native: bytes of user stack copied per sample (0: none). */
const volatile __u32 ustack_bytes = 0;
/*
 * pyrograph async: time event-loop iterations, and send stacks (on and off
 * the CPU) only of loop threads inside an iteration: that is where a stall
 * happens, and everything else would be paid for and thrown away.
 */
const volatile bool track_loops = false;
/* With track_loops: CPU samples only of loop threads inside iterations
 * (async); pyrograph check samples every Python thread (its CPU rule
 * names the hottest function). */
const volatile bool loops_only = true;
/* Iterations at least this long are sent as EV_STALL. */
const volatile __u64 stall_ns = 100000000;
/* A consumer that runs without end (the agent's metrics) reads the loops
 * every second; a loop thread's entry then goes when the thread does, so
 * dead threads cannot fill the table. async reads them once, at the end,
 * and keeps them. */
const volatile bool loops_reap = false;
/* Task steps are probed (async without --no-steps): the poll's entry
 * ends the open step. */
const volatile bool track_steps = false;
/* EV_STEP for every task step: the agent's metrics use only the resumes
 * (await latency), so it does not have them sent. */
const volatile bool step_events = true;
/* CPU samples of stacks seen before are counted in the kernel, not sent
 * (only when no consumer needs each sample: no time order, no weights,
 * no kernel or native frames). */
const volatile bool count_stacks = false;
/* ... per thread (--threads): the key holds the tid. */
const volatile bool count_tid = false;
/* record --tasks: CPU samples carry the running coroutine's frame (aux[0])
 * and its index + 1 among the frames (aux[1]; 0: none). */
const volatile bool track_tasks = false;
/* pyrograph mem --allocations: one sample per this many bytes, on average. */
const volatile __u64 alloc_period = 512 * 1024;
/* pyrograph mem --live: C allocations of at least this many bytes are
 * tracked until freed. */
const volatile __u64 live_min = 64 * 1024;

#include "arch.bpf.h"	 /* the CPU architecture's facts */
#include "pywalk.bpf.h"	 /* the Python stack walker */
#include "maps.bpf.h"	 /* maps and helpers every feature shares */
#include "emit.bpf.h"	 /* sending a thread's stack to userspace */
#include "cpu.bpf.h"	 /* on-CPU samples */
#include "offcpu.bpf.h"	 /* off-CPU intervals (--idle, --gil) */
#include "asyncio.bpf.h" /* asyncio task steps and await latency */
#include "loops.bpf.h"	 /* event-loop iterations and stalls */
#include "mem.bpf.h"	 /* resident memory growth (mem) */
#include "gc.bpf.h"	 /* collections (mem) */
#include "alloc.bpf.h"	 /* sampled allocations (mem --allocations) */
#include "live.bpf.h"	 /* allocations not freed yet (mem --live) */
#include "held.bpf.h"	 /* memory mapped and not given back (mem) */
#include "procs.bpf.h"	 /* process exec, exit and fork */
