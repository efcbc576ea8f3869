// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * CFI unwinding of stack snapshots with elfutils libdwfl.
 *
 * One Dwfl per process holds its modules (from /proc/PID/maps) and, once
 * loaded, their ELF files, CFI and symbol tables; it is kept in a small
 * LRU cache because opening a libpython and indexing its CFI costs far
 * more than an unwind. libdwfl unwinds through Dwfl_Thread_Callbacks bound
 * to the Dwfl by dwfl_attach_state(), which can be called only once per
 * Dwfl: so each cached process has a struct proc at a fixed address that
 * is the callbacks' argument, attached once, and the snapshot of the
 * unwind in progress is stored in it before each walk and cleared after.
 */
#define _GNU_SOURCE
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "native/unwind.h"
#include "sys/procfs.h"
#include "sys/targetfile.h"

#define MAX_PROCS  256
#define MAX_FRAMES 512
/* A PC in no module re-reads the maps (a dlopen since the last read) at
 * most this often per process: JIT code stays in no module forever. */
#define REREPORT_NS 1000000000ULL

/* DWARF register numbers of x86-64 (psABI figure 3.36). */
enum { DW_RBX = 3, DW_RBP = 6, DW_RSP = 7, DW_R12 = 12 };

struct proc {
	Dwfl *dwfl;		/* NULL: free slot */
	int pid;
	uint64_t last_use;	/* LRU tick */
	uint64_t reported_ns;	/* last read of the maps */
	/* The unwind in progress, for the callbacks; NULL outside one. */
	const struct unw_regs *regs;
	const unsigned char *stack;
	size_t len;
};

struct unwinder {
	/* Fixed array: libdwfl keeps &procs[i] as the callbacks' argument. */
	struct proc procs[MAX_PROCS];
	uint64_t tick;
	/*
	 * An ELF header alone, given to dwfl_attach_state() to name the
	 * architecture. With NULL it would borrow the Ebl of the first
	 * module it can open, which dangles once a re-report drops that
	 * module (a dlclose), and fails while no module can be opened.
	 */
	Elf64_Ehdr ehdr;
	Elf *arch;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* Finding the files of another process's modules */

/*
 * Dwfl_Callbacks.find_elf: the module's file as the process maps it
 * (targetfile.c: map_files, or the name checked against the mapped inode).
 * Else the name inside the process's root, unchecked: overlayfs may show
 * another inode number than the maps, and without map_files this is the
 * best left; the lookup stays inside that root, so at worst the target
 * spoils its own native frames. The vDSO ("[vdso: PID]") is left to
 * libdwfl, which reads its image from /proc/PID/mem: it is the kernel's,
 * not the snapshot's, memory.
 */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name,
		    Dwarf_Addr base, char **file_name, Elf **elfp)
{
	struct proc *p = *userdata;
	struct target_file tf;
	struct proc_mapping m;
	char path[PATH_MAX + 64];
	int ret;

	if (!p || name[0] != '/')
		return dwfl_linux_proc_find_elf(mod, userdata, name, base,
						file_name, elfp);
	ret = procfs_mapping_at(p->pid, base, &m);
	if (!ret)
		ret = targetfile_open_mapped(p->pid, &m, &tf);
	if (ret)
		ret = targetfile_open_in_root(p->pid, name, 0, &tf);
	if (ret)
		return -1;
	/* The module's file name for libdwfl: where it was found (no
	 * lookups are made next to it: see debuginfo_path). */
	if (tf.via == TF_OUR_ROOT)
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/proc/%d/root%s", p->pid, name);
	*file_name = strdup(path);
	if (!*file_name) {
		targetfile_close(&tf);
		return -1;
	}
	return tf.fd; /* libdwfl's from here on */
}

/*
 * Separate debug files in our /usr/lib/debug only (by build-id, or by
 * .gnu_debuglink under the file's directory there). libdwfl's default also
 * opens the debuglink name next to the file and in its .debug/: inside a
 * target's tree, by path, where a tenant can plant a FIFO (the open would
 * block) or an absolute symlink to a host file.
 */
static char *debuginfo_path = "/usr/lib/debug";

static const Dwfl_Callbacks dwfl_callbacks = {
	.find_elf = find_elf,
	/* debuginfod too when DEBUGINFOD_URLS is set (record clears it) */
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &debuginfo_path,
};

/* ------------------------------------------------------------------ */
/* The thread state: one thread, the snapshot */

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct proc *p = arg;

	(void)dwfl;
	if (*thread_argp)
		return 0;
	*thread_argp = p;
	return p->pid;
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	struct proc *p = arg;

	(void)dwfl;
	if (tid != p->pid)
		return false;
	*thread_argp = p;
	return true;
}

