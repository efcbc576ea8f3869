/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_SVGTEXT_H
#define PYROGRAPH_SVGTEXT_H

#include <stddef.h>
#include <stdio.h>

/*
 * Text for XML (the flame graph's SVG): frame names come from target
 * memory and binaries, so any byte is possible, and a file a browser
 * refuses to open is the failure that matters.
 */

/* A name is displayed up to this many input bytes, then "..". */
#define SVGTEXT_MAX 1024

struct svgtext {
	char *p;
	size_t len, cap;
};

int svgtext_reserve(struct svgtext *b, size_t extra);
/*
 * s[0..len) (at most SVGTEXT_MAX bytes of it) into b as text that is always
 * valid in XML: each byte that is not part of well-formed UTF-8 becomes
 * U+FFFD, control characters (C0, DEL, C1) are dropped, U+FFFE/U+FFFF become
 * U+FFFD. b must have room for 3 * SVGTEXT_MAX + 8 bytes (svgtext_reserve).
 * Returns the number of code points written.
 */
size_t svgtext_sanitize(struct svgtext *b, const char *s, size_t len);
/* s[0..len) with &, <, >, " and ' as entities. */
void svgtext_escape(FILE *f, const char *s, size_t len);
/* Sanitized and escaped; b is scratch space. 0 or -ENOMEM. */
int svgtext_put(FILE *f, struct svgtext *b, const char *s, size_t len);
/* Byte length of the first ncp code points of valid UTF-8. */
size_t svgtext_prefix(const char *s, size_t len, size_t ncp);

#endif
