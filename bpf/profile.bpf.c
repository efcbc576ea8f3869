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
#include <bpf/usdt.bpf.h>
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
/* EV_STEP for every task step: the agent's metrics use only the resumes
 * (await latency), so it does not have them sent. */
const volatile bool step_events = true;
/* pyrograph mem --allocations: one sample per this many bytes, on average. */
const volatile __u64 alloc_period = 512 * 1024;
/* pyrograph mem --live: C allocations of at least this many bytes are
 * tracked until freed. */
const volatile __u64 live_min = 64 * 1024;

/*
 * Per CPU, to weight on-CPU samples by the busy time they stand for: the
 * time since the previous tick minus the time the CPU idled meanwhile (the
 * timer does not tick in idle). Idle time is only tracked with --idle/--gil,
 * the only modes that use weights.
 */
struct cpu_time {
	__u64 last_tick;
	__u64 idle_at_tick; /* idle_total at last_tick */
	__u64 idle_since;   /* 0: not idle */
	__u64 idle_total;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cpu_time);
} cpu_time SEC(".maps");

/* tid -> when its current off-CPU interval began (EV_OFFCPU sent). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u64);
} offcpu_start SEC(".maps");

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

/* A new loop_state starts as a copy of this (too big for the BPF stack). */
static struct loop_state empty_loop;

/* tid -> its event-loop timing (async); userspace reads it at the end. */
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

/* Is addr inside the GIL (a futex wait there is a wait for the GIL)? */
static __always_inline bool in_gil(const struct py_proc *proc, __u64 addr)
{
	return proc->gil_addr && addr >= proc->gil_addr &&
	       addr < proc->gil_addr + proc->gil_size;
}

/* Does tstate hold the GIL right now? */
static __always_inline bool holds_gil(const struct py_proc *proc, __u64 tstate)
{
	__u32 locked = 0;

	if (bpf_probe_read_user(&locked, sizeof(locked),
				(void *)(proc->gil_addr + proc->gil_locked)))
		return false;
	return locked &&
	       read_ptr(proc->gil_addr + proc->gil_last_holder) == tstate;
}

struct ucopy_ctx {
	struct walk_scratch *s;
	__u64 src;  /* next user address to copy */
	__u32 base; /* where the copy starts in s->ev.frames (bytes) */
	__u32 done;
	__u32 want;
};

/* Copies the user stack a page at a time: the stack's top page is the
 * boundary, and one oversized read would fail as a whole. */
static long ucopy_step(__u32 i, void *data)
{
	struct ucopy_ctx *c = data;
	__u32 chunk = 4096 - (c->src & 4095), off;

	if (c->done >= c->want)
		return 1;
	if (chunk > c->want - c->done)
		chunk = c->want - c->done;
	off = (c->base & (MAX_PY_FRAMES * sizeof(struct py_frame) * 2 - 1)) +
	      (c->done & (MAX_USTACK - 1));
	if (chunk > 4096 || chunk == 0 ||
	    off > sizeof(c->s->ev.frames) + MAX_USTACK - 4096)
		return 1;
	if (bpf_probe_read_user((__u8 *)c->s->ev.frames + off, chunk & 4095 ?: 4096,
				(void *)c->src))
		return 1;
	c->done += chunk;
	c->src += chunk;
	return 0;
}

/*
 * Walks the current thread's Python stack and sends it as one event of the
 * given type, with what the thread was doing in the kernel and, for
 * --native, its user registers and stack. Returns 0, or the STAT_T_*
 * bucket that explains why nothing was sent.
 */
