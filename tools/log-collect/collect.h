/* collect.h: log-collect's validation and normalisation of one raw event line. */
#ifndef COLLECT_H
#define COLLECT_H
#include <stdint.h>

#include "jbuf.h"
#include "lineio.h"

#define TS_MIN		946684800000LL	/* 2000-01-01T00:00:00Z */
#define MAX_CONTEXT	256		/* numbers in an impression's context */
#define MAX_ITEMS	1000		/* items of one impression */
#define MAX_FEATURES	1024		/* numbers in an item's features */
#define MAX_PAGE	1000000
#define MAX_POS		1000000
#define MAX_AMOUNT	1e12
#define MAX_FUTURE_MS	(100LL * 366 * 86400000)	/* --max-future beyond a century means a century */

struct collector {
	struct dedup *dd;
	int64_t ingest_ts;	/* fixed ingest time, or -1 for the wall clock */
	int64_t max_future_ms;	/* how far past the wall clock an event time may lie */
	struct jbuf body, line;
	int type;		/* of the last canonical event: an index of type_names */
	char event_id[257];	/* of the last canonical event */
	char err[512];
};

enum collect_verdict {
	COLLECT_EVENT,		/* c->line holds the canonical event, user its Kafka key */
	COLLECT_REJECT,		/* c->err says why */
	COLLECT_DUP,		/* the event c->event_id was seen in the dedup window */
	COLLECT_BLANK		/* nothing but white space */
};

/*
 * Validates ln (read at wall-clock time now, ms) and normalises it into its
 * canonical event, or says why not. The event's id is remembered in c->dd
 * (when not NULL).
 */
enum collect_verdict collect_line(struct collector *c, const struct line *ln, int64_t now, char user[257]);

#endif
