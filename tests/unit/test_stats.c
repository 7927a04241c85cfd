/* test_stats.c: unit tests of the stats sinks (common/stats.c): the null sink counts and writes nothing. */
#include <string.h>

#include "check.h"
#include "stats.h"

int
main(void)
{
	struct stats *st = stats_null(), *st2 = stats_null();
	uint64_t *a, *b;
	int64_t *g;
	double *r;

	CHECK(st != NULL, "stats_null() never NULL");
	a = stats_counter(st, "impressions");
	(*a)++;
	(*a)++;
	b = stats_counter(st, "impressions");
	CHECK(a == b && *b == 2, "one slot a name: %llu", (unsigned long long)*b);
	g = stats_gauge(st, "open");
	*g = -5;
	CHECK(*stats_gauge(st, "open") == -5, "gauge kept: %lld", (long long)*g);
	r = stats_real(st, "loss");
	CHECK(r != NULL && *r != *r, "real gauge unset (NaN)");
	CHECK(*stats_counter(st2, "impressions") == 0, "two null sinks share nothing");
	stats_tick(st);
	stats_report(st);
	stats_free(st);
	stats_free(st2);
	stats_free(NULL);
	return check_done();
}
