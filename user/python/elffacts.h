/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef PYROGRAPH_ELFFACTS_H
#define PYROGRAPH_ELFFACTS_H

#include <libelf.h>
#include <stdbool.h>

/* Facts about one ELF file, cached by (dev, inode) in pyproc.c: churn of
 * many short Python processes must not re-read libpython's symbol table. */
struct elf_facts {
	unsigned long dev_major, dev_minor, inode;
	bool valid;	    /* file was readable as ELF */
	bool is_exec;	    /* ET_EXEC: addresses are absolute */
	bool debug_build;   /* --with-pydebug (refcount tracing) */
	unsigned long long load_vaddr; /* first PT_LOAD vaddr - offset */
	unsigned long long runtime;    /* st_value of _PyRuntime, 0 if none */
	unsigned long long py_version; /* st_value of Py_Version, 0 if none */
};

/*
 * Fills the ELF-derived fields of f from elf (a target's file: hostile
 * input; libelf checks the structure, we bound the counts). Returns 0, or
 * -ENOEXEC when it is not a loadable ELF file.
 */
int elf_facts_parse(Elf *elf, struct elf_facts *f);

#endif