static __always_inline __u32 emit_stack(void *ctx, struct walk_scratch *s,
					const struct py_proc *proc, __u32 type,
					__u64 id, __u64 tstate, __u32 flags,
					bool kstack)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	__u32 n, ulen = 0;
	long sz, ks;

	n = py_walk_stack(s, proc, tstate, &flags);
	if (!n)
		return (flags & SAMPLE_READ_ERROR) ? STAT_T_UNREADABLE :
						     STAT_T_NO_FRAMES;
	s->ev.type = type;
	s->ev.pid = id >> 32;
	s->ev.tid = (__u32)id;
	s->ev.nframes = n;
	s->ev.cpu = bpf_get_smp_processor_id();
	s->ev.ktime = bpf_ktime_get_ns();
	bpf_get_current_comm(s->ev.comm, sizeof(s->ev.comm));
	s->ev.syscall = (__s32)arch_syscall_nr(regs);
	s->ev.sysarg = arch_syscall_arg1(regs);
	s->ev.nkstack = 0;
	if (kstack) {
		ks = bpf_get_stack(ctx, s->ev.kstack, sizeof(s->ev.kstack), 0);
		if (ks > 0)
			s->ev.nkstack = ks / sizeof(__u64);
	}
	if (ustack_bytes) {
		struct ucopy_ctx u = {
			.s = s,
			.src = arch_user_regs(&s->ev.regs, regs),
			.base = n * sizeof(struct py_frame),
			.want = ustack_bytes,
		};

		bpf_loop(MAX_USTACK / 4096 + 1, ucopy_step, &u, 0);
		ulen = u.done;
		if (!ulen)
			stat_inc(STAT_USTACK_FAIL);
	}
	s->ev.ustack_len = ulen;
	s->ev.flags = flags;

	sz = offsetof(struct sample_event, frames) +
	     (long)(n & (2 * MAX_PY_FRAMES - 1)) * sizeof(struct py_frame) +
	     (ulen & (2 * MAX_USTACK - 1));
	if (sz > (long)(sizeof(s->ev) + MAX_USTACK))
		sz = sizeof(s->ev) + MAX_USTACK;
	if (bpf_ringbuf_output(&events, &s->ev, sz,
			       bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >=
					       wakeup_bytes ?
				       BPF_RB_FORCE_WAKEUP :
				       BPF_RB_NO_WAKEUP))
		return STAT_T_RINGBUF_FULL;
	if (flags & SAMPLE_READ_ERROR)
		stat_inc(STAT_PARTIAL);
	if (flags & SAMPLE_TRUNCATED)
		stat_inc(STAT_TRUNCATED);
	return 0;
}

SEC("perf_event")
int py_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, tid = (__u32)id, why;
	struct walk_scratch *s;
	struct py_proc *proc;
	__u64 tstate, now = bpf_ktime_get_ns(), weight = 0;
	struct cpu_time *ct;
	__u32 zero = 0, flags = 0;

	if (!tgid)
		return 0; /* idle */
	/* The busy time since the previous busy tick on this CPU is what this
	 * sample stands for: the periods are randomised, and restarting the
	 * timer to re-draw them makes the nominal period inexact. A tick in
	 * idle leaves it alone, so busy time is never dropped with it. */
	ct = bpf_map_lookup_elem(&cpu_time, &zero);
	if (ct) {
		if (ct->last_tick)
			weight = now - ct->last_tick -
				 (ct->idle_total - ct->idle_at_tick);
		ct->last_tick = now;
		ct->idle_at_tick = ct->idle_total;
	}
	stat_inc(STAT_TICKS);

	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc) {
		__u8 one = 1;

		stat_inc(STAT_T_OTHER);
		if (!is_target(tgid))
			return 0;
		/* A process past its exit tracepoint would leave a stale
		 * entry behind (nothing deletes it any more). */
		if (bpf_get_current_task_btf()->flags & PF_EXITING)
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
	if (track_loops) {
		struct loop_state *ls = bpf_map_lookup_elem(&loops, &tid);

		if (ls && ls->iter_start) {
			flags |= SAMPLE_IN_LOOP;
		} else if (loops_only) {
			stat_inc(STAT_T_NOT_LOOP);
			return 0;
		}
	}
	if (gil_only && proc->gil_addr && !holds_gil(proc, tstate)) {
		stat_inc(STAT_T_NOT_GIL);
		return 0;
	}
	s = scratch_get();
	if (!s) {
		stat_inc(STAT_T_UNREADABLE);
		return 0;
	}
	s->ev.weight_ns = weight;
	why = emit_stack(ctx, s, proc, EV_SAMPLE, id, tstate,
			 flags | (arch_perf_user_mode(ctx) ? 0 : SAMPLE_KERNEL),
			 want_kstack);
	stat_inc(why ?: STAT_T_EMITTED);
	return 0;
}

