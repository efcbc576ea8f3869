// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A target's ELF file: headers, program headers, symbol tables. */
#include <libelf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "python/elffacts.h"
#include "python/pltstub.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct elf_facts f = { 0 };
	char *copy;
	Elf *elf;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return 0;
	copy = malloc(n ? n : 1); /* elf_memory may write to its buffer */
	if (!copy)
		return 0;
	memcpy(copy, d, n);
	elf = elf_memory(copy, n);
	if (elf) {
		unsigned long long off, sites[4];

		elf_facts_parse(elf, &f);
		plt_stub_offset(elf, "PyIter_Send", &off);
		plt_call_sites(elf, "PyIter_Send", sites, 4);
		elf_exported(elf, "PyInit__asyncio");
		elf_calls_from(elf, elf, "task_step_impl", "PyIter_Send", sites, 4);
		elf_end(elf);
	}
	free(copy);
	return 0;
}
