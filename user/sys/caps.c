// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sys/caps.h"
#include "sys/log.h"

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

static int last_cap(void)
{
	FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	int n = CAP_CHECKPOINT_RESTORE;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = CAP_CHECKPOINT_RESTORE;
		fclose(f);
	}
	return n < 63 ? n : 63;
}

int drop_capabilities(bool keep_admin)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};
	int keep[] = { CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_CHECKPOINT_RESTORE,
		       CAP_DAC_READ_SEARCH, CAP_DAC_OVERRIDE, -1 };
	unsigned long long want = 0;
	int last = last_cap();

	/* map_files before Linux 5.9; uprobes placed after setup */
	if (last < CAP_CHECKPOINT_RESTORE || keep_admin)
		keep[6] = CAP_SYS_ADMIN;
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (keep[i] >= 0 && keep[i] <= last)
			want |= 1ULL << keep[i];
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -errno;
	/* bounding set first: that needs CAP_SETPCAP, dropped just below */
	for (int c = 0; c <= last; c++)
		if (!(want & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) &&
		    errno != EINVAL)
			return -errno;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capget, &h, d))
		return -errno;
	for (int i = 0; i < 2; i++) {
		unsigned int w = (unsigned int)(want >> (32 * i));

		d[i].effective &= w;
		d[i].permitted &= w;
		d[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &h, d))
		return -errno;
	pr_debug("capabilities reduced to 0x%llx", want);
	return 0;
}

static int has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return !!(d[cap / 32].effective & (1U << (cap % 32)));
}

int check_privileges(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d)) {
		pr_err("cannot read capabilities: %s", strerror(errno));
		return -errno;
	}
	if (!has_cap(d, CAP_SYS_ADMIN) &&
	    !(has_cap(d, CAP_BPF) && has_cap(d, CAP_PERFMON))) {
		pr_err("needs root (or CAP_BPF and CAP_PERFMON, with CAP_SYS_PTRACE to read the targets): run it with sudo");
		return -EPERM;
	}
	/* The override exists so the test suite can exercise this message. */
	const char *btf = getenv("PYROGRAPH_KERNEL_BTF");

	if (!btf)
		btf = "/sys/kernel/btf/vmlinux";
	if (access(btf, R_OK)) {
		pr_err("kernel BTF is missing (%s): pyrograph needs a kernel built with CONFIG_DEBUG_INFO_BTF=y",
		       btf);
		return -ENOENT;
	}
	return 0;
}
