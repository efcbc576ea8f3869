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
#include "model/array.h"
#include "cmd/options.h"
#include "sys/clock.h"
#include "sys/log.h"

#define MAX_FUNCS 65536
#define MAX_PROCS 256
#define MAX_DEPTH 2048

struct func {
	frame_id key; /* the function: its frame without a line */
	double own, total;	   /* samples in the last interval */
	double own_cum, total_cum; /* samples since the start */
	unsigned int seen;	   /* dedupes recursion within one stack */
};

struct proc_row {
	frame_id root; /* the process frame */
	double samples;
};

enum sort_key { SORT_OWN, SORT_TOTAL, SORT_OWN_CUM, SORT_TOTAL_CUM };

struct top {
	struct session_opts so;
	struct frame_table *ft;
	/* frame id -> index + 1 in f (0: not seen yet) */
	uint32_t *func_of;
	size_t func_of_cap;
	struct func *f;
	size_t n, cap;
	struct proc_row procs[MAX_PROCS];
	int nprocs;
	enum sort_key sort;
	bool tty, raw;
	struct termios saved;
	double hz, seconds, elapsed;
	unsigned long long last_ns;
	unsigned int stamp, nlive;
};

/* The function a frame belongs to: a Python frame without its line. */
static frame_id function_key(struct top *t, frame_id id)
{
	const struct frame *fr = frames_get(t->ft, id);
	struct frame k;

	if (fr->kind != FRAME_PYTHON || !fr->line)
		return id;
	k = *fr;
	k.line = 0;
	return frames_add(t->ft, &k);
}

/* Room in func_of for frame id. */
static int grow_map(struct top *t, frame_id id)
{
	size_t old = t->func_of_cap;

	if (array_reserve(&t->func_of, &t->func_of_cap, (size_t)id + 1,
			  sizeof(*t->func_of), 1024))
		return -ENOMEM;
	memset(t->func_of + old, 0, (t->func_of_cap - old) * sizeof(*t->func_of));
	return 0;
}

/* The function row of frame id: frames are ids, so the table is an array
 * indexed by them, filled as frames turn up. */
static struct func *lookup(struct top *t, frame_id id)
{
	frame_id key;

	if (id == FRAME_NONE || grow_map(t, id))
		return NULL;
	if (!t->func_of[id]) {
		key = function_key(t, id);
		if (key == FRAME_NONE || grow_map(t, key))
			return NULL;
		if (!t->func_of[key]) {
			if (t->n >= MAX_FUNCS)
				return NULL;
			if (array_reserve(&t->f, &t->cap, t->n + 1, sizeof(*t->f), 1024))
				return NULL;
			t->f[t->n] = (struct func){ .key = key };
			t->func_of[key] = (uint32_t)++t->n;
		}
		t->func_of[id] = t->func_of[key];
	}
	return &t->f[t->func_of[id] - 1];
}

static void add_proc(struct top *t, frame_id root, double w)
{
	int i;

	for (i = 0; i < t->nprocs; i++)
		if (t->procs[i].root == root)
			break;
	if (i == t->nprocs && t->nprocs < MAX_PROCS)
		t->procs[t->nprocs++] = (struct proc_row){ .root = root };
	if (i < t->nprocs)
		t->procs[i].samples += w;
}

static int top_sample(void *ctx, const struct session_sample *s)
{
	struct top *t = ctx;
	struct func *leaf = NULL;
	/* --idle/--gil: time on or off the CPU, as samples of the rate */
	double w = t->so.offcpu || t->so.gil ? s->ns / 1e9 * t->hz : (double)s->count;

	if (!s->oncpu && !(t->so.offcpu || t->so.gil))
		return 0;
	t->stamp++;
	if (s->nroot)
		add_proc(t, s->frames[s->nroot - 1], w);
	for (uint32_t i = s->nroot; i < s->n && i < MAX_DEPTH; i++) {
		struct func *f = lookup(t, s->frames[i]);

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
	return 0;
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
	for (size_t i = 0; i < t->n; i++)
		v[i] = &t->f[i];
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
		     frame_text(t->ft, t->procs[i].root));
	line(t, cols, "%s", "");
	line(t, cols, "  %%Own  %%Total  OwnTime  TotalTime  Function (file)");
	room = rows - 7 - (t->nprocs < 5 ? t->nprocs : 5);
	for (size_t i = 0; i < t->n && shown < room; i++, shown++) {
		struct func *f = v[i];

		line(t, cols, "%6.1f %7.1f %7.2fs %9.2fs  %s",
		     100.0 * f->own / per_cpu, 100.0 * f->total / per_cpu,
		     f->own_cum / t->hz, f->total_cum / t->hz, frame_text(t->ft, f->key));
	}
	if (t->tty)
		fputs("\033[J", stdout); /* clear what the last frame left */
	else
		fputs("\n", stdout);
	fflush(stdout);
	free(v);
}

