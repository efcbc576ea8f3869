// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/frames.h"
#include "model/intern.h"
#include "model/json.h"
#include "model/samplelog.h"
#include "output/speedscope.h"

#define MAX_DEPTH 4096
#define GAP_US 1000

/* Splits an interned stack into frame ids, outermost first. */
static int stack_frames(struct intern *t, const char *s, long *ids, int max)
{
	int n = 0;

	while (*s && n < max) {
		const char *semi = strchr(s, ';');
		size_t len = semi ? (size_t)(semi - s) : strlen(s);
		long id = intern_id(t, s, len);

		if (id < 0)
			return (int)id;
		ids[n++] = id;
		if (!semi)
			break;
		s = semi + 1;
	}
	return n;
}

static void event(FILE *f, bool *first, char type, long frame, double at)
{
	fprintf(f, "%s{\"type\":\"%c\",\"frame\":%ld,\"at\":%.3f}",
		*first ? "" : ",", type, frame, at);
	*first = false;
}

int speedscope_write(FILE *f, const struct profile_data *d)
{
	struct intern ft = { 0 }; /* frame text -> shared frame index */
	const struct log_entry *e;
	long *cur = NULL, *next = NULL, **stacks = NULL;
	int *depth = NULL, ncur = 0, ret = 0;
	size_t n, nst;
	uint64_t t0 = 0;

	if (!d->log)
		return -EINVAL;
	e = samplelog__sorted(d->log, &n);
	nst = samplelog__nstacks(d->log);
	cur = calloc(MAX_DEPTH, sizeof(*cur));
	next = calloc(MAX_DEPTH, sizeof(*next));
	stacks = calloc(nst ? nst : 1, sizeof(*stacks));
	depth = calloc(nst ? nst : 1, sizeof(*depth));
	if (!cur || !next || !stacks || !depth) {
		ret = -ENOMEM;
		goto out;
	}
	/* frames of every distinct stack, once */
	for (size_t i = 0; i < nst; i++) {
		int k = stack_frames(&ft, samplelog__stack(d->log, i), next, MAX_DEPTH);

		if (k < 0) {
			ret = k;
			goto out;
		}
		stacks[i] = malloc((k ? k : 1) * sizeof(long));
		if (!stacks[i]) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(stacks[i], next, k * sizeof(long));
		depth[i] = k;
	}
	t0 = d->start_mono_ns;
	for (size_t i = 0; i < n; i++)
		if (!t0 || e[i].start_ns < t0)
			t0 = e[i].start_ns;

	fprintf(f, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
		   "\"exporter\":\"pyrograph " PYROGRAPH_VERSION "\",\"name\":");
	json_str(f, d->title ? d->title : "pyrograph");
	fprintf(f, ",\"activeProfileIndex\":0,\"shared\":{\"frames\":[");
	for (size_t i = 0; i < ft.n; i++) {
		struct frame_parts fp;
		char *name;

		frame_parse(ft.s[i], strlen(ft.s[i]), false, &fp);
		name = strndup(fp.name, fp.name_len);
		fprintf(f, "%s{\"name\":", i ? "," : "");
		json_str(f, fp.kind == FRAME_PYTHON || fp.kind == FRAME_NATIVE ?
				    name : ft.s[i]);
		if (fp.file) {
			char *file = strndup(fp.file, fp.file_len);

			fprintf(f, ",\"file\":");
			json_str(f, file);
			free(file);
			if (fp.line > 0)
				fprintf(f, ",\"line\":%ld", fp.line);
		}
		fputc('}', f);
		free(name);
	}
	fprintf(f, "]},\"profiles\":[");
	for (size_t i = 0, th = 0; i < n; th++) {
		size_t j = i;
		double end = 0, at;
		bool first = true;

		while (j < n && e[j].thread == e[i].thread)
			j++;
		fprintf(f, "%s{\"type\":\"evented\",\"name\":", th ? "," : "");
		json_str(f, samplelog__thread_name(d->log, e[i].thread));
		fprintf(f, ",\"unit\":\"microseconds\",\"startValue\":%.3f,\"events\":[",
			(e[i].start_ns - t0) / 1000.0);
		ncur = 0;
		for (size_t k = i; k < j; k++) {
			int nd = depth[e[k].stack], c = 0;
			const long *nf = stacks[e[k].stack];

			at = (e[k].start_ns - t0) / 1000.0;
			if (at < end)
				at = end; /* overlapping spans: keep time monotonic */
			if (ncur && at > end + GAP_US) {
				while (ncur)
					event(f, &first, 'C', cur[--ncur], end);
			}
			while (c < ncur && c < nd && cur[c] == nf[c])
				c++;
			while (ncur > c)
				event(f, &first, 'C', cur[--ncur], at);
			for (; ncur < nd; ncur++) {
				cur[ncur] = nf[ncur];
				event(f, &first, 'O', cur[ncur], at);
			}
			end = at + e[k].dur_us;
		}
		while (ncur)
			event(f, &first, 'C', cur[--ncur], end);
		fprintf(f, "],\"endValue\":%.3f}", end);
		i = j;
	}
	fprintf(f, "]}\n");
	if (ferror(f))
		ret = -EIO;
out:
	for (size_t i = 0; stacks && i < nst; i++)
		free(stacks[i]);
	intern_free(&ft);
	free(stacks);
	free(depth);
	free(cur);
	free(next);
	return ret;
}
