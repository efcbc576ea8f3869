/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The session's insides, shared by the files of user/core/ only. */
#ifndef PYROGRAPH_SESSION_INT_H
#define PYROGRAPH_SESSION_INT_H

#include "core/profiler.h"
#include "core/session.h"
#include "model/frames.h"
#include "python/pyproc.h"
#include "sys/container.h"

struct symcache;
struct stackcount;
struct thread_names;
struct task_view;
struct offcpu;
struct tasklist;
struct ksyms;
struct unwinder;
struct ctrnames;

/* Root frames kept per process: container, ancestors (-s), process. */
#define ROOT_MAX 66
#define LABEL_MAX 1024

/* A process the session looked at (Python or not yet known). */
struct tracked {
	pid_t pid;
	bool python;
	struct pyproc_info info;
	struct container_info ci;
	struct symcache *sc;
	frame_id root[ROOT_MAX];
	uint32_t nroot;
	char label[LABEL_MAX]; /* the root frames' text */
	unsigned long long samples;
	bool steps_wanted; /* async: a version whose task steps we trace */
	bool asyncio_text; /* async: _asyncio's code located */
	bool asyncio_builtin_looked; /* async: in the interpreter's ELF */
	int mem_probes;	   /* mem: PROFILER_MEM_* bits placed, or -errno */
	struct thread_names *names; /* --threads: threadnames.c */
	struct task_view *tasks;    /* record --tasks: feature_tasks.c */
	struct tracked *next;
};

/* A process to look at again soon (young: libpython not mapped yet). */
struct pending {
	pid_t pid;
	unsigned long long due_ms;
	int tries;
	bool execed; /* just exec'd: young whatever its start time */
};

#define TRACKED_BUCKETS 4096
#define PENDING_MAX 4096
/* Frames of one stack at most: Python, native, kernel and roots. */
#define STACK_FRAMES_MAX 4096

/*
 * A feature the session can enable: it configures the BPF side, places
 * its probes in each Python process found and takes them out again, and
 * handles the ring-buffer records of its types.
 */
struct session;
struct feature {
	const char *name;
	/* set in session_open when the options ask for the feature */
	bool (*wanted)(const struct session_opts *o);
	void (*configure)(struct session *s, struct profiler_opts *po);
	/* may a Python process found now be attached to, or should the
	 * session look again (a young process still mapping its libraries)? */
	bool (*ready)(struct session *s, pid_t pid);
	void (*attach)(struct session *s, struct tracked *t);
	void (*tick)(struct session *s); /* about once a second */
	void (*poll)(struct session *s); /* every pass of the loop (~20 ms) */
	/* a record of type (enum event_type); returns true if handled */
	bool (*event)(struct session *s, __u32 type, const void *data,
		      size_t size);
	/* a process exited at ktime (pid 0: the recording ends, at ktime) */
	void (*exit)(struct session *s, pid_t pid, unsigned long long ktime);
	void (*close)(struct session *s);
};

extern const struct feature feature_offcpu, feature_async, feature_mem,
	feature_threads, feature_tasks;

struct session {
	struct session_opts o;
	struct session_sink sinks[SESSION_MAX_SINKS];
	int nsinks;
	const struct feature *features[6];
	int nfeatures;

	struct profiler *prof;
	struct frame_table ft;
	struct tracked *buckets[TRACKED_BUCKETS];
	struct pending pending[PENDING_MAX];
	int npending;
	pid_t child;
	int go_fd;
	int exec_fd; /* the command's exec errno, or EOF once it ran */
	bool child_done;
	frame_id *stack; /* the stack being built */
	struct offcpu *offcpu;	/* feature_offcpu's open intervals */
	struct await_chains *chains; /* feature_async's await chains */
	unsigned long long chains_unknown; /* resumes at a chain not known */
	struct tasklist *tasks;	/* feature_offcpu: threads found blocked */
	struct stackcount *counts; /* stacks counted in BPF (stackcount.c) */
	struct ksyms *ksyms;
	struct unwinder *unwinder;
	struct ctrnames *names; /* container names by id (targets.c) */
	/* frames every stack may need, interned once */
	frame_id f_truncated, f_unreadable, f_unknown, f_no_python;
	unsigned long long sample_ns; /* nominal period, for unknown weights */
	unsigned long long offcpu_ns, offcpu_intervals;
	unsigned long long py_samples, unresolved_frames, lost_samples, stalls;
	unsigned int nfiltered;
	unsigned int probes_refused; /* files not opened as mapped: no probe */
	unsigned int nprocs_seen, nprocs_live, nunsupported;
	unsigned long long start_ms, end_ms, start_wall_ns;
	double end_elapsed; /* seconds sampled, fixed when the run ends */
	unsigned long long drained, drain_deadline;
	unsigned int trims;
	bool running;
};

