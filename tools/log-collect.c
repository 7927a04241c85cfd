/* log-collect: raw events in, canonical events out — validates, normalises, deduplicates, dead-letters the rest. */
#include <float.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "diag.h"
#include "hash.h"
#include "jbuf.h"
#include "jsonx.h"
#include "toolio.h"
#include "xalloc.h"

#define TS_MIN		946684800000LL	/* 2000-01-01T00:00:00Z */
#define MAX_CONTEXT	256		/* numbers in an impression's context */
#define MAX_ITEMS	1000		/* items of one impression */
#define MAX_FEATURES	1024		/* numbers in an item's features */
#define MAX_PAGE	1000000
#define MAX_POS		1000000
#define MAX_AMOUNT	1e12
#define DEDUP_DEFAULT	262144
#define MAX_FUTURE_MS	(100LL * 366 * 86400000)	/* --max-future beyond a century means a century */

/*
 * The set of the last n event ids seen: a ring of 16-byte id hashes in
 * arrival order (the oldest is evicted first) and an open-addressing table of
 * ring indices (linear probing, backward-shift deletion).
 */
struct dedup {
	unsigned char (*ring)[16];
	uint32_t *slot;		/* ring index + 1; 0 marks an empty slot */
	size_t n, head, count, mask;
};

struct collector {
	struct tool_io *io;
	struct dedup *dd;
	int64_t ingest_ts;	/* fixed ingest time, or -1 for the wall clock */
	int64_t max_future_ms;	/* how far past the wall clock an event time may lie */
	uint64_t *n_dup, *n_blank, *n_type[3];
	struct jbuf body, line;
	int type;		/* of the last canonical event: an index of type_names */
	char event_id[257];	/* of the last canonical event */
	char err[512];
};

static const char *const type_names[3] = { "impression", "click", "pay" };

/*
 * An arena for the JSON tree of one line: jansson's allocations while a line
 * is parsed come from a few large chunks, its frees of them cost nothing, and
 * the whole tree goes at once when the next line starts. Blocks allocated
 * outside a parse (by the rest of the program) are plain malloc blocks, and
 * freeing them still works: arena_free() tells the two apart by address.
 */
struct arena_chunk {
	struct arena_chunk *next;
	size_t size, used;
	max_align_t data[];
};

static struct {
	struct arena_chunk *head;	/* the chunk being filled; the oldest is last */
	int on;				/* nonzero while a line is parsed */
} arena;

#define ARENA_CHUNK (256 * 1024)
/* jansson's structures hold pointers, sizes, 64-bit integers and doubles: 8-byte alignment suffices. */
#define ARENA_ALIGN 8
/* Under AddressSanitizer every block stays a malloc block of its own, to be checked. */
#ifdef __SANITIZE_ADDRESS__
#define ARENA_USED 0
#else
#define ARENA_USED 1
#endif

static void *
arena_malloc(size_t n)
{
	struct arena_chunk *c = arena.head;
	void *p;

	if (!arena.on)
		return malloc(n);
	n = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	if (c == NULL || c->size - c->used < n) {
		/* Each new chunk twice the last, so that a huge line needs few chunks. */
		size_t size = c == NULL ? ARENA_CHUNK : 2 * c->size;

		if (size < n)
			size = n;

		if ((c = malloc(sizeof *c + size)) == NULL)
			return NULL;
		c->size = size;
		c->used = 0;
		c->next = arena.head;
		arena.head = c;
	}
	p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void
arena_free(void *p)
{
	for (struct arena_chunk *c = arena.head; c != NULL; c = c->next)
		if ((char *)p >= (char *)c->data && (char *)p < (char *)c->data + c->size)
			return;
	free(p);
}

/* Forgets every block of the arena, keeping its first chunk for the next line. */
static void
arena_reset(void)
{
	while (arena.head != NULL && arena.head->next != NULL) {
		struct arena_chunk *c = arena.head;

		arena.head = c->next;
		free(c);
	}
	if (arena.head != NULL)
		arena.head->used = 0;
}

/* Frees the arena itself (after every tree from it is gone). */
static void
arena_free_all(void)
{
	arena_reset();
	free(arena.head);
	arena.head = NULL;
}

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: log-collect [-hqVv] [-b brokers] [-G group] [-i input]... [-o output]\n"
	    "                   [-X key=value]... [--dead-letter endpoint] [--dedup-window events]\n"
	    "                   [--ingest-ts now|ms] [--max-future duration] [--max-line bytes]\n"
	    "                   [--stats file] [--stats-interval seconds] [--metrics file]\n"
	    "                   [--commit-interval seconds] [--commit-records n]\n"
	    "                   [--transactional-id id] [--strict]\n");
	exit(status);
}