/*
 * Off-CPU time (--idle, --gil): when a Python thread leaves the CPU its
 * stack is sent right away (current is still prev here, so its memory is
 * readable) with the kernel stack and syscall that say why; when it comes
 * back only the elapsed time is sent, and userspace joins the two by tid.
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(py_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	__u32 ntid = next->pid, tid = prev->pid, tgid = prev->tgid;
	__u32 flags = 0, why, zero = 0;
	__u64 now = bpf_ktime_get_ns(), *start, tstate;
	struct loop_state *ls = NULL;
	struct cpu_time *ct;
	struct walk_scratch *s;
	struct py_proc *proc;

	if (!track_offcpu)
		return 0;
	ct = bpf_map_lookup_elem(&cpu_time, &zero);
	if (ct) {
		if (!tid && ct->idle_since) {
			ct->idle_total += now - ct->idle_since;
			ct->idle_since = 0;
		}
		if (!ntid)
			ct->idle_since = now;
	}
	start = bpf_map_lookup_elem(&offcpu_start, &ntid);
	if (start) {
		struct oncpu_event *e;

		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (e) {
			e->type = EV_ONCPU;
			e->pid = next->tgid;
			e->tid = ntid;
			e->_pad = 0;
			e->ktime = now;
			e->offcpu_ns = now - *start;
			bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
		} else {
			stat_inc(STAT_ON_LOST);
		}
		bpf_map_delete_elem(&offcpu_start, &ntid);
	}
	if (track_loops) {
		ls = bpf_map_lookup_elem(&loops, &ntid);
		if (ls && ls->off_since) {
			ls->off_ns += now - ls->off_since;
			ls->off_since = 0;
		}
		/* Only a loop thread leaving the CPU inside an iteration:
		 * its waits in the poll are the loop being idle. */
		ls = bpf_map_lookup_elem(&loops, &tid);
		if (!ls || !ls->iter_start)
			return 0;
		ls->off_since = now;
	}
	if (!tgid || (prev->flags & PF_EXITING))
		return 0; /* the idle task, or a thread on its way out */
	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc || !proc->runtime)
		return 0;
	if (prev_state == 0) /* TASK_RUNNING: preempted, not blocked */
		flags |= SAMPLE_PREEMPTED;
	if (gil_only || proc->gil_addr) {
		struct pt_regs *regs =
			(struct pt_regs *)bpf_task_pt_regs(prev);
		bool gil = !(flags & SAMPLE_PREEMPTED) &&
			   arch_syscall_nr(regs) == NR_FUTEX &&
			   in_gil(proc, arch_syscall_arg1(regs));

		if (gil)
			flags |= SAMPLE_GIL_WAIT;
		else if (gil_only)
			return 0;
	}
	tstate = py_find_tstate(proc, tid);
	s = scratch_get();
	if (!tstate || !s) {
		stat_inc(STAT_OFF_NO_STACK);
		return 0;
	}
	s->ev.weight_ns = 0;
	why = emit_stack(ctx, s, proc, EV_OFFCPU, ((__u64)tgid << 32) | tid,
			 tstate, flags, true);
	if (why == STAT_T_RINGBUF_FULL) {
		stat_inc(STAT_OFF_LOST);
		return 0;
	}
	if (why) {
		stat_inc(STAT_OFF_NO_STACK);
		return 0;
	}
	bpf_map_update_elem(&offcpu_start, &tid, &now, BPF_ANY);
	stat_inc(STAT_OFF_EMITTED);
	return 0;
}

