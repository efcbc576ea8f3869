// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/array.h"
#include "model/frames.h"

static bool starts(const char *s, size_t len, const char *p)
{
	size_t l = strlen(p);

	return len >= l && !memcmp(s, p, l);
}

static bool ends(const char *s, size_t len, const char *p)
{
	size_t l = strlen(p);

	return len >= l && !memcmp(s + len - l, p, l);
}

/* "(123)" or "(123/45)" at the end: returns where '(' is, or 0. */
static size_t pid_suffix(const char *s, size_t len, long *pid, long *nspid)
{
	size_t i = len;
	long a = 0, b = -1, mul = 1;

	if (len < 4 || s[len - 1] != ')')
		return 0;
	i = len - 1;
	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9') {
		i--;
		if (len - 1 - i > 9)
			return 0;
		a += (s[i] - '0') * mul;
		mul *= 10;
	}
	/* exactly as frame_format writes ids: no leading zeros */
	if (i == len - 1 || (s[i] == '0' && i < len - 2))
		return 0;
	if (i > 0 && s[i - 1] == '/') {
		b = a;
		a = 0;
		mul = 1;
		i--;
		size_t end = i;
		while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9') {
			i--;
			if (end - i > 9)
				return 0;
			a += (s[i] - '0') * mul;
			mul *= 10;
		}
		if (i == end || (s[i] == '0' && i < end - 1))
			return 0;
	}
	if (i < 2 || s[i - 1] != '(' || s[i - 2] != ' ')
		return 0;
	*pid = a;
	*nspid = b;
	return i - 1;
}

void frame_parse(const char *s, size_t len, bool root, struct frame_parts *out)
{
	size_t p;

	memset(out, 0, sizeof(*out));
	out->name = s;
	out->name_len = len;
	out->kind = FRAME_SYNTHETIC;
	if (len && s[0] == '[')
		return;
	if (ends(s, len, "_[k]")) {
		out->kind = FRAME_KERNEL;
		out->name_len = len - 4;
		return;
	}
	/* where the process runs (sys/container.h, container_label) */
	if (root && (starts(s, len, "container ") || starts(s, len, "cgroup ") ||
		     (starts(s, len, "pod ") && memmem(s, len, " container ", 11)))) {
		out->kind = FRAME_CONTAINER;
		return;
	}
	if (root && (p = pid_suffix(s, len, &out->pid, &out->nspid))) {
		/* p is the '(' of the id; the name ends before the space.
		 * A thread has a name and one id: "thread (5)" and
		 * "thread x (5/6)" are processes, as frame_format would
		 * write them back */
		if (starts(s, len, "thread ") && p >= 8 && out->nspid < 0) {
			out->kind = FRAME_THREAD;
			out->name = s + 7;
			out->name_len = p - 8;
		} else {
			out->kind = FRAME_PROCESS;
			out->name_len = p - 1;
		}
		return;
	}
	if (len && s[len - 1] == ']') {
		/* "symbol [module]"; the module may itself be bracketed, as
		 * "[vdso]" is: the last " [" opens it */
		const char *open = NULL;

		for (size_t i = len - 1; i-- > 1;)
			if (s[i] == '[' && s[i - 1] == ' ') {
				open = s + i;
				break;
			}
		if (open && open > s && open[-1] == ' ') {
			out->kind = FRAME_NATIVE;
			out->name_len = (size_t)(open - 1 - s);
			out->file = open + 1;
			out->file_len = len - (size_t)(open - s) - 2;
			return;
		}
	}
	if (len && s[len - 1] == ')') {
		/* "qualname (file:line)" or "qualname (file)": the last " ("
		 * opens the location (file names rarely contain one) */
		const char *open = NULL;

		for (size_t i = len - 1; i-- > 1;)
			if (s[i] == '(' && s[i - 1] == ' ') {
				open = s + i;
				break;
			}
		if (open) {
			const char *f = open + 1, *end = s + len - 1, *c;
			long line = 0, mul = 1;

			out->kind = FRAME_PYTHON;
			out->name_len = (size_t)(open - 1 - s);
			out->file = f;
			out->file_len = (size_t)(end - f);
			for (c = end; c > f && c[-1] >= '0' && c[-1] <= '9' &&
				      end - c < 9;
			     c--) {
				line += (c[-1] - '0') * mul;
				mul *= 10;
			}
			/* a line is what frame_format writes: > 0, without
			 * leading zeros ("f (x.py:0)" keeps ":0" in the file) */
			if (c < end && c > f && c[-1] == ':' && *c != '0') {
				out->line = line;
				out->file_len = (size_t)(c - 1 - f);
			}
			return;
		}
	}
	out->kind = FRAME_PYTHON; /* a bare name: still code */
}

