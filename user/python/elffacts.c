// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <gelf.h>
#include <string.h>

#include "python/elffacts.h"

/* Symbol tables of a libpython have ~10^4 entries; this is far above. */
#define MAX_SYMS (1u << 22)

static void scan_symbols(Elf *elf, struct elf_facts *f)
{
	Elf_Scn *scn = NULL;
	unsigned int nscn = 0;

	while ((scn = elf_nextscn(elf, scn)) && nscn++ < 65536) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t i, n;

		if (!gelf_getshdr(scn, &sh) ||
		    (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !sh.sh_entsize)
			continue;
		n = sh.sh_size / sh.sh_entsize;
		if (n > MAX_SYMS)
			n = MAX_SYMS;
		for (i = 0; i < n; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym) || !sym.st_name)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name || (name[0] != '_' && name[0] != 'P'))
				continue;
			if (!strcmp(name, "_PyRuntime") && sym.st_value)
				f->runtime = sym.st_value;
			else if (!strcmp(name, "Py_Version") && sym.st_value)
				f->py_version = sym.st_value;
			else if (!strcmp(name, "_Py_RefTotal") ||
				 !strcmp(name, "_Py_NegativeRefcount"))
				f->debug_build = true;
		}
	}
}

int elf_facts_parse(Elf *elf, struct elf_facts *f)
{
	GElf_Ehdr eh;
	size_t i, nph;
	bool have_load = false;

	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
	    elf_getphdrnum(elf, &nph))
		return -ENOEXEC;
	f->is_exec = eh.e_type == ET_EXEC;
	for (i = 0; i < nph && i < 256; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		f->load_vaddr = (ph.p_vaddr - ph.p_offset) & ~0xfffULL;
		have_load = true;
		break;
	}
	if (have_load)
		scan_symbols(elf, f);
	f->valid = have_load;
	return have_load ? 0 : -ENOEXEC;
}
