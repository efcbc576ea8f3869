// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * py_debug_offsets_parse() against the _Py_DebugOffsets of real CPython
 * binaries, read from the file with libelf (the bytes at symbol _PyRuntime,
 * which starts the .PyRuntime section), plus hostile input that must not
 * crash (build with -fsanitize=address,undefined: every buffer handed to the
 * parser is an exact-size heap copy).
 *
 * Usage: test_debug_offsets [BINARY...]
 *   BINARY: a libpython3.X.so or a python3.X executable with libpython linked
 *   in statically. Without arguments: $PYROGRAPH_TEST_PYTHONS (':'-separated)
 *   if set, else the pyenv 3.13+ builds and the Debian interpreters in the
 *   trees of scripts/build-chroots.sh (${PYROGRAPH_CHROOTS:-/var/cache/
 *   pyrograph/chroots}). Missing binaries are reported as SKIP. Builds older
 *   than 3.13 (by Py_Version) are accepted too: their _PyRuntime must give
 *   -ENOENT.
 *
 * For each binary:
 * - the version matches Py_Version (an independent exported constant);
 *   a build without Py_Version or older than 3.13 must give -ENOENT;
 * - the parse is stable under truncation: every shorter buffer is rejected;
 * - invariants that hold for every 3.13-3.15 build (frame/code/string layout);
 * - release builds: the values of docs' cpython-internals.md section 2
 *   (3.13, 3.14) and the doc's note that 3.15 keeps current_frame at 72;
 * - builds with DWARF (pyenv, Debian's python3.Xd): every offset equals what
 *   gdb computes from the debug info (offsetof via gdb expressions), and
 *   owner_skip_min equals the first non-Python frame owner of enum _frameowner;
 * - builds of the same version and kind (python3.X vs python3.X-pie) agree;
 * - mutations of the real bytes (single words, random bytes) never crash
 *   and yield 0 or -ENOENT/-ENOTSUP/-EINVAL.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <glob.h>
#include <libelf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "python/debug_offsets.h"

#include "check.h"

CHECK_COUNTERS;
static int tested;

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MINOR(v)      (((v) >> 16) & 0xff)

static int parse_exact(const unsigned char *p, size_t len,
		       struct py_offsets *out)
{
	unsigned char *q = dup_exact(p, len);
	int r = py_debug_offsets_parse(q, len, out);

	free(q);
	return r;
}

CHECK_RNG(0x9e3779b97f4a7c15ull);

/* ---- reading a binary ------------------------------------------------- */

struct elf_facts {
	unsigned char
		*buf; /* bytes at _PyRuntime, at most PY_DEBUG_OFFSETS_MAX */
	size_t len;
	uint64_t runtime;    /* st_value of _PyRuntime (0: none) */
	uint64_t section;    /* sh_addr of .PyRuntime (0: none) */
	uint32_t py_version; /* Py_Version (0: none) */
	int debug_build;     /* exports the Py_DEBUG refcount helpers */
	int has_dwarf;
};

/* Copy len bytes at virtual address addr out of the section holding it. */
static int read_vaddr(Elf *e, int fd, uint64_t addr, void *dst, size_t len,
		      size_t *got)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(e, scn))) {
		uint64_t delta, n;

		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_ALLOC) ||
		    sh.sh_type != SHT_PROGBITS)
			continue;
		if (addr < sh.sh_addr || addr >= sh.sh_addr + sh.sh_size)
			continue;
		delta = addr - sh.sh_addr;
		n = sh.sh_size - delta;
		if (n > len)
			n = len;
		if (pread(fd, dst, n, (off_t)(sh.sh_offset + delta)) !=
		    (ssize_t)n)
			return -EIO;
		if (got)
			*got = n;
		else if (n != len)
			return -ERANGE;
		return 0;
	}
	return -ENOENT;
}