/* Only the snapshot: memory outside it has changed since the sample. */
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result,
			void *arg)
{
	struct proc *p = arg;
	uint64_t off;

	(void)dwfl;
	if (!p->regs || p->len < sizeof(*result) || addr < p->regs->sp)
		return false;
	off = addr - p->regs->sp;
	if (off > p->len - sizeof(*result))
		return false;
	memcpy(result, p->stack + off, sizeof(*result));
	return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	const struct unw_regs *r = ((struct proc *)arg)->regs;
	Dwarf_Word bx = r->bx, bp_sp[2] = { r->bp, r->sp };
	Dwarf_Word r12_15[4] = { r->r12, r->r13, r->r14, r->r15 };

	/* The others (rax..rdi, r8-r11) stay undefined: caller-saved, so
	 * no CFI rule of a caller frame depends on them. */
	if (!dwfl_thread_state_registers(thread, DW_RBX, 1, &bx) ||
	    !dwfl_thread_state_registers(thread, DW_RBP, 2, bp_sp) ||
	    !dwfl_thread_state_registers(thread, DW_R12, 4, r12_15))
		return false;
	dwfl_thread_state_register_pc(thread, r->ip);
	return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
	.next_thread = next_thread,
	.get_thread = get_thread,
	.memory_read = memory_read,
	.set_initial_registers = set_initial_registers,
};

/* ------------------------------------------------------------------ */
/* The process cache */

static int tag_module(Dwfl_Module *mod, void **userdata, const char *name,
		      Dwarf_Addr start, void *arg)
{
	(void)mod, (void)name, (void)start;
	*userdata = arg; /* find_elf's way back to the pid */
	return DWARF_CB_OK;
}

/* (Re)reads pid's modules. Modules still mapped at the same place keep
 * their loaded ELF and CFI (dwfl_report_module finds them again). */
