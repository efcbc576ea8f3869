// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * user/native/unwind.c on this very process: inner_fn captures its registers and
 * a copy of its stack, as the BPF program does at a sample, and the
 * unwinder must find outer_fn -> middle_fn -> inner_fn and main above it
 * from CFI alone. Built with -O2 -fomit-frame-pointer (meson: c_args), and
 * middle_fn puts garbage in rbp, so a frame pointer walk cannot be what
 * succeeds. Also: garbage registers and stacks must not crash (build with
 * -fsanitize=address,undefined), a truncated snapshot gives a prefix of
 * the chain, and libc symbols resolve.
 *
 * Usage: test_unwind [-b]   (-b: also time 10000 unwinds)
 * The binary must keep its .symtab (inner_fn & co. are not exported).
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <time.h>
#include <unistd.h>

#include "native/unwind.h"

#include "check.h"

CHECK_COUNTERS;
CHECK_RNG(0x8c3e5f1a27d94b61ULL);

#define SNAP_MAX (64 * 1024)
#define MAX_PCS	 64

/* GCC's noipa also stops constprop/isra clones, whose names differ. */
#if defined(__GNUC__) && !defined(__clang__)
#define NOINLINE __attribute__((noinline, noipa))
#else
#define NOINLINE __attribute__((noinline))
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NO_ASAN __attribute__((no_sanitize_address))
#endif
#endif
#if !defined(NO_ASAN) && defined(__SANITIZE_ADDRESS__)
#define NO_ASAN __attribute__((no_sanitize_address))
#endif
#ifndef NO_ASAN
#define NO_ASAN
#endif

struct snap {
	struct unw_regs regs;
	unsigned char *stack;
	size_t len;
};

int main(int argc, char **argv);

static struct snap snap;
static struct unwinder *uw;
static volatile int sink;

/* The end of the [stack] mapping, so the copy stays inside it. Not
 * inlined: its line buffer would swell inner_fn's frame past 256 bytes. */
NOINLINE static uint64_t stack_end(void)
{
	char line[512];
	uint64_t end = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long s, e;

		if (strstr(line, "[stack]") &&
		    sscanf(line, "%llx-%llx", &s, &e) == 2)
			end = e;
	}
	fclose(f);
	return end;
}

/*
 * Byte by byte through volatile: memcpy would be intercepted by ASan,
 * which rightly objects to reading other frames' redzones.
 */
NO_ASAN static void copy_stack(unsigned char *dst, uint64_t src, size_t n)
{
	const volatile unsigned char *s = (const volatile unsigned char *)src;
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] = s[i];
}

NOINLINE int inner_fn(int x)
{
	struct unw_regs r;
	uint64_t end;

	/* One asm block: rsp does not move between the lea and the stores,
	 * so ip and sp agree as they would at a sampled instruction. */
	__asm__ volatile("lea 0(%%rip), %%rax\n\t"
			 "mov %%rax, 0(%0)\n\t"
			 "mov %%rsp, 8(%0)\n\t"
			 "mov %%rbp, 16(%0)\n\t"
			 "mov %%rbx, 24(%0)\n\t"
			 "mov %%r12, 32(%0)\n\t"
			 "mov %%r13, 40(%0)\n\t"
			 "mov %%r14, 48(%0)\n\t"
			 "mov %%r15, 56(%0)\n\t"
			 :
			 : "r"(&r)
			 : "rax", "memory");
	end = stack_end();
	snap.regs = r;
	snap.len = end > r.sp ? end - r.sp : 0;
	if (snap.len > SNAP_MAX)
		snap.len = SNAP_MAX;
	copy_stack(snap.stack, r.sp, snap.len);
	return x + sink;
}

NOINLINE int middle_fn(int x)
{
	int r;

#ifdef __OPTIMIZE__
	/* Garbage in rbp while inner_fn runs; CFI says where middle_fn
	 * saved the caller's. (At -O0 rbp is the frame pointer, which an
	 * asm may not clobber; the test then proves less.) */
	__asm__ volatile("mov $0x5a5a5a5a5a5a5a5a, %%rbp" ::: "rbp");
#endif
	r = inner_fn(x + 1);
	return r + sink + 1; /* no tail call: keep this frame */
}

