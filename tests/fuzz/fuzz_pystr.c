// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* str and bytes objects read out of a fake address space, laid out as
 * 3.8-3.15 lay them out. */
#include <stdlib.h>

#include "fuzz_mem.h"
#include "python/pystr.h"

int fuzz_read(void *ctx, unsigned long long addr, void *buf, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct py_offsets o;
	char out[512];
	unsigned char *b = NULL;
	unsigned long long at;
	int dbg;

	if (n < 2 || fuzz_offsets(d[0], d + 2, n - 2, &o, &dbg))
		return 0;
	fuzz_image = d + 2;
	fuzz_image_len = n - 2;
	/* the object sits at some offset chosen by the input (past the
	 * image's _Py_DebugOffsets when it has them) */
	at = IMAGE_BASE + d[1] % 64 + (dbg ? IMAGE_AFTER_DEBUG_OFFSETS : 0);
	pystr_read(&o, fuzz_read, NULL, at, out, sizeof(out));
	if (pybytes_read(&o, fuzz_read, NULL, at, 1 << 16, &b) >= 0)
		free(b);
	return 0;
}
