/* fuzz_raw_event.c: libFuzzer target — raw event lines through log-collect's validation, normalisation and dedup window. */
/* fuzz-dict: records.dict */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "fuzz.h"
#include "jsonx.h"
#include "toolio.h"

/*
 * log-collect's static functions, with its writes caught here: what it emits
 * is checked, what it rejects is counted. The clock is fixed, so that a run
 * replays.
 */
#define FUZZ_NOW 1900000000000LL	/* 2030: the test data lies before it */
static int fuzz_emit_raw(struct tool_io *io, const char *key, const char *buf, size_t len);
static int64_t fuzz_now_ms(void) { return FUZZ_NOW; }
#define main log_collect_main
#define tool_io_emit_raw fuzz_emit_raw
#define tool_io_reject fuzz_reject
#define now_ms fuzz_now_ms
#include "../../tools/log-collect.c"
#undef tool_io_emit_raw
#undef tool_io_reject
#undef now_ms

#define WINDOW 4	/* a small dedup window: its evictions and probe runs get exercised */

static struct collector c;
static uint64_t n_dup, n_blank, n_type[3];
static char *recent[WINDOW];	/* the naive model of the window: the last ids remembered */
static size_t nrecent, rhead;
static int checking;

/* The canonical event must be JSON, and log-collect given it again must write it unchanged. */
static int
fuzz_emit_raw(struct tool_io *io, const char *key, const char *buf, size_t len)
{
	struct collector c2 = { .ingest_ts = -1, .max_future_ms = c.max_future_ms };
	char user[257], *copy;
	json_t *ev;

	(void)io;
	fuzz_want_json(buf, len, "a canonical event");
	if (key == NULL || key[0] == '\0')
		abort();	/* the Kafka key is the user_id */
	if (checking)
		return 0;
	copy = xmalloc(len + 1);
	memcpy(copy, buf, len);
	copy[len] = '\0';
	if ((ev = jsonx_parse(copy, len, c2.err, sizeof c2.err)) == NULL)
		abort();
	checking = 1;
	if (canon_event(&c2, ev, FUZZ_NOW, user) != 0) {
		fprintf(stderr, "canonical event refused (%s): %s\n", c2.err, copy);
		abort();
	}
	if (c2.line.len != len || memcmp(c2.line.p, copy, len) != 0 || strcmp(user, key) != 0) {
		fprintf(stderr, "canonical event not stable:\n%s\n%.*s\n", copy, (int)c2.line.len, c2.line.p);
		abort();
	}
	checking = 0;
	json_decref(ev);
	free(copy);
	free(c2.body.p);
	free(c2.line.p);
	return 0;
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

	diag_verbosity = 0;
	c.ingest_ts = size % 2 ? -1 : FUZZ_NOW - 1000;
	c.max_future_ms = 86400000;
	c.n_dup = &n_dup;
	c.n_blank = &n_blank;
	for (i = 0; i < 3; i++)
		c.n_type[i] = &n_type[i];
	c.dd = dedup_new(WINDOW);
	while (fuzz_next_line(&p, &left, &ln, ++lineno)) {
		uint64_t dups = n_dup, emitted = n_type[0] + n_type[1] + n_type[2];

		ln.too_long = ln.len > 60000;
		collect_line(&c, &ln);
		if (n_dup != dups || n_type[0] + n_type[1] + n_type[2] != emitted) {
			/* An accepted event: the window must agree with the naive one. */
			if (naive_seen(c.event_id) != (n_dup != dups)) {
				fprintf(stderr, "dedup window disagrees on %s\n", c.event_id);
				abort();
			}
		}
		free(ln.buf);
	}
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "%llu events, %llu duplicates so far\n",
		    (unsigned long long)(n_type[0] + n_type[1] + n_type[2]), (unsigned long long)n_dup);
	dedup_free(c.dd);
	for (i = 0; i < nrecent; i++)
		free(recent[i]);
	nrecent = rhead = 0;
	return 0;
}
