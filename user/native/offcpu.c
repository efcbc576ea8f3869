// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "native/offcpu.h"

#define NBUCKETS 4096

struct interval {
	uint32_t tid, pid;
	uint64_t ktime;
	frame_id *stack; /* root frames first */
	uint32_t n, nroot;
	bool seeded; /* opened from outside, not by an EV_OFFCPU */
	struct interval *next;
};

struct offcpu {
	struct interval *b[NBUCKETS];
	uint64_t lost;
};

struct offcpu *offcpu__new(void)
{
	return calloc(1, sizeof(struct offcpu));
}

void offcpu__free(struct offcpu *o)
{
	if (!o)
		return;
	for (int i = 0; i < NBUCKETS; i++) {
		while (o->b[i]) {
			struct interval *n = o->b[i]->next;

			free(o->b[i]->stack);
			free(o->b[i]);
			o->b[i] = n;
		}
	}
	free(o);
}

static struct interval **find(struct offcpu *o, uint32_t tid)
{
	struct interval **p = &o->b[tid % NBUCKETS];

	while (*p && (*p)->tid != tid)
		p = &(*p)->next;
	return p;
}

static int open_interval(struct offcpu *o, uint32_t tid, uint32_t pid,
			 uint64_t ktime, const frame_id *stack, uint32_t n,
			 uint32_t nroot, bool seeded)
{
	struct interval **p = find(o, tid), *iv = *p;
	frame_id *s = malloc((n ? n : 1) * sizeof(*s));

	if (!s)
		return -ENOMEM;
	memcpy(s, stack, n * sizeof(*s));
	if (iv) {
		/* A seeded thread that woke between being listed and being
		 * seeded sends no EV_ONCPU: not a loss, a race */
		if (!iv->seeded)
			o->lost++;
		free(iv->stack);
	} else {
		iv = calloc(1, sizeof(*iv));
		if (!iv) {
			free(s);
			return -ENOMEM;
		}
		iv->tid = tid;
		*p = iv;
	}
	iv->pid = pid;
	iv->ktime = ktime;
	iv->stack = s;
	iv->n = n;
	iv->nroot = nroot;
	iv->seeded = seeded;
	return 0;
}

int offcpu__begin(struct offcpu *o, uint32_t tid, uint32_t pid, uint64_t ktime,
		  const frame_id *stack, uint32_t n, uint32_t nroot)
{
	return open_interval(o, tid, pid, ktime, stack, n, nroot, false);
}

int offcpu__seed(struct offcpu *o, uint32_t tid, uint32_t pid, uint64_t ktime,
		 const frame_id *stack, uint32_t n, uint32_t nroot)
{
	return open_interval(o, tid, pid, ktime, stack, n, nroot, true);
}

int offcpu__end(struct offcpu *o, uint32_t tid, uint64_t ns, offcpu_fn fn,
		void *ctx)
{
	struct interval **p = find(o, tid), *iv = *p;

	if (!iv)
		return -ENOENT;
	*p = iv->next;
	fn(ctx, iv->pid, iv->tid, iv->stack, iv->n, iv->nroot, iv->ktime, ns);
	free(iv->stack);
	free(iv);
	return 0;
}

void offcpu__close_all(struct offcpu *o, uint32_t pid, uint64_t now,
		       offcpu_fn fn, void *ctx)
{
	for (int i = 0; i < NBUCKETS; i++) {
		struct interval **p = &o->b[i];

		while (*p) {
			struct interval *iv = *p;

			if (pid && iv->pid != pid) {
				p = &iv->next;
				continue;
			}
			*p = iv->next;
			if (now > iv->ktime)
				fn(ctx, iv->pid, iv->tid, iv->stack, iv->n,
				   iv->nroot, iv->ktime, now - iv->ktime);
			free(iv->stack);
			free(iv);
		}
	}
}

uint64_t offcpu__lost(const struct offcpu *o)
{
	return o->lost;
}