static bool contains(const char *s, size_t len, const char *p)
{
	size_t l = strlen(p);

	for (size_t i = 0; i + l <= len; i++)
		if (!memcmp(s + i, p, l))
			return true;
	return false;
}

enum code_origin frame_origin(const char *file, size_t len)
{
	if (!file)
		return ORIGIN_APP;
	if (contains(file, len, "/site-packages/") ||
	    contains(file, len, "/dist-packages/"))
		return ORIGIN_THIRD_PARTY;
	if (contains(file, len, "/lib/python3") || starts(file, len, "<frozen"))
		return ORIGIN_STDLIB;
	return ORIGIN_APP;
}

void frames_init(struct frame_table *t)
{
	memset(t, 0, sizeof(*t));
}

void frames_free(struct frame_table *t)
{
	for (size_t i = 0; t->text && i < t->n; i++)
		free(t->text[i]);
	free(t->text);
	free(t->f);
	hashidx_free(&t->ix);
	intern_free(&t->strs);
	memset(t, 0, sizeof(*t));
}

size_t frames_bytes(const struct frame_table *t)
{
	return intern_bytes(&t->strs) + t->cap * sizeof(*t->f) +
	       hashidx_bytes(&t->ix) + t->text_cap * sizeof(*t->text) +
	       t->text_bytes;
}

uint32_t frames_str(struct frame_table *t, const char *s, size_t len)
{
	long id = intern_id(&t->strs, s, len);

	return id < 0 ? FRAME_NO_STR : (uint32_t)id;
}

static uint64_t frame_hash(const struct frame *f)
{
	uint64_t h = hash_mix(((uint64_t)f->kind << 32) ^ (uint32_t)f->line);

	h = hash_mix(h ^ ((uint64_t)f->name << 32 | f->file));
	return hash_mix(h ^ ((uint64_t)(uint32_t)f->pid << 32 | (uint32_t)f->nspid));
}

struct frame_key {
	const struct frame_table *t;
	const struct frame *f;
};

static bool frame_eq(const void *ctx, uint32_t pos)
{
	const struct frame_key *k = ctx;
	const struct frame *a = &k->t->f[pos], *b = k->f;

	return a->kind == b->kind && a->line == b->line && a->name == b->name &&
	       a->file == b->file && a->pid == b->pid && a->nspid == b->nspid;
}

frame_id frames_add(struct frame_table *t, const struct frame *f)
{
	struct frame_key k = { t, f };
	uint64_t h = frame_hash(f);
	long id = hashidx_find(&t->ix, h, frame_eq, &k);

	if (id >= 0)
		return (frame_id)id;
	if (f->name == FRAME_NO_STR || t->n >= FRAME_NONE - 1)
		return FRAME_NONE;
	if (array_reserve(&t->f, &t->cap, t->n + 1, sizeof(*t->f), 1024))
		return FRAME_NONE;
	t->f[t->n] = *f;
	memset(t->f[t->n]._pad, 0, sizeof(t->f[t->n]._pad));
	if (hashidx_insert(&t->ix, h, (uint32_t)t->n))
		return FRAME_NONE;
	return (frame_id)t->n++;
}

static frame_id add_kind(struct frame_table *t, enum frame_kind kind,
			 const char *name, const char *file, int line, int pid,
			 int nspid)
{
	struct frame f = {
		.kind = kind,
		.line = line,
		.name = frames_str(t, name, strlen(name)),
		.file = file ? frames_str(t, file, strlen(file)) : FRAME_NO_STR,
		.pid = pid,
		.nspid = nspid,
	};

	if (file && f.file == FRAME_NO_STR)
		return FRAME_NONE;
	return frames_add(t, &f);
}