static int report(struct proc *p)
{
	char path[64];
	int r;

	/* A process that is gone would lose every module to the re-report,
	 * and its queued samples would lose their symbols with them. */
	snprintf(path, sizeof(path), "/proc/%d/maps", p->pid);
	if (access(path, R_OK) < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	p->reported_ns = now_ns();
	dwfl_report_begin(p->dwfl);
	r = dwfl_linux_proc_report(p->dwfl, p->pid);
	if (dwfl_report_end(p->dwfl, NULL, NULL) != 0 && r == 0)
		r = -1;
	dwfl_getmodules(p->dwfl, tag_module, p, 0);
	if (r > 0)
		return r == ENOENT ? -ESRCH : -r;
	return r < 0 ? -EIO : 0;
}

static void proc_drop(struct proc *p)
{
	if (p->dwfl)
		dwfl_end(p->dwfl);
	memset(p, 0, sizeof(*p));
}

static int proc_get(struct unwinder *u, int pid, struct proc **out)
{
	struct proc *p, *victim = NULL;
	int i, r;

	for (i = 0; i < MAX_PROCS; i++) {
		p = &u->procs[i];
		if (p->dwfl && p->pid == pid) {
			p->last_use = ++u->tick;
			*out = p;
			return 0;
		}
		if (!victim || !p->dwfl ||
		    (victim->dwfl && p->last_use < victim->last_use))
			victim = p;
	}
	p = victim;
	proc_drop(p);
	p->pid = pid;
	p->dwfl = dwfl_begin(&dwfl_callbacks);
	if (!p->dwfl) {
		proc_drop(p);
		return -ENOMEM;
	}
	r = report(p);
	if (r == 0 && !dwfl_attach_state(p->dwfl, u->arch, pid,
					 &thread_callbacks, p))
		r = -EIO;
	if (r < 0) {
		proc_drop(p);
		return r;
	}
	p->last_use = ++u->tick;
	*out = p;
	return 0;
}

static bool may_rereport(const struct proc *p)
{
	return now_ns() - p->reported_ns >= REREPORT_NS;
}

/* ------------------------------------------------------------------ */

struct unwinder *unwinder_new(void)
{
	struct unwinder *u;

#ifndef __x86_64__
	errno = ENOTSUP; /* struct unw_regs and the register numbers */
	return NULL;
#endif
	if (elf_version(EV_CURRENT) == EV_NONE) {
		errno = ENOTSUP;
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u)
		return NULL;
	memcpy(u->ehdr.e_ident, ELFMAG, SELFMAG);
	u->ehdr.e_ident[EI_CLASS] = ELFCLASS64;
	u->ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
	u->ehdr.e_ident[EI_VERSION] = EV_CURRENT;
	u->ehdr.e_type = ET_CORE;
	u->ehdr.e_machine = EM_X86_64;
	u->ehdr.e_version = EV_CURRENT;
	u->ehdr.e_ehsize = sizeof(u->ehdr);
	u->arch = elf_memory((char *)&u->ehdr, sizeof(u->ehdr));
	if (!u->arch) {
		free(u);
		errno = ENOMEM;
		return NULL;
	}
	return u;
}

void unwinder_free(struct unwinder *u)
{
	int i;

	if (!u)
		return;
	for (i = 0; i < MAX_PROCS; i++)
		proc_drop(&u->procs[i]);
	elf_end(u->arch); /* after the Dwfls: their Ebl read it */
	free(u);
}

void unwinder_forget(struct unwinder *u, int pid)
{
	int i;

	if (!u)
		return;
	for (i = 0; i < MAX_PROCS; i++)
		if (u->procs[i].dwfl && u->procs[i].pid == pid)
			proc_drop(&u->procs[i]);
}

struct walk {
	uint64_t *pcs;
	int n, max;
	uint64_t last_pc, last_sp;
	bool last_sp_known, last_act;
};

static int frame_cb(Dwfl_Frame *frame, void *arg)
{
	struct walk *w = arg;
	Dwarf_Addr pc;
	Dwarf_Word sp;
	bool act, sp_known;

	if (!dwfl_frame_pc(frame, &pc, &act) || pc == 0)
		return DWARF_CB_ABORT;
	sp_known = dwfl_frame_reg(frame, DW_RSP, &sp) == 0;
	/*
	 * A caller's stack pointer is above its callee's: CFI computes it
	 * as the callee's CFA, past the return address. So a frame whose
	 * sp did not grow comes from garbage, and a loop of frames can't
	 * go on; both end the walk. Signal frames are exempt, the handler
	 * may run on an alternate stack.
	 */
	if (w->n > 0 && sp_known && w->last_sp_known) {
		if (pc == w->last_pc && sp == w->last_sp)
			return DWARF_CB_ABORT;
		if (!act && !w->last_act && sp <= w->last_sp)
			return DWARF_CB_ABORT;
	}
	w->pcs[w->n++] = pc;
	w->last_pc = pc;
	w->last_sp = sp;
	w->last_sp_known = sp_known;
	w->last_act = act && w->n > 1;
	return w->n < w->max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

static int walk(struct proc *p, const struct unw_regs *regs,
		const void *stack, size_t len, uint64_t *pcs, int max)
{
	struct walk w = { .pcs = pcs, .max = max };

	p->regs = regs;
	p->stack = stack;
	p->len = stack ? len : 0;
	/* The result is not looked at: libdwfl ends most walks with an
	 * error (no CFI, memory outside the snapshot), frames or not. */
	dwfl_getthread_frames(p->dwfl, p->pid, frame_cb, &w);
	p->regs = NULL;
	p->stack = NULL;
	p->len = 0;
	if (w.n == 0) { /* set_initial_registers or the first pc failed */
		pcs[0] = regs->ip;
		w.n = 1;
	}
	return w.n;
}

/* Did the walk meet a PC in no module: a library dlopen'ed since? */
static bool unknown_pc(struct proc *p, const uint64_t *pcs, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!dwfl_addrmodule(p->dwfl, i ? pcs[i] - 1 : pcs[i]))
			return true;
	return false;
}

int unwinder_unwind(struct unwinder *u, int pid, const struct unw_regs *regs,
		    const void *stack, size_t len, uint64_t *pcs, int max)
{
	struct proc *p;
	int n, r;

	if (!u || pid <= 0 || !regs || !pcs || max < 1 || (!stack && len) ||
	    !regs->ip)
		return -EINVAL;
	r = proc_get(u, pid, &p);
	if (r < 0)
		return r;
	if (max > MAX_FRAMES)
		max = MAX_FRAMES;
	n = walk(p, regs, stack, len, pcs, max);
	if (unknown_pc(p, pcs, n) && may_rereport(p) && report(p) == 0)
		n = walk(p, regs, stack, len, pcs, max);
	return n;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	if (dst && size)
		snprintf(dst, size, "%s", src);
}

int unwinder_symbolize(struct unwinder *u, int pid, uint64_t pc, bool is_caller,
		       char *buf, size_t len, char *module, size_t mlen,
		       uint64_t *mod_off)
{
	uint64_t addr = is_caller && pc ? pc - 1 : pc;
	const char *name, *base, *sym;
	Dwarf_Addr start, bias;
	Dwfl_Module *mod;
	GElf_Off off;
	GElf_Sym s;
	struct proc *p;
	int r;

	copy_str(buf, len, "");
	copy_str(module, mlen, "");
	if (mod_off)
		*mod_off = addr;
	if (!u || pid <= 0 || !buf || !len)
		return -EINVAL;
	r = proc_get(u, pid, &p);
	if (r < 0)
		return r;
	mod = dwfl_addrmodule(p->dwfl, addr);
	if (!mod && may_rereport(p) && report(p) == 0)
		mod = dwfl_addrmodule(p->dwfl, addr);
	if (!mod)
		return -ENOENT;

	name = dwfl_module_info(mod, NULL, &start, NULL, NULL, NULL, NULL, NULL);
	if (name && strncmp(name, "[vdso", 5) == 0)
		base = "[vdso]";
	else
		base = name && strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	copy_str(module, mlen, base ? base : "");
	if (mod_off)
		*mod_off = dwfl_module_getelf(mod, &bias) ? addr - bias
							   : addr - start;

	sym = dwfl_module_addrinfo(mod, addr, &off, &s, NULL, NULL, NULL);
	if (!sym || !*sym || *sym == '@')
		return -ENOENT;
	/* libdwfl names .dynsym entries with their version, as in
	 * "__libc_start_main@@GLIBC_2.34"; one frame is one name whatever
	 * the version. No C or mangled C++ name has an '@'. */
	snprintf(buf, len, "%.*s", (int)strcspn(sym, "@"), sym);
	return 0;
}