static int load_elf(const char *path, struct elf_facts *f, char *why,
		    size_t whylen)
{
	uint64_t py_version_addr = 0;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Shdr sh;
	Elf *e;
	int fd, ret = -1;

	memset(f, 0, sizeof(*f));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "open: %s", strerror(errno));
		return -1;
	}
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e || elf_kind(e) != ELF_K_ELF || elf_getshdrstrndx(e, &shstrndx)) {
		snprintf(why, whylen, "not an ELF file");
		goto out;
	}
	while ((scn = elf_nextscn(e, scn))) {
		const char *name;
		Elf_Data *d;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (name && !strcmp(name, ".PyRuntime"))
			f->section = sh.sh_addr;
		if (name && !strcmp(name, ".debug_info"))
			f->has_dwarf = 1;
		if (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !sh.sh_entsize)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			GElf_Sym s;
			const char *sn;

			if (!gelf_getsym(d, (int)i, &s) ||
			    s.st_shndx == SHN_UNDEF)
				continue;
			sn = elf_strptr(e, sh.sh_link, s.st_name);
			if (!sn)
				continue;
			if (!strcmp(sn, "_PyRuntime"))
				f->runtime = s.st_value;
			else if (!strcmp(sn, "Py_Version"))
				py_version_addr = s.st_value;
			else if (!strcmp(sn, "_Py_RefTotal") ||
				 !strcmp(sn, "_Py_INCREF_IncRefTotal"))
				f->debug_build = 1;
		}
	}
	if (!f->runtime && !f->section) {
		snprintf(why, whylen,
			 "no _PyRuntime symbol and no .PyRuntime section");
		goto out;
	}
	f->buf = malloc(PY_DEBUG_OFFSETS_MAX);
	if (!f->buf) {
		snprintf(why, whylen, "out of memory");
		goto out;
	}
	if (read_vaddr(e, fd, f->runtime ? f->runtime : f->section, f->buf,
		       PY_DEBUG_OFFSETS_MAX, &f->len)) {
		snprintf(why, whylen, "_PyRuntime has no file data");
		goto out;
	}
	if (py_version_addr &&
	    read_vaddr(e, fd, py_version_addr, &f->py_version, 4, NULL))
		f->py_version = 0;
	ret = 0;
out:
	if (e)
		elf_end(e);
	close(fd);
	return ret;
}

/* ---- DWARF, through gdb ----------------------------------------------- */

struct dwarf_expr {
	const char *name;
	const char *expr;
	size_t member; /* offsetof(struct py_offsets, X), or SIZE_MAX */
};

#define M(x) offsetof(struct py_offsets, x)
static const struct dwarf_expr dwarf_exprs[] = {
	{"runtime_interp_head", "&((_PyRuntimeState *)0)->interpreters.head",
	 M(runtime_interp_head)},
	{"interp_next", "&((PyInterpreterState *)0)->next", M(interp_next)},
	{"interp_threads_head", "&((PyInterpreterState *)0)->threads.head",
	 M(interp_threads_head)},
	/* read where a row places it (3.13); PY_OFF_NONE after */
	{"interp_modules", "&((PyInterpreterState *)0)->imports.modules",
	 M(interp_modules)},
	{"tstate_next", "&((PyThreadState *)0)->next", M(tstate_next)},
	{"tstate_thread_id", "&((PyThreadState *)0)->thread_id",
	 M(tstate_thread_id)},
	{"tstate_native_thread_id", "&((PyThreadState *)0)->native_thread_id",
	 M(tstate_native_thread_id)},
	{"tstate_frame", "&((PyThreadState *)0)->current_frame",
	 M(tstate_frame)},
	{"frame_previous", "&((struct _PyInterpreterFrame *)0)->previous",
	 M(frame_previous)},
	{"frame_code", "&((struct _PyInterpreterFrame *)0)->f_executable",
	 M(frame_code)},
	{"frame_instr", "&((struct _PyInterpreterFrame *)0)->instr_ptr",
	 M(frame_instr)},
	{"frame_owner", "&((struct _PyInterpreterFrame *)0)->owner",
	 M(frame_owner)},
	{"code_filename", "&((PyCodeObject *)0)->co_filename",
	 M(code_filename)},
	{"code_name", "&((PyCodeObject *)0)->co_name", M(code_name)},
	{"code_qualname", "&((PyCodeObject *)0)->co_qualname",
	 M(code_qualname)},
	{"code_firstlineno", "&((PyCodeObject *)0)->co_firstlineno",
	 M(code_firstlineno)},
	{"code_linetable", "&((PyCodeObject *)0)->co_linetable",
	 M(code_linetable)},
	{"code_adaptive", "&((PyCodeObject *)0)->co_code_adaptive",
	 M(code_adaptive)},
	{"unicode_state", "&((PyASCIIObject *)0)->state", M(unicode_state)},
	{"unicode_length", "&((PyASCIIObject *)0)->length", M(unicode_length)},
	{"ascii_size", "sizeof(PyASCIIObject)", M(ascii_size)},
	{"compact_size", "sizeof(PyCompactUnicodeObject)", M(compact_size)},
	{"bytes_size", "&((PyBytesObject *)0)->ob_base.ob_size", M(bytes_size)},
	{"bytes_data", "&((PyBytesObject *)0)->ob_sval", M(bytes_data)},
	{"gen_iframe", "&((PyGenObject *)0)->gi_iframe", M(gen_iframe)},
	{"gen_frame_state", "&((PyGenObject *)0)->gi_frame_state",
	 M(gen_frame_state)},
	{"frame_localsplus", "&((struct _PyInterpreterFrame *)0)->localsplus",
	 M(frame_localsplus)},
	/* one or the other exists: 3.13 stacktop, 3.14+ stackpointer */
	{"frame_stack", "&((struct _PyInterpreterFrame *)0)->stacktop",
	 M(frame_stack)},
	{"frame_stack", "&((struct _PyInterpreterFrame *)0)->stackpointer",
	 M(frame_stack)},
	/* First owner that is not a Python function's own frame. */
	{"FRAME_OWNED_BY_INTERPRETER", "FRAME_OWNED_BY_INTERPRETER", SIZE_MAX},
	{"FRAME_OWNED_BY_CSTACK", "FRAME_OWNED_BY_CSTACK", SIZE_MAX},
};
#undef M