frame_id frames_python(struct frame_table *t, const char *name, const char *file,
		       int line)
{
	return add_kind(t, FRAME_PYTHON, name, file, line > 0 ? line : 0, 0, -1);
}

frame_id frames_native(struct frame_table *t, const char *sym, const char *module)
{
	return add_kind(t, FRAME_NATIVE, sym, module, 0, 0, -1);
}

frame_id frames_kernel(struct frame_table *t, const char *sym)
{
	return add_kind(t, FRAME_KERNEL, sym, NULL, 0, 0, -1);
}

frame_id frames_synthetic(struct frame_table *t, const char *text)
{
	return add_kind(t, FRAME_SYNTHETIC, text, NULL, 0, 0, -1);
}

frame_id frames_container(struct frame_table *t, const char *label)
{
	return add_kind(t, FRAME_CONTAINER, label, NULL, 0, 0, -1);
}

frame_id frames_process(struct frame_table *t, const char *name, int pid, int nspid)
{
	return add_kind(t, FRAME_PROCESS, name, NULL, 0, pid, nspid);
}

frame_id frames_thread(struct frame_table *t, const char *name, int tid)
{
	return add_kind(t, FRAME_THREAD, name, NULL, 0, tid, -1);
}

size_t frame_format(const struct frame_table *t, frame_id id, char *buf,
		    size_t len)
{
	const struct frame *f = &t->f[id];
	const char *name = t->strs.s[f->name], *file = frames_s(t, f->file);
	int n;

	switch (f->kind) {
	case FRAME_PROCESS:
		n = f->nspid >= 0 ? snprintf(buf, len, "%s (%d/%d)", name, f->pid, f->nspid) :
				    snprintf(buf, len, "%s (%d)", name, f->pid);
		break;
	case FRAME_THREAD:
		n = snprintf(buf, len, "thread %s (%d)", name, f->pid);
		break;
	case FRAME_PYTHON:
		n = !file ? snprintf(buf, len, "%s", name) :
		    f->line > 0 ? snprintf(buf, len, "%s (%s:%d)", name, file, f->line) :
				  snprintf(buf, len, "%s (%s)", name, file);
		break;
	case FRAME_NATIVE:
		n = file ? snprintf(buf, len, "%s [%s]", name, file) :
			   snprintf(buf, len, "%s", name);
		break;
	case FRAME_KERNEL:
		n = snprintf(buf, len, "%s_[k]", name);
		break;
	default: /* container, synthetic: the name is the text */
		n = snprintf(buf, len, "%s", name);
	}
	return n < 0 ? 0 : (size_t)n;
}

const char *frame_text(struct frame_table *t, frame_id id)
{
	size_t len;

	if (id >= t->n)
		return "";
	if (t->text_cap < t->n) {
		size_t cap = t->cap;
		char **nt = realloc(t->text, cap * sizeof(*nt));

		if (!nt)
			return "";
		memset(nt + t->text_cap, 0, (cap - t->text_cap) * sizeof(*nt));
		t->text = nt;
		t->text_cap = cap;
	}
	if (t->text[id])
		return t->text[id];
	len = frame_format(t, id, NULL, 0);
	t->text[id] = malloc(len + 1);
	if (!t->text[id])
		return "";
	frame_format(t, id, t->text[id], len + 1);
	t->text_bytes += len + 1;
	return t->text[id];
}

frame_id frames_parse(struct frame_table *t, const char *s, size_t len,
		      bool root)
{
	struct frame_parts p;
	struct frame f = { .nspid = -1, .file = FRAME_NO_STR };

	frame_parse(s, len, root, &p);
	f.kind = p.kind;
	f.name = frames_str(t, p.name, p.name_len);
	if (p.file) {
		f.file = frames_str(t, p.file, p.file_len);
		if (f.file == FRAME_NO_STR)
			return FRAME_NONE;
	}
	f.line = p.kind == FRAME_PYTHON ? (int32_t)p.line : 0;
	if (p.kind == FRAME_PROCESS || p.kind == FRAME_THREAD) {
		f.pid = (int32_t)p.pid;
		f.nspid = p.kind == FRAME_PROCESS ? (int32_t)p.nspid : -1;
	}
	return frames_add(t, &f);
}
