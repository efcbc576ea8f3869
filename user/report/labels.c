// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "report/labels.h"

/* Label values: Pyroscope allows a restricted character set. */
void labels_value(char *out, size_t olen, const char *s, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < len && k + 1 < olen; i++) {
		char c = s[i];

		out[k++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
					   (c >= '0' && c <= '9') || c == '-' ||
					   c == '_' || c == '.' ?
				   c :
				   '_';
	}
	out[k] = '\0';
}

/*
 * A service name from the command line: the script or module a Python
 * interpreter runs (python3 app.py -> app, python -m celery -> celery),
 * otherwise the program (gunicorn, uvicorn).
 */
void labels_service(const char *cmd, size_t len, char *out, size_t olen)
{
	char buf[512], *tok, *save = NULL, *prog = NULL, *pick = NULL;
	bool python, module = false;

	snprintf(buf, sizeof(buf), "%.*s", (int)(len < sizeof(buf) ? len : sizeof(buf) - 1), cmd);
	tok = strtok_r(buf, " ", &save);
	if (!tok) {
		snprintf(out, olen, "python");
		return;
	}
	prog = strrchr(tok, '/') ? strrchr(tok, '/') + 1 : tok;
	python = !strncmp(prog, "python", 6);
	while (python && (tok = strtok_r(NULL, " ", &save))) {
		if (module) {
			pick = tok;
			break;
		}
		if (!strcmp(tok, "-m")) {
			module = true;
			continue;
		}
		if (tok[0] == '-')
			continue;
		pick = strrchr(tok, '/') ? strrchr(tok, '/') + 1 : tok;
		if (strlen(pick) > 3 && !strcmp(pick + strlen(pick) - 3, ".py"))
			pick[strlen(pick) - 3] = '\0';
		break;
	}
	labels_value(out, olen, pick ? pick : prog, strlen(pick ? pick : prog));
}