NOINLINE int outer_fn(int x)
{
	int r = middle_fn(x + 1);

	return r + sink + 1;
}

/* For the benchmark: d more frames between main and middle_fn. */
NOINLINE int deep_fn(int x, int d)
{
	int r = d > 0 ? deep_fn(x + 1, d - 1) : middle_fn(x);

	return r + sink + 1;
}

static int unwind_snap(const struct snap *s, size_t len, uint64_t *pcs)
{
	return unwinder_unwind(uw, getpid(), &s->regs, s->stack, len, pcs,
			       MAX_PCS);
}

static int sym(uint64_t pc, bool caller, char *buf, size_t len)
{
	char mod[256];
	uint64_t off;

	return unwinder_symbolize(uw, getpid(), pc, caller, buf, len, mod,
				  sizeof(mod), &off);
}

static void print_chain(const uint64_t *pcs, int n)
{
	char name[256], mod[256];
	uint64_t off;
	int i;

	for (i = 0; i < n; i++) {
		int r = unwinder_symbolize(uw, getpid(), pcs[i], i > 0, name,
					   sizeof(name), mod, sizeof(mod), &off);

		fprintf(stderr, "  #%d %#" PRIx64 " %s (%s+%#" PRIx64 ")%s\n", i,
			pcs[i], r == 0 ? name : "??", mod, off,
			r == 0 ? "" : " [no symbol]");
	}
}

static void test_chain(uint64_t *full, int *nfull)
{
	const char *want[] = { "inner_fn", "middle_fn", "outer_fn", "main" };
	uint64_t pcs[MAX_PCS];
	char name[256];
	int n, i;

	n = unwind_snap(&snap, snap.len, pcs);
	CHECK(n >= 4, "only %d frames", n);
	if (n < 0)
		return;
	print_chain(pcs, n);
	CHECK(pcs[0] == snap.regs.ip, "pcs[0] %#" PRIx64 " is not ip", pcs[0]);
	for (i = 0; i < 4 && i < n; i++) {
		int r = sym(pcs[i], i > 0, name, sizeof(name));

		CHECK(r == 0 && strcmp(name, want[i]) == 0,
		      "frame %d: got %s (%d), want %s", i, r == 0 ? name : "-",
		      r, want[i]);
	}
	/* The same snapshot again: the attached Dwfl is reused. */
	CHECK(unwind_snap(&snap, snap.len, full) == n, "second unwind differs");
	CHECK(memcmp(pcs, full, n * sizeof(*pcs)) == 0, "second unwind differs");
	*nfull = n;
}

/* 256 bytes hold inner_fn's frame and a few more: a prefix of the chain. */
static void test_truncated(const uint64_t *full, int nfull)
{
	uint64_t pcs[MAX_PCS];
	size_t len;
	int n, i;

	for (len = 0; len <= 256; len += 8) {
		n = unwind_snap(&snap, len, pcs);
		CHECK(n >= 1 && n < nfull, "len %zu: %d frames of %d", len, n,
		      nfull);
		if (n < 1)
			continue;
		CHECK(pcs[0] == full[0], "len %zu: pcs[0]", len);
		/* Every frame but the last is the real one; the last may be
		 * libdwfl's rbp fallback, once CFI ran out of snapshot. */
		for (i = 0; i + 1 < n; i++)
			CHECK(pcs[i] == full[i], "len %zu: frame %d differs", len, i);
	}
	n = unwind_snap(&snap, 256, pcs);
	fprintf(stderr, "truncated to 256 bytes: %d of %d frames\n", n, nfull);
	CHECK(n >= 2, "256 bytes hold inner_fn's return address, %d frames", n);
}