/* Every second: the last second's table, then its counts start over. */
static int top_tick(void *ctx, const struct session_health *h)
{
	struct top *t = ctx;
	unsigned long long now = clock_mono_ns();

	t->hz = h->hz;
	t->seconds = t->last_ns ? (now - t->last_ns) / 1e9 : h->elapsed;
	t->last_ns = now;
	t->elapsed += t->seconds;
	t->nlive = h->nprocs_live;
	/* busiest process first */
	for (int i = 1; i < t->nprocs; i++)
		for (int k = i; k > 0 && t->procs[k].samples > t->procs[k - 1].samples; k--) {
			struct proc_row tmp = t->procs[k];

			t->procs[k] = t->procs[k - 1];
			t->procs[k - 1] = tmp;
		}
	draw(t);
	for (size_t i = 0; i < t->n; i++)
		t->f[i].own = t->f[i].total = 0;
	t->nprocs = 0;
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
		"Usage: pyrograph top [-p PID]... | -a | --container NAME | -- COMMAND [ARGS]\n"
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
		"--container, --cgroup, -s, -r, -d, --idle, --gil, --max-procs,\n"
		"--buffer-size, --ready-fd), plus\n"
		"  -h, --help   this help\n"
		"\n"
		"Examples:\n"
		"  pyrograph top -p 1234\n"
		"  pyrograph top -a\n"
		"  pyrograph top --container 3f2a9c -r 200\n");
}

static const struct cmd_def top_def = {
	.name = "top",
	.groups = OPT_RECORDING | OPT_SUBPROC | OPT_RATE | OPT_WALL,
	.usage = usage,
};

/* Keys without Enter and without echo; ISIG stays on, so Ctrl-C is
 * SIGINT, which stops the loop like q. */
static void terminal_raw(struct top *t)
{
	struct termios raw;

	t->tty = isatty(STDOUT_FILENO);
	if (t->tty && isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &t->saved)) {
		raw = t->saved;
		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (!tcsetattr(STDIN_FILENO, TCSANOW, &raw))
			t->raw = true;
	}
	if (t->tty)
		fputs("\033[?1049h\033[?25l\033[H\033[2J", stdout); /* alt screen */
	fflush(stdout);
}

static void terminal_restore(struct top *t)
{
	if (t->tty)
		fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (t->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
}

static int top_run(struct top *t)
{
	struct session_sink sink = {
		.ctx = t, .sample = top_sample, .tick = top_tick, .poll = top_input,
	};
	struct session *s;
	int ret = session_open(&s, &t->so);

	if (ret)
		return ret;
	t->ft = session_frames(s);
	ret = session_add_sink(s, &sink);
	terminal_raw(t);
	if (!ret)
		ret = session_run(s);
	terminal_restore(t);
	session_close(s);
	return ret;
}

int cmd_top(int argc, char **argv)
{
	struct top t = { .sort = SORT_OWN };
	enum opts_result res;
	int ret;

	session_opts_init(&t.so);
	res = options_parse(&top_def, argc, argv, &t.so, &t, NULL);
	if (res != OPTS_OK)
		return res == OPTS_HELP ? 0 : res == OPTS_REFUSED ? 2 : 1;
	/* the table is the output: one root frame per process, no status */
	t.so.group = GROUP_PROCESS;
	t.so.quiet = true;
	ret = top_run(&t) ? 1 : 0;
	free(t.f);
	free(t.func_of);
	return ret;
}
