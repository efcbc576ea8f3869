// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Requests by endpoint: every task followed from its first step to its
 * end, grouped by its endpoint, with where the time of the slowest went.
 *
 * A task's life runs from the start of the loop iteration of its first
 * step (create_task schedules it: the task was made at most an iteration
 * before) to the end of its last step. Its endpoint is the outermost frame
 * of the innermost run of application frames of its last await chain
 * (await_site_entry()): for a server's task (uvicorn's run_asgi, aiohttp's
 * handler), the function under the server and framework coroutines and
 * under the application's own middleware; for a task of the application's
 * own, its coroutine. A task that never awaited is named by its coroutine.
 * Tasks whose first step was not seen (they began before the recording)
 * and tasks that end by cancellation (their last step is a throw(), not
 * traced) are not counted.
 */
#include <stdlib.h>
#include <string.h>

#include "report/async_int.h"
#include "report/await_site.h"

void asyncrep__set_slow(struct asyncrep *a, unsigned long long ns)
{
	a->slow_ns = ns;
}

/* The task's slot: found, or taken (a slot of another task forgets it). */
static struct task_life *life_slot(struct asyncrep *a, pid_t pid,
				   unsigned long long coro, bool *fresh)
{
	struct task_life *l;

	if (!a->lives && !(a->lives = calloc(TASKS, sizeof(*a->lives))))
		return NULL;
	l = &a->lives[((coro >> 4) ^ (unsigned long long)pid * 0x9e3779b1ULL) % TASKS];
	*fresh = !(l->coro == coro && l->pid == pid);
	if (*fresh) {
		if (l->coro)
			a->tasks_forgotten++;
		*l = (struct task_life){ .coro = coro, .pid = pid,
					 .endpoint = FRAME_NONE };
	}
	return l;
}

/* Keeps wait ns at chain among the task's longest. */
static void note_wait(struct slow_task *t, stack_id chain, unsigned long long ns)
{
	struct task_wait *least = &t->waits[0];

	for (int i = 0; i < TASK_WAITS; i++) {
		if (t->waits[i].chain == chain + 1) {
			t->waits[i].ns += ns;
			return;
		}
		if (t->waits[i].ns < least->ns)
			least = &t->waits[i];
	}
	if (ns > least->ns)
		*least = (struct task_wait){ .chain = chain + 1, .ns = ns };
}

void async_task_resume(struct asyncrep *a, pid_t pid, unsigned long long coro,
		       stack_id chain, unsigned long long ns,
		       unsigned long long queued_ns)
{
	uint32_t n, entry;
	const frame_id *c = stacks_get(&a->chains, chain, &n);
	struct task_life *l;
	bool fresh;

	if (!(l = life_slot(a, pid, coro, &fresh)))
		return;
	if (queued_ns > ns)
		queued_ns = ns;
	l->t.queued += queued_ns;
	l->t.waiting += ns - queued_ns;
	note_wait(&l->t, chain, ns - queued_ns);
	entry = await_site_entry(a->ft, c, n);
	if (entry < n)
		l->endpoint = c[entry];
}

/* Among the endpoint's slowest tasks, if it is one. */
static void keep_slow(struct asyncrep *a, struct dist *d,
		      const struct slow_task *t)
{
	struct slow_task *least;

	if (!d->slow && !(d->slow = calloc(SLOW_KEEP, sizeof(*d->slow)))) {
		a->lost_other++;
		return;
	}
	least = &d->slow[0];
	for (int i = 1; i < SLOW_KEEP; i++)
		if (d->slow[i].life < least->life)
			least = &d->slow[i];
	if (t->life > least->life)
		*least = *t;
}

static void task_ended(struct asyncrep *a, struct task_life *l, frame_id code,
		       unsigned long long end)
{
	frame_id ep = l->endpoint != FRAME_NONE ? l->endpoint : code;
	const struct frame *fr = frames_get(a->ft, ep);
	struct rkey k = { .pid = l->pid, .k = { fr->name, fr->file } };
	struct dist *d;

	if (!l->born || end < l->born) {
		a->tasks_unknown_start++;
		return;
	}
	l->t.life = end - l->born;
	if (!(d = async_dist_get(&a->endpoints, &k))) {
		a->lost_other++;
		return;
	}
	if (d->count == 0)
		d->frame = ep;
	async_dist_add(a, d, l->t.life);
	if (a->slow_ns && l->t.life >= a->slow_ns)
		d->over++;
	keep_slow(a, d, &l->t);
	a->tasks_ended++;
}

void async_task_step(struct asyncrep *a, const struct asyncrep_step *st)
{
	unsigned long long off = st->off_ns <= st->ns ? st->off_ns : st->ns;
	unsigned long long pre = st->preempt_ns <= off ? st->preempt_ns : off;
	struct task_life *l;
	bool fresh;

	if (!st->start || !(l = life_slot(a, st->pid, st->coro, &fresh)))
		return;
	if (fresh) {
		/* the first step seen: ready since its iteration began */
		l->born = st->born;
		if (st->born && st->start >= st->born)
			l->t.queued += st->start - st->born;
	}
	l->t.running += st->ns;
	l->t.blocked += off - pre;
	l->t.preempted += pre;
	l->t.steps++;
	if (st->result == 0) {
		task_ended(a, l, st->code, st->start + st->ns);
		l->coro = 0;
	}
}

unsigned long long async_slow_threshold(const struct asyncrep *a,
					const struct dist *d)
{
	double pc[3];

	if (a->slow_ns)
		return a->slow_ns;
	async_dist_pcts(d, pc);
	return (unsigned long long)pc[1];
}
