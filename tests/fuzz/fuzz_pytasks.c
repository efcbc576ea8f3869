// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The asyncio task reader (dump --tasks, record --tasks) on a fake address
 * space: _PyRuntime at the image base, every pointer, set, list, dict,
 * coroutine chain and type name whatever the input says. 3.11 and 3.12
 * with the built-in offsets, 3.13 with the image's own _Py_DebugOffsets
 * (3.14+ take their task layout from a file's ELF section: not here).
 */
#include "fuzz_mem.h"
#include "python/pyproc.h"
#include "python/pytasks.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	static struct py_task out[16];
	struct pyproc_info info = {0};
	struct pytasks_stats st;
	struct pytasks *pt;
	unsigned minor;
	int dbg;

	if (n < 2 || fuzz_offsets(d[0], d + 2, n - 2, &info.bpf.off, &dbg))
		return 0;
	minor = PY_VERSION_MINOR(info.bpf.off.version);
	if (minor < 11 || minor > 13)
		return 0;
	if (!dbg)
		info.bpf.off.interp_modules = 64; /* small images reach it */
	fuzz_image = d + 2;
	fuzz_image_len = n - 2;
	info.bpf.runtime = IMAGE_BASE;
	if (pyproc_set_tag_layout(&info.bpf))
		return 0;
	pt = pytasks_new(1, &info);
	/* twice: the second reading starts from the sets the first found */
	for (int i = 0; pt && i < 2; i++)
		pytasks_read(pt, out, (d[1] & 15) + 1, &st);
	pytasks_free(pt);
	return 0;
}