/* ---- asyncio task steps and await latency (async) ---- */

/* pid -> where its _asyncio module's code lies (set by userspace). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct asyncio_text);
} asyncio_text SEC(".maps");

struct step_ctx {
	__u64 coro, start;
	struct py_frame code;
};

/* tid -> the step it is running (steps do not nest on a thread). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct step_ctx);
} steps SEC(".maps");

/* coroutine -> where it is suspended. LRU: a task that is never resumed
 * (cancelled, or its loop stopped) ages out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct await_chain);
} suspended_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct await_chain);
} chain_scratch SEC(".maps");

/* The code, instruction and tag of the interpreter frame at addr. */
static __always_inline bool read_iframe(struct walk_scratch *s,
					const struct py_proc *proc, __u64 addr,
					struct py_frame *out)
{
	const struct py_offsets *o = &proc->off;
	__u64 code, ip, base, instr;

	if (bpf_probe_read_user(s->chunk, sizeof(s->chunk), (void *)addr))
		return false;
	code = chunk_u64(s->chunk, o->frame_code) & ~(__u64)o->code_tag_mask;
	if (!code)
		return false;
	ip = chunk_u64(s->chunk, o->frame_instr);
	base = code + o->code_adaptive;
	instr = ip >= base ? (ip - base) / 2 : 0;
	out->code = code;
	out->instr = instr > 0x7fffffff ? 0x7fffffff : (__u32)instr;
	out->tag = code_tag(s, proc, code);
	return true;
}

struct chain_ctx {
	struct walk_scratch *s;
	const struct py_proc *proc;
	struct await_chain *c;
	__u64 obj;  /* the coroutine at this level */
	__u64 type; /* the task coroutine's type: deeper levels must match */
};

/* One level: record obj's frame, then step to what it awaits. */
static long chain_step(__u32 i, void *data)
{
	struct chain_ctx *x = data;
	const struct py_offsets *o = &x->proc->off;
	__u64 frame = x->obj + o->gen_iframe, yf = 0;
	__u32 n = x->c->n;

	if (n >= AWAIT_DEPTH ||
	    !read_iframe(x->s, x->proc, frame, &x->c->frames[n & (AWAIT_DEPTH - 1)]))
		return 1;
	x->c->n = n + 1;
	if (o->stack_kind == PY_STACK_TOP_INDEX) {
		__s32 top = (__s32)chunk_u64(x->s->chunk, o->frame_stack);

		if (top <= 0 || top > 1 << 16)
			return 1;
		yf = read_ptr(frame + o->frame_localsplus + (__u64)(top - 1) * 8);
	} else if (o->stack_kind == PY_STACK_POINTER) {
		__u64 sp = chunk_u64(x->s->chunk, o->frame_stack);

		if (sp <= frame + o->frame_localsplus || sp > frame + (1 << 20))
			return 1;
		yf = read_ptr(sp - 8) & ~(__u64)3; /* _PyStackRef tag bits */
	}
	if (n == 0 && yf)
		x->c->_pad = 1; /* the task awaits something: suspended */
	/* Only a coroutine continues the chain; a Future, a Task or a
	 * compiled (Cython) awaitable ends it. */
	if (!yf || read_ptr(yf + 8) != x->type)
		return 1;
	x->obj = yf;
	return 0;
}

static __always_inline bool steps_enabled(const struct py_proc *proc)
{
	return proc->runtime && proc->off.gen_iframe != PY_OFF_NONE;
}

/*
 * The step open on this thread ended (the thread started another step or
 * went back to its poll, whichever came first: the step itself plus what
 * little the loop did after it). Sends it; if the coroutine is suspended,
 * keeps where (its await chain) until its next step. Done here rather than
 * with a uretprobe: a return probe is a second trap per step.
 */
