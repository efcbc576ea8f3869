/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_JSON_H
#define PYROGRAPH_JSON_H

#include <stdio.h>

/* Writes s as a JSON string literal (quotes included); NULL as null. */
void json_str(FILE *f, const char *s);

#endif
