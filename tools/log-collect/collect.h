/* collect.h: log-collect's validation and normalisation of one raw event line. */
#ifndef COLLECT_H
#define COLLECT_H
#include <stdint.h>

#include "jbuf.h"
#include "jscan.h"
#include "lineio.h"

#define TS_MIN		946684800000LL	/* 2000-01-01T00:00:00Z */
#define MAX_CONTEXT	256		/* numbers in an impression's context */
#define MAX_ITEMS	1000		/* items of one impression */
#define MAX_FEATURES	1024		/* numbers in an item's features */
#define MAX_PAGE	1000000
#define MAX_POS		1000000
#define MAX_AMOUNT	1e12
#define MAX_FUTURE_MS	(100LL * 366 * 86400000)	/* --max-future beyond a century means a century */

/* The fields a record reader looks for. */
enum field {
	F_NONE = -1, F_EVENT_ID, F_INGEST_TS, F_TYPE, F_TS, F_REQUEST_ID, F_USER_ID, F_SESSION_ID, F_PAGE,
	F_POLICY, F_CONTEXT, F_ITEMS, F_ITEM_ID, F_AMOUNT, F_POS, F_PROPENSITY, F_FEATURES, NFIELDS
};

/* One member of an object read: its key, which field that is (or F_NONE), and its value's text. */
struct member {
	struct jspan key, val;	/* val: a string's bytes between its quotes, else the whole value */
	enum jscan_type type;
	int id;
};

/* The members of one object, in order, and where each known field is among them. */
struct object {
	struct member *m;
	size_t n, cap;
	int at[NFIELDS];	/* index + 1 into m; 0 when absent */
	int outer;		/* containers around a member's value in the line */
};

struct collector {
	struct dedup *dd;
	int64_t ingest_ts;	/* fixed ingest time, or -1 for the wall clock */
	int64_t max_future_ms;	/* how far past the wall clock an event time may lie */
	struct jbuf body, line;
	int type;		/* of the last canonical event: an index of type_names */
	char event_id[257];	/* of the last canonical event */
	char err[512];
	/* The reader's memory, kept from line to line. */
	struct jscan js, sub, val;	/* over the line, its items, one value */
	struct object top, item;
	int too_big;			/* the line holds a number beyond int64 or double */
	char *scratch;			/* a decoded string */
	size_t cap_scratch;
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

/* Frees what c holds (not c). */
void collect_free(struct collector *c);

#endif
