// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The agent's metrics and its HTTP request parser fed hostile input:
 * service names, await sites and blocking kinds come from target memory
 * and command lines, requests from whoever connects. One input line per
 * record: its first byte picks the kind, the next 8 bytes make the
 * numbers, the rest is the text. The whole input is also parsed as one
 * request head.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/httpd.h"
#include "report/metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct metrics *m = metrics__new("host", 3);
	char *text = malloc(n + 1), *line, *save = NULL;
	char *req = malloc(n ? n : 1), method[16], path[256];
	struct metrics_health h = { 0 };
	FILE *f;

	if (!m || !text || !req) {
		metrics__free(m);
		free(text);
		free(req);
		return 0;
	}
	/* exactly n bytes: a read past the end is caught */
	memcpy(req, d, n);
	httpd_parse_request(req, n, method, sizeof(method), path, sizeof(path));
	free(req);
	memcpy(text, d, n);
	text[n] = '\0';
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		uint64_t v = 0;
		size_t l = strlen(line);
		const char *rest = l > 9 ? line + 9 : "";
		pid_t pid;
		struct loop_state ls = { 0 };

		memcpy(&v, line + 1, l > 8 ? 8 : l - 1 > 0 ? l - 1 : 0);
		pid = (pid_t)(v & 3);
		switch (line[0] % 9) {
		case 0:
			metrics__proc(m, pid, rest, rest);
			break;
		case 1:
			metrics__proc_gc(m, pid, v & 4);
			metrics__gc(m, pid, (int)(int8_t)(v >> 8), v >> 16);
			break;
		case 2:
			ls.pid = (uint32_t)pid;
			for (int i = 0; i < LOOP_BUCKETS; i++)
				ls.hist[i] = (v >> (i % 56)) & 0xff;
			ls.sum_ns = v;
			metrics__loop(m, (pid_t)(v >> 8 & 31), &ls);
			break;
		case 3:
			metrics__stall(m, pid, (pid_t)(v >> 8 & 31), v >> 16);
			break;
		case 4:
			metrics__blocking(m, pid, (pid_t)(v >> 8 & 31), rest, v >> 16);
			break;
		case 5:
			metrics__await(m, pid, rest, v >> 8);
			break;
		case 6:
			metrics__usage(m, pid, (long long)(int32_t)(v >> 8) * 4096,
				       (double)(v >> 40), (v >> 32) * 1000000000ULL);
			break;
		case 7:
			metrics__forget(m, pid);
			break;
		case 8: {
			char out[64];

			metrics_label_value(rest, out, (v & 63) + 1);
			break;
		}
		}
	}
	/* the agent's own figures, upload failures by reason among them */
	h.uploading = n & 1;
	for (size_t i = 0; i < HTTP_FAIL_N && i < n; i++)
		h.upload_failures[i] = (unsigned long long)d[i] << (d[i] & 31);
	metrics__health(m, &h);
	f = fopen("/dev/null", "w");
	if (f) {
		metrics__write(m, f);
		fclose(f);
	}
	metrics__free(m);
	free(text);
	return 0;
}
