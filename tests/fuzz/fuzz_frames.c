// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Folded frame texts taken apart by the one reader of folded text (diff's
 * input, the bridge from the reports); frame names come from targets
 * (function and file names). The reader must be exact: a frame read back
 * renders as the text it came from, and a stack as its line (empty frames
 * aside), or the collapsed output would not be what was read.
 * First byte: bit 0, the frame is a root frame; bit 1, the rest is a
 * whole stack.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/folded.h"
#include "model/frames.h"

static void frame_exact(const char *s, size_t len, bool root)
{
	struct frame_table ft;
	frame_id id;

	frames_init(&ft);
	id = frames_parse(&ft, s, len, root);
	if (id != FRAME_NONE) {
		const char *t = frame_text(&ft, id);

		if (strlen(t) != len || memcmp(t, s, len))
			__builtin_trap();
	}
	frames_free(&ft);
}

/* The stack's frame texts joined by ';' equal s without its empty frames. */
static void stack_exact(const char *s, size_t len)
{
	struct frame_table ft;
	struct folded_buf b = { 0 };
	char *want = malloc(len + 1);
	size_t nw = 0, pos = 0;
	long n;

	if (!want)
		return;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == ';' && (!nw || want[nw - 1] == ';'))
			continue;
		want[nw++] = s[i];
	}
	if (nw && want[nw - 1] == ';')
		nw--;
	frames_init(&ft);
	n = folded_frames(&ft, s, len, &b);
	for (long i = 0; i < n; i++) {
		const char *t = frame_text(&ft, b.f[i]);
		size_t tl = strlen(t);

		if ((i && (pos >= nw || want[pos++] != ';')) || tl > nw - pos ||
		    memcmp(want + pos, t, tl))
			__builtin_trap();
		pos += tl;
	}
	if (n >= 0 && pos != nw)
		__builtin_trap();
	folded_buf_free(&b);
	frames_free(&ft);
	free(want);
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	const char *s = (const char *)d + 1;
	struct frame_parts fp;

	if (!n)
		return 0;
	frame_parse(s, n - 1, d[0] & 1, &fp);
	if (fp.name_len > n || fp.file_len > n)
		__builtin_trap();
	frame_origin(fp.file, fp.file_len);
	/* C strings cannot hold a NUL: such names never reach the table */
	if (memchr(s, 0, n - 1))
		return 0;
	if (d[0] & 2)
		stack_exact(s, n - 1);
	else if (!memchr(s, ';', n - 1))
		frame_exact(s, n - 1, d[0] & 1);
	return 0;
}
