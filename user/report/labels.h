/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_LABELS_H
#define PYROGRAPH_LABELS_H

#include <stddef.h>

/* s[0..len) as a label value Pyroscope takes: [A-Za-z0-9._-], others '_'. */
void labels_value(char *out, size_t olen, const char *s, size_t len);
/*
 * A service name from a command line: the script or module a Python
 * interpreter runs (python3 app.py -> app, python -m celery -> celery),
 * otherwise the program (gunicorn, uvicorn).
 */
void labels_service(const char *cmd, size_t len, char *out, size_t olen);

#endif
