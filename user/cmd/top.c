// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pyrograph top: a live table of the functions with the most own and total
 * time across the selected processes, redrawn every second. Plain ANSI
 * escapes (alternate screen, cursor home, clear to end of line), so it
 * works in any terminal over ssh without a curses dependency; keys are
 * read in non-canonical mode and the terminal is restored on every exit
 * path the recording loop takes (q, Ctrl-C, SIGTERM, targets gone).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "sys/log.h"
#include "core/record.h"

#define MAX_FUNCS 65536
#define MAX_PROCS 256
#define MAX_DEPTH 2048

struct func {
	char *name; /* "qualname (file)" */
	double own, total;	       /* samples in the last interval */
	double own_cum, total_cum; /* samples since the start */
	unsigned int seen;	       /* dedupes recursion within one stack */
};

struct proc_row {
	char name[256]; /* "command (pid)" */
	double samples;
};

enum sort_key { SORT_OWN, SORT_TOTAL, SORT_OWN_CUM, SORT_TOTAL_CUM };

struct top {
	struct func *f;
	size_t n, cap; /* open addressing, cap a power of two */
	struct proc_row procs[MAX_PROCS];
	int nprocs;
	enum sort_key sort;
	bool tty, raw;
	struct termios saved;
	double hz, seconds, elapsed;
	unsigned int stamp, nlive;
	unsigned long long samples;
};

