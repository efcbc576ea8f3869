// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The async report fed hostile input: stack frames, await chains and
 * coroutine names come from target memory (frame names, file names), the
 * source lines from the target's files, the timings from BPF. One input
 * line per record: its first byte picks the kind, the next 8 bytes make
 * the numbers, the rest is folded text read into typed frames (any kind,
 * in any order).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/asyncrep.h"

#define MAX_FRAMES 256

static const char *src_a, *src_b;

/* "a;b;c" into frames of ft by the folded reader; root frames lead. */
static uint32_t folded(struct frame_table *ft, const char *s, frame_id *out)
{
	bool root = true;
	uint32_t n = 0;

	while (*s && n < MAX_FRAMES) {
		const char *semi = strchr(s, ';');
		size_t len = semi ? (size_t)(semi - s) : strlen(s);

		out[n] = frames_parse(ft, s, len, root);
		if (out[n] == FRAME_NONE)
			break;
		root = root && frame_is_root(ft, out[n]);
		n++;
		if (!semi)
			break;
		s = semi + 1;
	}
	return n;
}

static int source(void *ctx, pid_t pid, const char *file, long line, char *buf,
		  size_t len)
{
	(void)ctx;
	(void)pid;
	(void)file;
	snprintf(buf, len, "%s", line & 1 ? src_a : src_b);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct asyncrep_loop_verdict lv[8];
	static frame_id fr[MAX_FRAMES];
	struct frame_table ft;
	struct asyncrep *a;
	char *text = malloc(n + 1), *line, *save = NULL;
	struct loop_state ls;
	uint32_t nf;
	FILE *f;

	frames_init(&ft);
	a = asyncrep__new(100000000ULL, &ft);
	if (!a || !text) {
		asyncrep__free(a);
		frames_free(&ft);
		free(text);
		return 0;
	}
	memcpy(text, d, n);
	text[n] = '\0';
	src_a = "x = await f()";
	src_b = "y = await g(x)";
	asyncrep__set_source(a, source, NULL);
	asyncrep__set_rate(a, 199);
	asyncrep__set_slow(a, n & 1 ? 1000000 : 0);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		uint64_t v = 0;
		size_t l = strlen(line);
		const char *rest = l > 9 ? line + 9 : "";

		memcpy(&v, line + 1, l > 8 ? 8 : l - 1 > 0 ? l - 1 : 0);
		switch (line[0] % 7) {
		case 0:
			nf = folded(&ft, rest, fr);
			asyncrep__stack(a, v & 3, (v >> 2) & 7, fr, nf, v & 32,
					v >> 8 & 0xffffff, v >> 32);
			break;
		case 1: {
			struct stall_event e = {
				.pid = v & 3, .tid = (v >> 2) & 7,
				.start = v >> 8 & 0xffffff, .ns = v >> 32,
				.off_ns = v >> 40, .preempt_ns = v >> 44,
				.flags = (v >> 5) & 1,
			};

			asyncrep__stall(a, &e);
			break;
		}
		case 2: {
			/* a step with its times: a task's life when it ends */
			struct asyncrep_step st = {
				.pid = v & 3, .coro = v >> 4 & 0xff,
				.code = frames_parse(&ft, rest, strlen(rest), false),
				.start = v >> 12 & 0xfffff, .ns = v >> 16,
				.born = v >> 40, .off_ns = v >> 20,
				.preempt_ns = v >> 24,
				.result = (int)(v >> 2 & 1) - (int)(v >> 3 & 1),
			};

			asyncrep__step_at(a, &st);
			break;
		}
		case 3:
			nf = folded(&ft, rest, fr);
			asyncrep__resume_at(a, v & 3, v >> 4 & 0xff, fr, nf, v >> 16,
					    v >> 36);
			break;
		case 4:
			memset(&ls, 0, sizeof(ls));
			ls.pid = v & 3;
			ls.iters = v >> 48;
			ls.max_ns = v >> 8;
			ls.sum_ns = v >> 4;
			for (int i = 0; i < LOOP_BUCKETS; i++)
				ls.hist[i] = (v >> (i % 64)) & 0xff;
			asyncrep__loop(a, (v >> 2) & 7, rest, &ls);
			break;
		case 5:
			nf = folded(&ft, rest, fr);
			asyncrep__proc(a, v & 3, v & 8 ? rest : NULL, fr, nf, v & 4);
			break;
		case 6:
			(void)await_independent(rest, line + 1);
			break;
		}
	}
	f = fopen("/dev/null", "w");
	if (f) {
		asyncrep__write_text(a, f);
		asyncrep__write_json(a, f);
		fclose(f);
	}
	asyncrep__loop_verdicts(a, lv, 8, 50000000ULL);
	asyncrep__free(a);
	frames_free(&ft);
	free(text);
	return 0;
}