static int gdb_available(void)
{
	return system("gdb --version >/dev/null 2>&1") == 0;
}

/*
 * Evaluate every dwarf_exprs[] entry with gdb on path. vals[i] = -1 where
 * gdb could not (e.g. an enumerator this version does not have).
 */
static int gdb_eval(const char *path, long vals[ARRAY_SIZE(dwarf_exprs)])
{
	char cmds[ARRAY_SIZE(dwarf_exprs)][256];
	const char *argv[4 + 2 * ARRAY_SIZE(dwarf_exprs) + 2];
	char line[512];
	int pipefd[2], status, argc = 0;
	size_t i;
	FILE *fp;
	pid_t pid;

	argv[argc++] = "gdb";
	argv[argc++] = "-batch";
	argv[argc++] = "-nx";
	for (i = 0; i < ARRAY_SIZE(dwarf_exprs); i++) {
		vals[i] = -1;
		snprintf(cmds[i], sizeof(cmds[i]),
			 "printf \"V%zu %%ld\\n\", (long)(%s)", i,
			 dwarf_exprs[i].expr);
		argv[argc++] = "-ex";
		argv[argc++] = cmds[i];
	}
	argv[argc++] = path;
	argv[argc] = NULL;

	if (pipe(pipefd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(pipefd[1], 1);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 2);
		}
		close(pipefd[0]);
		close(pipefd[1]);
		execvp("gdb", (char **)argv);
		_exit(127);
	}
	close(pipefd[1]);
	fp = fdopen(pipefd[0], "r");
	if (!fp) {
		close(pipefd[0]);
		waitpid(pid, &status, 0);
		return -ENOMEM;
	}
	while (fgets(line, sizeof(line), fp)) {
		size_t idx;
		long v;

		if (sscanf(line, "V%zu %ld", &idx, &v) == 2 &&
		    idx < ARRAY_SIZE(dwarf_exprs))
			vals[idx] = v;
	}
	fclose(fp);
	waitpid(pid, &status, 0);
	return 0;
}

static unsigned get16(const struct py_offsets *o, size_t member)
{
	__u16 v;

	memcpy(&v, (const unsigned char *)o + member, sizeof(v));
	return v;
}

static void check_dwarf(const char *path, const struct py_offsets *o)
{
	long vals[ARRAY_SIZE(dwarf_exprs)];
	long skip_min = -1;
	size_t i;

	int stack_seen = 0;

	if (gdb_eval(path, vals)) {
		SKIP("%s: DWARF check: cannot run gdb", path);
		return;
	}
	for (i = 0; i < ARRAY_SIZE(dwarf_exprs); i++) {
		const struct dwarf_expr *d = &dwarf_exprs[i];

		if (d->member == SIZE_MAX) {
			/* INTERPRETER (3.14+) comes before CSTACK where both exist. */
			if (vals[i] >= 0 &&
			    (skip_min < 0 || vals[i] < skip_min))
				skip_min = vals[i];
			continue;
		}
		if (!strcmp(d->name, "frame_stack")) {
			/* two spellings; the other is checked below */
			stack_seen += vals[i] >= 0;
		} else if (!strcmp(d->name, "interp_modules") &&
			   get16(o, d->member) == PY_OFF_NONE) {
			continue;
		} else {
			CHECK(vals[i] >= 0, "%s: gdb could not evaluate %s",
			      path, d->expr);
		}
		if (vals[i] >= 0)
			CHECK(get16(o, d->member) == vals[i],
			      "%s: %s = %u, DWARF says %ld", path, d->name,
			      get16(o, d->member), vals[i]);
	}
	CHECK(stack_seen == 1, "%s: neither stacktop nor stackpointer in DWARF",
	      path);
	CHECK(skip_min >= 0 && o->owner_skip_min == skip_min,
	      "%s: owner_skip_min = %u, enum _frameowner says %ld", path,
	      o->owner_skip_min, skip_min);
}