/* Hostile input: any count or an error, never a crash or a hang. */
static void test_garbage(void)
{
	static unsigned char buf[SNAP_MAX];
	uint64_t pcs[MAX_PCS], code[] = { (uint64_t)inner_fn, (uint64_t)middle_fn,
					  (uint64_t)getpid, (uint64_t)main };
	struct snap g = { .stack = buf };
	int i, n, bad = 0;
	size_t j;

	for (i = 0; i < 2000; i++) {
		for (j = 0; j < sizeof(buf) / 8; j++) {
			uint64_t v = next_rand();

			/* Mix in plausible words: code and stack addresses,
			 * so CFI rules and the rbp fallback have something
			 * to chew on. */
			if (v % 4 == 0)
				v = code[v % 16 / 4] + (v >> 40) % 64;
			else if (v % 4 == 1)
				v = snap.regs.sp + (v >> 32) % SNAP_MAX;
			memcpy(buf + j * 8, &v, 8);
		}
		g.regs = (struct unw_regs){
			.ip = i % 3 ? code[i % 4] + next_rand() % 200 : next_rand(),
			.sp = i % 5 ? snap.regs.sp : next_rand(),
			.bp = i % 2 ? snap.regs.sp + next_rand() % SNAP_MAX : next_rand(),
			.bx = next_rand(), .r12 = next_rand(), .r13 = next_rand(),
			.r14 = next_rand(), .r15 = next_rand(),
		};
		if (i % 7 == 0)
			g.regs.sp = UINT64_MAX - next_rand() % 64; /* wraps */
		n = unwinder_unwind(uw, getpid(), &g.regs, buf,
				    i % 11 ? sizeof(buf) : next_rand() % 64, pcs,
				    1 + i % MAX_PCS);
		if (n == 0 || n > 1 + i % MAX_PCS || (n > 0 && pcs[0] != g.regs.ip))
			bad++;
	}
	CHECK(bad == 0, "%d garbage unwinds returned a bad count", bad);

	g.regs = snap.regs;
	CHECK(unwinder_unwind(uw, getpid(), &g.regs, NULL, 0, pcs, MAX_PCS) == 1,
	      "no stack: the ip alone");
	g.regs.ip = 0;
	CHECK(unwinder_unwind(uw, getpid(), &g.regs, buf, 64, pcs, MAX_PCS) == -EINVAL,
	      "ip 0");
	CHECK(unwinder_unwind(uw, getpid(), &snap.regs, buf, 64, pcs, 0) == -EINVAL,
	      "max 0");
	CHECK(unwinder_unwind(uw, -1, &snap.regs, buf, 64, pcs, 4) == -EINVAL,
	      "pid -1");
	n = unwinder_unwind(uw, 0x3ffffff0, &snap.regs, buf, 64, pcs, 4);
	CHECK(n == -ESRCH, "pid that does not exist: %d", n);
}

static void test_symbols(void)
{
	char name[256], mod[256];
	uint64_t off;
	int r;

	r = unwinder_symbolize(uw, getpid(), (uint64_t)getpid, false, name,
			       sizeof(name), mod, sizeof(mod), &off);
	CHECK(r == 0 && (strcmp(name, "getpid") == 0 || strcmp(name, "__getpid") == 0),
	      "getpid: %d %s", r, name);
	CHECK(strncmp(mod, "libc.so", 7) == 0, "getpid's module %s", mod);
	/* +1 as a return address resolves to the same function. */
	r = unwinder_symbolize(uw, getpid(), (uint64_t)getpid + 1, true, name,
			       sizeof(name), mod, sizeof(mod), &off);
	CHECK(r == 0 && strstr(name, "getpid"), "getpid+1 as caller: %s", name);
	/* ... but as a return address getpid itself is the end of the
	 * previous function. */
	r = unwinder_symbolize(uw, getpid(), (uint64_t)getpid, true, name,
			       sizeof(name), mod, sizeof(mod), &off);
	CHECK(r != 0 || !strstr(name, "getpid"), "getpid as caller: %s", name);

	r = unwinder_symbolize(uw, getpid(), (uint64_t)strlen, false, name,
			       sizeof(name), mod, sizeof(mod), &off);
	CHECK(r == 0 && strstr(name, "strlen"), "strlen: %d %s", r, name);

	r = unwinder_symbolize(uw, getpid(), (uint64_t)outer_fn + 3, false, name,
			       sizeof(name), mod, sizeof(mod), &off);
	CHECK(r == 0 && strcmp(name, "outer_fn") == 0, "outer_fn: %s", name);
	CHECK(strcmp(mod, "test_unwind") == 0 || mod[0], "module of outer_fn %s", mod);

	/* Not in any module: -ENOENT, empty module, the address as offset. */
	r = unwinder_symbolize(uw, getpid(), 0x10, false, name, sizeof(name),
			       mod, sizeof(mod), &off);
	CHECK(r == -ENOENT && mod[0] == 0 && off == 0x10, "0x10: %d '%s' %#" PRIx64,
	      r, mod, off);
	/* Tiny buffers are truncated, not overrun. */
	r = unwinder_symbolize(uw, getpid(), (uint64_t)getpid, false, name, 3,
			       mod, 2, &off);
	CHECK(r == 0 && strlen(name) == 2 && strlen(mod) == 1, "tiny buffers");
	CHECK(unwinder_symbolize(uw, getpid(), 1, false, NULL, 0, NULL, 0, NULL) ==
		      -EINVAL, "no buffer");
}