static unsigned long long hash_str(const char *s)
{
	unsigned long long h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct func *lookup(struct top *t, const char *name)
{
	size_t i;

	if ((t->n + 1) * 4 > t->cap * 3) {
		size_t ncap = t->cap ? t->cap * 2 : 1024;
		struct func *nf;

		if (t->n >= MAX_FUNCS)
			return NULL;
		nf = calloc(ncap, sizeof(*nf));
		if (!nf)
			return NULL;
		for (size_t k = 0; k < t->cap; k++) {
			if (!t->f[k].name)
				continue;
			i = hash_str(t->f[k].name) & (ncap - 1);
			while (nf[i].name)
				i = (i + 1) & (ncap - 1);
			nf[i] = t->f[k];
		}
		free(t->f);
		t->f = nf;
		t->cap = ncap;
	}
	i = hash_str(name) & (t->cap - 1);
	while (t->f[i].name && strcmp(t->f[i].name, name))
		i = (i + 1) & (t->cap - 1);
	if (!t->f[i].name) {
		t->f[i].name = strdup(name);
		if (!t->f[i].name)
			return NULL;
		t->n++;
	}
	return &t->f[i];
}

/* "name (file:123)" -> "name (file)": a function, not a line. */
static void function_key(const char *frame, size_t len, char *out, size_t olen)
{
	size_t l = len < olen - 1 ? len : olen - 1;
	char *colon;

	memcpy(out, frame, l);
	out[l] = '\0';
	if (l && out[l - 1] == ')') {
		colon = strrchr(out, ':');
		if (colon && strspn(colon + 1, "0123456789") == strlen(colon + 1) - 1) {
			colon[0] = ')';
			colon[1] = '\0';
		}
	}
}

static void add_stack(struct top *t, const char *stack, double w)
{
	const char *p = stack, *semi;
	struct func *leaf = NULL;
	char key[1024];
	int depth = 0;

	t->stamp++;
	/* the first frame is the process */
	semi = strchr(p, ';');
	{
		size_t l = semi ? (size_t)(semi - p) : strlen(p);
		int i;

		for (i = 0; i < t->nprocs; i++)
			if (strlen(t->procs[i].name) == l &&
			    !strncmp(t->procs[i].name, p, l))
				break;
		if (i == t->nprocs && t->nprocs < MAX_PROCS) {
			snprintf(t->procs[i].name, sizeof(t->procs[i].name),
				 "%.*s", (int)l, p);
			t->procs[i].samples = 0;
			t->nprocs++;
		}
		if (i < t->nprocs)
			t->procs[i].samples += w;
	}
	while (semi && depth++ < MAX_DEPTH) {
		struct func *f;

		p = semi + 1;
		semi = strchr(p, ';');
		function_key(p, semi ? (size_t)(semi - p) : strlen(p), key,
			     sizeof(key));
		f = lookup(t, key);
		if (!f)
			continue;
		if (f->seen != t->stamp) {
			f->seen = t->stamp;
			f->total += w;
			f->total_cum += w;
		}
		leaf = f;
	}
	if (leaf) {
		leaf->own += w;
		leaf->own_cum += w;
	}
}

static int cmp_sort;

static double key_of(const struct func *f)
{
	switch (cmp_sort) {
	case SORT_TOTAL:
		return f->total * 1e9 + f->total_cum;
	case SORT_OWN_CUM:
		return f->own_cum;
	case SORT_TOTAL_CUM:
		return f->total_cum;
	default:
		return f->own * 1e9 + f->own_cum;
	}
}

static int cmp_func(const void *a, const void *b)
{
	double x = key_of(*(struct func *const *)a);
	double y = key_of(*(struct func *const *)b);

	return x < y ? 1 : x > y ? -1 : 0;
}

static void term_size(int *rows, int *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 80;
	if (!ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) && ws.ws_row && ws.ws_col) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* One line, cut to the terminal width, cleared to its end. */
static void line(struct top *t, int cols, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void line(struct top *t, int cols, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (cols > 0 && (size_t)cols < sizeof(buf))
		buf[cols] = '\0';
	fputs(buf, stdout);
	fputs(t->tty ? "\033[K\r\n" : "\n", stdout);
}

static void draw(struct top *t)
{
	static const char *sort_names[] = { "own", "total", "own time",
					    "total time" };
	struct func **v;
	int rows, cols, shown = 0, room;
	double per_cpu = t->hz * (t->seconds > 0 ? t->seconds : 1);

	term_size(&rows, &cols);
	if (!t->tty) {
		rows = 40;
		cols = 0;
	}
	v = calloc(t->n ? t->n : 1, sizeof(*v));
	if (!v)
		return;
	for (size_t i = 0, k = 0; i < t->cap; i++)
		if (t->f[i].name)
			v[k++] = &t->f[i];
	cmp_sort = t->sort;
	qsort(v, t->n, sizeof(*v), cmp_func);

	if (t->tty)
		fputs("\033[H", stdout);
	line(t, cols,
	     "pyrograph top - %u Python process%s, %.0f Hz, %.0f s - sorted by %s   [o]wn [t]otal [O]wn time [T]otal time [q]uit",
	     t->nlive, t->nlive == 1 ? "" : "es", t->hz, t->elapsed,
	     sort_names[t->sort]);
	line(t, cols, "%s", "");
	line(t, cols, "  %%CPU  PROCESS");
	for (int i = 0; i < t->nprocs && i < 5; i++)
		line(t, cols, "%6.1f  %s", 100.0 * t->procs[i].samples / per_cpu,
		     t->procs[i].name);
	line(t, cols, "%s", "");
	line(t, cols, "  %%Own  %%Total  OwnTime  TotalTime  Function (file)");
	room = rows - 7 - (t->nprocs < 5 ? t->nprocs : 5);
	for (size_t i = 0; i < t->n && shown < room; i++, shown++) {
		struct func *f = v[i];

		line(t, cols, "%6.1f %7.1f %7.2fs %9.2fs  %s",
		     100.0 * f->own / per_cpu, 100.0 * f->total / per_cpu,
		     f->own_cum / t->hz, f->total_cum / t->hz, f->name);
	}
	if (t->tty)
		fputs("\033[J", stdout); /* clear what the last frame left */
	else
		fputs("\n", stdout);
	fflush(stdout);
	free(v);
}

static int top_refresh(void *ctx, const struct stack_count *stacks, size_t n,
		       double hz, double seconds, unsigned int nprocs)
{
	struct top *t = ctx;

	for (size_t i = 0; i < t->cap; i++)
		t->f[i].own = t->f[i].total = 0;
	for (int i = 0; i < t->nprocs; i++)
		t->procs[i].samples = 0;
	t->nprocs = 0;
	for (size_t i = 0; i < n; i++)
		add_stack(t, stacks[i].stack, (double)stacks[i].count);
	t->hz = hz;
	t->seconds = seconds;
	t->elapsed += seconds;
	t->nlive = nprocs;
	/* busiest process first */
	for (int i = 1; i < t->nprocs; i++)
		for (int k = i; k > 0 && t->procs[k].samples > t->procs[k - 1].samples; k--) {
			struct proc_row tmp = t->procs[k];

			t->procs[k] = t->procs[k - 1];
			t->procs[k - 1] = tmp;
		}
	draw(t);
	return 0;
}

static int top_input(void *ctx)
{
	struct top *t = ctx;
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	char c;

	if (!t->raw)
		return 0;
	while (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN)) {
		if (read(STDIN_FILENO, &c, 1) != 1)
			return 0;
		switch (c) {
		case 'q':
		case 'Q':
		case 3: /* Ctrl-C arrives as a byte when ISIG is off; it is not */
			return 1;
		case 'o':
			t->sort = SORT_OWN;
			break;
		case 't':
			t->sort = SORT_TOTAL;
			break;
		case 'O':
			t->sort = SORT_OWN_CUM;
			break;
		case 'T':
			t->sort = SORT_TOTAL_CUM;
			break;
		default:
			continue;
		}
		draw(t);
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: pyrograph top [-p PID]... | -a | --container ID | -- COMMAND [ARGS]\n"
		"\n"
		"A live view of the Python functions using the most CPU across the selected\n"
		"processes (default: all), redrawn every second, and each process's CPU.\n"
		"%%Own: time in the function itself; %%Total: including what it calls (both\n"
		"in %% of one CPU over the last second); OwnTime/TotalTime: CPU seconds since\n"
		"the start. Works in a plain terminal (ANSI escapes); without a terminal it\n"
		"prints one table per second.\n"
		"\n"
		"Keys: o / t sort by %%Own / %%Total, O / T by OwnTime / TotalTime, q quits\n"
		"(Ctrl-C too).\n"
		"\n"
		"Options: the targets and sampling options of `pyrograph record` (-p, -a,\n"
		"--container, --cgroup, -s, -r, -d, --idle, --gil, --max-procs), plus\n"
		"  -h, --help   this help\n"
		"\n"
		"Examples:\n"
		"  pyrograph top -p 1234\n"
		"  pyrograph top -a\n"
		"  pyrograph top --container 3f2a9c -r 200\n");
}

int cmd_top(int argc, char **argv)
{
	struct top t = { .sort = SORT_OWN };
	struct live_view v = {
		.ctx = &t,
		.interval_ms = 1000,
		.refresh = top_refresh,
		.input = top_input,
	};
	struct termios raw;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
	}
	t.tty = isatty(STDOUT_FILENO);
	if (t.tty && isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &t.saved)) {
		raw = t.saved;
		/* keys without Enter and without echo; ISIG stays on, so
		 * Ctrl-C is SIGINT, which stops the loop like q */
		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (!tcsetattr(STDIN_FILENO, TCSANOW, &raw))
			t.raw = true;
	}
	if (t.tty)
		fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout); /* alt screen */
	fflush(stdout);
	ret = record_main(argc, argv, &v);
	if (t.tty)
		fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (t.raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &t.saved);
	for (size_t i = 0; i < t.cap; i++)
		free(t.f[i].name);
	free(t.f);
	return ret;
}
