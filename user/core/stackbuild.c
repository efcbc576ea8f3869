// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Typed stacks from what BPF sent: the process's root frames, a thread
 * frame, the Python frames resolved through the process's symbol cache (or
 * merged with native frames), and for off-CPU stacks the reason and kernel
 * frames. This runs for every sample, so nothing here builds text: frames
 * are ids, resolved through caches that remember them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/session_int.h"
#include "native/ksyms.h"
#include "native/mixed.h"
#include "native/waitreason.h"
#include "python/symcache.h"

int stackbuild_init(struct session *s)
{
	s->stack = malloc(STACK_FRAMES_MAX * sizeof(*s->stack));
	if (!s->stack)
		return -ENOMEM;
	s->f_truncated = frames_synthetic(&s->ft, "[truncated]");
	s->f_unreadable = frames_synthetic(&s->ft, "[unreadable frames]");
	s->f_no_python = frames_synthetic(&s->ft, "[no Python frame]");
	if (s->f_truncated == FRAME_NONE || s->f_unreadable == FRAME_NONE ||
	    s->f_no_python == FRAME_NONE)
		return -ENOMEM;
	return 0;
}

void stackbuild_free(struct session *s)
{
	free(s->stack);
	s->stack = NULL;
}

frame_id stackbuild_python_frame(struct session *s, struct tracked *t,
				 const struct py_frame *f)
{
	int err;
	frame_id id = symcache__frame_id(t->sc, &s->ft, f, &err);

	if (err)
		s->unresolved_frames++;
	return id;
}

struct py_ctx {
	struct session *s;
	struct tracked *t;
};

static frame_id python_cb(void *ctx, const struct py_frame *f)
{
	struct py_ctx *c = ctx;

	return stackbuild_python_frame(c->s, c->t, f);
}

static uint32_t push(struct session *s, uint32_t n, frame_id f)
{
	if (n < STACK_FRAMES_MAX && f != FRAME_NONE)
		s->stack[n++] = f;
	return n;
}

/* Kernel frames, outermost first, with perf's "_[k]" suffix. */
static uint32_t push_kernel(struct session *s, uint32_t n,
			    const struct sample_event *e)
{
	__u32 nk = e->nkstack < MAX_KSTACK ? e->nkstack : MAX_KSTACK;
	__u32 inner = 0;
	char hex[32];

	/* At a context switch the innermost frames are the scheduler and
	 * this tracer; what matters is what called schedule(). */
	if (e->type == EV_OFFCPU) {
		for (__u32 i = 0; i < nk; i++) {
			const char *f = ksyms__name(s->ksyms, e->kstack[i]);

			if (f && (strstr(f, "schedule") || strstr(f, "bpf") ||
				  strstr(f, "__traceiter")))
				inner = i + 1;
		}
	}
	for (__u32 i = nk; i-- > inner;) {
		const char *f = ksyms__name(s->ksyms, e->kstack[i]);

		if (!f) {
			snprintf(hex, sizeof(hex), "0x%llx",
				 (unsigned long long)e->kstack[i]);
			f = hex;
		}
		n = push(s, n, frames_kernel(&s->ft, f));
	}
	return n;
}

/* The leaf naming why an EV_OFFCPU thread left the CPU. */
static frame_id offcpu_reason(struct session *s, const struct sample_event *e)
{
	const char *names[MAX_KSTACK];
	char buf[256];
	struct wait_info w = {
		.syscall = e->syscall,
		.sysarg = e->sysarg,
		.preempted = e->flags & SAMPLE_PREEMPTED,
		.gil = e->flags & SAMPLE_GIL_WAIT,
		.kfuncs = names,
		.nkfuncs = e->nkstack < MAX_KSTACK ? e->nkstack : MAX_KSTACK,
	};

	for (size_t i = 0; i < w.nkfuncs; i++)
		names[i] = ksyms__name(s->ksyms, e->kstack[i]);
	return frames_synthetic(&s->ft, wait_reason(&w, buf, sizeof(buf)));
}

static uint32_t push_python(struct session *s, struct tracked *t, uint32_t n,
			    const struct sample_event *e, size_t size)
{
	if (s->o.native) {
		struct py_ctx c = { s, t };

		return n + mixed_stack(s->unwinder, &s->ft, &t->info.bpf.off, e,
				       size, python_cb, &c, s->stack + n,
				       STACK_FRAMES_MAX - n);
	}
	/* Innermost frames were kept: the missing part is the outer end. */
	if (e->flags & SAMPLE_TRUNCATED)
		n = push(s, n, s->f_truncated);
	else if (e->flags & SAMPLE_READ_ERROR)
		n = push(s, n, s->f_unreadable);
	if (s->o.tasks && tasks_push_python(s, t, e, &n))
		return n;
	for (__u32 i = e->nframes; i-- > 0;)
		n = push(s, n, stackbuild_python_frame(s, t, &e->frames[i]));
	return n;
}

uint32_t stackbuild_sample(struct session *s, struct tracked *t,
			   const struct sample_event *e, size_t size,
			   uint32_t *nroot)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < t->nroot; i++)
		n = push(s, n, t->root[i]);
	if (s->o.threads)
		n = push(s, n, threadnames_frame(s, t, (pid_t)e->tid, e->comm));
	*nroot = n;
	n = push_python(s, t, n, e, size);
	switch (e->type) {
	case EV_SAMPLE:
		if (s->o.kernel && (e->flags & SAMPLE_KERNEL))
			n = push_kernel(s, n, e);
		break;
	case EV_OFFCPU:
		n = push(s, n, offcpu_reason(s, e));
		if (s->o.kernel)
			n = push_kernel(s, n, e);
		break;
	default: /* memory events */
		if (!e->nframes)
			n = push(s, n, s->f_no_python);
	}
	return n;
}
