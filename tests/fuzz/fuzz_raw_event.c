/* fuzz_raw_event.c: libFuzzer target — raw event lines through log-collect's validation, normalisation and dedup window. */
/* fuzz-dict: records.dict */
/* fuzz-sources: tools/log-collect/canon.c tools/log-collect/dedup.c */
/* fuzz-cflags: -Itools/log-collect */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collect.h"
#include "dedup.h"
#include "diag.h"
#include "fuzz.h"
#include "xalloc.h"

/* The clock is fixed, so that a run replays. */
#define FUZZ_NOW 1900000000000LL	/* 2030: the test data lies before it */
#define WINDOW 4	/* a small dedup window: its evictions and probe runs get exercised */

static struct collector c;
static char *recent[WINDOW];	/* the naive model of the window: the last ids remembered */
static size_t nrecent, rhead;

/* The canonical event must be JSON, and log-collect given it again must write it unchanged. */
static void
check_event(const char *buf, size_t len, const char *key)
{
	struct collector c2 = { .ingest_ts = -1, .max_future_ms = c.max_future_ms };
	struct line ln = { 0 };
	char user[257];

	fuzz_want_json(buf, len, "a canonical event");
	if (key == NULL || key[0] == '\0')
		abort();	/* the Kafka key is the user_id */
	ln.buf = xmalloc(len + 1);
	memcpy(ln.buf, buf, len);
	ln.buf[len] = '\0';
	ln.len = ln.full_len = len;
	ln.source = "fuzz";
	if (collect_line(&c2, &ln, FUZZ_NOW, user) != COLLECT_EVENT) {
		fprintf(stderr, "canonical event refused (%s): %s\n", c2.err, ln.buf);
		abort();
	}
	if (c2.line.len != len || memcmp(c2.line.p, buf, len) != 0 || strcmp(user, key) != 0) {
		fprintf(stderr, "canonical event not stable:\n%s\n%.*s\n", ln.buf, (int)c2.line.len, c2.line.p);
		abort();
	}
	free(ln.buf);
	collect_free(&c2);
}

/* Whether the naive window holds id; remembers it when not. */
static int
naive_seen(const char *id)
{
	size_t i;

	for (i = 0; i < nrecent; i++)
		if (strcmp(recent[i], id) == 0)
			return 1;
	if (nrecent < WINDOW)
		recent[nrecent++] = xstrdup(id);
	else {
		free(recent[rhead]);
		recent[rhead] = xstrdup(id);
		rhead = (rhead + 1) % WINDOW;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t left = size, i;
	struct line ln;
	int64_t lineno = 0;
	uint64_t events = 0, dups = 0;
	char user[257];

	diag_verbosity = 0;
	c.ingest_ts = size % 2 ? -1 : FUZZ_NOW - 1000;
	c.max_future_ms = 86400000;
	c.dd = dedup_new(WINDOW);
	while (fuzz_next_line(&p, &left, &ln, ++lineno)) {
		enum collect_verdict v;

		ln.too_long = ln.len > 60000;
		v = collect_line(&c, &ln, FUZZ_NOW, user);
		if (v == COLLECT_EVENT)
			check_event(c.line.p, c.line.len, user);
		/* An accepted event: the window must agree with the naive one. */
		if ((v == COLLECT_EVENT || v == COLLECT_DUP) && naive_seen(c.event_id) != (v == COLLECT_DUP)) {
			fprintf(stderr, "dedup window disagrees on %s\n", c.event_id);
			abort();
		}
		events += v == COLLECT_EVENT;
		dups += v == COLLECT_DUP;
		free(ln.buf);
	}
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "%llu events, %llu duplicates\n", (unsigned long long)events,
		    (unsigned long long)dups);
	dedup_free(c.dd);
	for (i = 0; i < nrecent; i++)
		free(recent[i]);
	nrecent = rhead = 0;
	return 0;
}
