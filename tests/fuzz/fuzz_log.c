// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* user/cmd/main.c's log level, for fuzzers that link code which logs. */
int log_verbosity = 0;
