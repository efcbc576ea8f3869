// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "python/pltstub.h"

#define PLT_ENTRY 16
#define MAX_ENTRIES (1 << 20) /* bounds a hostile file's table sizes */

static Elf_Scn *section(Elf *elf, const char *name, GElf_Shdr *sh)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *n;

		if (!gelf_getshdr(scn, sh))
			continue;
		n = elf_strptr(elf, shstrndx, sh->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

/* The GOT slot of sym's JUMP_SLOT relocation, 0 if none. */
static GElf_Addr got_slot(Elf *elf, const char *sym)
{
	GElf_Shdr rsh, dsh;
	Elf_Scn *rscn = section(elf, ".rela.plt", &rsh), *dscn;
	Elf_Data *rel, *syms;
	size_t n;

	if (!rscn || rsh.sh_type != SHT_RELA || !rsh.sh_entsize)
		return 0;
	dscn = elf_getscn(elf, rsh.sh_link);
	if (!dscn || !gelf_getshdr(dscn, &dsh) || dsh.sh_type != SHT_DYNSYM)
		return 0;
	rel = elf_getdata(rscn, NULL);
	syms = elf_getdata(dscn, NULL);
	if (!rel || !syms)
		return 0;
	n = rsh.sh_size / rsh.sh_entsize;
	if (n > MAX_ENTRIES)
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Rela r;
		GElf_Sym s;
		const char *name;

		if (!gelf_getrela(rel, (int)i, &r) ||
		    GELF_R_TYPE(r.r_info) != R_X86_64_JUMP_SLOT ||
		    !gelf_getsym(syms, (int)GELF_R_SYM(r.r_info), &s))
			continue;
		name = elf_strptr(elf, dsh.sh_link, s.st_name);
		if (name && !strcmp(name, sym))
			return r.r_offset;
	}
	return 0;
}

/* In PLT section name, the entry jumping through slot. */
static int find_stub(Elf *elf, const char *name, GElf_Addr slot,
		     unsigned long long *file_off, GElf_Addr *vaddr)
{
	GElf_Shdr sh;
	Elf_Scn *scn = section(elf, name, &sh);
	Elf_Data *d;

	if (!scn || sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_EXECINSTR))
		return -ENOENT;
	d = elf_getdata(scn, NULL);
	if (!d || !d->d_buf || d->d_size < PLT_ENTRY || d->d_size > sh.sh_size)
		return -ENOENT;
	for (size_t e = 0; e + PLT_ENTRY <= d->d_size; e += PLT_ENTRY) {
		const unsigned char *p = (const unsigned char *)d->d_buf + e;
		/* jmp *rel32(%rip) at the start (.plt), or after endbr64
		 * with a bnd prefix (.plt.sec with IBT) */
		static const unsigned char endbr[4] = { 0xf3, 0x0f, 0x1e, 0xfa };
		size_t at;
		int32_t rel;

		if (p[0] == 0xff && p[1] == 0x25)
			at = 2;
		else if (!memcmp(p, endbr, 4) && p[4] == 0xf2 && p[5] == 0xff &&
			 p[6] == 0x25)
			at = 7;
		else if (!memcmp(p, endbr, 4) && p[4] == 0xff && p[5] == 0x25)
			at = 6;
		else
			continue;
		memcpy(&rel, p + at, sizeof(rel));
		if (sh.sh_addr + e + at + 4 + (GElf_Addr)(int64_t)rel == slot) {
			*file_off = sh.sh_offset + e;
			if (vaddr)
				*vaddr = sh.sh_addr + e;
			return 0;
		}
	}
	return -ENOENT;
}

static int stub(Elf *elf, const char *sym, unsigned long long *file_off,
		GElf_Addr *vaddr)
{
	GElf_Ehdr eh;
	GElf_Addr slot;

	if (!elf || !sym || !file_off || elf_kind(elf) != ELF_K_ELF ||
	    !gelf_getehdr(elf, &eh))
		return -EINVAL;
	if (eh.e_machine != EM_X86_64)
		return -ENOENT;
	slot = got_slot(elf, sym);
	if (!slot)
		return -ENOENT;
	/* With IBT the calls go to .plt.sec; the .plt entries are the lazy
	 * binding halves, which also jump through the slot only in .plt.sec
	 * builds' PLT0. Look where calls land first. */
	if (!find_stub(elf, ".plt.sec", slot, file_off, vaddr))
		return 0;
	return find_stub(elf, ".plt", slot, file_off, vaddr);
}

int plt_stub_offset(Elf *elf, const char *sym, unsigned long long *file_off)
{
	return stub(elf, sym, file_off, NULL);
}

