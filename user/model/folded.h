/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_FOLDED_H
#define PYROGRAPH_FOLDED_H

#include <stddef.h>
#include <stdint.h>

#include "model/frames.h"
#include "model/stacks.h"

/*
 * The one reader of folded stacks ("frame;frame;...", outermost first):
 * pyrograph diff's input, the bridge from the reports that still keep
 * folded text, and the tests. Each frame is read by frames_parse, the
 * leading ones as root frames (container, process, thread); empty frames
 * ("a;;b") carry nothing and are skipped.
 */
struct folded_buf {
	frame_id *f; /* the frames of the last stack read */
	size_t cap;
};

/* The frames of s[0..len) into b->f: their number, or -ENOMEM. */
long folded_frames(struct frame_table *ft, const char *s, size_t len,
		   struct folded_buf *b);
/* The stack of s[0..len) added to p with value and count: 0 or -ENOMEM. */
int folded_add(struct profile *p, const char *s, size_t len, uint64_t value,
	       uint64_t count, struct folded_buf *b);
void folded_buf_free(struct folded_buf *b);

#endif
