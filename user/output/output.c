// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output/collapsed.h"
#include "output/flamegraph.h"
#include "output/output.h"
#include "output/pprof.h"
#include "output/speedscope.h"
#include "sys/log.h"

static const char *const names[] = {
	[OUT_FLAMEGRAPH] = "flamegraph",
	[OUT_COLLAPSED] = "collapsed",
	[OUT_SPEEDSCOPE] = "speedscope",
	[OUT_PPROF] = "pprof",
};

int output_format_parse(const char *s, enum out_format *f)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*f = (enum out_format)i;
			return 0;
		}
	}
	if (!strcmp(s, "svg")) {
		*f = OUT_FLAMEGRAPH;
		return 0;
	}
	if (!strcmp(s, "folded")) {
		*f = OUT_COLLAPSED;
		return 0;
	}
	return -EINVAL;
}

const char *output_format_name(enum out_format f)
{
	return names[f];
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

enum out_format output_format_guess(const char *path)
{
	if (path && (ends_with(path, ".txt") || ends_with(path, ".folded") ||
		     ends_with(path, ".collapsed")))
		return OUT_COLLAPSED;
	if (path && ends_with(path, ".json"))
		return OUT_SPEEDSCOPE;
	if (path && (ends_with(path, ".pb.gz") || ends_with(path, ".pprof") ||
		     ends_with(path, ".pb")))
		return OUT_PPROF;
	return OUT_FLAMEGRAPH;
}

static void dir_of(const char *path, char *dir, size_t len)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", path);
	snprintf(dir, len, "%s", dirname(tmp));
}

/*
 * An existing path is only ever replaced (rename over it: a symlink there
 * is replaced, never followed), and only when it belongs to us: as root,
 * replacing another user's file at a path they chose to plant is how a
 * profiler gets tricked into destroying something.
 */
static int check_existing(const char *path)
{
	struct stat st;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		pr_err("cannot write %s: %s", path, strerror(errno));
		return -errno;
	}
	if (S_ISDIR(st.st_mode)) {
		pr_err("cannot write %s: it is a directory", path);
		return -EISDIR;
	}
	if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))
		return 1; /* /dev/null, a pipe: written in place, never replaced */
	if (st.st_uid != geteuid()) {
		pr_err("refusing to replace %s: it belongs to uid %u, not to us (uid %u); remove it or choose another name",
		       path, (unsigned)st.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	return 0;
}

int output_check_writable(const char *path)
{
	char dir[PATH_MAX];
	int ret;

	if (!strcmp(path, "-"))
		return 0;
	ret = check_existing(path);
	if (ret)
		return ret < 0 ? ret : 0;
	dir_of(path, dir, sizeof(dir));
	if (access(dir, W_OK | X_OK)) {
		pr_err("cannot write %s: directory %s: %s", path, dir,
		       strerror(errno));
		return -errno;
	}
	return 0;
}

static int write_to(FILE *f, enum out_format fmt, const struct profile_data *d)
{
	struct flamegraph_opts fo = { .title = d->title,
				      .subtitle = d->subtitle,
				      .count_name = d->timed ? "us" : "samples" };

	if (fmt == OUT_SPEEDSCOPE)
		return speedscope_write(f, d);
	if (!d->prof)
		return -EINVAL;
	if (fmt == OUT_PPROF)
		return pprof_write(f, d);
	if (fmt == OUT_COLLAPSED)
		return collapsed_write(f, d->prof);
	return flamegraph_write(f, d->prof, &fo);
}

struct write_ctx {
	enum out_format fmt;
	const struct profile_data *d;
};

static int write_profile(FILE *f, void *ctx)
{
	struct write_ctx *w = ctx;

	return write_to(f, w->fmt, w->d);
}

int output_write(const char *path, enum out_format fmt,
		 const struct profile_data *d)
{
	struct write_ctx w = { fmt, d };

	return output_write_fn(path, write_profile, &w);
}

int output_write_fn(const char *path, int (*fn)(FILE *f, void *ctx), void *ctx)
{
	char dir[PATH_MAX], tmp[PATH_MAX + 32];
	FILE *f;
	int fd, ret;

	if (!strcmp(path, "-")) {
		ret = fn(stdout, ctx);
		if (fflush(stdout))
			ret = -errno;
		return ret;
	}
	/* again: the file may have appeared while we recorded */
	ret = check_existing(path);
	if (ret < 0)
		return ret;
	if (ret > 0) {
		/* a device or FIFO: renaming over it would replace the node */
		fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		f = fd >= 0 ? fdopen(fd, "w") : NULL;
		if (!f) {
			ret = -errno;
			if (fd >= 0)
				close(fd);
			pr_err("cannot write %s: %s", path, strerror(-ret));
			return ret;
		}
		ret = fn(f, ctx);
		if (fclose(f) && !ret)
			ret = -errno;
		return ret;
	}
	dir_of(path, dir, sizeof(dir));
	snprintf(tmp, sizeof(tmp), "%s/.pyrograph-XXXXXX", dir);
	/* mkstemp: O_EXCL, so a planted file or symlink is never followed. */
	fd = mkstemp(tmp);
	if (fd < 0) {
		ret = -errno;
		pr_err("cannot create a file in %s: %s", dir, strerror(-ret));
		return ret;
	}
	fchmod(fd, 0644);
	f = fdopen(fd, "w");
	if (!f) {
		ret = -errno;
		close(fd);
		unlink(tmp);
		return ret;
	}
	ret = fn(f, ctx);
	if (fflush(f) || fsync(fd))
		ret = ret ? ret : -errno;
	if (fclose(f) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		pr_err("cannot write %s: %s", path, strerror(-ret));
		unlink(tmp);
	}
	return ret;
}
