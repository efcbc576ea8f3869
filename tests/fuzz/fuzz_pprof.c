// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph diff's pprof reader without gzip in front: the input is the
 * profile.proto message itself (string table, functions, locations with
 * lines, samples with labels), as `diff` finds it after inflating a file
 * anyone may hand it. What it read is encoded back to pprof, as a profile
 * read from anywhere must be writable.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/frames.h"
#include "model/stacks.h"
#include "output/output.h"
#include "output/pprof.h"
#include "output/pprof_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	/* exactly n bytes: a read past the end is caught */
	unsigned char *copy = malloc(n ? n : 1), *out = NULL;
	struct pprof_read_stats st = { 0 };
	struct frame_table ft;
	struct profile p;
	size_t len = 0;

	if (!copy)
		return 0;
	memcpy(copy, d, n);
	frames_init(&ft);
	profile_init(&p, &ft);
	if (!pprof_read_raw(copy, n, &p, &st)) {
		struct profile_data pd = { .prof = &p, .hz = 100, .title = "fuzz" };

		if (!pprof_encode_raw(&pd, &out, &len))
			free(out);
	}
	profile_free(&p);
	frames_free(&ft);
	free(copy);
	return 0;
}
