// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdlib.h>

#include "output/collapsed.h"

int collapsed_write(FILE *f, struct profile *p)
{
	size_t n;
	stack_id *ids = profile_sorted(p, &n);

	if (!ids)
		return profile_count(p) ? -ENOMEM : 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t nf;
		const frame_id *fr = stacks_get(&p->st, ids[i], &nf);

		for (uint32_t k = 0; k < nf; k++) {
			if (k)
				fputc(';', f);
			fputs(frame_text(p->ft, fr[k]), f);
		}
		fprintf(f, " %llu\n", (unsigned long long)p->w[ids[i]].value);
	}
	free(ids);
	return ferror(f) ? -EIO : 0;
}
