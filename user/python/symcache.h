/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_SYMCACHE_H
#define PYROGRAPH_SYMCACHE_H

#include "model/frames.h"
#include <stddef.h>
#include <sys/types.h>
#include "profile.h"

/*
 * Code object -> (qualname, file, line table) for one process. Entries are
 * keyed by (code pointer, co_firstlineno read in the kernel at the sample),
 * so a freed code object whose address is reused by another function is a
 * different key; an entry is only created when the target memory still
 * agrees with the tag.
 */
struct symcache;

struct symcache *symcache__new(pid_t pid, const struct py_offsets *off);
void symcache__free(struct symcache *sc);

/*
 * Formats frame f as "qualname (file:line)" into buf. Returns 0, or a
 * negative errno when the code object could not be read (buf then holds a
 * placeholder naming the failure).
 */
int symcache__frame(struct symcache *sc, const struct py_frame *f, char *buf,
		    size_t len);

/*
 * The parts of frame f: qualified name and file (owned by the cache, valid
 * until the next call) and line (0 if unknown). 0 or a negative errno.
 */
int symcache__resolve(struct symcache *sc, const struct py_frame *f,
		      const char **name, const char **file, int *line);

struct frame_table;
/*
 * Frame f as an id of table ft (interned: function, file, line). Returns
 * the "[unknown code]" frame and a negative errno in *err when the code
 * object could not be read, FRAME_NONE when ft is out of memory. The cache
 * belongs to one table: a call with another starts its ids over.
 */
frame_id symcache__frame_id(struct symcache *sc, struct frame_table *ft,
			    const struct py_frame *f, int *err);

#endif
