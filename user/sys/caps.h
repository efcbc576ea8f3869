/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_CAPS_H
#define PYROGRAPH_CAPS_H

#include <linux/capability.h>
#include <stdbool.h>
#include <stdbool.h>

/* Older kernel headers lack the capabilities split out of CAP_SYS_ADMIN. */
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
/*
 * Checks what BPF profiling needs (privileges, kernel BTF) and prints one
 * line naming what is missing. Returns 0 or a negative errno.
 */
int check_privileges(void);

#endif
#ifndef CAP_BPF
#define CAP_BPF 39
/*
 * Checks what BPF profiling needs (privileges, kernel BTF) and prints one
 * line naming what is missing. Returns 0 or a negative errno.
 */
int check_privileges(void);

#endif
#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
/*
 * Checks what BPF profiling needs (privileges, kernel BTF) and prints one
 * line naming what is missing. Returns 0 or a negative errno.
 */
int check_privileges(void);

#endif

/*
 * After the BPF programs are loaded and attached, keep only what reading
 * targets and using the already-open BPF objects needs: CAP_BPF (the bpf()
 * syscall on our map fds), CAP_PERFMON, CAP_SYS_PTRACE (process_vm_readv,
 * /proc/PID/root), CAP_CHECKPOINT_RESTORE (/proc/PID/map_files),
 * CAP_DAC_READ_SEARCH and CAP_DAC_OVERRIDE (targets' files, the output
 * directory). Everything else leaves the effective, permitted, inheritable,
 * ambient and bounding sets, and no_new_privs is set. A kernel without
 * CAP_CHECKPOINT_RESTORE (< 5.9) keeps CAP_SYS_ADMIN for map_files, and so
 * does keep_admin: a session that places uprobes in processes it finds
 * later (task steps, collections, allocators) needs it, since the kernel
 * refuses uprobe perf events without it (EACCES with CAP_PERFMON and
 * CAP_BPF alone, measured on 6.18). Returns 0 or a negative errno (the
 * caller warns and goes on).
 */
int drop_capabilities(bool keep_admin);

/*
 * Checks what BPF profiling needs (privileges, kernel BTF) and prints one
 * line naming what is missing. Returns 0 or a negative errno.
 */
int check_privileges(void);

#endif