/* ---- checks on a parsed binary ---------------------------------------- */

/* docs/cpython-internals.md section 2 (release builds). */
struct doc_row {
	unsigned minor;
	unsigned interp_head, threads_head, tstate_frame, tid, ntid;
	unsigned prev, code, instr, owner;
	unsigned filename, name, qualname, firstlineno, linetable, adaptive;
	unsigned ascii;
	unsigned struct_size; /* section 1 "sizeof" row; 3.15 from its header */
};

static const struct doc_row doc_rows[] = {
	{13, 632, 7344, 72, 152, 160, 8, 0, 56, 70, 112, 120, 128, 68, 136, 200,
	 40, 584},
	{14, 808, 7344, 72, 152, 160, 8, 0, 56, 74, 112, 120, 128, 68, 136, 208,
	 40, 760},
};

static const unsigned struct_sizes[][2] = {{13, 584}, {14, 760}, {15, 888}};

static void check_doc_row(const char *path, const struct py_offsets *o)
{
	const struct doc_row *r = NULL;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(doc_rows); i++)
		if (doc_rows[i].minor == MINOR(o->version))
			r = &doc_rows[i];
	if (!r) {
		if (MINOR(o->version) == 15)
			CHECK(o->tstate_frame == 72,
			      "%s: 3.15 current_frame %u, doc says 72", path,
			      o->tstate_frame);
		return;
	}
#define DOC(field, want)                                                  \
	CHECK(o->field == (want), "%s: %s = %u, doc table says %u", path, \
	      #field, o->field, want)
	DOC(runtime_interp_head, r->interp_head);
	DOC(interp_threads_head, r->threads_head);
	DOC(tstate_frame, r->tstate_frame);
	DOC(tstate_thread_id, r->tid);
	DOC(tstate_native_thread_id, r->ntid);
	DOC(frame_previous, r->prev);
	DOC(frame_code, r->code);
	DOC(frame_instr, r->instr);
	DOC(frame_owner, r->owner);
	DOC(code_filename, r->filename);
	DOC(code_name, r->name);
	DOC(code_qualname, r->qualname);
	DOC(code_firstlineno, r->firstlineno);
	DOC(code_linetable, r->linetable);
	DOC(code_adaptive, r->adaptive);
	DOC(ascii_size, r->ascii);
#undef DOC
}

