// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph diff fed two hostile "folded" files: the input is split at its
 * first NUL byte (or in the middle) into BEFORE and AFTER, both parsed,
 * compared and written as the differential SVG and the table.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/diffrep.h"

static void load(struct diffrep *d, int which, const uint8_t *p, size_t n)
{
	char err[256];
	FILE *f = fmemopen((void *)p, n, "r");

	if (!f)
		return;
	diffrep__load_file(d, which, f, which ? "after" : "before", err, sizeof(err));
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const uint8_t *nul = memchr(data, 0, n);
	size_t split = nul ? (size_t)(nul - data) : n / 2;
	uint8_t *copy = malloc(n + 1);
	struct diffrep *d;
	FILE *out;

	if (!copy || n < 2) {
		free(copy);
		return 0;
	}
	memcpy(copy, data, n);
	d = diffrep__new(n & 1);
	if (d) {
		load(d, 0, copy, split);
		load(d, 1, copy + split + (nul != NULL), n - split - (nul != NULL));
		out = fopen("/dev/null", "w");
		if (out) {
			diffrep__write_table(d, out, 20);
			fclose(out);
		}
		diffrep__write_svg(d, "/dev/null");
	}
	diffrep__free(d);
	free(copy);
	return 0;
}
