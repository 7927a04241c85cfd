/* stats.c: counters of a running tool, written as JSON lines (--stats) and as a Prometheus textfile (--metrics). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "stats.h"
#include "xalloc.h"

#define STATS_MAX 64
#ifndef PAGETURN_VERSION
#define PAGETURN_VERSION "0.1"
#endif

struct stat_entry {
	char name[48];
	int gauge;		/* 0: counter, 1: integer gauge, 2: real gauge */
	uint64_t counter;
	int64_t value;
	double real;
	uint64_t last;		/* counter at the previous report, for rates */
};

struct stats {
	char *tool;
	char *path;		/* NULL: none; "-": stderr */
	char *metrics;
	char *member;		/* the metrics file's name without .prom: one a member */
	double interval;
	double start, last;
	struct stat_entry e[STATS_MAX];
	int n;
	int warned;		/* 1: the stats file failed, 2: the metrics file; each said once */
	int primed;		/* the metrics textfile has been written */
};

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct stats *
stats_new(const char *tool, const char *path, const char *metrics, double interval)
{
	struct stats *st = xcalloc(1, sizeof *st);

	st->tool = xstrdup(tool);
	st->path = path ? xstrdup(path) : NULL;
	st->metrics = metrics ? xstrdup(metrics) : NULL;
	if (metrics != NULL) {
		const char *base = strrchr(metrics, '/');
		size_t len;

		st->member = xstrdup(base ? base + 1 : metrics);
		len = strlen(st->member);
		if (len > 5 && strcmp(st->member + len - 5, ".prom") == 0)
			st->member[len - 5] = '\0';
	}
	st->interval = interval > 0 ? interval : 10;
	st->start = st->last = mono();
	stats_counter(st, "in");
	stats_counter(st, "out");
	stats_counter(st, "rejected");
	return st;
}

static struct stat_entry *
entry(struct stats *st, const char *name, int gauge)
{
	int i;

	for (i = 0; i < st->n; i++)
		if (strcmp(st->e[i].name, name) == 0)
			return &st->e[i];
	if (st->n == STATS_MAX)
		diag_fatal(1, "stats: more than %d counters (adding %s)", STATS_MAX, name);
	snprintf(st->e[st->n].name, sizeof st->e[st->n].name, "%s", name);
	st->e[st->n].gauge = gauge;
	st->e[st->n].real = NAN;
	return &st->e[st->n++];
}

uint64_t *
stats_counter(struct stats *st, const char *name)
{
	return &entry(st, name, 0)->counter;
}

int64_t *
stats_gauge(struct stats *st, const char *name)
{
	return &entry(st, name, 1)->value;
}

double *
stats_real(struct stats *st, const char *name)
{
	return &entry(st, name, 2)->real;
}

/* An entry's value as text in buf (or unset, for a real gauge not yet set): the same in both sinks. */
static const char *
value_text(const struct stat_entry *e, char *buf, size_t len, const char *unset)
{
	if (e->gauge == 2 && !isfinite(e->real))
		return unset;
	if (e->gauge == 2)
		snprintf(buf, len, "%.6g", e->real);
	else if (e->gauge)
		snprintf(buf, len, "%lld", (long long)e->value);
	else
		snprintf(buf, len, "%llu", (unsigned long long)e->counter);
	return buf;
}

static void
write_json(struct stats *st, double now)
{
	double dt = now - st->last;
	char buf[32];
	FILE *fp;
	int i;

	if (st->path == NULL)
		return;
	fp = strcmp(st->path, "-") == 0 ? stderr : fopen(st->path, "a");
	if (fp == NULL) {
		if (!(st->warned & 1) && (st->warned |= 1))
			diag_warn("%s: cannot write the stats:", st->path);
		return;
	}
	fprintf(fp, "{\"tool\":\"%s\",\"ts\":%lld,\"uptime_s\":%.3f", st->tool,
	    (long long)time(NULL) * 1000, now - st->start);
	for (i = 0; i < st->n; i++)
		fprintf(fp, ",\"%s\":%s", st->e[i].name, value_text(&st->e[i], buf, sizeof buf, "null"));
	for (i = 0; i < st->n; i++)
		if (!st->e[i].gauge && dt > 0)
			fprintf(fp, ",\"%s_per_s\":%.1f", st->e[i].name,
			    (double)(st->e[i].counter - st->e[i].last) / dt);
	fputs("}\n", fp);
	if (fp == stderr)
		fflush(fp);
	else if (fclose(fp) != 0 && !(st->warned & 1) && (st->warned |= 1))
		diag_warn("%s:", st->path);
}

