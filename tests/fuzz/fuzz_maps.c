// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * /proc/PID/maps lines: the paths are the target's (a file it mapped may be
 * named anything, newlines and " (deleted)" included). Every line of the
 * input goes through the parser, as a maps file would.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sys/procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct proc_mapping *m = malloc(sizeof(*m));
	const uint8_t *p = d, *end = d + n;

	if (!m)
		return 0;
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl + 1 : end) - p);
		/* a line as fgets() hands it over: NUL-terminated, newline kept */
		char *line = malloc(len + 1);

		if (!line)
			break;
		memcpy(line, p, len);
		line[len] = '\0';
		if (!procfs_parse_maps_line(line, m)) {
			size_t pl = strnlen(m->path, sizeof(m->path));

			if (pl == sizeof(m->path) || !memchr(m->perms, 0, sizeof(m->perms)))
				__builtin_trap();
			if (pl && (m->path[pl - 1] == '\n' || m->path[pl - 1] == ' '))
				__builtin_trap();
		}
		free(line);
		p += len;
	}
	free(m);
	return 0;
}
