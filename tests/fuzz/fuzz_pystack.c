// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The thread-state, frame and code-object readers (dump's walker and the
 * symbol cache) on a fake address space: _PyRuntime at the image base,
 * every pointer in it whatever the input says. 3.8-3.12 with the built-in
 * offsets; 3.13-3.15 with the offsets the image's own _Py_DebugOffsets
 * publish (at the start of _PyRuntime, as in a real process).
 */
#include <stdlib.h>

#include "fuzz_mem.h"
#include "python/pystack.h"
#include "python/symcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct py_thread threads[4];
	struct py_proc p = { 0 };
	struct symcache *sc;
	char buf[2048];
	int nt, dbg;

	if (n < 3 || fuzz_offsets(d[0], d + 3, n - 3, &p.off, &dbg))
		return 0;
	fuzz_image = d + 3;
	fuzz_image_len = n - 3;
	p.runtime = IMAGE_BASE;
	if (pyproc_set_tag_layout(&p))
		return 0;
	if (d[1] & 1) { /* a GIL somewhere in the image (past _Py_DebugOffsets) */
		p.gil_addr = IMAGE_BASE + d[2] + (dbg ? IMAGE_AFTER_DEBUG_OFFSETS : 0);
		p.gil_last_holder = 8;
		p.gil_locked = 16;
		p.gil_size = 208;
	}
	nt = pystack_read(1, &p, threads, 4);
	sc = symcache__new(1, &p.off);
	for (int i = 0; sc && i < nt; i++)
		for (__u32 k = 0; k < threads[i].nframes; k++)
			symcache__frame(sc, &threads[i].frames[k], buf, sizeof(buf));
	symcache__free(sc);
	return 0;
}
