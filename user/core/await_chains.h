/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_AWAIT_CHAINS_H
#define PYROGRAPH_AWAIT_CHAINS_H

/*
 * async: the await chains BPF sent (EV_CHAIN), as frame ids, by process
 * and hash. BPF sends a chain once per process and names it by its hash
 * in every resume (EV_AWAIT) after that.
 */
#include <stdint.h>
#include <sys/types.h>

#include "model/frames.h"

/* Chains kept at most (all processes): more are not kept, and their
 * resumes are counted as unknown. */
#define AWAIT_CHAINS_MAX 65536

struct await_chains;

struct await_chains *await_chains_new(void);
void await_chains_free(struct await_chains *c);
/* Keeps f[0..n) as chain (pid, hash); a chain known already is kept as
 * it was. 0, or -ENOSPC / -ENOMEM (not kept). */
int await_chains_add(struct await_chains *c, pid_t pid, uint64_t hash,
		     const frame_id *f, uint32_t n);
/* The chain (pid, hash) and its length, or NULL. */
const frame_id *await_chains_get(const struct await_chains *c, pid_t pid,
				 uint64_t hash, uint32_t *n);
/* The process exited: its chains are forgotten (its pid may come back). */
void await_chains_forget_pid(struct await_chains *c, pid_t pid);

#endif
