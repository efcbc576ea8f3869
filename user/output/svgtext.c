// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "output/svgtext.h"

int svgtext_reserve(struct svgtext *b, size_t extra)
{
	char *p;
	size_t cap;

	if (b->len + extra <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

size_t svgtext_sanitize(struct svgtext *b, const char *str, size_t len)
{
	static const char repl[] = "\xef\xbf\xbd";
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, ncp = 0;
	int cut = len > SVGTEXT_MAX;

	if (cut)
		len = SVGTEXT_MAX;
	b->len = 0;
	/* Worst case every byte becomes a 3-byte U+FFFD; the caller checked the reservation. */
	while (i < len) {
		unsigned char c = s[i];
		uint32_t cp, min;
		size_t need, k;

		if (c < 0x80) {
			if (c >= 0x20 && c != 0x7f) {
				b->p[b->len++] = (char)c;
				ncp++;
			}
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1, cp = c & 0x1f, min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2, cp = c & 0x0f, min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3, cp = c & 0x07, min = 0x10000;
		} else {
			goto bad;
		}
		if (i + need >= len)
			goto bad;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		if (cp >= 0x80 && cp <= 0x9f) {
			i += need + 1;
			continue;
		}
		if (cp == 0xfffe || cp == 0xffff) {
			memcpy(b->p + b->len, repl, 3);
			b->len += 3;
		} else {
			memcpy(b->p + b->len, s + i, need + 1);
			b->len += need + 1;
		}
		i += need + 1;
		ncp++;
		continue;
bad:
		memcpy(b->p + b->len, repl, 3);
		b->len += 3;
		i++;
		ncp++;
	}
	if (cut) {
		memcpy(b->p + b->len, "..", 2);
		b->len += 2;
		ncp += 2;
	}
	return ncp;
}

void svgtext_escape(FILE *f, const char *s, size_t len)
{
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		const char *rep;

		switch (s[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&apos;";
			break;
		default:
			continue;
		}
		fwrite(s + start, 1, i - start, f);
		fputs(rep, f);
		start = i + 1;
	}
	fwrite(s + start, 1, len - start, f);
}

int svgtext_put(FILE *f, struct svgtext *b, const char *s, size_t len)
{
	int err = svgtext_reserve(b, 3 * (len < SVGTEXT_MAX ? len : SVGTEXT_MAX) + 8);

	if (err)
		return err;
	svgtext_sanitize(b, s, len);
	svgtext_escape(f, b->p, b->len);
	return 0;
}

size_t svgtext_prefix(const char *s, size_t len, size_t ncp)
{
	size_t i = 0;

	while (i < len && ncp) {
		i++;
		while (i < len && ((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		ncp--;
	}
	return i;
}