/* A dedup window of n ids (n > 0). */
static struct dedup *
dedup_new(size_t n)
{
	struct dedup *d = xcalloc(1, sizeof *d);
	size_t cap = 16;

	while (cap < n + n / 2)
		cap *= 2;
	d->n = n;
	d->mask = cap - 1;
	d->ring = xcalloc(n, sizeof *d->ring);
	d->slot = xcalloc(cap, sizeof *d->slot);
	return d;
}

/* Forgets every id (the records since the last commit are read again after an aborted transaction). */
static void
dedup_forget(void *arg)
{
	struct dedup *d = arg;

	memset(d->slot, 0, (d->mask + 1) * sizeof *d->slot);
	d->head = d->count = 0;
}

static void
dedup_free(struct dedup *d)
{
	if (d == NULL)
		return;
	free(d->ring);
	free(d->slot);
	free(d);
}

static size_t
dedup_home(const struct dedup *d, const unsigned char *key)
{
	uint64_t h;

	memcpy(&h, key, sizeof h);
	return (size_t)h & d->mask;
}

/* Removes the table entry at slot i, shifting later entries of its probe run back. */
static void
dedup_unslot(struct dedup *d, size_t i)
{
	size_t j = i;

	for (;;) {
		j = (j + 1) & d->mask;
		if (d->slot[j] == 0)
			break;
		size_t k = dedup_home(d, d->ring[d->slot[j] - 1]);
		/* The entry at j may move to i unless its home lies cyclically in (i, j]. */
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		d->slot[i] = d->slot[j];
		i = j;
	}
	d->slot[i] = 0;
}

/*
 * Returns 1 when the id was seen among the last n ids; otherwise remembers it
 * (forgetting the oldest when the window is full) and returns 0.
 */
static int
dedup_seen(struct dedup *d, const char *id, size_t len)
{
	unsigned char key[16];
	uint64_t h[2] = { hash64(id, len, 0x6c6f67636f6c6c31ULL), hash64(id, len, 0x6465647570696473ULL) };
	size_t i;

	memcpy(key, h, sizeof key);
	for (i = dedup_home(d, key); d->slot[i] != 0; i = (i + 1) & d->mask)
		if (memcmp(d->ring[d->slot[i] - 1], key, sizeof key) == 0)
			return 1;
	if (d->count == d->n) {
		size_t j;

		for (j = dedup_home(d, d->ring[d->head]); d->slot[j] != d->head + 1; j = (j + 1) & d->mask)
			;
		dedup_unslot(d, j);
		d->count--;
		/* The deletion may have shifted the empty slot found above. */
		for (i = dedup_home(d, key); d->slot[i] != 0; i = (i + 1) & d->mask)
			;
	}
	memcpy(d->ring[d->head], key, sizeof key);
	d->slot[i] = (uint32_t)(d->head + 1);
	d->head = (d->head + 1) % d->n;
	d->count++;
	return 0;
}

/* 1 when obj has no field key. A null value is present (and then rejected as mistyped). */
static int
absent(const json_t *obj, const char *key)
{
	return json_object_get(obj, key) == NULL;
}

/*
 * Appends ,"key":[…] for an array of at most maxn numbers that fit a
 * single-precision float. -1 with a reason in c->err.
 */
static int
put_numbers(struct collector *c, struct jbuf *b, const json_t *obj, const char *key, size_t maxn,
    const char *where)
{
	const json_t *a = json_object_get(obj, key);
	const json_t *x;
	size_t i;

	jbuf_put(b, ",", 1);
	jbuf_key(b, key);
	if (a == NULL) {
		jbuf_lit(b, "[]");
		return 0;
	}
	if (!json_is_array(a)) {
		snprintf(c->err, sizeof c->err, "%sfield '%s': expected an array of numbers", where, key);
		return -1;
	}
	if (json_array_size(a) > maxn) {
		snprintf(c->err, sizeof c->err, "%sfield '%s': more than %zu numbers", where, key, maxn);
		return -1;
	}
	jbuf_put(b, "[", 1);
	json_array_foreach(a, i, x) {
		double v;

		if (!json_is_number(x)) {
			snprintf(c->err, sizeof c->err, "%sfield '%s'[%zu]: expected a number", where, key, i);
			return -1;
		}
		v = json_number_value(x);
		if (!isfinite(v) || fabs(v) > FLT_MAX) {
			snprintf(c->err, sizeof c->err, "%sfield '%s'[%zu]: not a finite single-precision number",
			    where, key, i);
			return -1;
		}
		if (i > 0)
			jbuf_put(b, ",", 1);
		jbuf_num7(b, v);
	}
	jbuf_put(b, "]", 1);
	return 0;
}

