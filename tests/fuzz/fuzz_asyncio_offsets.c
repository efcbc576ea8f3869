// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The AsyncioDebug section as a target's _asyncio publishes it (3.14+):
 * any bytes, for any minor version. */
#include <stdint.h>

#include "python/asyncio_offsets.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct asyncio_layout l;

	if (n < 1)
		return 0;
	asyncio_layout_parse(d[0] % 18, d + 1, n - 1, &l);
	asyncio_layout_for(d[0], &l);
	return 0;
}