/* What a metric counts, for its HELP line: the same text from every member, as node_exporter wants. */
static const char *
metric_help(const char *name)
{
	static const char *const help[][2] = {
		{ "in", "Lines (records) read." },
		{ "out", "Records written to the output." },
		{ "rejected", "Lines rejected, each with its reason, to the dead letters." },
		{ "lag", "Records of the Kafka input not yet read (-1: not known)." },
		{ "errors", "Runtime errors met and survived." },
		{ "late", "Records that came after their window had closed." },
		{ "duplicates", "Records dropped as duplicates." },
		{ "published", "Model versions published." },
		{ "model_version", "The model version in use." },
	};
	size_t i;

	for (i = 0; i < sizeof help / sizeof help[0]; i++)
		if (strcmp(help[i][0], name) == 0)
			return help[i][1];
	return NULL;
}

/*
 * Writes one family: HELP, TYPE and its sample, labelled by tool and member so
 * that the textfiles of several members in one directory hold no series twice.
 * A counter's name ends in _total; lag is counted in records.
 */
static void
write_family(FILE *fp, const struct stats *st, const struct stat_entry *e, const char *v)
{
	const char *help = metric_help(e->name);
	char name[80];

	if (!e->gauge)
		snprintf(name, sizeof name, "pageturn_%s_total", e->name);
	else if (strcmp(e->name, "lag") == 0)
		snprintf(name, sizeof name, "pageturn_lag_records");
	else
		snprintf(name, sizeof name, "pageturn_%s", e->name);
	if (help != NULL)
		fprintf(fp, "# HELP %s %s\n", name, help);
	else
		fprintf(fp, "# HELP %s The %s figure of --stats.\n", name, e->name);
	fprintf(fp, "# TYPE %s %s\n%s{tool=\"%s\",member=\"%s\"} %s\n", name,
	    e->gauge ? "gauge" : "counter", name, st->tool, st->member, v);
}

/* Rewrites the Prometheus textfile atomically: a temporary file in the same directory, then rename. */
static void
write_metrics(struct stats *st, double now)
{
	char *tmp, buf[32];
	FILE *fp;
	int i, bad;

	if (st->metrics == NULL)
		return;
	tmp = xasprintf("%s.%ld.tmp", st->metrics, (long)getpid());
	if ((fp = fopen(tmp, "w")) == NULL) {
		if (!(st->warned & 2) && (st->warned |= 2))
			diag_warn("%s: cannot write the metrics (%s):", st->metrics, tmp);
		free(tmp);
		return;
	}
	fprintf(fp, "# HELP pageturn_build_info The version of the tool writing these metrics (always 1).\n"
	    "# TYPE pageturn_build_info gauge\n"
	    "pageturn_build_info{tool=\"%s\",member=\"%s\",version=\"%s\"} 1\n",
	    st->tool, st->member, PAGETURN_VERSION);
	fprintf(fp, "# HELP pageturn_uptime_seconds Seconds since the tool started.\n"
	    "# TYPE pageturn_uptime_seconds gauge\n"
	    "pageturn_uptime_seconds{tool=\"%s\",member=\"%s\"} %.3f\n",
	    st->tool, st->member, now - st->start);
	for (i = 0; i < st->n; i++)
		write_family(fp, st, &st->e[i], value_text(&st->e[i], buf, sizeof buf, "NaN"));
	bad = ferror(fp);
	if (fclose(fp) != 0 || bad || rename(tmp, st->metrics) != 0) {
		if (!(st->warned & 2) && (st->warned |= 2))
			diag_warn("%s:", st->metrics);
		unlink(tmp);
	}
	free(tmp);
}

void
stats_report(struct stats *st)
{
	double now = mono();
	int i;

	write_json(st, now);
	write_metrics(st, now);
	for (i = 0; i < st->n; i++)
		st->e[i].last = st->e[i].counter;
	st->last = now;
}

void
stats_tick(struct stats *st)
{
	if (st->path == NULL && st->metrics == NULL)
		return;
	/* The textfile is there from the first tick, so that a scraper sees
	 * the tool from its start rather than one interval on; the JSON lines
	 * stay one an interval. */
	if (!st->primed) {
		st->primed = 1;
		write_metrics(st, mono());
	}
	if (mono() - st->last >= st->interval)
		stats_report(st);
}

void
stats_free(struct stats *st)
{
	if (st == NULL)
		return;
	free(st->tool);
	free(st->path);
	free(st->metrics);
	free(st->member);
	free(st);
}
