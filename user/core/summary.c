// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * What the session tells the user: a live status line while recording and
 * the summary at the end, where every selected timer tick lands in exactly
 * one accounting bucket, so nothing is lost silently.
 */
#include <stdio.h>

#include "core/session_int.h"
#include "native/offcpu.h"

static unsigned long long dropped(const unsigned long long st[STAT_NR])
{
	return st[STAT_T_RINGBUF_FULL] + st[STAT_T_UNREADABLE] +
	       st[STAT_T_UNSUPPORTED];
}

void summary_status_line(struct session *s, bool final)
{
	unsigned long long st[STAT_NR];
	double el = (session_now_ms() - s->start_ms) / 1000.0;

	profiler__stats(s->prof, st);
	if (!s->o.cpu) {
		fprintf(stderr,
			"\r\033[K[%6.1fs] memory changes %llu  processes %u  lost %llu%s",
			el, st[STAT_MEM_EVENTS], s->nprocs_seen,
			st[STAT_MEM_LOST] + st[STAT_GC_LOST] + st[STAT_ALLOC_LOST] +
				st[STAT_LIVE_FULL] + st[STAT_LIVE_LOST] +
				st[STAT_LIVE_FREE_LOST],
			final ? "\n" : "");
		return;
	}
	fprintf(stderr,
		"\r\033[K[%6.1fs] samples %llu  python %llu  processes %u  drops %llu%s",
		el, st[STAT_TICKS], s->py_samples, s->nprocs_seen, dropped(st),
		final ? "\n" : "");
}

void session_print_status(struct session *s)
{
	if (!s->o.quiet)
		summary_status_line(s, true);
}

static void print_offcpu(struct session *s, const unsigned long long *st)
{
	fprintf(stderr,
		"pyrograph: off-CPU: %llu intervals, %.3f s%s; %llu switch-outs and %llu returns lost (buffer full), %llu intervals unmeasured, %llu switch-outs without a Python stack\n",
		s->offcpu_intervals, s->offcpu_ns / 1e9,
		s->o.gil ? " waiting for the GIL" : "", st[STAT_OFF_LOST],
		st[STAT_ON_LOST],
		(unsigned long long)(s->offcpu ? offcpu__lost(s->offcpu) : 0),
		st[STAT_OFF_NO_STACK]);
}

void session_print_summary(struct session *s)
{
	struct session_health h;
	const unsigned long long *st = h.stats;

	session_health(s, &h);
	fprintf(stderr,
		"pyrograph: %.1f s at %.0f Hz: %llu samples, %llu Python samples, %u Python process%s\n",
		h.elapsed, h.hz, st[STAT_TICKS], s->py_samples, s->nprocs_seen,
		s->nprocs_seen == 1 ? "" : "es");
	fprintf(stderr,
		"pyrograph: drops: %llu buffer full, %llu unreadable frame, %llu truncated stack, %llu unsupported build\n",
		st[STAT_T_RINGBUF_FULL], st[STAT_T_UNREADABLE], st[STAT_TRUNCATED],
		st[STAT_T_UNSUPPORTED]);
	/* Every selected tick is in exactly one of these. */
	fprintf(stderr,
		"pyrograph: accounting: %llu samples = %llu Python + %llu other processes + %llu threads without a Python thread state + %llu idle in native code + %llu not holding the GIL + %llu outside event-loop iterations + %llu dropped + %llu lost in userspace\n",
		st[STAT_TICKS], s->py_samples, st[STAT_T_OTHER],
		st[STAT_T_NO_TSTATE], st[STAT_T_NO_FRAMES], st[STAT_T_NOT_GIL],
		st[STAT_T_NOT_LOOP], dropped(st), s->lost_samples);
	if (s->o.async.on)
		fprintf(stderr,
			"pyrograph: event loops: %llu stalls; %llu stalls lost (buffer full); %llu polling threads beyond the table\n",
			s->stalls, st[STAT_STALL_LOST], st[STAT_LOOP_FULL]);
	if (s->o.async.on && s->o.async.steps)
		fprintf(stderr,
			"pyrograph: task steps: %llu step or resume events lost (buffer full); await chains: %llu lost (buffer full), %llu resumes at a chain not known (sent again), %llu suspensions at chains deeper than %d levels (innermost cut)\n",
			st[STAT_STEP_LOST], st[STAT_CHAIN_LOST], s->chains_unknown,
			st[STAT_CHAIN_DEEP], AWAIT_STEPS);
	if (s->o.offcpu || s->o.gil || s->o.async.on)
		print_offcpu(s, st);
	stackcount_summary(s, st[STAT_COUNT_FULL]);
	if (st[STAT_PARTIAL] || s->unresolved_frames)
		fprintf(stderr,
			"pyrograph: %llu stacks broke off at an unreadable frame ([unreadable frames]); %llu frames could not be resolved\n",
			st[STAT_PARTIAL], s->unresolved_frames);
	if (s->probes_refused)
		fprintf(stderr,
			"pyrograph: %u probe sets not placed: a file the process maps could not be opened as the inode it maps (see the warnings)\n",
			s->probes_refused);
	if (st[STAT_DROP_EVENTS])
		fprintf(stderr, "pyrograph: %llu process events lost\n",
			st[STAT_DROP_EVENTS]);
	if (st[STAT_T_RINGBUF_FULL])
		fprintf(stderr,
			"pyrograph: hint: the ring buffer overflowed; raise --buffer-size or lower --rate\n");
}
