// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "python/linetable.h"
#include "python/memread.h"
#include "python/pystr.h"
#include "python/symcache.h"
#include "model/array.h"
#include "model/frames.h"
#include "model/hashidx.h"

#define NAME_MAX_LEN 512
#define FILE_MAX_LEN 1024
/* Line tables above this are not Python functions anyone wrote by hand. */
#define LINETABLE_MAX (1 << 20)
/* Entries per process before the cache starts over (bounded memory). */
#define SYMCACHE_MAX_ENTRIES (1 << 18)

struct sym {
	unsigned long long code;
	unsigned int tag;
	int firstlineno;
	char *name;
	char *file;
	unsigned char *lt;
	int ltlen;
	uint32_t name_sid, file_sid; /* in the frame table, once asked */
};

/* (code, tag, instruction) -> frame id: a sample's frames come back sample
 * after sample, and this spares the line table walk and the frame hash. */
#define FRAME_CACHE 256
struct frame_cache {
	unsigned long long code;
	unsigned int tag, instr;
	frame_id id;
};

struct symcache {
	pid_t pid;
	struct py_offsets off;
	struct sym *tab; /* in the order they were loaded */
	size_t cap, n;
	struct hashidx ix; /* (code, tag) -> position in tab */
	struct frame_table *ft; /* the table frame ids refer to */
	struct frame_cache *fc;
	frame_id unknown;
};

struct symcache *symcache__new(pid_t pid, const struct py_offsets *off)
{
	struct symcache *sc = calloc(1, sizeof(*sc));

	if (!sc)
		return NULL;
	sc->pid = pid;
	sc->off = *off;
	return sc;
}

static void sym_clear(struct sym *s)
{
	free(s->name);
	free(s->file);
	free(s->lt);
	memset(s, 0, sizeof(*s));
}

static void symcache_clear(struct symcache *sc)
{
	for (size_t i = 0; i < sc->n; i++)
		sym_clear(&sc->tab[i]);
	sc->n = 0;
	hashidx_clear(&sc->ix);
}

void symcache__free(struct symcache *sc)
{
	if (!sc)
		return;
	symcache_clear(sc);
	free(sc->tab);
	hashidx_free(&sc->ix);
	free(sc->fc);
	free(sc);
}

struct sym_key {
	const struct symcache *sc;
	unsigned long long code;
	unsigned int tag;
};

static uint64_t sym_hash(unsigned long long code, unsigned int tag)
{
	return hash_mix(code ^ ((uint64_t)tag << 32 | tag));
}

static bool sym_eq(const void *ctx, uint32_t pos)
{
	const struct sym_key *k = ctx;

	return k->sc->tab[pos].code == k->code && k->sc->tab[pos].tag == k->tag;
}

static struct sym *sym_find(struct symcache *sc, unsigned long long code,
			    unsigned int tag)
{
	struct sym_key k = { sc, code, tag };
	long pos = hashidx_find(&sc->ix, sym_hash(code, tag), sym_eq, &k);

	return pos < 0 ? NULL : &sc->tab[pos];
}

/* Keeps s (loaded) in the cache; the cache starts over when full. */
static struct sym *sym_keep(struct symcache *sc, struct sym *s)
{
	if (sc->n >= SYMCACHE_MAX_ENTRIES)
		symcache_clear(sc);
	if (array_reserve(&sc->tab, &sc->cap, sc->n + 1, sizeof(*sc->tab), 256))
		return NULL;
	if (hashidx_insert(&sc->ix, sym_hash(s->code, s->tag), (uint32_t)sc->n))
		return NULL;
	sc->tab[sc->n] = *s;
	return &sc->tab[sc->n++];
}

static unsigned long long rd_ptr(const unsigned char *b, size_t blen,
				 unsigned int off)
{
	unsigned long long v = 0;

	if (off != PY_OFF_NONE && off + 8 <= blen)
		memcpy(&v, b + off, 8);
	return v;
}

static int load_sym(struct symcache *sc, unsigned long long code,
		    unsigned int tag, struct sym *s)
{
	const struct py_offsets *o = &sc->off;
	void *ctx = pid_ctx(sc->pid);
	unsigned char hdr[512];
	unsigned long long name_p, file_p, lt_p;
	char name[NAME_MAX_LEN], file[FILE_MAX_LEN];
	unsigned int hmax = 0;
	int first, ret;
	unsigned int fields[] = { o->code_filename, o->code_name,
				  o->code_qualname, o->code_firstlineno,
				  o->code_linetable };

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i] != PY_OFF_NONE && fields[i] + 8 > hmax)
			hmax = fields[i] + 8;
	if (hmax > sizeof(hdr))
		return -EINVAL;
	ret = mem_read(ctx, code, hdr, hmax);
	if (ret)
		return ret;
	memcpy(&first, hdr + o->code_firstlineno, sizeof(first));
	file_p = rd_ptr(hdr, hmax, o->code_filename);
	lt_p = rd_ptr(hdr, hmax, o->code_linetable);
	if (py_code_tag((unsigned int)first, file_p,
			rd_ptr(hdr, hmax, o->code_name), lt_p) != tag)
		return -ESTALE; /* freed and reused since the sample */
	name_p = rd_ptr(hdr, hmax, o->code_qualname);
	if (!name_p)
		name_p = rd_ptr(hdr, hmax, o->code_name);
	if (pystr_read(o, mem_read, ctx, name_p, name, sizeof(name)) < 0)
		return -EFAULT;
	if (pystr_read(o, mem_read, ctx, file_p, file, sizeof(file)) < 0)
		return -EFAULT;
	s->ltlen = pybytes_read(o, mem_read, ctx, lt_p, LINETABLE_MAX, &s->lt);
	if (s->ltlen < 0) {
		s->lt = NULL;
		s->ltlen = 0;
	}
	s->name = strdup(name);
	s->file = strdup(file);
	if (!s->name || !s->file) {
		sym_clear(s);
		return -ENOMEM;
	}
	s->firstlineno = first;
	return 0;
}

