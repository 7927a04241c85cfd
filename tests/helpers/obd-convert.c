/* obd-convert: the Open Bandit Dataset's CSV logs as pageturn samples or transitions, its BTS prior as q-eval's, and a time-windowed table of logged propensities. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"

/*
 * One row of {random,bts}/CAMPAIGN.csv is one item shown at one position:
 * ",timestamp,item_id,position,click,propensity_score,user features...".
 * It becomes one page of one item (the bandit view of the Open Bandit
 * Pipeline): request and session NAME-ROW, pos = position − 1, the
 * propensity as logged (the item's marginal probability at that position).
 *
 *   obd-convert [-t] [-n NAME] CSV        samples (transitions with -t)
 *   obd-convert -p CAMPAIGN YAML          the prior of prior_bts.yaml as {"item_id","alpha","beta"} lines
 *   obd-convert -w HOURS [-s SPAN] CSV    the logged propensities as a q-eval table with a window every
 *                                         HOURS: each window's value of an (item, position) is the mean
 *                                         of those logged within SPAN hours (default HOURS) centred on
 *                                         the window; one not logged there keeps its last value (before
 *                                         its first: its first); each position's row is normalised to
 *                                         sum to 1
 */

#define MAXROWS 1000000
#define MAXITEMS 256
#define MAXPOS 8

struct row {
	long long ts;
	int item, pos, click;
	double prop;
};

static long long
parse_ts(const char *s)
{
	struct tm tm;
	double frac = 0;
	const char *p;

	memset(&tm, 0, sizeof tm);
	if ((p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm)) == NULL)
		diag_fatal(1, "not a timestamp: %s", s);
	if (*p == '.')
		frac = strtod(p, NULL);
	return (long long)timegm(&tm) * 1000 + (long long)(frac * 1000);
}

/* Reads the CSV's rows; returns their count. */
static size_t
read_csv(const char *path, struct row *rows)
{
	FILE *f = fopen(path, "r");
	char line[8192], *fld[8], *p;
	size_t n = 0;
	int i;

	if (f == NULL)
		diag_fatal(1, "%s:", path);
	if (fgets(line, sizeof line, f) == NULL)
		diag_fatal(1, "%s: empty", path);
	while (fgets(line, sizeof line, f) != NULL) {
		p = line;
		for (i = 0; i < 7; i++) {
			fld[i] = p;
			if ((p = strchr(p, ',')) == NULL)
				diag_fatal(1, "%s: row %zu: too few fields", path, n + 1);
			*p++ = '\0';
		}
		if (n == MAXROWS)
			diag_fatal(1, "%s: more than %d rows", path, MAXROWS);
		rows[n].ts = parse_ts(fld[1]);
		rows[n].item = atoi(fld[2]);
		rows[n].pos = atoi(fld[3]) - 1;
		rows[n].click = atoi(fld[4]);
		rows[n].prop = strtod(fld[5], NULL);
		if (rows[n].item < 0 || rows[n].item >= MAXITEMS || rows[n].pos < 0 || rows[n].pos >= MAXPOS)
			diag_fatal(1, "%s: row %zu: item or position out of range", path, n + 1);
		n++;
	}
	fclose(f);
	return n;
}

static void
write_records(const struct row *rows, size_t n, const char *name, int transitions)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct row *r = &rows[i];

		if (transitions)
			printf("{\"mdp_id\":\"%s-%zu\",\"seq\":0,\"user_id\":\"%s-%zu\",\"request_id\":\"%s-%zu\","
			    "\"ts\":%lld,\"state\":{\"hist\":[],\"context\":[]},\"action\":[{\"item_id\":\"%d\",\"pos\":%d,"
			    "\"propensity\":%.17g,\"click\":%d,\"pay\":0}],\"reward\":%d,\"next_state\":null,"
			    "\"next_action\":[],\"done\":true}\n", name, i, name, i, name, i, r->ts, r->item, r->pos,
			    r->prop, r->click, r->click);
		else
			printf("{\"request_id\":\"%s-%zu\",\"user_id\":\"%s-%zu\",\"page\":0,\"pos\":%d,\"item_id\":\"%d\","
			    "\"ts\":%lld,\"propensity\":%.17g,\"click\":%d,\"pay\":0}\n", name, i, name, i, r->pos, r->item,
			    r->ts, r->prop, r->click);
	}
}