static __always_inline void step_end(__u32 tgid, __u32 tid, __u64 now)
{
	struct step_ctx *sc = bpf_map_lookup_elem(&steps, &tid);
	struct step_event *e;
	struct py_proc *proc;
	struct await_chain *c;
	struct walk_scratch *s;
	__u32 zero = 0;
	int suspended = 0;

	if (!sc)
		return;
	proc = bpf_map_lookup_elem(&procs, &tgid);
	c = bpf_map_lookup_elem(&chain_scratch, &zero);
	s = scratch_get();
	if (proc && c && s && steps_enabled(proc) &&
	    proc->off.stack_kind != PY_STACK_NONE) {
		struct chain_ctx x = {
			.s = s, .proc = proc, .c = c, .obj = sc->coro,
			.type = read_ptr(sc->coro + 8),
		};

		c->n = 0;
		c->since = now;
		c->_pad = 0;
		bpf_loop(AWAIT_DEPTH, chain_step, &x, 0);
		/* Suspended: the coroutine still runs the code it ran (not
		 * freed and reused) and awaits something. A finished one has
		 * an empty value stack. */
		suspended = c->n && c->frames[0].code == sc->code.code && c->_pad;
		if (suspended)
			bpf_map_update_elem(&suspended_map, &sc->coro, c, BPF_ANY);
	}
	e = step_events ? bpf_ringbuf_reserve(&events, sizeof(*e), 0) : NULL;
	if (e) {
		e->type = EV_STEP;
		e->pid = tgid;
		e->tid = tid;
		e->result = suspended;
		e->start = sc->start;
		e->ns = now - sc->start;
		e->coro = sc->coro;
		e->code = sc->code;
		bpf_ringbuf_submit(e, 0);
	} else if (step_events) {
		stat_inc(STAT_STEP_LOST);
	}
	bpf_map_delete_elem(&steps, &tid);
}

/*
 * A task step begins: _asyncio calls PyIter_Send(coro, ...). The probe is
 * where userspace could put it most cheaply (see record.c): at a call
 * instruction in _asyncio (the return address is not there yet), at the
 * PLT stub or at PyIter_Send's entry (it is: arch_entry_return_addr());
 * asyncio_text says which callers count.
 */
SEC("uprobe")
int BPF_KPROBE(py_send_enter, __u64 coro) /* BPF_UPROBE: libbpf >= 1.2 */
{
	__u64 id = bpf_get_current_pid_tgid(), now, ret;
	__u32 tgid = id >> 32, tid = (__u32)id;
	struct asyncio_text *txt;
	struct step_ctx sc = {};
	struct await_chain *w;
	struct walk_scratch *s;
	struct py_proc *proc;

	txt = bpf_map_lookup_elem(&asyncio_text, &tgid);
	if (!txt)
		return 0;
	if (txt->lo || txt->hi != ~0ULL) {
		ret = arch_entry_return_addr(ctx);
		if (ret < txt->lo || ret >= txt->hi)
			return 0;
	}
	proc = bpf_map_lookup_elem(&procs, &tgid);
	s = scratch_get();
	if (!proc || !steps_enabled(proc) || !s || !coro)
		return 0;
	now = bpf_ktime_get_ns();
	step_end(tgid, tid, now);
	sc.coro = coro;
	sc.start = now;
	read_iframe(s, proc, coro + proc->off.gen_iframe, &sc.code);
	sc.code.instr = 0;
	bpf_map_update_elem(&steps, &tid, &sc, BPF_ANY);

	w = bpf_map_lookup_elem(&suspended_map, &coro);
	if (w) {
		struct await_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

		if (e) {
			e->type = EV_AWAIT;
			e->pid = tgid;
			e->tid = tid;
			e->n = w->n > AWAIT_DEPTH ? AWAIT_DEPTH : w->n;
			e->ktime = now;
			e->ns = now - w->since;
			e->coro = coro;
			__builtin_memcpy(e->frames, w->frames, sizeof(e->frames));
			bpf_ringbuf_submit(e, 0);
		} else {
			stat_inc(STAT_STEP_LOST);
		}
		bpf_map_delete_elem(&suspended_map, &coro);
	}
	return 0;
}