/* The vDSO comes from memory; a library dlopen'ed after the first read of
 * the maps is found by the (rate-limited: sleep past it) re-read. The
 * library is the first of these the process has not loaded yet (an ASan
 * build has libm already). */
static void test_vdso_dlopen(void)
{
	static const char *const libs[][3] = {
		{ "libm.so.6", "cos", "libm.so" },
		{ "libcrypt.so.1", "crypt", "libcrypt.so" },
		{ "libresolv.so.2", "__res_close", "libresolv.so" },
	};
	uint64_t vdso = getauxval(AT_SYSINFO_EHDR), off;
	char name[256], mod[256];
	void *h = NULL, *sym = NULL;
	size_t i;
	int r;

	if (vdso) {
		unwinder_symbolize(uw, getpid(), vdso + 0x10, false, name,
				   sizeof(name), mod, sizeof(mod), &off);
		CHECK(strcmp(mod, "[vdso]") == 0, "vdso module: '%s'", mod);
	}
	for (i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		if (dlopen(libs[i][0], RTLD_NOW | RTLD_NOLOAD))
			continue; /* loaded already: not a new mapping */
		h = dlopen(libs[i][0], RTLD_NOW);
		sym = h ? dlsym(h, libs[i][1]) : NULL;
		if (sym)
			break;
		if (h)
			dlclose(h);
	}
	if (!sym) {
		SKIP("dlopen: every candidate library is loaded already or missing");
		return;
	}
	sleep(1);
	r = unwinder_symbolize(uw, getpid(), (uint64_t)sym, false, name,
			       sizeof(name), mod, sizeof(mod), &off);
	CHECK(r == 0 && strstr(name, libs[i][1]) &&
		      strncmp(mod, libs[i][2], strlen(libs[i][2])) == 0,
	      "%s after dlopen: %d %s %s", libs[i][1], r, name, mod);
	dlclose(h);
}

/* Forget and the LRU: an evicted process comes back from scratch. */
static void test_forget(const uint64_t *full, int nfull)
{
	uint64_t pcs[MAX_PCS];

	unwinder_forget(uw, getpid());
	unwinder_forget(uw, 12345678);
	CHECK(unwind_snap(&snap, snap.len, pcs) == nfull, "after forget");
	CHECK(memcmp(pcs, full, nfull * sizeof(*pcs)) == 0, "after forget");
}

static void bench(void)
{
	uint64_t pcs[MAX_PCS];
	struct timespec a, b;
	int i, n = 0;
	double us;

	/* A 10-frame stack: inner, middle, deep_fn x4, main, libc x2, _start. */
	sink = deep_fn(1, 3) * 0;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (i = 0; i < 10000; i++)
		n += unwind_snap(&snap, snap.len, pcs);
	clock_gettime(CLOCK_MONOTONIC, &b);
	us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / 10000;
	printf("bench: %.2f us per unwind of %d frames (10000 runs)\n", us,
	       n / 10000);
}

int main(int argc, char **argv)
{
	uint64_t full[MAX_PCS];
	int nfull = 0;

	snap.stack = malloc(SNAP_MAX);
	uw = unwinder_new();
	if (!snap.stack || !uw) {
		perror("setup");
		return 2;
	}
	sink = outer_fn(1) * 0;
	test_chain(full, &nfull);
	if (nfull > 0) {
		test_truncated(full, nfull);
		test_forget(full, nfull);
	}
	test_garbage();
	test_symbols();
	test_vdso_dlopen();
	if (argc > 1 && strcmp(argv[1], "-b") == 0)
		bench();
	unwinder_free(uw);
	free(snap.stack);
	return CHECK_SUMMARY();
}
