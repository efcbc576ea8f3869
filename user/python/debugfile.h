/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_DEBUGFILE_H
#define PYROGRAPH_DEBUGFILE_H

#include <libelf.h>
#include <sys/types.h>

#include "sys/targetfile.h"

/*
 * The separate debug file of elf, a file process pid maps, where Debian
 * installs it (/usr/lib/debug/.build-id/NN/REST.debug, from the -dbg or
 * -dbgsym package), looked up in the process's own root (targetfile.h)
 * and kept only when its build-id is elf's. Returns 0 with tf open and
 * *debug to elf_end() before closing it, or -ENOENT (no build-id, no
 * file), -ESTALE (another build's file) or another negative errno.
 */
int debugfile_open(pid_t pid, Elf *elf, struct target_file *tf, Elf **debug);

#endif