/* Sinks: every sink's callback of that name, in order. */
#define SINKS_CALL(s, cb, ...)                                             \
	do {                                                               \
		for (int i_ = 0; i_ < (s)->nsinks; i_++)                    \
			if ((s)->sinks[i_].cb)                              \
				(s)->sinks[i_].cb((s)->sinks[i_].ctx, __VA_ARGS__); \
	} while (0)

unsigned long long session_now_ms(void);

/* core/targets.c: the process table and discovery. */
struct tracked *targets_find(struct session *s, pid_t pid);
void targets_drop(struct session *s, pid_t pid);
void targets_drop_all(struct session *s);
/* Classifies pid; true when settled (Python or not), false to look again. */
bool targets_detect(struct session *s, pid_t pid, int tries, bool execed);
void targets_run_pending(struct session *s);
void targets_scan(struct session *s);
/* -p: is any named process (or a tracked child of one) still there? */
bool targets_alive(struct session *s);
#define TARGETS_RETRY_MAX 40

/* core/stackbuild.c: typed stacks from what BPF sent. */
int stackbuild_init(struct session *s);
void stackbuild_free(struct session *s);
/* The stack of e in s->stack; returns its length (0: nothing to keep, the
 * sample was lost and counted), *nroot its root frames. */
uint32_t stackbuild_sample(struct session *s, struct tracked *t,
			   const struct sample_event *e, size_t size,
			   uint32_t *nroot);
/* One Python frame; the [unknown code] frame when it cannot be read. */
frame_id stackbuild_python_frame(struct session *s, struct tracked *t,
				 const struct py_frame *f);
/* Hands a sample to the sinks (and counts it). */
void session_deliver(struct session *s, const struct session_sample *ss);

/* core/threadnames.c: the name in thread tid's frame (--threads): the
 * program's name for it where threading knows it, else comm (the OS
 * name, TASK_COMM_LEN bytes). */
frame_id threadnames_frame(struct session *s, struct tracked *t, pid_t tid,
			   const char *comm);
void threadnames_free(struct tracked *t);

/* core/feature_tasks.c (record --tasks): the frames of e that run inside
 * an asyncio task, with the tasks awaiting it between them ("task NAME",
 * each awaiting task's coroutine frames); false when e ran in no task
 * known (the caller pushes the frames as they are). */
bool tasks_push_python(struct session *s, struct tracked *t,
		       const struct sample_event *e, uint32_t *n);
void tasks_view_free(struct tracked *t);

/* core/stackcount.c: stacks counted in the kernel. */
int stackcount_init(struct session *s);
void stackcount_free(struct session *s);
/* A sample sent as new: its key now stands for these frames. */
void stackcount_learn(struct session *s, const struct sample_event *e,
		      const frame_id *f, uint32_t n, uint32_t nroot);
/* Thread tid of pid has a new name: its stacks are counted afresh (what
 * was counted so far goes to the sinks first). */
void stackcount_forget_thread(struct session *s, pid_t pid, pid_t tid);
/* The counts since the last drain, to the sinks. */
int stackcount_drain(struct session *s);
void stackcount_summary(struct session *s, unsigned long long full);
size_t stackcount_bytes(struct session *s);

/* core/summary.c */
void summary_status_line(struct session *s, bool final);

#endif
