// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <elfutils/libdwelf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "python/debugfile.h"

/* A debug file's size bound: the largest Debian ships are ~100 MiB. */
#define MAX_DEBUG_FILE ((off_t)1 << 31)
#define MAX_BUILD_ID   64

int debugfile_open(pid_t pid, Elf *elf, struct target_file *tf, Elf **debug)
{
	const unsigned char *id, *id2;
	char path[64 + 2 * MAX_BUILD_ID];
	ssize_t len, len2;
	int off, err;

	*debug = NULL;
	len = dwelf_elf_gnu_build_id(elf, (const void **)&id);
	if (len < 2 || len > MAX_BUILD_ID)
		return -ENOENT;
	off = snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%02x/",
		       id[0]);
	for (ssize_t i = 1; i < len; i++)
		off += snprintf(path + off, sizeof(path) - off, "%02x", id[i]);
	snprintf(path + off, sizeof(path) - off, ".debug");
	err = targetfile_open_in_root(pid, path, MAX_DEBUG_FILE, tf);
	if (err)
		return err;
	*debug = elf_begin(tf->fd, ELF_C_READ_MMAP, NULL);
	len2 = *debug ? dwelf_elf_gnu_build_id(*debug, (const void **)&id2) :
			-1;
	if (len2 == len && !memcmp(id, id2, len))
		return 0;
	if (*debug)
		elf_end(*debug);
	*debug = NULL;
	targetfile_close(tf);
	return -ESTALE;
}
