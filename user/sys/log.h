/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_LOG_H
#define PYROGRAPH_LOG_H

#include <stdio.h>

extern int log_verbosity; /* 0 quiet, 1 info (default), 2 debug (-v) */

#define pr_err(fmt, ...) fprintf(stderr, "pyrograph: " fmt "\n", ##__VA_ARGS__)
#define pr_warn(fmt, ...) fprintf(stderr, "pyrograph: warning: " fmt "\n", ##__VA_ARGS__)
#define pr_info(fmt, ...)                                                      \
	do {                                                                   \
		if (log_verbosity >= 1)                                        \
			fprintf(stderr, "pyrograph: " fmt "\n", ##__VA_ARGS__); \
	} while (0)
#define pr_debug(fmt, ...)                                                     \
	do {                                                                   \
		if (log_verbosity >= 2)                                        \
			fprintf(stderr, "pyrograph: debug: " fmt "\n",         \
				##__VA_ARGS__);                                \
	} while (0)

#endif