/* Facts that hold for every 3.13-3.15 GIL build on x86-64. */
static void check_invariants(const char *path, const struct py_offsets *o)
{
	unsigned minor = MINOR(o->version);

	CHECK(o->instr_kind == PY_INSTR_PTR, "%s: instr_kind %u", path,
	      o->instr_kind);
	CHECK(o->frame_link == PY_LINK_DIRECT, "%s: frame_link %u", path,
	      o->frame_link);
	CHECK(o->cframe_current_frame == PY_OFF_NONE,
	      "%s: cframe_current_frame %u", path, o->cframe_current_frame);
	CHECK(o->owner_skip_min == 3, "%s: owner_skip_min %u", path,
	      o->owner_skip_min);
	CHECK(o->code_tag_mask == (minor >= 14 ? 7 : 0), "%s: code_tag_mask %u",
	      path, o->code_tag_mask);
	/* _PyInterpreterFrame starts with f_executable, then previous. */
	CHECK(o->frame_code == 0 && o->frame_previous == 8,
	      "%s: frame code/previous %u/%u", path, o->frame_code,
	      o->frame_previous);
	CHECK(o->frame_instr > o->frame_previous &&
		      o->frame_owner > o->frame_instr,
	      "%s: frame instr_ptr %u owner %u", path, o->frame_instr,
	      o->frame_owner);
	CHECK(o->tstate_native_thread_id == o->tstate_thread_id + 8,
	      "%s: thread_id %u native_thread_id %u", path, o->tstate_thread_id,
	      o->tstate_native_thread_id);
	CHECK(o->tstate_frame > o->tstate_next, "%s: tstate next %u frame %u",
	      path, o->tstate_next, o->tstate_frame);
	/* co_filename, co_name, co_qualname, co_linetable are consecutive. */
	CHECK(o->code_name == o->code_filename + 8 &&
		      o->code_qualname == o->code_name + 8 &&
		      o->code_linetable == o->code_qualname + 8,
	      "%s: code filename/name/qualname/linetable %u/%u/%u/%u", path,
	      o->code_filename, o->code_name, o->code_qualname,
	      o->code_linetable);
	CHECK(o->code_adaptive > o->code_linetable &&
		      o->code_firstlineno < o->code_filename,
	      "%s: code adaptive %u firstlineno %u", path, o->code_adaptive,
	      o->code_firstlineno);
	CHECK(o->unicode_length == 16 && o->unicode_state == 32 &&
		      o->ascii_size == 40 && o->compact_size == 56,
	      "%s: unicode length/state/ascii/compact %u/%u/%u/%u", path,
	      o->unicode_length, o->unicode_state, o->ascii_size,
	      o->compact_size);
	CHECK(o->bytes_size == 16 && o->bytes_data == 32,
	      "%s: bytes ob_size/ob_sval %u/%u", path, o->bytes_size,
	      o->bytes_data);
	CHECK(o->gen_iframe != PY_OFF_NONE && o->gen_iframe % 8 == 0 &&
		      o->gen_iframe >= 56,
	      "%s: gen_iframe %u", path, o->gen_iframe);
	CHECK(o->gen_frame_state != PY_OFF_NONE &&
		      o->gen_frame_state < o->gen_iframe &&
		      o->gen_state_created < o->gen_state_done,
	      "%s: gen_frame_state %u created %d done %d", path,
	      o->gen_frame_state, o->gen_state_created, o->gen_state_done);
	CHECK(o->stack_kind != PY_STACK_NONE && o->frame_stack < o->frame_localsplus &&
		      o->frame_localsplus != PY_OFF_NONE,
	      "%s: frame value stack %u kind %u localsplus %u", path,
	      o->frame_stack, o->stack_kind, o->frame_localsplus);
	CHECK(o->runtime_interp_head > 0 &&
		      o->interp_threads_head > o->interp_next,
	      "%s: runtime interp head %u, interp next %u threads %u", path,
	      o->runtime_interp_head, o->interp_next, o->interp_threads_head);
	CHECK(o->frame_is_entry == PY_OFF_NONE,
	      "%s: frame_is_entry %u (3.13+ mark entries with a shim frame)",
	      path, o->frame_is_entry);
	/* sys.modules: after the thread list in PyInterpreterState */
	CHECK(minor == 13 ? o->interp_modules != PY_OFF_NONE &&
				    o->interp_modules > o->interp_threads_head :
			    o->interp_modules == PY_OFF_NONE,
	      "%s: interp_modules %u", path, o->interp_modules);
}

/* Hostile variants of a real buffer: never a crash, only the documented errors. */
static void check_mutations(const char *path, const unsigned char *buf,
			    size_t len, size_t need)
{
	static const uint64_t words[] = {0,
					 1,
					 7,
					 0xfffe,
					 0xffff,
					 0x10000,
					 0xffffffffull,
					 0x8000000000000000ull,
					 ~0ull};
	unsigned char *m = dup_exact(buf, len);
	int rejected = 0, bad_ret = 0, bad_out = 0;
	struct py_offsets o;
	size_t pos, i, it;

	for (pos = 24; pos + 8 <= need; pos += 8) {
		for (i = 0; i < ARRAY_SIZE(words); i++) {
			int r;

			memcpy(m, buf, len);
			memcpy(m + pos, &words[i], 8);
			r = parse_exact(m, len, &o);
			if (r == -EINVAL)
				rejected++;
			else if (r != 0)
				bad_ret++;
		}
	}
	/* At least the ~33 values we read must be checked for something. */
	CHECK(rejected >= 33 * 3 && !bad_ret,
	      "%s: word mutations: %d rejected, %d with an unexpected error",
	      path, rejected, bad_ret);

	bad_ret = 0;
	for (it = 0; it < 20000; it++) {
		int r, nflips = 1 + (int)(next_rand() % 8);

		memcpy(m, buf, len);
		while (nflips--)
			m[next_rand() % need] = (unsigned char)next_rand();
		memset(&o, 0xa5, sizeof(o));
		r = parse_exact(m, len, &o);
		if (r && r != -ENOENT && r != -ENOTSUP && r != -EINVAL)
			bad_ret++;
		/* Anything accepted must be usable as is by the BPF walker. */
		if (!r &&
		    (o.tstate_frame >= PY_OFF_NONE || o.code_tag_mask > 7 ||
		     o.owner_skip_min != 3 || o.compact_size <= o.ascii_size))
			bad_out++;
	}
	CHECK(!bad_ret && !bad_out,
	      "%s: random mutations: %d bad errors, %d bad outputs", path,
	      bad_ret, bad_out);

	/* A free-threaded build announces itself at +16. */
	memcpy(m, buf, len);
	m[16] = 1;
	CHECK(parse_exact(m, len, &o) == -ENOTSUP,
	      "%s: free_threaded=1 not -ENOTSUP", path);
	free(m);
}

