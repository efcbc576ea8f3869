// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The async report fed hostile input: stack texts, await chains and
 * coroutine names come from target memory (frame names, file names), the
 * source lines from the target's files, the timings from BPF. One input
 * line per record: its first byte picks the kind, the next 8 bytes make
 * the numbers, the rest is the text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/asyncrep.h"

static const char *src_a, *src_b;

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
	struct asyncrep *a = asyncrep__new(100000000ULL);
	char *text = malloc(n + 1), *line, *save = NULL;
	struct loop_state ls;
	FILE *f;

	if (!a || !text) {
		asyncrep__free(a);
		free(text);
		return 0;
	}
	memcpy(text, d, n);
	text[n] = '\0';
	src_a = "x = await f()";
	src_b = "y = await g(x)";
	asyncrep__set_source(a, source, NULL);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		uint64_t v = 0;
		size_t l = strlen(line);
		const char *rest = l > 9 ? line + 9 : "";

		memcpy(&v, line + 1, l > 8 ? 8 : l - 1 > 0 ? l - 1 : 0);
		switch (line[0] % 7) {
		case 0:
			asyncrep__stack(a, v & 3, (v >> 2) & 7, rest, v & 32,
					v >> 8 & 0xffffff, v >> 32);
			break;
		case 1:
			asyncrep__stall(a, v & 3, (v >> 2) & 7, v >> 8 & 0xffffff,
					v >> 32, v >> 40);
			break;
		case 2:
			asyncrep__step(a, v & 3, v >> 4 & 0xff, rest, v >> 16, 1);
			break;
		case 3:
			asyncrep__resume(a, v & 3, v >> 4 & 0xff, rest, v >> 16);
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
			asyncrep__proc(a, v & 3, rest, v & 4);
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
	asyncrep__free(a);
	free(text);
	return 0;
}