/* Reads an id (a string, or an integer made a string) into id. -1 with a reason in c->err. */
static int
get_id(struct collector *c, const json_t *obj, const char *key, const char *where, char id[257])
{
	char e[256];

	if (jsonx_get_id(obj, key, id, e, sizeof e) == -1) {
		snprintf(c->err, sizeof c->err, "%s%s", where, e);
		return -1;
	}
	return 0;
}

/* Appends ,"key":"id" for a required id. -1 with a reason in c->err. */
static int
put_id(struct collector *c, struct jbuf *b, const json_t *obj, const char *key, char id[257])
{
	if (get_id(c, obj, key, "", id) == -1)
		return -1;
	jbuf_put(b, ",", 1);
	jbuf_key(b, key);
	jbuf_str(b, id, strlen(id));
	return 0;
}

/* Appends ,"key":value for every field of obj not named in known (a NULL-terminated list). */
static void
put_extras(struct jbuf *b, const json_t *obj, const char *const *known)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		const char *const *k;

		for (k = known; *k != NULL && strcmp(*k, key) != 0; k++)
			;
		if (*k != NULL)
			continue;
		jbuf_put(b, ",", 1);
		jbuf_key(b, key);
		jbuf_json(b, v);
	}
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Appends ,"items":[…] of an impression. -1 with a reason in c->err. */
static int
put_items(struct collector *c, struct jbuf *b, const json_t *ev)
{
	static const char *const known[] = { "item_id", "pos", "propensity", "features", NULL };
	const json_t *items = json_object_get(ev, "items"), *it;
	int64_t pos[MAX_ITEMS];
	char id[257], e[256], where[32];
	size_t i, n;

	if (!json_is_array(items) || (n = json_array_size(items)) == 0) {
		snprintf(c->err, sizeof c->err, "field 'items': %s",
		    items == NULL ? "missing" : "expected a non-empty array of objects");
		return -1;
	}
	if (n > MAX_ITEMS) {
		snprintf(c->err, sizeof c->err, "field 'items': more than %d items", MAX_ITEMS);
		return -1;
	}
	jbuf_lit(b, ",\"items\":[");
	json_array_foreach(items, i, it) {
		snprintf(where, sizeof where, "items[%zu]: ", i);
		if (!json_is_object(it)) {
			snprintf(c->err, sizeof c->err, "%sexpected an object", where);
			return -1;
		}
		if (get_id(c, it, "item_id", where, id) == -1)
			return -1;
		if (i > 0)
			jbuf_put(b, ",", 1);
		jbuf_lit(b, "{\"item_id\":");
		jbuf_str(b, id, strlen(id));
		if (jsonx_get_int(it, "pos", 0, MAX_POS, &pos[i], e, sizeof e) == -1) {
			snprintf(c->err, sizeof c->err, "%s%s", where, e);
			return -1;
		}
		jbuf_lit(b, ",\"pos\":");
		jbuf_i64(b, pos[i]);
		if (!absent(it, "propensity")) {
			double p = 0;

			if (jsonx_get_num(it, "propensity", 0, 1, &p, e, sizeof e) == -1 || p <= 0) {
				snprintf(c->err, sizeof c->err, "%sfield 'propensity': expected a number in (0, 1]",
				    where);
				return -1;
			}
			jbuf_lit(b, ",\"propensity\":");
			jbuf_num(b, p);
		}
		if (put_numbers(c, b, it, "features", MAX_FEATURES, where) == -1)
			return -1;
		put_extras(b, it, known);
		jbuf_put(b, "}", 1);
	}
	jbuf_put(b, "]", 1);
	qsort(pos, n, sizeof pos[0], cmp_i64);
	for (i = 1; i < n; i++)
		if (pos[i] == pos[i - 1]) {
			snprintf(c->err, sizeof c->err, "field 'items': position %" PRId64 " appears twice", pos[i]);
			return -1;
		}
	return 0;
}

/*
 * Builds the canonical event of ev into c->line and copies its user_id (the
 * Kafka key) into user. Returns 0, or -1 with a reason in c->err.
 */
