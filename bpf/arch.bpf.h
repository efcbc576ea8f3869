/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The CPU architecture's facts for the BPF programs, one header per
 * architecture: the registers of a syscall's number and first argument,
 * the user registers a native unwinder starts from, whether a perf sample
 * interrupted user mode, a task's TLS base, where a function finds its
 * return address, and the numbers of the syscalls the programs watch. Only
 * arch_<arch>.bpf.h names registers: a port is one new header defining the
 * same functions and constants, its line below, and its entry in
 * meson.build. A syscall an architecture lacks (arm64 has no epoll_wait,
 * only the p-variants) is numbered -1.
 */
#ifndef PYROGRAPH_ARCH_BPF_H
#define PYROGRAPH_ARCH_BPF_H

#if defined(__TARGET_ARCH_x86)
#include "arch_x86.bpf.h"
#else
#error "no arch_<arch>.bpf.h for this target: pyrograph supports x86-64 only"
#endif

#endif /* PYROGRAPH_ARCH_BPF_H */