static __always_inline bool is_poll(long nr)
{
	return nr == NR_EPOLL_WAIT || nr == NR_EPOLL_PWAIT ||
	       nr == NR_EPOLL_PWAIT2;
}

/* floor(log2(v)) for v > 0, without a loop. */
static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0, s;

	s = (v > 0xFFFFFFFFULL) << 5; v >>= s; r |= s;
	s = (v > 0xFFFF) << 4; v >>= s; r |= s;
	s = (v > 0xFF) << 3; v >>= s; r |= s;
	s = (v > 0xF) << 2; v >>= s; r |= s;
	s = (v > 0x3) << 1; v >>= s; r |= s;
	r |= (v >> 1);
	return r;
}

/*
 * Entering the poll ends an iteration: count its length, and send it when
 * it is a stall. asyncio (epoll selector) and uvloop (libuv) both poll
 * with epoll; a poll with a zero timeout (callbacks were ready) still ends
 * an iteration, as it does for the loop itself.
 */
SEC("tp_btf/sys_enter")
int BPF_PROG(py_sys_enter, struct pt_regs *regs, long nr)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), b;
	struct loop_state *ls;
	struct stall_event *e;
	__u64 now, ns, us;

	if (!is_poll(nr))
		return 0;
	now = bpf_ktime_get_ns();
	/* back to the poll: the last task step is over */
	step_end(bpf_get_current_pid_tgid() >> 32, tid, now);
	ls = bpf_map_lookup_elem(&loops, &tid);
	if (!ls || !ls->iter_start)
		return 0;
	ns = now - ls->iter_start;
	us = ns / 1000;
	b = us ? log2_u64(us) : 0;
	if (b >= LOOP_BUCKETS)
		b = LOOP_BUCKETS - 1;
	/* the verifier loses the bound through log2_u64's shifts: mask it
	 * where the compiler cannot fold the mask away */
	asm volatile("" : "+r"(b));
	ls->hist[b & (LOOP_BUCKETS - 1)]++;
	ls->iters++;
	ls->sum_ns += ns;
	if (ns > ls->max_ns)
		ls->max_ns = ns;
	if (ns >= stall_ns) {
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
		if (e) {
			e->type = EV_STALL;
			e->pid = ls->pid;
			e->tid = tid;
			e->_pad = 0;
			e->start = ls->iter_start;
			e->ns = ns;
			e->off_ns = ls->off_ns;
			bpf_ringbuf_submit(e, 0);
		} else {
			stat_inc(STAT_STALL_LOST);
		}
	}
	ls->iter_start = 0;
	return 0;
}

/* Leaving the poll starts an iteration (of a Python process's thread). */
SEC("tp_btf/sys_exit")
int BPF_PROG(py_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, tgid = id >> 32;
	struct loop_state *ls;

	/* regs is a trusted BTF pointer here: a plain load, no helper call
	 * (this runs for every syscall on the host) */
	if (!is_poll(arch_syscall_nr_btf(regs)))
		return 0;
	ls = bpf_map_lookup_elem(&loops, &tid);
	if (!ls) {
		struct py_proc *proc = bpf_map_lookup_elem(&procs, &tgid);

		if (!proc || !proc->runtime)
			return 0;
		if (bpf_map_update_elem(&loops, &tid, &empty_loop, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&loops, &tid)) {
			stat_inc(STAT_LOOP_FULL);
			return 0;
		}
		ls = bpf_map_lookup_elem(&loops, &tid);
		if (!ls)
			return 0;
	}
	if (ls->pid != tgid) {
		/* new, or a reused tid: a different thread now */
		if (ls->pid)
			bpf_map_update_elem(&loops, &tid, &empty_loop, BPF_EXIST);
		ls->pid = tgid;
	}
	ls->iter_start = bpf_ktime_get_ns();
	ls->off_ns = 0;
	ls->off_since = 0;
	return 0;
}

