// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The output writers on typed stacks against the writers that took folded
 * text, byte for byte: tests/unit/data/golden/g-NAME.{svg,txt,
 * speedscope.json,pb.gz} were written by the pre-renovation writers (commit
 * 7cd5ea6) from NAME.txt, except g-synthetic.pb.gz, written again when a
 * container frame's pprof labels became container/container_id/image/pod/
 * namespace (and a cgroup frame's, cgroup) instead of its whole text. Their generator read each line "STACK VALUE"
 * into the profile (value VALUE, events 1 + VALUE % 3) and into the sample
 * log (thread: the leading root frames and the id of the last process or
 * thread frame among them; the k-th line starting at 1 s + k * 1.5 ms and
 * lasting (VALUE % 2000 + 1) us), with 97 Hz, a fixed start and duration,
 * and timed values for synthetic and b. This test reads the same lines the
 * same way through the folded reader and writes every format through
 * output_write, as pyrograph record does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "model/folded.h"
#include "model/samplelog.h"
#include "model/stacks.h"
#include "output/output.h"
#include "output/pprof_read.h"

CHECK_COUNTERS;

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (*len == cap) {
			char *nb = realloc(buf, (cap = cap ? 2 * cap : 65536) + 1);

			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t n = fread(buf + *len, 1, cap - *len, f);

		if (!n)
			break;
		*len += n;
	}
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

/* The gzip member inflated (a malloc'ed buffer), or NULL. */
static unsigned char *gunzip(const char *gz, size_t len, size_t *out)
{
	size_t cap = 1 << 20;
	unsigned char *buf = malloc(cap);
	z_stream z = { 0 };
	int zr;

	if (!buf || inflateInit2(&z, 15 + 16) != Z_OK) {
		free(buf);
		return NULL;
	}
	z.next_in = (unsigned char *)gz;
	z.avail_in = (uInt)len;
	z.next_out = buf;
	z.avail_out = (uInt)cap;
	zr = inflate(&z, Z_FINISH);
	*out = cap - z.avail_out;
	inflateEnd(&z);
	if (zr != Z_STREAM_END) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Where a and b first differ, for the failure message. */
static size_t first_diff(const char *a, size_t na, const char *b, size_t nb)
{
	size_t i = 0;

	while (i < na && i < nb && a[i] == b[i])
		i++;
	return i;
}

static void compare(const char *what, const char *got, size_t ngot, const char *want,
		    size_t nwant)
{
	size_t at = first_diff(got, ngot, want, nwant);

	CHECK(got && want && ngot == nwant && at == ngot,
	      "%s: %zu bytes, golden %zu; first difference at byte %zu: \"%.60s\" against \"%.60s\"",
	      what, ngot, nwant, at, got && at < ngot ? got + at : "",
	      want && at < nwant ? want + at : "");
}

/* The thread of a stack as the generator named it: the id of the last
 * process or thread frame among the leading root frames. */
static int tid_of(const struct frame_table *ft, const frame_id *f, uint32_t n)
{
	int tid = 0;

	for (uint32_t i = 0; i < n && frame_is_root(ft, f[i]); i++)
		if (frames_get(ft, f[i])->kind != FRAME_CONTAINER)
			tid = frames_get(ft, f[i])->pid;
	return tid;
}

/* NAME.txt into the profile and the log, as the generator did. */
static int read_input(const char *path, struct profile *p, struct samplelog *log)
{
	FILE *in = fopen(path, "r");
	struct folded_buf b = { 0 };
	char *line = NULL;
	size_t cap = 0;
	unsigned long long k = 0;
	int ret = 0;

	if (!in)
		return -errno;
	while (!ret && getline(&line, &cap, in) >= 0) {
		char *sp = strrchr(line, ' ');
		unsigned long long c;
		long n;

		if (!sp)
			continue;
		c = strtoull(sp + 1, NULL, 10);
		n = folded_frames(p->ft, line, (size_t)(sp - line), &b);
		if (n < 0) {
			ret = (int)n;
			break;
		}
		ret = profile_add(p, b.f, (uint32_t)n, c, 1 + c % 3);
		if (!ret)
			ret = samplelog__add(log, b.f, (uint32_t)n, tid_of(p->ft, b.f, (uint32_t)n),
					     1000000000ULL + k * 1500000ULL, (c % 2000 + 1) * 1000ULL);
		k++;
	}
	free(line);
	folded_buf_free(&b);
	fclose(in);
	return ret;
}

static void check_input(const char *dir, const char *tmp, const char *name, bool timed)
{
	static const char *const ext[] = { "svg", "txt", "speedscope.json", "pb.gz" };
	static const enum out_format fmt[] = { OUT_FLAMEGRAPH, OUT_COLLAPSED, OUT_SPEEDSCOPE,
					       OUT_PPROF };
	char path[4096], gold[4096], what[256];
	struct frame_table ft;
	struct profile p;
	struct samplelog *log;
	int ret;

	frames_init(&ft);
	profile_init(&p, &ft);
	log = samplelog__new(&ft);
	snprintf(path, sizeof(path), "%s/%s.txt", dir, name);
	ret = log ? read_input(path, &p, log) : -ENOMEM;
	CHECK(!ret && profile_count(&p) > 0, "%s: read %zu stacks: %s", path, profile_count(&p),
	      strerror(-ret));
	struct profile_data pd = {
		.prof = &p, .timed = timed, .hz = 97.0,
		.start_ns = 1700000000000000000ULL, .start_mono_ns = 1000000000ULL,
		.duration_ns = 5000000000ULL, .log = log, .title = "pyrograph record",
		.subtitle = "golden input",
	};
	for (int i = 0; i < 4 && !ret; i++) {
		size_t ngot, nwant;
		char *got, *want;

		snprintf(path, sizeof(path), "%s/out.%s", tmp, ext[i]);
		snprintf(gold, sizeof(gold), "%s/g-%s.%s", dir, name, ext[i]);
		snprintf(what, sizeof(what), "%s.txt as %s", name, output_format_name(fmt[i]));
		CHECK(!output_write(path, fmt[i], &pd), "%s: output_write", what);
		got = slurp(path, &ngot);
		want = slurp(gold, &nwant);
		if (fmt[i] == OUT_PPROF && got && want) {
			/*
			 * The protobuf is what the writer makes; the gzip
			 * framing around it is zlib's, whose deflate output
			 * may change with the zlib build (zlib-ng, another
			 * version) without the profile changing: compare the
			 * inflated bytes.
			 */
			size_t n1, n2;
			unsigned char *g1 = gunzip(got, ngot, &n1), *g2 = gunzip(want, nwant, &n2);

			CHECK(g1 && g2, "%s: not gzip", what);
			compare(what, (char *)g1, g1 ? n1 : 0, (char *)g2, g2 ? n2 : 0);
			free(g1);
			free(g2);
		} else {
			compare(what, got, ngot, want, nwant);
		}
		free(got);
		free(want);
		unlink(path);
	}
	samplelog__free(log);
	profile_free(&p);
	frames_free(&ft);
}

/*
 * A pprof file written before a container frame's labels were split
 * (labels-whole-text.pb.gz: the old g-synthetic.pb.gz, whose "container"
 * label holds the frame's whole text) reads back with the same frames.
 */
static void check_old_labels(const char *dir)
{
	char path[4096], text[2048];
	struct pprof_read_stats rs;
	unsigned char *raw = NULL;
	struct frame_table ft;
	struct profile p;
	bool container = false, cgroup = false;
	size_t len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/labels-whole-text.pb.gz", dir);
	f = fopen(path, "rb");
	CHECK(f && !pprof_inflate(f, &raw, &len), "%s", path);
	if (f)
		fclose(f);
	frames_init(&ft);
	profile_init(&p, &ft);
	CHECK(raw && !pprof_read_raw(raw, len, &p, &rs) && profile_count(&p) > 0, "read");
	for (size_t i = 0; i < profile_count(&p); i++) {
		uint32_t n;
		const frame_id *fr = stacks_get(&p.st, (stack_id)i, &n);

		stacks_text(&ft, fr, n, text, sizeof(text));
		container |= !strncmp(text, "container 3f2a9c01b7e4;python3 app.py --port 8000 (48211);", 58);
		cgroup |= !strncmp(text, "cgroup /system.slice/web.service;gunicorn: worker [app] (900);", 62);
		CHECK(strncmp(text, "container container", 19) && strncmp(text, "container cgroup", 16),
		      "%s", text);
	}
	CHECK(container && cgroup, "container %d cgroup %d", container, cgroup);
	free(raw);
	profile_free(&p);
	frames_free(&ft);
}

int main(int argc, char **argv)
{
	char dir[4096], tmp[] = "/tmp/test_outputs_XXXXXX";

	if (argc < 2) {
		fprintf(stderr, "usage: %s DATA_DIR\n", argv[0]);
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s/golden", argv[1]);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 2;
	}
	check_input(dir, tmp, "synthetic", true);
	check_input(dir, tmp, "a", false);
	check_input(dir, tmp, "b", true);
	check_input(dir, tmp, "c", false);
	check_old_labels(dir);
	rmdir(tmp);
	return CHECK_SUMMARY();
}
