// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include "fuzz_mem.h"
#include "python/memread.h"

const uint8_t *fuzz_image;
size_t fuzz_image_len;

int mem_read(void *pid_ctx, unsigned long long addr, void *buf, size_t len)
{
	(void)pid_ctx;
	if (addr < IMAGE_BASE || addr - IMAGE_BASE > fuzz_image_len ||
	    len > fuzz_image_len - (addr - IMAGE_BASE))
		return -EFAULT;
	memcpy(buf, fuzz_image + (addr - IMAGE_BASE), len);
	return 0;
}

/* pystr's reader signature: same thing. */
int fuzz_read(void *ctx, unsigned long long addr, void *buf, size_t len)
{
	return mem_read(ctx, addr, buf, len);
}