static int
canon_event(struct collector *c, const json_t *ev, int64_t now, char user[257])
{
	static const char *const known[3][12] = {
		{ "event_id", "ingest_ts", "type", "ts", "request_id", "user_id", "session_id",
		  "page", "policy", "context", "items", NULL },
		{ "event_id", "ingest_ts", "type", "ts", "request_id", "user_id", "session_id",
		  "item_id", NULL },
		{ "event_id", "ingest_ts", "type", "ts", "request_id", "user_id", "session_id",
		  "item_id", "amount", NULL },
	};
	struct jbuf *b = &c->body, *l = &c->line;
	const char *type;
	char id[257], *event_id = c->event_id, e[256];
	int64_t ts, ingest, ts_max = now + c->max_future_ms;
	int t;

	b->len = 0;
	if (!json_is_object(ev)) {
		snprintf(c->err, sizeof c->err, "not a JSON object");
		return -1;
	}
	if (jsonx_get_str(ev, "type", 16, &type, e, sizeof e) == -1) {
		snprintf(c->err, sizeof c->err, "%s", e);
		return -1;
	}
	for (t = 0; t < 3 && strcmp(type, type_names[t]) != 0; t++)
		;
	if (t == 3) {
		snprintf(c->err, sizeof c->err, "field 'type': expected impression, click or pay");
		return -1;
	}
	c->type = t;
	if (jsonx_get_ts(ev, "ts", &ts, e, sizeof e) == -1) {
		snprintf(c->err, sizeof c->err, "%s", e);
		return -1;
	}
	if (ts < TS_MIN || ts > ts_max) {
		snprintf(c->err, sizeof c->err, "field 'ts': %" PRId64 " is %s", ts,
		    ts < TS_MIN ? "before the year 2000" : "too far in the future (see --max-future)");
		return -1;
	}
	jbuf_lit(b, "\"type\":");
	jbuf_str(b, type_names[t], strlen(type_names[t]));
	jbuf_lit(b, ",\"ts\":");
	jbuf_i64(b, ts);
	if (put_id(c, b, ev, "request_id", id) == -1 || put_id(c, b, ev, "user_id", user) == -1)
		return -1;
	if (!absent(ev, "session_id") && put_id(c, b, ev, "session_id", id) == -1)
		return -1;
	if (t == 0) {
		int64_t page;

		if (jsonx_get_int(ev, "page", 0, MAX_PAGE, &page, e, sizeof e) == -1) {
			snprintf(c->err, sizeof c->err, "%s", e);
			return -1;
		}
		jbuf_lit(b, ",\"page\":");
		jbuf_i64(b, page);
		if (!absent(ev, "policy") && put_id(c, b, ev, "policy", id) == -1)
			return -1;
		if (put_numbers(c, b, ev, "context", MAX_CONTEXT, "") == -1 || put_items(c, b, ev) == -1)
			return -1;
	} else {
		if (put_id(c, b, ev, "item_id", id) == -1)
			return -1;
		if (t == 2) {
			double amount;

			if (jsonx_get_num(ev, "amount", 0, MAX_AMOUNT, &amount, e, sizeof e) == -1) {
				snprintf(c->err, sizeof c->err, "%s", e);
				return -1;
			}
			jbuf_lit(b, ",\"amount\":");
			jbuf_num(b, amount);
		}
	}
	put_extras(b, ev, known[t]);

	if (absent(ev, "event_id"))
		hash_hex128(b->p, b->len, event_id);
	else if (get_id(c, ev, "event_id", "", event_id) == -1)
		return -1;
	if (absent(ev, "ingest_ts"))
		ingest = c->ingest_ts >= 0 ? c->ingest_ts : now;
	else if (jsonx_get_int(ev, "ingest_ts", TS_MIN, ts_max, &ingest, e, sizeof e) == -1) {
		snprintf(c->err, sizeof c->err, "%s", e);
		return -1;
	}
	l->len = 0;
	jbuf_lit(l, "{\"event_id\":");
	jbuf_str(l, event_id, strlen(event_id));
	jbuf_put(l, ",", 1);
	jbuf_put(l, b->p, b->len);
	jbuf_lit(l, ",\"ingest_ts\":");
	jbuf_i64(l, ingest);
	jbuf_put(l, "}", 1);
	return 0;
}