/*
 * Appends to off[*n..max) the file offsets of the e8 rel32 calls of
 * target in elf's executable sections (not its PLT when skip_plt), at
 * addresses in [lo, hi). -E2BIG when there are more than max.
 */
static int scan_calls(Elf *elf, GElf_Addr target, GElf_Addr lo, GElf_Addr hi,
		      bool skip_plt, unsigned long long *off, int max, int *n)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return -EINVAL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		const char *name;
		const unsigned char *p;
		size_t from = 0, to;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || (skip_plt && !strncmp(name, ".plt", 4)))
			continue;
		if (sh.sh_addr >= hi || sh.sh_addr + sh.sh_size <= lo)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || d->d_size > sh.sh_size)
			continue;
		if (lo > sh.sh_addr)
			from = lo - sh.sh_addr;
		to = hi - sh.sh_addr < d->d_size ? hi - sh.sh_addr : d->d_size;
		p = d->d_buf;
		for (size_t i = from; i + 5 <= to; i++) {
			int32_t rel;

			if (p[i] != 0xe8)
				continue;
			memcpy(&rel, p + i + 1, sizeof(rel));
			if (sh.sh_addr + i + 5 + (GElf_Addr)(int64_t)rel !=
			    target)
				continue;
			if (*n == max)
				return -E2BIG;
			off[(*n)++] = sh.sh_offset + i;
		}
	}
	return 0;
}

int plt_call_sites(Elf *elf, const char *sym, unsigned long long *off,
		   int max)
{
	unsigned long long stub_off;
	GElf_Addr target;
	int n = 0, err;

	if (!off || max <= 0)
		return -EINVAL;
	err = stub(elf, sym, &stub_off, &target);
	if (err)
		return err;
	err = scan_calls(elf, target, 0, ~(GElf_Addr)0, true, off, max, &n);
	if (err)
		return err;
	return n ? n : -ENOENT;
}

/*
 * Visits elf's function symbols of table type (SHT_SYMTAB or SHT_DYNSYM)
 * that are defined, until fn returns true. A target's file: the count is
 * bounded, libelf checks the rest.
 */
static bool each_func(Elf *elf, Elf64_Word type,
		      bool (*fn)(const char *name, const GElf_Sym *sym,
				 void *arg),
		      void *arg)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t n;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != type ||
		    !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		if (n > MAX_ENTRIES)
			n = MAX_ENTRIES;
		for (size_t i = 0; i < n; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym) ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_shndx == SHN_UNDEF || !sym.st_value)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name && fn(name, &sym, arg))
				return true;
		}
	}
	return false;
}

struct named {
	const char *name;
	GElf_Addr addr;
};

static bool is_named(const char *name, const GElf_Sym *sym, void *arg)
{
	struct named *x = arg;

	if (strcmp(name, x->name))
		return false;
	x->addr = sym->st_value;
	return true;
}

GElf_Addr elf_exported(Elf *elf, const char *sym)
{
	struct named x = { .name = sym };

	return elf && each_func(elf, SHT_DYNSYM, is_named, &x) ? x.addr : 0;
}

#define MAX_PARTS 8

struct parts {
	const char *prefix;
	size_t len;
	int n;
	GElf_Addr lo[MAX_PARTS], hi[MAX_PARTS];
};

/* name itself, or a compiler's clone or part of it: "name.lto_priv.0",
 * "name.lto_priv.0.cold", "name.isra.0" */
static bool add_part(const char *name, const GElf_Sym *sym, void *arg)
{
	struct parts *x = arg;

	if (strncmp(name, x->prefix, x->len) ||
	    (name[x->len] && name[x->len] != '.') || !sym->st_size)
		return false;
	x->lo[x->n] = sym->st_value;
	x->hi[x->n] = sym->st_value + sym->st_size;
	return ++x->n == MAX_PARTS;
}

int elf_calls_from(Elf *code, Elf *syms, const char *caller,
		   const char *callee, unsigned long long *off, int max)
{
	struct parts x = { .prefix = caller, .len = strlen(caller) };
	GElf_Addr target;
	GElf_Ehdr eh;
	int n = 0, err;

	if (!code || !syms || !off || max <= 0 || elf_kind(code) != ELF_K_ELF ||
	    !gelf_getehdr(code, &eh))
		return -EINVAL;
	if (eh.e_machine != EM_X86_64)
		return -ENOENT;
	target = elf_exported(code, callee);
	if (!target)
		return -ENOENT;
	each_func(syms, SHT_SYMTAB, add_part, &x);
	for (int i = 0; i < x.n; i++) {
		err = scan_calls(code, target, x.lo[i], x.hi[i], false, off, max, &n);
		if (err)
			return err;
	}
	return n ? n : -ENOENT;
}