/* Names go into ';'-separated stacks: keep that separator out of them. */
static void sanitize(char *s)
{
	for (; *s; s++)
		if (*s == ';' || *s == '\n' || *s == '\r')
			*s = '_';
}

/* The symbol of f's code object, loaded if new; NULL and *err if not. */
static struct sym *sym_get(struct symcache *sc, const struct py_frame *f,
			   int *err)
{
	struct sym *s = sym_find(sc, f->code, f->tag), tmp = { 0 };
	int ret;

	if (s)
		return s;
	ret = load_sym(sc, f->code, f->tag, &tmp);
	if (ret) {
		*err = ret;
		return NULL;
	}
	sanitize(tmp.name);
	sanitize(tmp.file);
	tmp.code = f->code;
	tmp.tag = f->tag;
	tmp.name_sid = tmp.file_sid = FRAME_NO_STR;
	s = sym_keep(sc, &tmp);
	if (!s) {
		sym_clear(&tmp);
		*err = -ENOMEM;
	}
	return s;
}

static int sym_line(const struct symcache *sc, const struct sym *s,
		    const struct py_frame *f)
{
	unsigned int instr = f->instr;

	if (sc->off.instr_kind == PY_INSTR_PTR)
		instr &= ~PY_INSTR_ENTRY;
	return py_line_for_instr(sc->off.version, s->lt, (size_t)s->ltlen,
				 s->firstlineno, instr);
}

int symcache__resolve(struct symcache *sc, const struct py_frame *f,
		      const char **name, const char **file, int *line)
{
	int err = 0;
	struct sym *s = sym_get(sc, f, &err);

	if (!s)
		return err;
	*name = s->name;
	*file = s->file;
	*line = sym_line(sc, s, f);
	return 0;
}

static frame_id frame_of(struct symcache *sc, const struct py_frame *f,
			 int *err)
{
	struct frame_table *ft = sc->ft;
	struct sym *s = sym_get(sc, f, err);
	struct frame fr = { .kind = FRAME_PYTHON, .nspid = -1 };

	if (!s)
		return sc->unknown;
	if (s->name_sid == FRAME_NO_STR) {
		s->name_sid = frames_str(ft, s->name, strlen(s->name));
		s->file_sid = frames_str(ft, s->file, strlen(s->file));
	}
	fr.name = s->name_sid;
	fr.file = s->file_sid;
	fr.line = sym_line(sc, s, f);
	if (fr.line < 0)
		fr.line = 0;
	if (fr.name == FRAME_NO_STR || fr.file == FRAME_NO_STR)
		return FRAME_NONE;
	return frames_add(ft, &fr);
}

frame_id symcache__frame_id(struct symcache *sc, struct frame_table *ft,
			    const struct py_frame *f, int *err)
{
	struct frame_cache *c;
	frame_id id;

	*err = 0;
	if (sc->ft != ft) {
		/* first use, or another table: every cached id is stale */
		for (size_t i = 0; i < sc->n; i++)
			sc->tab[i].name_sid = sc->tab[i].file_sid = FRAME_NO_STR;
		free(sc->fc);
		sc->fc = calloc(FRAME_CACHE, sizeof(*sc->fc));
		sc->ft = ft;
		/* No address in the name: one name for all, or every
		 * short-lived process would add stacks of its own. */
		sc->unknown = frames_synthetic(ft, "[unknown code]");
	}
	c = sc->fc ? &sc->fc[(f->code >> 4 ^ f->instr * 0x9e37U ^ f->tag) &
			     (FRAME_CACHE - 1)] :
		     NULL;
	if (c && c->id != 0 && c->code == f->code && c->tag == f->tag &&
	    c->instr == f->instr)
		return c->id - 1;
	id = frame_of(sc, f, err);
	if (c && !*err && id != FRAME_NONE)
		*c = (struct frame_cache){ f->code, f->tag, f->instr, id + 1 };
	return id;
}

int symcache__frame(struct symcache *sc, const struct py_frame *f, char *buf,
		    size_t len)
{
	const char *name, *file;
	int ret, line;

	ret = symcache__resolve(sc, f, &name, &file, &line);
	if (ret) {
		/* No address in the name: one name for all, or every
		 * short-lived process would add stacks of its own. */
		snprintf(buf, len, "[unknown code]");
		return ret;
	}
	if (line > 0)
		snprintf(buf, len, "%s (%s:%d)", name, file, line);
	else
		snprintf(buf, len, "%s (%s)", name, file);
	return 0;
}
