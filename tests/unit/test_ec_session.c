/* test_ec_session.c: experience-collect's session store — the open pages of a session come out in (page, ts) order, the later arrival first among equals, with the first two known at every step. */
/* test-links: experience-collect */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ec.h"
#include "session.h"
#include "stats.h"
#include "xalloc.h"

struct ref {
	int64_t page, ts;
	int arrival;
	struct page *p;
};

/* The order the store promises: (page, ts), then the later arrival first. */
static int
ref_cmp(const void *a, const void *b)
{
	const struct ref *x = a, *y = b;

	if (x->page != y->page)
		return x->page < y->page ? -1 : 1;
	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return y->arrival - x->arrival;
}

/* Opens a page of request rid at (page, ts) in s, in the request table as the collector does. */
static struct page *
open_page(struct session *s, const char *rid, int64_t page, int64_t ts)
{
	struct page *p = xcalloc(1, sizeof *p);

	p->s = s;
	p->page = page;
	p->ts = ts;
	p->part = -1;
	p->first_offset = -1;
	p->hash = key_hash(rid, strlen(rid));
	page_add_str(p, rid);
	p->policy_off = UINT32_MAX;
	session_add_page(s, p);
	table_add(&C.requests, p, p->hash, page_next, page_hash);
	(*C.g_pages_open)++;
	return p;
}

int
main(void)
{
	enum { N = 3000 };
	static const char key[] = "u1\0s1";
	struct ref *r = calloc(N, sizeof *r);
	struct stats *st = stats_new("experience-collect", NULL, NULL, 10);
	struct session *s;
	char rid[32];
	uint64_t x = 12345;
	size_t i, bad_first = 0, bad_second = 0, steps;
	int k;

	collector_init(st);
	C.wm_now = WATERMARK_NONE;
	s = session_new(key, sizeof key, 2, key_hash(key, sizeof key), -1);
	CHECK(session_first(s) == NULL && session_second(s) == NULL, "a new session has no open page");

	/* Pages in shuffled order, many sharing (page, ts). */
	for (k = 0; k < N; k++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		r[k].page = (int64_t)((x >> 33) % 50);
		r[k].ts = 1732345678000LL + (int64_t)((x >> 20) % 3) * 1000;
		r[k].arrival = k;
		snprintf(rid, sizeof rid, "r%d", k);
		r[k].p = open_page(s, rid, r[k].page, r[k].ts);
	}
	qsort(r, N, sizeof *r, ref_cmp);
	steps = (size_t)*C.n_page_steps;
	CHECK(steps < (size_t)N * 4 * 12, "placing %d pages took %zu comparisons, O(log n) each", N, steps);

	for (i = 0; i < N; i++) {
		if (session_first(s) != r[i].p)
			bad_first++;
		if (session_second(s) != (i + 1 < N ? r[i + 1].p : NULL))
			bad_second++;
		session_drop_first(s);
	}
	CHECK(bad_first == 0, "the first open page is the least by (page, ts, later first): %zu wrong", bad_first);
	CHECK(bad_second == 0, "the second is the one after it: %zu wrong", bad_second);
	CHECK(s->pages.n == 0 && C.requests.n == 0 && *C.g_pages_open == 0,
	    "dropping a page takes it out of the session, the request table and the gauge");

	open_page(s, "again", 1, 1);
	session_free(s);
	CHECK(C.sessions.n == 0 && C.requests.n == 0 && *C.g_open == 0 && *C.g_pages_open == 0,
	    "freeing a session frees its open pages");
	free(r);
	return check_done();
}