struct result {
	const char *path;
	int debug_build;
	struct py_offsets o;
};

static struct result results[64];
static size_t nresults;

static void test_binary(const char *path)
{
	struct py_offsets o, t;
	struct elf_facts f;
	char why[256];
	size_t need = 0, n;
	int r, stable = 1;

	if (access(path, R_OK)) {
		SKIP("%s: %s%s", path, strerror(errno),
		     strstr(path, "/usr/bin/") ?
			     " (scripts/build-chroots.sh builds it)" :
			     "");
		return;
	}
	if (load_elf(path, &f, why, sizeof(why))) {
		CHECK(0, "%s: %s", path, why);
		free(f.buf);
		return;
	}
	printf("%s: _PyRuntime %#llx, .PyRuntime %#llx, Py_Version %#x, %s build%s\n",
	       path, (unsigned long long)f.runtime,
	       (unsigned long long)f.section, f.py_version,
	       f.debug_build ? "debug" : "release",
	       f.has_dwarf ? ", DWARF" : "");
	CHECK(!f.runtime || !f.section || f.runtime == f.section,
	      "%s: _PyRuntime %#llx does not start .PyRuntime %#llx", path,
	      (unsigned long long)f.runtime, (unsigned long long)f.section);

	r = parse_exact(f.buf, f.len, &o);
	if (!f.py_version || MINOR(f.py_version) < 13) {
		/* Real data without debug offsets (no Py_Version: before 3.11). */
		CHECK(r == -ENOENT,
		      "%s: Python before 3.13: parse returned %d, not -ENOENT",
		      path, r);
		free(f.buf);
		return;
	}
	tested++;
	CHECK(r == 0, "%s: parse returned %d", path, r);
	if (r) {
		free(f.buf);
		return;
	}
	printf("  %u.%u.%u: interp_head %u interp next/threads %u/%u tstate next/frame/tid/ntid %u/%u/%u/%u\n"
	       "  frame prev/code/instr/owner %u/%u/%u/%u code file/name/qual/line/first/adaptive %u/%u/%u/%u/%u/%u\n"
	       "  unicode state/len/ascii/compact %u/%u/%u/%u bytes %u/%u gen_iframe %u skip>=%u tagmask %u\n",
	       o.version >> 24, MINOR(o.version), (o.version >> 8) & 0xff,
	       o.runtime_interp_head, o.interp_next, o.interp_threads_head,
	       o.tstate_next, o.tstate_frame, o.tstate_thread_id,
	       o.tstate_native_thread_id, o.frame_previous, o.frame_code,
	       o.frame_instr, o.frame_owner, o.code_filename, o.code_name,
	       o.code_qualname, o.code_linetable, o.code_firstlineno,
	       o.code_adaptive, o.unicode_state, o.unicode_length, o.ascii_size,
	       o.compact_size, o.bytes_size, o.bytes_data, o.gen_iframe,
	       o.owner_skip_min, o.code_tag_mask);

	CHECK(f.py_version && o.version == (f.py_version & 0xffffff00u),
	      "%s: version %#x, Py_Version %#x", path, o.version, f.py_version);

	/* The shortest accepted buffer is the layout's sizeof(_Py_DebugOffsets). */
	for (n = 0; n <= f.len; n++) {
		r = parse_exact(f.buf, n, &t);
		if (!r && !need)
			need = n;
		if (need && (r || memcmp(&t, &o, sizeof(o))))
			stable = 0;
		if (!need && r != -EINVAL)
			stable = 0;
	}
	CHECK(stable && need, "%s: truncation: results not monotonic in length",
	      path);
	for (n = 0; n < ARRAY_SIZE(struct_sizes); n++)
		if (struct_sizes[n][0] == MINOR(o.version))
			CHECK(need == struct_sizes[n][1],
			      "%s: accepted from %zu bytes, sizeof is %u", path,
			      need, struct_sizes[n][1]);

	check_invariants(path, &o);
	if (!f.debug_build)
		check_doc_row(path, &o);
	if (f.has_dwarf) {
		if (gdb_available()) {
			check_dwarf(path, &o);
		} else {
			SKIP("%s: DWARF check: gdb not installed (scripts/deps.sh)",
			     path);
		}
	}
	if (need)
		check_mutations(path, f.buf, f.len, need);

	if (nresults < ARRAY_SIZE(results)) {
		results[nresults].path = path;
		results[nresults].debug_build = f.debug_build;
		results[nresults].o = o;
		nresults++;
	}
	free(f.buf);
}

