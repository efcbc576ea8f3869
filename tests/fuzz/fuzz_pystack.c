// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The thread-state, frame and code-object readers (dump's walker and the
 * symbol cache) on a fake address space: _PyRuntime at the image base,
 * every pointer in it whatever the input says.
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
	int nt;

	if (n < 3 || fuzz_offsets(d[0], &p.off))
		return 0;
	fuzz_image = d + 3;
	fuzz_image_len = n - 3;
	p.runtime = IMAGE_BASE;
	if (pyproc_set_tag_layout(&p))
		return 0;
	if (d[1] & 1) { /* a GIL somewhere in the image */
		p.gil_addr = IMAGE_BASE + d[2];
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
