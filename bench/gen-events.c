/* gen-events: writes a deterministic stream of raw events (impressions with clicks and pays) for benchmarks and tests. */
#include <getopt.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "rng.h"
#include "toolio.h"

#define BASE_TS 1732345678000LL	/* 2024-11-23T07:07:58Z */

struct gen {
	uint64_t rng;
	long users, items, nitems, nfeatures, ncontext;
	double click_rate, pay_rate, dirty;
};

static void
usage(void)
{
	fprintf(stderr, "usage: gen-events [-n impressions] [-s seed] [--items-per-page N] [--features N]\n"
	    "                  [--context N] [--users N] [--catalogue N] [--click-rate P] [--pay-rate P]\n"
	    "                  [--dirty P]\n");
	exit(2);
}

/* splitmix64: a small, fast generator whose sequence depends on the seed only. */
static uint64_t
gen_next(struct gen *g)
{
	return rng_splitmix64(&g->rng);
}

/* A uniform number in [0, 1). */
static double
gen_unif(struct gen *g)
{
	return rng_unit(gen_next(g));
}

static long
gen_below(struct gen *g, long n)
{
	return (long)(gen_next(g) % (uint64_t)n);
}

/* Prints a timestamp either as ms or, for dirty lines, as RFC 3339. */
static void
put_ts(FILE *f, struct gen *g, int64_t ts, int dirty)
{
	if (dirty && gen_unif(g) < 0.5) {
		time_t s = (time_t)(ts / 1000);
		struct tm tm;
		char b[40];

		gmtime_r(&s, &tm);
		strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(f, "\"ts\":\"%s.%03dZ\"", b, (int)(ts % 1000));
	} else
		fprintf(f, "\"ts\":%" PRId64, ts);
}

/* Prints an id, as an integer on some dirty lines. */
static void
put_id(FILE *f, const char *key, char prefix, long n, int dirty)
{
	if (dirty)
		fprintf(f, "\"%s\":%ld", key, n);
	else
		fprintf(f, "\"%s\":\"%c%ld\"", key, prefix, n);
}

/*
 * Writes impression n (request r<n>, page of a session of user) and the
 * clicks and pays that follow it.
 * A dirty impression mixes in integer ids and RFC 3339 times, and may be
 * followed by a duplicate of itself or by a malformed line.
 */
static void
gen_impression(struct gen *g, long n, long user, long session, long page, int64_t *ts)
{
	long clicked[64], nclicked = 0;
	int dirty = g->dirty > 0 && gen_unif(g) < g->dirty;
	char *line = NULL;
	size_t linelen = 0;
	FILE *f = stdout;

	/* A dirty line is built in memory first, to be able to repeat or cut it. */
	if (dirty && (f = open_memstream(&line, &linelen)) == NULL)
		diag_fatal(1, "open_memstream:");
	fprintf(f, "{\"type\":\"impression\",");
	put_ts(f, g, *ts, dirty);
	fprintf(f, ",\"request_id\":\"r%ld\",", n);
	put_id(f, "user_id", 'u', user, dirty);
	fprintf(f, ",\"session_id\":\"s%ld\",\"page\":%ld,\"context\":[", session, page);
	for (long c = 0; c < g->ncontext; c++)
		fprintf(f, "%s%.3f", c ? "," : "", gen_unif(g));
	fprintf(f, "],\"policy\":\"v17\",\"items\":[");
	for (long i = 0; i < g->nitems; i++) {
		long item = gen_below(g, g->items);

		fprintf(f, "%s{\"item_id\":\"i%ld\",\"pos\":%ld,\"propensity\":%.6f,\"features\":[",
		    i ? "," : "", item, i, 0.05 + 0.9 * gen_unif(g));
		for (long k = 0; k < g->nfeatures; k++)
			fprintf(f, "%s%.4f", k ? "," : "", gen_unif(g) * 10.0 - 2.0);
		fprintf(f, "]}");
		if (gen_unif(g) < g->click_rate / (1.0 + 0.3 * (double)i) && nclicked < 64)
			clicked[nclicked++] = item;
	}
	fprintf(f, "]}\n");
	if (dirty) {
		double u = gen_unif(g);

		if (fclose(f) != 0)
			diag_fatal(1, "open_memstream:");
		fwrite(line, 1, linelen, stdout);
		if (u < 0.3)
			fwrite(line, 1, linelen, stdout);
		else if (u < 0.5) {
			fwrite(line, 1, linelen / 2, stdout);
			putchar('\n');
		}
		free(line);
	}
	for (long c = 0; c < nclicked; c++) {
		*ts += 1 + gen_below(g, 3000);
		printf("{\"type\":\"click\",\"ts\":%" PRId64 ",\"request_id\":\"r%ld\",", *ts, n);
		put_id(stdout, "user_id", 'u', user, 0);
		printf(",\"session_id\":\"s%ld\",\"item_id\":\"i%ld\"}\n", session, clicked[c]);
		if (gen_unif(g) < g->pay_rate) {
			*ts += 1 + gen_below(g, 30000);
			printf("{\"type\":\"pay\",\"ts\":%" PRId64 ",\"request_id\":\"r%ld\",", *ts, n);
			put_id(stdout, "user_id", 'u', user, 0);
			printf(",\"item_id\":\"i%ld\",\"amount\":%.2f}\n", clicked[c],
			    5.0 + 60.0 * gen_unif(g));
		}
	}
	*ts += 20 + gen_below(g, 200);
}

