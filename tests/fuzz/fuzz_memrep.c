// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The mem report fed hostile input: frame names, file names and command
 * lines come from target memory, sizes and pauses from BPF. One input line
 * per record: its first byte picks the kind, the next 8 bytes make the
 * numbers, the rest is the text (a stack written folded, read into frame
 * ids; a label). Tracked allocations (--live) come and go at a few
 * addresses, with frees lost and repeated.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/folded.h"
#include "report/memrep.h"

/* The profiles in the order every writer lists them. */
static void sort_profile(struct profile *p)
{
	size_t n;

	if (p)
		free(profile_sorted(p, &n));
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct frame_table ft;
	struct memrep *m;
	char *text = malloc(n + 1), *line, *save = NULL;
	struct folded_buf fb = { 0 };
	struct memrep_stack st;
	FILE *f;

	frames_init(&ft);
	m = memrep__new(&ft, 1000000000ULL, 1000);
	if (!m || !text) {
		memrep__free(m);
		free(text);
		frames_free(&ft);
		return 0;
	}
	memcpy(text, d, n);
	text[n] = '\0';
	memrep__set_alloc_period(m, 4096);
	/* few held at once, so the bound is hit; odd inputs take the held
	 * view of mappings (the default of mem), even ones --live's */
	memrep__set_live(m, 65536, 64);
	if (n & 1)
		memrep__set_held(m, MEMREP_HELD_MAPS);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		uint64_t v = 0;
		size_t l = strlen(line);
		const char *rest = l > 9 ? line + 9 : "";
		long nf;

		memcpy(&v, line + 1, l > 8 ? 8 : l - 1 > 0 ? l - 1 : 0);
		nf = folded_frames(&ft, rest, strlen(rest), &fb);
		/* out of memory: no stack */
		st = (struct memrep_stack){ fb.f, nf > 0 ? (uint32_t)nf : 0, 0 };
		while (st.nroot < st.n && frame_is_root(&ft, st.f[st.nroot]))
			st.nroot++;
		switch (line[0] % 9) {
		case 0:
			memrep__proc(m, v & 3, rest, rest, (int)(v >> 8) - 128);
			break;
		case 1:
			/* signed sizes, times anywhere (even before the start) */
			memrep__growth(m, v & 3, &st, (long long)(int32_t)(v >> 8) * 4096,
				       (v >> 40) * 1000000ULL);
			break;
		case 2:
			memrep__gc(m, v & 3, &st, (int)(int8_t)(v >> 8), v >> 16,
				   (long long)(int16_t)(v >> 48));
			break;
		case 3:
			memrep__alloc(m, v & 3, &st, v >> 8);
			break;
		case 4:
			memrep__rss(m, v & 3, (v >> 40) * 1000000ULL,
				    (long long)(int32_t)(v >> 8) * 4096);
			break;
		case 5:
			/* few addresses: reuse, lost frees, frees of the unknown */
			memrep__live(m, v & 3, &st, (v >> 8) & 255,
				     (long long)(int32_t)(v >> 16) * 64,
				     (v >> 40) * 1000000ULL);
			break;
		case 6:
			memrep__live_free(m, v & 3, (v >> 8) & 255, (v >> 40) * 1000000ULL);
			break;
		case 7:
			/* a few pages of address space: overlapping mappings, heap
			 * growth below its top, signed lengths */
			memrep__map(m, v & 3, &st, ((v >> 8) & 63) << 12,
				    (long long)(int16_t)(v >> 16) << 12, (v >> 32) & 1,
				    (v >> 40) * 1000000ULL);
			break;
		case 8:
			memrep__unmap(m, v & 3, ((v >> 8) & 63) << 12,
				      (long long)(int16_t)(v >> 16) << 12, (v >> 40) * 1000000ULL);
			break;
		}
	}
	memrep__set_duration(m, (double)(n % 97) / 7.0);
	f = fopen("/dev/null", "w");
	if (f) {
		memrep__write_text(m, f);
		memrep__write_json(m, f);
		memrep__write_plot(m, f);
		sort_profile(memrep__growth_stacks(m));
		sort_profile(memrep__live_stacks(m));
		sort_profile(memrep__alloc_stacks(m));
		fclose(f);
	}
	memrep__free(m);
	free(text);
	folded_buf_free(&fb);
	frames_free(&ft);
	return 0;
}