/* python3.X and python3.X-pie: same sources, same configuration. */
static void check_same_builds(void)
{
	size_t i, j;

	for (i = 0; i < nresults; i++)
		for (j = i + 1; j < nresults; j++)
			if (results[i].o.version == results[j].o.version &&
			    results[i].debug_build == results[j].debug_build)
				CHECK(!memcmp(&results[i].o, &results[j].o,
					      sizeof(results[i].o)),
				      "%s and %s: same version and kind, different offsets",
				      results[i].path, results[j].path);
}

/* ---- input that is not a real _PyRuntime ------------------------------ */

static void test_hostile(void)
{
	unsigned char hdr[PY_DEBUG_OFFSETS_MAX];
	struct py_offsets o, sentinel;
	int i, clobbered = 0, accepted = 0;
	uint64_t v;

	memset(&sentinel, 0x5a, sizeof(sentinel));
	CHECK(py_debug_offsets_parse(NULL, 100, &o) == -EINVAL, "NULL buffer");
	CHECK(py_debug_offsets_parse("xdebugpy", 8, NULL) == -EINVAL,
	      "NULL out");

	/* Random garbage of random lengths. */
	for (i = 0; i < 20000; i++) {
		size_t len = next_rand() % (PY_DEBUG_OFFSETS_MAX + 1), k;
		int r;

		for (k = 0; k < len; k++)
			hdr[k] = (unsigned char)next_rand();
		if (i % 2 && len >= 8)
			memcpy(hdr, "xdebugpy", 8);
		if (i % 4 == 1 && len >= 16) {
			v = 0x030d0000u + (next_rand() % 3) * 0x10000u;
			memcpy(hdr + 8, &v, 8);
		}
		o = sentinel;
		r = parse_exact(hdr, len, &o);
		if (r != -ENOENT && r != -ENOTSUP && r != -EINVAL)
			accepted++;
		if (r && memcmp(&o, &sentinel, sizeof(o)))
			clobbered++;
	}
	CHECK(!accepted, "garbage: %d random buffers accepted", accepted);
	CHECK(!clobbered, "garbage: %d failed parses wrote *out", clobbered);

	/* Cookie and header checks, in the order the parser makes them. */
	memset(hdr, 0, sizeof(hdr));
	CHECK(parse_exact(hdr, sizeof(hdr), &o) == -ENOENT,
	      "zeros: not -ENOENT");
	memcpy(hdr, "xdebugpz", 8);
	CHECK(parse_exact(hdr, sizeof(hdr), &o) == -ENOENT,
	      "wrong cookie: not -ENOENT");
	memcpy(hdr, "XDEBUGPY", 8);
	CHECK(parse_exact(hdr, sizeof(hdr), &o) == -ENOENT,
	      "upper-case cookie: not -ENOENT");
	memcpy(hdr, "xdebugpy", 8);
	for (i = 0; i < 8; i++)
		CHECK(parse_exact(hdr, (size_t)i, &o) == -EINVAL,
		      "%d-byte buffer not -EINVAL", i);
	for (i = 8; i < 24; i++)
		CHECK(parse_exact(hdr, (size_t)i, &o) == -EINVAL,
		      "cookie + %d bytes not -EINVAL", i - 8);

	v = 0x030c01f0; /* 3.12.1: no debug offsets */
	memcpy(hdr + 8, &v, 8);
	CHECK(parse_exact(hdr, sizeof(hdr), &o) == -ENOTSUP,
	      "3.12 not -ENOTSUP");
	v = 0x031000a1; /* 3.16.0a1: unknown layout */
	memcpy(hdr + 8, &v, 8);
	CHECK(parse_exact(hdr, sizeof(hdr), &o) == -ENOTSUP,
	      "3.16 not -ENOTSUP");
	v = 0x040d0000;
	memcpy(hdr + 8, &v, 8);
	CHECK(parse_exact(hdr, sizeof(hdr), &o) == -ENOTSUP,
	      "4.13 not -ENOTSUP");
	v = 0x1030d00f0ull;
	memcpy(hdr + 8, &v, 8);
	CHECK(parse_exact(hdr, sizeof(hdr), &o) == -EINVAL,
	      "64-bit version not -EINVAL");

	v = 0x030d00f0; /* 3.13.0, free-threaded */
	memcpy(hdr + 8, &v, 8);
	v = 1;
	memcpy(hdr + 16, &v, 8);
	CHECK(parse_exact(hdr, sizeof(hdr), &o) == -ENOTSUP,
	      "free-threaded not -ENOTSUP");
	v = 2;
	memcpy(hdr + 16, &v, 8);
	CHECK(parse_exact(hdr, sizeof(hdr), &o) == -EINVAL,
	      "free_threaded=2 not -EINVAL");
	v = 0;
	memcpy(hdr + 16, &v, 8);
	/* Right header, all offsets zero: sizes of 0 are implausible. */
	CHECK(parse_exact(hdr, sizeof(hdr), &o) == -EINVAL,
	      "all-zero 3.13 not -EINVAL");
}

