// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Line tables (co_lnotab, 3.10 co_linetable, 3.11+ location table) of
 * every format, with any first line and instruction offset. */
#include <stdint.h>
#include <string.h>

#include "python/linetable.h"
#include "python/pyversions.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	int32_t first;
	uint32_t instr;

	if (n < 9)
		return 0;
	memcpy(&first, d + 1, 4);
	memcpy(&instr, d + 5, 4);
	py_line_for_instr(PY_VERSION_CODE(3, 8 + d[0] % 8, 0), d + 9, n - 9,
			  first, instr);
	return 0;
}
