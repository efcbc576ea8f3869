// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Folded frame texts taken apart (pprof, speedscope, SVG colours); frame
 * names come from targets (function and file names). */
#include <stdint.h>

#include "model/frames.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct frame_parts fp;

	if (!n)
		return 0;
	frame_parse((const char *)d + 1, n - 1, d[0] & 1, &fp);
	if (fp.name_len > n || fp.file_len > n)
		__builtin_trap();
	frame_origin(fp.file, fp.file_len);
	return 0;
}