/* ---- memory growth, collections and allocations (mem) ---- */

/* Resident pages of a process, per mm counter, as of its last change. */
struct mem_last {
	__s64 pages[NR_MM_COUNTERS];
};

/* tgid -> its counters; entries go with the process (py_exit). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096); /* resized by userspace, as procs */
	__type(key, __u32);
	__type(value, struct mem_last);
} mem_last SEC(".maps");

static __always_inline __s64 mm_pages(struct mm_struct *mm, int member)
{
	__s64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v),
			      &mm->rss_stat[member & (NR_MM_COUNTERS - 1)].count);
	return v;
}

/*
 * Sends the current thread's Python stack with a value (EV_MEM, EV_GC,
 * EV_ALLOC); a thread with no Python frame (starting up, or a native
 * thread) is sent with none, so the bytes are still accounted. Returns 0,
 * or STAT_T_RINGBUF_FULL.
 */
static __always_inline __u32 emit_value(void *ctx, const struct py_proc *proc,
					__u32 type, __s64 value, __s64 aux0,
					__s64 aux1)
{
	__u64 id = bpf_get_current_pid_tgid(), tstate;
	struct walk_scratch *s = scratch_get();
	__u32 why = STAT_T_NO_TSTATE;

	if (!s)
		return STAT_T_RINGBUF_FULL;
	s->ev.weight_ns = 0;
	s->ev.value = value;
	s->ev.aux[0] = aux0;
	s->ev.aux[1] = aux1;
	tstate = py_find_tstate(proc, (__u32)id);
	if (tstate)
		why = emit_stack(ctx, s, proc, type, id, tstate, 0, false);
	if (why == 0 || why == STAT_T_RINGBUF_FULL)
		return why;
	/* no stack: the header alone */
	s->ev.type = type;
	s->ev.pid = id >> 32;
	s->ev.tid = (__u32)id;
	s->ev.flags = SAMPLE_NO_TSTATE;
	s->ev.nframes = 0;
	s->ev.nkstack = 0;
	s->ev.ustack_len = 0;
	s->ev.ktime = bpf_ktime_get_ns();
	if (bpf_ringbuf_output(&events, &s->ev, offsetof(struct sample_event, frames),
			       BPF_RB_NO_WAKEUP))
		return STAT_T_RINGBUF_FULL;
	return STAT_T_NO_TSTATE;
}

/* A Python process to watch, or NULL (and a discovery event for a new one). */
static __always_inline struct py_proc *mem_proc(__u32 tgid)
{
	struct py_proc *proc = bpf_map_lookup_elem(&procs, &tgid);
	__u8 one = 1;

	if (proc)
		return proc->runtime ? proc : NULL;
	if (is_target(tgid) && !(bpf_get_current_task_btf()->flags & PF_EXITING) &&
	    bpf_map_update_elem(&seen, &tgid, &one, BPF_NOEXIST) == 0)
		emit_proc_event(EV_DISCOVER, tgid, 0);
	return NULL;
}

/*
 * Every change of a process's resident-page counters. The counters are
 * per-CPU with a global sum folded in batches (32 pages here), so the sum
 * read here moves in steps and the thread that folds a batch in is the one
 * that filled it: each step is charged to that thread's Python stack.
 * Returns to the OS (munmap, a trimmed heap, MADV_DONTNEED) are negative
 * steps, charged the same way.
 */
