// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/frames.h"
#include "model/json.h"
#include "model/samplelog.h"
#include "output/speedscope.h"

#define MAX_DEPTH 4096
#define GAP_US 1000

/*
 * speedscope's shared frames: every frame of the log's stacks (the first
 * MAX_DEPTH of each), numbered in first-seen order.
 */
struct shared {
	uint32_t *idx;	 /* frame id -> shared index + 1; 0: not shared */
	frame_id *order; /* shared index -> frame id */
	size_t n;
};

static int shared_frames(const struct stack_table *st, size_t nframes,
			 struct shared *s)
{
	s->idx = calloc(nframes ? nframes : 1, sizeof(*s->idx));
	s->order = malloc((nframes ? nframes : 1) * sizeof(*s->order));
	if (!s->idx || !s->order)
		return -ENOMEM;
	for (size_t i = 0; i < st->n; i++) {
		uint32_t n;
		const frame_id *f = stacks_get(st, (stack_id)i, &n);

		for (uint32_t k = 0; k < n && k < MAX_DEPTH; k++) {
			if (f[k] >= nframes || s->idx[f[k]])
				continue;
			s->order[s->n] = f[k];
			s->idx[f[k]] = (uint32_t)++s->n;
		}
	}
	return 0;
}

/* Python and native frames by name, file and line; others by their text. */
static void write_frame(FILE *f, struct frame_table *ft, frame_id id, bool first)
{
	const struct frame *fr = frames_get(ft, id);
	bool code = fr->kind == FRAME_PYTHON || fr->kind == FRAME_NATIVE;
	const char *file = frame_file(ft, id);

	fprintf(f, "%s{\"name\":", first ? "" : ",");
	json_str(f, code ? frame_name(ft, id) : frame_text(ft, id));
	if (code && file) {
		fprintf(f, ",\"file\":");
		json_str(f, file);
		if (fr->kind == FRAME_PYTHON && fr->line > 0)
			fprintf(f, ",\"line\":%d", fr->line);
	}
	fputc('}', f);
}

static void event(FILE *f, bool *first, char type, long frame, double at)
{
	fprintf(f, "%s{\"type\":\"%c\",\"frame\":%ld,\"at\":%.3f}",
		*first ? "" : ",", type, frame, at);
	*first = false;
}

/*
 * One thread's evented profile from its entries e[0..n): each sample opens
 * the frames it does not share with the open ones; a gap closes them all.
 */
static void write_thread(FILE *f, const struct log_entry *e, size_t n,
			 const struct stack_table *st, const struct shared *sh,
			 uint64_t t0, long *cur)
{
	double end = 0, at;
	bool first = true;
	int ncur = 0;

	fprintf(f, ",\"unit\":\"microseconds\",\"startValue\":%.3f,\"events\":[",
		(e[0].start_ns - t0) / 1000.0);
	for (size_t k = 0; k < n; k++) {
		uint32_t nd;
		const frame_id *nf = stacks_get(st, e[k].stack, &nd);
		int c = 0;

		if (nd > MAX_DEPTH)
			nd = MAX_DEPTH;
		at = (e[k].start_ns - t0) / 1000.0;
		if (at < end)
			at = end; /* overlapping spans: keep time monotonic */
		if (ncur && at > end + GAP_US) {
			while (ncur)
				event(f, &first, 'C', cur[--ncur], end);
		}
		while (c < ncur && c < (int)nd && cur[c] == (long)sh->idx[nf[c]] - 1)
			c++;
		while (ncur > c)
			event(f, &first, 'C', cur[--ncur], at);
		for (; ncur < (int)nd; ncur++) {
			cur[ncur] = (long)sh->idx[nf[ncur]] - 1;
			event(f, &first, 'O', cur[ncur], at);
		}
		end = at + e[k].dur_us;
	}
	while (ncur)
		event(f, &first, 'C', cur[--ncur], end);
	fprintf(f, "],\"endValue\":%.3f}", end);
}

int speedscope_write(FILE *f, const struct profile_data *d)
{
	struct shared sh = { 0 };
	const struct stack_table *st;
	struct frame_table *ft;
	const struct log_entry *e;
	long *cur = NULL;
	size_t n;
	uint64_t t0;
	int ret;

	if (!d->log)
		return -EINVAL;
	ft = samplelog__frames(d->log);
	st = samplelog__stacks(d->log);
	e = samplelog__sorted(d->log, &n);
	cur = calloc(MAX_DEPTH, sizeof(*cur));
	ret = cur ? shared_frames(st, ft->n, &sh) : -ENOMEM;
	if (ret)
		goto out;
	t0 = d->start_mono_ns;
	for (size_t i = 0; i < n; i++)
		if (!t0 || e[i].start_ns < t0)
			t0 = e[i].start_ns;

	fprintf(f, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
		   "\"exporter\":\"pyrograph " PYROGRAPH_VERSION "\",\"name\":");
	json_str(f, d->title ? d->title : "pyrograph");
	fprintf(f, ",\"activeProfileIndex\":0,\"shared\":{\"frames\":[");
	for (size_t i = 0; i < sh.n; i++)
		write_frame(f, ft, sh.order[i], !i);
	fprintf(f, "]},\"profiles\":[");
	for (size_t i = 0, th = 0; i < n; th++) {
		size_t j = i;

		while (j < n && e[j].thread == e[i].thread)
			j++;
		fprintf(f, "%s{\"type\":\"evented\",\"name\":", th ? "," : "");
		json_str(f, samplelog__thread_name(d->log, e[i].thread));
		write_thread(f, e + i, j - i, st, &sh, t0, cur);
		i = j;
	}
	fprintf(f, "]}\n");
	if (ferror(f))
		ret = -EIO;
out:
	free(sh.idx);
	free(sh.order);
	free(cur);
	return ret;
}