/* prior_bts.yaml: "CAMPAIGN:", then "  alpha:" and "  beta:", each followed by "    - NUMBER" lines. */
static void
write_prior(const char *campaign, const char *path)
{
	FILE *f = fopen(path, "r");
	double v[2][MAXITEMS];
	size_t n[2] = { 0, 0 }, i;
	char line[512], want[128], *p;
	int in = 0, which = -1;

	if (f == NULL)
		diag_fatal(1, "%s:", path);
	snprintf(want, sizeof want, "%s:", campaign);
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (line[0] != ' ') {
			in = strcmp(line, want) == 0;
			which = -1;
			continue;
		}
		if (!in)
			continue;
		for (p = line; *p == ' '; p++)
			;
		if (strcmp(p, "alpha:") == 0)
			which = 0;
		else if (strcmp(p, "beta:") == 0)
			which = 1;
		else if (p[0] == '-' && which >= 0 && n[which] < MAXITEMS)
			v[which][n[which]++] = strtod(p + 1, NULL);
	}
	fclose(f);
	if (n[0] == 0 || n[0] != n[1])
		diag_fatal(1, "%s: no prior for %s (alpha %zu, beta %zu)", path, campaign, n[0], n[1]);
	for (i = 0; i < n[0]; i++)
		printf("{\"item_id\":\"%zu\",\"alpha\":%.17g,\"beta\":%.17g}\n", i, v[0][i], v[1][i]);
}

static void
write_windows(const struct row *rows, size_t n, double hours, double span)
{
	long long t0 = rows[0].ts, W = (long long)(hours * 3600000), last = rows[n - 1].ts, S = (long long)(span * 3600000);
	long long mid, lo, hi;
	size_t nw = (size_t)((last - t0) / W) + 1, w, i;
	int nitems = 0, npos = 0, a, p;
	double *sum = calloc(nw * MAXITEMS * MAXPOS, sizeof *sum), *cnt = calloc(nw * MAXITEMS * MAXPOS, sizeof *cnt);
	double val, tot, cur[MAXITEMS][MAXPOS], first[MAXITEMS][MAXPOS];

	if (sum == NULL || cnt == NULL)
		diag_fatal(1, "out of memory");
	for (i = 0; i < n; i++) {
		/* Every window whose span holds the row: its centre within S/2 of the row. */
		for (w = 0; w < nw; w++) {
			mid = t0 + (long long)w * W + W / 2;
			lo = mid - S / 2;
			hi = mid + S / 2;
			if (rows[i].ts < lo || rows[i].ts >= hi)
				continue;
			sum[(w * MAXITEMS + rows[i].item) * MAXPOS + rows[i].pos] += rows[i].prop;
			cnt[(w * MAXITEMS + rows[i].item) * MAXPOS + rows[i].pos]++;
		}
		if (rows[i].item + 1 > nitems)
			nitems = rows[i].item + 1;
		if (rows[i].pos + 1 > npos)
			npos = rows[i].pos + 1;
	}
	for (a = 0; a < nitems; a++)
		for (p = 0; p < npos; p++) {
			first[a][p] = 0;
			for (w = nw; w-- > 0;)
				if (cnt[(w * MAXITEMS + a) * MAXPOS + p] > 0)
					first[a][p] = sum[(w * MAXITEMS + a) * MAXPOS + p] / cnt[(w * MAXITEMS + a) * MAXPOS + p];
			cur[a][p] = first[a][p];
		}
	for (w = 0; w < nw; w++)
		for (p = 0; p < npos; p++) {
			tot = 0;
			for (a = 0; a < nitems; a++) {
				i = (w * MAXITEMS + a) * MAXPOS + p;
				if (cnt[i] > 0)
					cur[a][p] = sum[i] / cnt[i];
				tot += cur[a][p];
			}
			for (a = 0; a < nitems; a++) {
				val = tot > 0 ? cur[a][p] / tot : 1.0 / nitems;
				printf("{\"item_id\":\"%d\",\"pos\":%d,\"prob\":%.12g,\"from\":%lld}\n", a, p, val,
				    w == 0 ? 0LL : t0 + (long long)w * W);
			}
		}
	free(sum);
	free(cnt);
}

int
main(int argc, char *argv[])
{
	const char *name = "obd", *campaign = NULL;
	struct row *rows;
	double hours = 0, span = 0;
	int ch, transitions = 0;
	size_t n;

	diag_init(argv[0]);
	while ((ch = getopt(argc, argv, "n:p:s:tw:")) != -1) {
		switch (ch) {
		case 'n': name = optarg; break;
		case 'p': campaign = optarg; break;
		case 's': span = atof(optarg); break;
		case 't': transitions = 1; break;
		case 'w': hours = atof(optarg); break;
		default:
			fprintf(stderr, "usage: obd-convert [-t] [-n name] [-w hours [-s span]] csv | "
			    "obd-convert -p campaign yaml\n");
			return 2;
		}
	}
	if (optind + 1 != argc)
		diag_fatal(2, "one file expected");
	if (campaign != NULL) {
		write_prior(campaign, argv[optind]);
		return fflush(stdout) != 0 || ferror(stdout);
	}
	if ((rows = malloc(MAXROWS * sizeof *rows)) == NULL)
		diag_fatal(1, "out of memory");
	n = read_csv(argv[optind], rows);
	if (n == 0)
		diag_fatal(1, "%s: no rows", argv[optind]);
	if (hours > 0)
		write_windows(rows, n, hours, span > 0 ? span : hours);
	else
		write_records(rows, n, name, transitions);
	free(rows);
	return fflush(stdout) != 0 || ferror(stdout);
}
