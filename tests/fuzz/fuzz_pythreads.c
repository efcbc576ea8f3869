// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The thread-name reader (sys.modules -> threading._active -> each
 * Thread's _name and _native_id) on a fake address space: _PyRuntime at
 * the image base, every pointer, size and type whatever the input says.
 */
#include "fuzz_mem.h"
#include "python/pythreads.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct py_thread_name out[8];
	struct py_proc p = { 0 };
	struct pythreads *pt;
	int dbg;

	if (n < 2 || fuzz_offsets(d[0], d + 2, n - 2, &p.off, &dbg))
		return 0;
	if (!dbg) {
		/* 3.13's instance layout, on the other offsets of the row */
		if (d[1] & 1)
			p.off.version = PY_VERSION_CODE(3, 13, 0);
		p.off.interp_modules = 64; /* small images reach it */
	}
	fuzz_image = d + 2;
	fuzz_image_len = n - 2;
	p.runtime = IMAGE_BASE;
	pt = pythreads_new(1, &p);
	/* twice: the second read starts from what the first remembered */
	for (int i = 0; pt && i < 2; i++)
		pythreads_read(pt, out, 8);
	pythreads_free(pt);
	return 0;
}