/* ---- which binaries --------------------------------------------------- */

static char **paths;
static size_t npaths;

static void add_path(const char *p)
{
	char **np = realloc(paths, (npaths + 1) * sizeof(*paths));

	if (!np || !(np[npaths] = strdup(p))) {
		perror("malloc");
		exit(2);
	}
	paths = np;
	npaths++;
}

static void default_paths(void)
{
	static const struct {
		const char *tree, *minor;
	} trees[] = {
		{"trixie", "3.13"}, {"sid", "3.14"}, {"experimental", "3.15"}};
	static const char *const suffixes[] = {"", "-pie", "d"};
	const char *env = getenv("PYROGRAPH_TEST_PYTHONS");
	const char *chroots = getenv("PYROGRAPH_CHROOTS");
	const char *pyenv = getenv("PYENV_ROOT");
	const char *home = getenv("HOME");
	char buf[4096];
	glob_t g;
	size_t i, j;

	if (env && *env) {
		char *copy = strdup(env), *save = NULL, *tok;

		for (tok = strtok_r(copy, ":", &save); tok;
		     tok = strtok_r(NULL, ":", &save))
			add_path(tok);
		free(copy);
		return;
	}
	if (pyenv && *pyenv)
		snprintf(buf, sizeof(buf), "%s", pyenv);
	else
		snprintf(buf, sizeof(buf), "%s/.pyenv", home ? home : "/root");
	add_path(strcat(buf, "/versions/3.13.0/lib/libpython3.13.so.1.0"));
	/* Other pyenv builds: 3.13+ are checked, 3.10-3.12 must give -ENOENT. */
	*strstr(buf, "/versions/") = 0;
	strcat(buf, "/versions/3.1[0-9]*/lib/libpython3.1[0-9].so.1.0");
	if (!glob(buf, 0, NULL, &g)) {
		for (i = 0; i < g.gl_pathc; i++)
			if (!strstr(g.gl_pathv[i], "/3.13.0/"))
				add_path(g.gl_pathv[i]);
		globfree(&g);
	}
	if (!chroots || !*chroots)
		chroots = "/var/cache/pyrograph/chroots";
	for (i = 0; i < ARRAY_SIZE(trees); i++) {
		for (j = 0; j < ARRAY_SIZE(suffixes); j++) {
			snprintf(buf, sizeof(buf), "%s/%s/usr/bin/python%s%s",
				 chroots, trees[i].tree, trees[i].minor,
				 suffixes[j]);
			add_path(buf);
		}
	}
}

int main(int argc, char **argv)
{
	int i;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (elf_version(EV_CURRENT) == EV_NONE) {
		fprintf(stderr, "libelf: %s\n", elf_errmsg(-1));
		return 2;
	}
	for (i = 1; i < argc; i++)
		add_path(argv[i]);
	if (argc < 2)
		default_paths();

	test_hostile();
	for (i = 0; i < (int)npaths; i++)
		test_binary(paths[i]);
	check_same_builds();
	if (!tested)
		SKIP("no 3.13+ binary tested: build the Debian trees with scripts/build-chroots.sh");

	for (i = 0; i < (int)npaths; i++)
		free(paths[i]);
	free(paths);
	return CHECK_SUMMARY();
}