int
main(int argc, char *argv[])
{
	enum { OPT_ITEMS = 0x200, OPT_FEATURES, OPT_CONTEXT, OPT_USERS, OPT_CATALOGUE,
	    OPT_CLICK, OPT_PAY, OPT_DIRTY };
	static const struct option longopts[] = {
		{ "count",          required_argument, NULL, 'n' },
		{ "seed",           required_argument, NULL, 's' },
		{ "items-per-page", required_argument, NULL, OPT_ITEMS },
		{ "features",       required_argument, NULL, OPT_FEATURES },
		{ "context",        required_argument, NULL, OPT_CONTEXT },
		{ "users",          required_argument, NULL, OPT_USERS },
		{ "catalogue",      required_argument, NULL, OPT_CATALOGUE },
		{ "click-rate",     required_argument, NULL, OPT_CLICK },
		{ "pay-rate",       required_argument, NULL, OPT_PAY },
		{ "dirty",          required_argument, NULL, OPT_DIRTY },
		{ "help",           no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct gen g = { .users = 1000, .items = 5000, .nitems = 10, .nfeatures = 5,
	    .ncontext = 4, .click_rate = 0.12, .pay_rate = 0.2 };
	long count = 1000, seed = 1;
	int64_t ts = BASE_TS;
	int ch, bad = 0;

	diag_init(argv[0]);
	while ((ch = getopt_long(argc, argv, "hn:s:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n': bad |= parse_long(optarg, 0, 1000000000L, &count); break;
		case 's': bad |= parse_long(optarg, 0, 0x7fffffffL, &seed); break;
		case OPT_ITEMS: bad |= parse_long(optarg, 1, 64, &g.nitems); break;
		case OPT_FEATURES: bad |= parse_long(optarg, 0, 1024, &g.nfeatures); break;
		case OPT_CONTEXT: bad |= parse_long(optarg, 0, 256, &g.ncontext); break;
		case OPT_USERS: bad |= parse_long(optarg, 1, 100000000L, &g.users); break;
		case OPT_CATALOGUE: bad |= parse_long(optarg, 1, 100000000L, &g.items); break;
		case OPT_CLICK: bad |= parse_double(optarg, 0, 1, &g.click_rate); break;
		case OPT_PAY: bad |= parse_double(optarg, 0, 1, &g.pay_rate); break;
		case OPT_DIRTY: bad |= parse_double(optarg, 0, 1, &g.dirty); break;
		default: usage();
		}
		if (bad) {
			diag_warn("invalid argument: %s", optarg);
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage();
	g.rng = (uint64_t)seed * 0x2545f4914f6cdd1dULL;
	/* Sessions of 1 to 7 pages, each of a random user. */
	for (long n = 0, session = 0; n < count; session++) {
		long user = gen_below(&g, g.users), pages = 1 + gen_below(&g, 7);

		for (long page = 0; page < pages && n < count; page++, n++)
			gen_impression(&g, n, user, session, page, &ts);
	}
	if (fclose(stdout) != 0)
		diag_fatal(1, "stdout:");
	return 0;
}
