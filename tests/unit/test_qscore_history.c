/* test_qscore_history.c: q-score's user histories — order, one entry per item of a page, length bound, LRU eviction. */
/* test-links: q-score */
#include <string.h>

#include "check.h"
#include "qscore.h"

static size_t
get(struct qs_history *h, const char *user, const char **ids, size_t max)
{
	static char buf[4096];

	return qs_history_get(h, user, buf, sizeof buf, ids, max);
}

int
main(void)
{
	struct qs_history *h = qs_history_new(16 * 2, 3);	/* 2 users a shard */
	const char *ids[8];
	char name[32];
	size_t n, i, held;

	CHECK(get(h, "nobody", ids, 8) == 0, "unknown user: empty");
	CHECK(qs_history_click(h, "u1", "r1", "a") == 1, "first click added");
	CHECK(qs_history_click(h, "u1", "r1", "b") == 1, "second item added");
	CHECK(qs_history_click(h, "u1", "r1", "a") == 0, "same item, same page: nothing");
	CHECK(qs_history_click(h, "u1", "r2", "a") == 1, "same item, next page: added");
	n = get(h, "u1", ids, 8);
	CHECK(n == 3 && strcmp(ids[0], "a") == 0 && strcmp(ids[1], "b") == 0 && strcmp(ids[2], "a") == 0,
	    "oldest first: got %zu", n);
	qs_history_click(h, "u1", "r3", "c");
	n = get(h, "u1", ids, 8);
	CHECK(n == 3 && strcmp(ids[0], "b") == 0 && strcmp(ids[2], "c") == 0, "only the last 3 kept");
	n = get(h, "u1", ids, 2);
	CHECK(n == 2 && strcmp(ids[0], "a") == 0 && strcmp(ids[1], "c") == 0, "max takes the newest");

	/* fill far past the capacity: evictions counted, the store stays bounded */
	for (i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "user%zu", i);
		qs_history_click(h, name, "r", "x");
		get(h, "u1", ids, 8);	/* u1 stays recently used */
	}
	held = qs_history_users(h);
	CHECK(held <= 32, "bounded: %zu users held", held);
	CHECK(qs_history_evictions(h) == 1001 - held, "evictions %ju, held %zu", (uintmax_t)qs_history_evictions(h), held);
	CHECK(get(h, "u1", ids, 8) == 3, "a recently used user survives");
	CHECK(get(h, "user0", ids, 8) == 0, "the least recently used is gone");
	CHECK(get(h, "user999", ids, 8) == 1, "the newest is there");

	/* sessions: clicks before the first impression are adopted; a new session starts afresh */
	CHECK(qs_history_session(h, "u1", "s1") == 0 && get(h, "u1", ids, 8) == 3, "the first session keeps earlier clicks");
	CHECK(qs_history_session(h, "u1", "s1") == 0 && get(h, "u1", ids, 8) == 3, "the same session keeps them");
	CHECK(qs_history_session(h, "u1", "s2") == 1 && get(h, "u1", ids, 8) == 0, "a new session drops them");
	qs_history_click(h, "u1", "r9", "z");
	CHECK(get(h, "u1", ids, 8) == 1 && strcmp(ids[0], "z") == 0, "and records its own");
	CHECK(qs_history_session(h, "fresh", "s1") == 0 && get(h, "fresh", ids, 8) == 0, "an impression of a new user");
	qs_history_free(h);
	return check_done();
}
