// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* _Py_DebugOffsets as a target publishes it (3.13+): any bytes. */
#include <stdint.h>

#include "python/debug_offsets.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct py_offsets o;

	py_debug_offsets_parse(d, n, &o);
	return 0;
}