/* Validates one input line and emits its canonical event, or rejects it, or drops it as a duplicate. */
static void
collect_line(struct collector *c, const struct line *ln)
{
	char user[257];
	json_t *ev;
	size_t i;

	if (ln->too_long) {
		tool_io_reject(c->io, ln, "line of %zu bytes is longer than --max-line", ln->full_len);
		return;
	}
	for (i = 0; i < ln->len && (ln->buf[i] == ' ' || ln->buf[i] == '\t' || ln->buf[i] == '\r'); i++)
		;
	if (i == ln->len) {
		(*c->n_blank)++;
		return;
	}
	arena_reset();
	arena.on = 1;
	ev = jsonx_parse(ln->buf, ln->len, c->err, sizeof c->err);
	arena.on = 0;
	if (ev == NULL) {
		tool_io_reject(c->io, ln, "%s", c->err);
		return;
	}
	if (canon_event(c, ev, now_ms(), user) == -1)
		tool_io_reject(c->io, ln, "%s", c->err);
	else if (c->dd != NULL && dedup_seen(c->dd, c->event_id, strlen(c->event_id))) {
		(*c->n_dup)++;
		diag_info(2, "%s: duplicate of event %s dropped", ln->source, c->event_id);
	} else {
		(*c->n_type[c->type])++;
		tool_io_emit_raw(c->io, user, c->line.p, c->line.len);
	}
	json_decref(ev);
}

int
main(int argc, char *argv[])
{
	enum { OPT_DEDUP_WINDOW = TOOL_OPT_FIRST, OPT_INGEST_TS, OPT_MAX_FUTURE };
	static const struct option longopts[] = {
		TOOL_LONGOPTS,
		TOOL_TXN_LONGOPTS,
		{ "dedup-window", required_argument, NULL, OPT_DEDUP_WINDOW },
		{ "ingest-ts",    required_argument, NULL, OPT_INGEST_TS },
		{ "max-future",   required_argument, NULL, OPT_MAX_FUTURE },
		{ "help",         no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct tool_opts opts = { 0 };
	struct collector c = { .ingest_ts = -1, .max_future_ms = 86400000 };
	long window = DEDUP_DEFAULT, fixed;
	struct line ln;
	int ch, r, status;

	diag_init(argv[0]);
	while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS "h", longopts, NULL)) != -1) {
		switch (tool_opts_handle(&opts, ch, optarg)) {
		case 1:
			continue;
		case -1:
			usage(2);
		}
		switch (ch) {
		case OPT_DEDUP_WINDOW:
			if (parse_long(optarg, 0, 100000000L, &window) == -1) {
				diag_warn("--dedup-window: not a count from 0 to 100000000: %s", optarg);
				usage(2);
			}
			break;
		case OPT_INGEST_TS:
			if (strcmp(optarg, "now") == 0)
				c.ingest_ts = -1;
			else if (parse_long(optarg, TS_MIN, 4102444800000L, &fixed) == 0)
				c.ingest_ts = fixed;
			else {
				diag_warn("--ingest-ts: expected now or ms since the epoch: %s", optarg);
				usage(2);
			}
			break;
		case OPT_MAX_FUTURE:
			if ((c.max_future_ms = parse_duration_ms(optarg)) < 0) {
				diag_warn("--max-future: not a duration: %s", optarg);
				usage(2);
			}
			if (c.max_future_ms > MAX_FUTURE_MS)
				c.max_future_ms = MAX_FUTURE_MS;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage(2);

	if ((c.io = tool_io_open(&opts, "log-collect")) == NULL) {
		tool_opts_free(&opts);
		return 1;
	}
	c.n_dup = stats_counter(c.io->st, "duplicates");
	c.n_blank = stats_counter(c.io->st, "blank");
	if (window > 0) {
		c.dd = dedup_new((size_t)window);
		tool_io_on_abort(c.io, dedup_forget, c.dd);
	}
	if (ARENA_USED)
		json_set_alloc_funcs(arena_malloc, arena_free);
	c.n_type[0] = stats_counter(c.io->st, "impressions");
	c.n_type[1] = stats_counter(c.io->st, "clicks");
	c.n_type[2] = stats_counter(c.io->st, "pays");
	while ((r = tool_io_next(c.io, &ln)) > 0) {
		if (r == LINE_IDLE)
			continue;
		collect_line(&c, &ln);
		tool_io_done(c.io, &ln);
	}
	status = tool_io_close(c.io);
	arena_free_all();
	dedup_free(c.dd);
	free(c.body.p);
	free(c.line.p);
	tool_opts_free(&opts);
	return status;
}