SEC("tp_btf/rss_stat")
int BPF_PROG(py_rss, struct mm_struct *mm, int member)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 tgid = task->tgid, why;
	struct py_proc *proc;
	struct mem_last *ml;
	__s64 now, old;

	/* Swap entries are not resident; changes made from another context
	 * (reclaim, exit teardown, another process) are not this thread's. */
	if (member < 0 || member >= NR_MM_COUNTERS || member == MM_SWAPENTS ||
	    task->mm != mm)
		return 0;
	proc = mem_proc(tgid);
	if (!proc)
		return 0;
	now = mm_pages(mm, member);
	ml = bpf_map_lookup_elem(&mem_last, &tgid);
	if (!ml) {
		struct mem_last init = {};

		/* The first change seen sets the baseline: what the process
		 * had before is not growth seen here. */
		for (int i = 0; i < NR_MM_COUNTERS; i++)
			init.pages[i] = mm_pages(mm, i);
		bpf_map_update_elem(&mem_last, &tgid, &init, BPF_NOEXIST);
		return 0;
	}
	old = __sync_lock_test_and_set(&ml->pages[member & (NR_MM_COUNTERS - 1)], now);
	if (now == old)
		return 0;
	why = emit_value(ctx, proc, EV_MEM, (now - old) * 4096, member, 0);
	if (why == STAT_T_RINGBUF_FULL) {
		stat_inc(STAT_MEM_LOST);
		return 0;
	}
	stat_inc(STAT_MEM_EVENTS);
	if (why)
		stat_inc(STAT_MEM_NO_STACK);
	return 0;
}

/* A collection in progress, per thread. */
struct gc_run {
	__u64 start;
	__s64 gen;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct gc_run);
} gc_runs SEC(".maps");

/* CPython's USDT probes gc__start(int generation), gc__done(long collected). */
SEC("usdt")
int BPF_USDT(py_gc_start, int gen)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct gc_run run = { .start = bpf_ktime_get_ns(), .gen = gen };

	bpf_map_update_elem(&gc_runs, &tid, &run, BPF_ANY);
	return 0;
}

/* The pause, with the Python stack whose allocation set the collection
 * off (the frames do not change while the collector runs). */
SEC("usdt")
int BPF_USDT(py_gc_done, long collected)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)id, tgid = id >> 32;
	struct py_proc *proc;
	struct gc_run *run;
	__u64 ns;
	__s64 gen;

	run = bpf_map_lookup_elem(&gc_runs, &tid);
	if (!run)
		return 0;
	ns = bpf_ktime_get_ns() - run->start;
	gen = run->gen;
	bpf_map_delete_elem(&gc_runs, &tid);
	proc = bpf_map_lookup_elem(&procs, &tgid);
	if (!proc || !proc->runtime)
		return 0;
	if (emit_value(ctx, proc, EV_GC, ns, gen, collected) == STAT_T_RINGBUF_FULL)
		stat_inc(STAT_GC_LOST);
	return 0;
}

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

/*
 * mem --live: who keeps memory. Uprobes on the C allocator (malloc, calloc,
 * realloc, free of the process's libc) see every allocation, whatever
 * CPython inlined on the way (Debian's LTO builds call malloc straight from
 * PyObject_Malloc); those of at least live_min bytes are remembered here
 * until freed, and sent with the Python stack that made them.
 */
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
	bpf_map_delete_elem(&offcpu_start, &tid);
	bpf_map_delete_elem(&steps, &tid);
	bpf_map_delete_elem(&gc_runs, &tid);
	bpf_map_delete_elem(&alloc_left, &tid);
	if (loops_reap)
		bpf_map_delete_elem(&loops, &tid);
	bpf_map_delete_elem(&live_calls, &tid);
	if (!group_dead)
		return 0;
	bpf_map_delete_elem(&seen, &tgid);
	bpf_map_delete_elem(&asyncio_text, &tgid);
	bpf_map_delete_elem(&mem_last, &tgid);
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
