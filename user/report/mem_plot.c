// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* pyrograph mem --plot: RSS over time, one line per process, as SVG. */
#include <errno.h>

#include "report/memrep_int.h"

/* Text from the target inside SVG markup, at most max bytes; printable
 * ASCII only, so a cut or invalid UTF-8 sequence cannot break the XML. */
static void xml_text(FILE *f, const char *s, size_t max)
{
	for (size_t i = 0; s && s[i] && i < max; i++) {
		unsigned char c = s[i];

		if (c == '<')
			fputs("&lt;", f);
		else if (c == '>')
			fputs("&gt;", f);
		else if (c == '&')
			fputs("&amp;", f);
		else
			fputc(c >= 0x20 && c < 0x7f ? c : '?', f);
	}
}

int memrep__write_plot(struct memrep *m, FILE *f)
{
	static const char *const colours[] = { "#d62728", "#1f77b4", "#2ca02c",
					       "#ff7f0e", "#9467bd", "#8c564b" };
	const double W = 900, H = 420, L = 80, R = 20, T = 30, B = 40;
	long long hi = 0;
	double tmax = m->seconds > 0 ? m->seconds : 1;
	char a[32];

	for (size_t i = 0; i < m->nprocs; i++)
		for (size_t k = 0; k < m->procs[i].nrss; k++)
			if (m->procs[i].rss[k].bytes > hi)
				hi = m->procs[i].rss[k].bytes;
	if (!hi)
		hi = 1;
	fprintf(f, "<?xml version=\"1.0\" standalone=\"no\"?>\n"
		   "<svg version=\"1.1\" width=\"%.0f\" height=\"%.0f\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"Verdana\" font-size=\"12\">\n"
		   "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
		   "<text x=\"%.0f\" y=\"20\" font-size=\"15\">pyrograph mem: RSS over time</text>\n"
		   "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n"
		   "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n",
		W, H, L, L, H - B, W - R, H - B, L, T, L, H - B);
	mem_bytes_str(hi, a, sizeof(a), false);
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%s</text>\n", L - 4, T + 4, a);
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">0</text>\n", L - 4, H - B);
	fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"end\">%.1f s</text>\n", W - R, H - B + 16, tmax);
	for (size_t i = 0; i < m->nprocs; i++) {
		const struct mproc *p = &m->procs[i];
		const char *col = colours[i % 6];

		if (!p->nrss)
			continue;
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", col);
		for (size_t k = 0; k < p->nrss; k++) {
			double t = p->rss[k].t > m->start_ns ? (p->rss[k].t - m->start_ns) / 1e9 : 0;

			fprintf(f, "%.1f,%.1f ", L + (W - L - R) * (t > tmax ? 1 : t / tmax),
				H - B - (H - T - B) * (double)p->rss[k].bytes / (double)hi);
		}
		/* the label is the target's command line: escaped */
		fprintf(f, "\"><title>");
		xml_text(f, p->label, 4096);
		fprintf(f, "</title></polyline>\n");
		if (i < 12) {
			fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" fill=\"%s\">", L + 10, T + 16 + 14.0 * i, col);
			xml_text(f, p->label, 100);
			fputs("</text>\n", f);
		}
	}
	fputs("</svg>\n", f);
	return ferror(f) ? -EIO : 0;
}
