/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_AWAIT_SITE_H
#define PYROGRAPH_AWAIT_SITE_H

/*
 * How an await chain (a task's coroutines, outermost first, down to what
 * the innermost awaits) is named: by its innermost application frame, the
 * coroutine of the user's code that awaited, with its line. Application
 * means not in site-packages/dist-packages and not the standard library
 * (frame_origin(): by where the file is, not by a list of frameworks), so
 * the server and framework coroutines above an endpoint (uvicorn,
 * Starlette, FastAPI, aiohttp) and the library awaitables below it
 * (asyncio.sleep, a driver's query) are not the site.
 *
 * The readable form shows the site with up to AWAIT_SITE_CALLERS of its
 * application callers and the first frame it awaits; the levels between
 * the task's own coroutine and those are collapsed into a count:
 *
 *   run_asgi (.../httptools_impl.py:426) > ...17 levels... > heroes
 *   (app.py:31) > get_hero (app.py:20) > sleep (.../tasks.py:649)
 *
 * with "> ...N more" after the awaited frame when it awaits further.
 */
#include <stddef.h>
#include <stdint.h>

#include "model/frames.h"

#define AWAIT_SITE_CALLERS 2

struct await_site {
	uint32_t site; /* index of the naming frame (n: the chain has none) */
	uint32_t from; /* the first frame of the application run shown */
	bool app;      /* site is application code (else: the innermost
			* Python frame, the chain has no application frame) */
};

void await_site_find(const struct frame_table *ft, const frame_id *c,
		     uint32_t n, struct await_site *out);
/* The outermost frame of the innermost run of application frames: for a
 * server's task, the endpoint under the server and framework coroutines
 * (and under the application's own middleware, which a framework's frames
 * separate from it); for an application's task, its coroutine. n: none. */
uint32_t await_site_entry(const struct frame_table *ft, const frame_id *c,
			  uint32_t n);
/* The readable form of chain c[0..n) into buf (always terminated). */
void await_site_text(struct frame_table *ft, const frame_id *c, uint32_t n,
		     char *buf, size_t len);

#endif
