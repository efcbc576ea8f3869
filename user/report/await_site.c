// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "report/await_site.h"

static bool is_python(const struct frame_table *ft, frame_id id)
{
	return frames_get(ft, id)->kind == FRAME_PYTHON;
}

static bool is_app(const struct frame_table *ft, frame_id id)
{
	const char *file = frame_file(ft, id);

	return is_python(ft, id) && file && file[0] &&
	       frame_origin(file, strlen(file)) == ORIGIN_APP;
}

void await_site_find(const struct frame_table *ft, const frame_id *c,
		     uint32_t n, struct await_site *out)
{
	*out = (struct await_site){ .site = n, .from = n };
	for (uint32_t i = n; i-- > 0;) {
		if (is_app(ft, c[i])) {
			out->site = i;
			out->app = true;
			break;
		}
		if (out->site == n && is_python(ft, c[i]))
			out->site = i; /* the innermost Python frame, kept
					* if no application frame is found */
	}
	out->from = out->site;
	if (!out->app)
		return;
	while (out->from > 0 && out->site - out->from < AWAIT_SITE_CALLERS &&
	       is_app(ft, c[out->from - 1]))
		out->from--;
}

uint32_t await_site_entry(const struct frame_table *ft, const frame_id *c,
			  uint32_t n)
{
	uint32_t i = n;

	while (i > 0 && !is_app(ft, c[i - 1]))
		i--;
	if (!i)
		return n;
	while (i > 1 && is_app(ft, c[i - 2]))
		i--;
	return i - 1;
}

/* Appends to buf at *at, bounded by len. */
__attribute__((format(printf, 4, 5)))
static void put(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*at >= len)
		return;
	va_start(ap, fmt);
	w = vsnprintf(buf + *at, len - *at, fmt, ap);
	va_end(ap);
	if (w > 0)
		*at += (size_t)w;
}

void await_site_text(struct frame_table *ft, const frame_id *c, uint32_t n,
		     char *buf, size_t len)
{
	struct await_site s;
	size_t at = 0;
	uint32_t last;

	if (!len)
		return;
	buf[0] = '\0';
	await_site_find(ft, c, n, &s);
	if (s.site == n) {
		/* nothing Python: show the chain's ends */
		if (n)
			put(buf, len, &at, "%s", frame_text(ft, c[n - 1]));
		return;
	}
	if (s.from >= 1)
		put(buf, len, &at, "%s > ", frame_text(ft, c[0]));
	if (s.from >= 2)
		put(buf, len, &at, "...%u levels... > ", s.from - 1);
	last = s.site + 1 < n ? s.site + 1 : s.site;
	for (uint32_t i = s.from; i <= last; i++)
		put(buf, len, &at, "%s%s", i > s.from ? " > " : "",
		    frame_text(ft, c[i]));
	if (last + 1 < n)
		put(buf, len, &at, " > ...%u more", n - last - 1);
}
