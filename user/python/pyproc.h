/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_PYPROC_H
#define PYROGRAPH_PYPROC_H

#include <sys/types.h>
#include "profile.h"
#include "sys/procfs.h"

/* What detection learned about one process. */
struct pyproc_info {
	pid_t pid;
	struct py_proc bpf; /* _PyRuntime address and layout, for the BPF map */
	char version[16];   /* "3.11.2" */
	char binary[256];   /* ELF holding _PyRuntime, as the process sees it */
	/* ... its first mapping: the file to place probes in (targetfile.h) */
	struct proc_mapping elf_map;
	char cmd[128];	    /* command line, spaces between arguments */
};

/*
 * Looks at a running process and decides whether it runs CPython.
 * Returns 0 and fills *out when it does; otherwise a negative errno with a
 * one-line reason in err:
 *   -ESRCH   no such process
 *   -ENOEXEC not a CPython process (no _PyRuntime in any mapped ELF)
 *   -ENOTSUP a CPython build pyrograph cannot read (reason says why)
 */
int pyproc_detect(pid_t pid, struct pyproc_info *out, char *err, size_t errlen);

/*
 * The same, for a process named on the command line: one that is not
 * CPython yet but young (`python3 app.py &` then `-p $!` can catch the
 * shell or a launcher before its exec) is given what a young process gets
 * under -a, up to 2 s of its life to become one.
 */
int pyproc_detect_young(pid_t pid, struct pyproc_info *out, char *err,
			size_t errlen);

/* Fills the tag_* fields of p from its offsets (see include/pytag.h). */
int pyproc_set_tag_layout(struct py_proc *p);

/* Reads /proc/PID/cmdline into buf (spaces between arguments). */
void pyproc_cmdline(pid_t pid, char *buf, size_t len);

/* Frees cached ELF facts (call at exit; safe to call more than once). */
void pyproc_cache_free(void);

#endif
