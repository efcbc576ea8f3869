/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The code-object tag: computed in BPF at the sample and again in
 * userspace when the code object is read, from fields that differ between
 * two code objects that happen to occupy the same address one after the
 * other (firstlineno and the filename, name and line-table objects).
 * A symbol is only cached under (pointer, tag) when both agree.
 */
#ifndef PYROGRAPH_PYTAG_H
#define PYROGRAPH_PYTAG_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

static inline __u32 py_code_tag(__u32 firstlineno, __u64 filename, __u64 name,
				__u64 linetable)
{
	const __u64 k = 0x9e3779b97f4a7c15ULL;
	__u64 h = firstlineno;

	h = (h ^ filename) * k;
	h = (h ^ name) * k;
	h = (h ^ linetable) * k;
	return (__u32)(h >> 32);
}

#endif
