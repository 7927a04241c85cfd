/* test_qscore_hredis.c: q-score's Redis history store without a Redis — its URLs, and a store that cannot be reached degrading, not failing. */
/* test-links: q-score */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "qscore.h"

static void
url(const char *u, int want, const char *host, int port, int db)
{
	char *h = NULL;
	int p = -1, d = -1, r;

	r = qs_hredis_parse(u, &h, &p, &d);
	if (want != 0) {
		CHECK(r == -1, "%s: refused", u);
		return;
	}
	CHECK(r == 0 && strcmp(h, host) == 0 && p == port && d == db, "%s: %s %d %d", u, h ? h : "-", p, d);
	free(h);
}

int
main(void)
{
	struct qs_hstore *hs;
	struct qs_hstore_stats st;
	const char *ids[4];
	char buf[256];

	url("redis://127.0.0.1:6379", 0, "127.0.0.1", 6379, 0);
	url("redis://cache.example:7000/3", 0, "cache.example", 7000, 3);
	url("redis://host:6379/", 0, "host", 6379, 0);
	url("redis://[::1]:6379", 0, "::1", 6379, 0);
	url("redis://host", -1, NULL, 0, 0);
	url("redis://:6379", -1, NULL, 0, 0);
	url("redis://host:0", -1, NULL, 0, 0);
	url("redis://host:70000", -1, NULL, 0, 0);
	url("redis://host:63x", -1, NULL, 0, 0);
	url("redis://host:6379/x", -1, NULL, 0, 0);
	url("http://host:6379", -1, NULL, 0, 0);
	CHECK(qs_hredis_new("memory", 5, 1000, 5000) == NULL, "not a URL: no store");

	/* port 1 of the loopback: refused at once */
	hs = qs_hredis_new("redis://127.0.0.1:1", 5, 1000, 5000);
	CHECK(hs != NULL, "a Redis that is down does not stop the start");
	CHECK(hs->ops->get(hs->st, "u1", buf, sizeof buf, ids, 4) == -1, "a read falls back");
	CHECK(hs->ops->get(hs->st, "u2", buf, sizeof buf, ids, 4) == -1, "and the next");
	hs->ops->stats(hs->st, &st);
	CHECK(st.remote == 1 && st.up == 0 && st.fallbacks == 2, "counted: up %d, fallbacks %ju", st.up,
	    (uintmax_t)st.fallbacks);
	CHECK(hs->ops->click(hs->st, "u1", "r1", "i1") == 0, "a click is queued");
	CHECK(hs->ops->flush(hs->st, 1) == -1, "forced: cannot be written, kept");
	hs->ops->stats(hs->st, &st);
	CHECK(st.writes == 0 && st.write_errors == 1, "the failed write counted: %ju", (uintmax_t)st.write_errors);
	qs_hstore_free(hs);
	return check_done();
}
