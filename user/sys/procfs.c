// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sys/procfs.h"

ssize_t procfs_read(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

int procfs_stat(pid_t pid, struct proc_stat *st)
{
	char buf[1024], *p;
	unsigned long long ut, stime;
	ssize_t n;
	int ppid;

	n = procfs_read(pid, "stat", buf, sizeof(buf));
	if (n <= 0)
		return n < 0 ? (int)n : -EINVAL;
	/* comm (field 2) may hold spaces and parentheses: skip to the last ')' */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EINVAL;
	/* fields 3 (state), 4 (ppid) ... 14 (utime), 15 (stime) ... 22 (starttime) */
	if (sscanf(p + 2,
		   "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu",
		   &st->state, &ppid, &ut, &stime, &st->start_ticks) != 5)
		return -EINVAL;
	st->ppid = ppid;
	st->cpu_ticks = ut + stime;
	return 0;
}

pid_t procfs_nstid(pid_t pid, pid_t tid)
{
	char path[48], buf[2048], *l, *end, *last = NULL;
	long v;

	snprintf(path, sizeof(path), "task/%d/status", tid);
	if (procfs_read(pid, path, buf, sizeof(buf)) <= 0)
		return -ENOENT;
	l = strstr(buf, "\nNSpid:");
	if (!l)
		return -ENOENT;
	/* "NSpid:\t<host>\t...\t<innermost>" */
	end = strchr(l + 1, '\n');
	if (end)
		*end = '\0';
	for (char *t = l + 7; *t; t++)
		if (*t == '\t' || *t == ' ')
			last = t + 1;
	v = last ? strtol(last, NULL, 10) : 0;
	return v > 0 && v <= 0x3fffffff ? (pid_t)v : -EINVAL;
}

long long procfs_rss_bytes(pid_t pid)
{
	static long page;
	unsigned long long size, res;
	char buf[256];

	if (!page)
		page = sysconf(_SC_PAGESIZE);
	if (procfs_read(pid, "statm", buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%llu %llu", &size, &res) != 2 || res > (unsigned long long)(LLONG_MAX / page))
		return -1;
	return (long long)res * page;
}

long long procfs_age_ms(pid_t pid)
{
	struct proc_stat st;
	double up;
	FILE *f;
	int n;

	if (procfs_stat(pid, &st))
		return -1;
	f = fopen("/proc/uptime", "re");
	if (!f)
		return -1;
	n = fscanf(f, "%lf", &up);
	fclose(f);
	if (n != 1)
		return -1;
	return (long long)(up * 1000.0) -
	       (long long)(st.start_ticks * 1000ULL / sysconf(_SC_CLK_TCK));
}

int procfs_parse_maps_line(const char *line, struct proc_mapping *m)
{
	int pos = 0;

	m->path[0] = '\0';
	if (sscanf(line, "%llx-%llx %4s %llx %lx:%lx %lu %n", &m->start,
		   &m->end, m->perms, &m->offset, &m->dev_major, &m->dev_minor,
		   &m->inode, &pos) < 7)
		return -EINVAL;
	if (pos > 0) {
		size_t l;

		snprintf(m->path, sizeof(m->path), "%s", line + pos);
		l = strlen(m->path);
		while (l && (m->path[l - 1] == '\n' || m->path[l - 1] == ' '))
			m->path[--l] = '\0';
	}
	return 0;
}

int procfs_maps_open(struct procfs_maps *it, pid_t pid)
{
	char path[64];

	memset(it, 0, sizeof(*it));
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	it->f = fopen(path, "re");
	return it->f ? 0 : -errno;
}

const struct proc_mapping *procfs_maps_next(struct procfs_maps *it)
{
	if (!it->f)
		return NULL;
	/* The kernel writes the lines (paths with a newline escaped); their
	 * number is bounded by vm.max_map_count. */
	while (getline(&it->line, &it->cap, it->f) > 0)
		if (!procfs_parse_maps_line(it->line, &it->m))
			return &it->m;
	return NULL;
}

void procfs_maps_close(struct procfs_maps *it)
{
	if (it->f)
		fclose(it->f);
	free(it->line);
	memset(it, 0, sizeof(*it));
}

int procfs_mapping_at(pid_t pid, unsigned long long start,
		      struct proc_mapping *m)
{
	const struct proc_mapping *cur;
	struct procfs_maps it;
	int ret = procfs_maps_open(&it, pid);

	if (ret)
		return ret;
	ret = -ENOENT;
	while ((cur = procfs_maps_next(&it))) {
		if (cur->start == start) {
			*m = *cur;
			ret = 0;
			break;
		}
	}
	procfs_maps_close(&it);
	return ret;
}
