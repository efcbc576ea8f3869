/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_KSYMS_H
#define PYROGRAPH_KSYMS_H

#include <stdint.h>

/* Kernel symbols from /proc/kallsyms, for kernel stacks. */
struct ksyms;

/* Loads path (normally /proc/kallsyms); NULL and errno on failure. */
struct ksyms *ksyms__load(const char *path);
void ksyms__free(struct ksyms *ks);
/* Name of the function containing addr, or NULL. */
const char *ksyms__name(const struct ksyms *ks, uint64_t addr);

#endif
