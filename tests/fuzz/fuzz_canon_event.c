/* fuzz_canon_event.c: libFuzzer target — canonical event lines through online-join's two readers and its join, as the tool drives them. */
/* fuzz-dict: records.dict */
/* fuzz-sources: tools/online-join/*.c */
/* fuzz-cflags: -Itools/online-join -Dmain=online_join_main */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "event.h"
#include "fuzz.h"
#include "join.h"
#include "jsonx.h"

static struct jev_reader *fast, *full;
static size_t max_open;
static unsigned long long n_events, n_samples, n_late;

static int
same_str(struct jstr a, struct jstr b)
{
	if (a.p == NULL || b.p == NULL)
		return a.p == b.p;
	return a.n == b.n && memcmp(a.p, b.p, a.n) == 0;
}

/* Equal values (-0 and 0 alike: jansson reads "-0" as the integer 0, and both print as 0). */
static int
same_floats(const float *a, const float *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/* What the fast reader accepts, the full one must read the same. */
static void
same_event(const struct jev *a, const struct jev *b, const char *line)
{
	const char *what = NULL;
	size_t i;

	if (a->type != b->type || a->ts != b->ts)
		what = "type or ts";
	else if (!same_str(a->rid, b->rid) || !same_str(a->uid, b->uid))
		what = "request_id or user_id";
	else if (a->type != JEV_IMPRESSION) {
		if (!same_str(a->item, b->item) || !same_str(a->eid, b->eid))
			what = "item_id or event_id";
	} else if (a->page != b->page || !same_str(a->sid, b->sid) || !same_str(a->pol, b->pol))
		what = "page, session_id or policy";
	else if (a->nctx != b->nctx || !same_floats(a->floats + a->ctx_off, b->floats + b->ctx_off, a->nctx))
		what = "context";
	else if (a->nitems != b->nitems)
		what = "number of items";
	else
		for (i = 0; i < a->nitems && what == NULL; i++) {
			const struct jev_item *x = &a->items[i], *y = &b->items[i];

			if (!same_str(x->id, y->id) || x->pos != y->pos || x->nfeat != y->nfeat ||
			    (isnan(x->prop) ? !isnan(y->prop) : x->prop != y->prop) ||
			    !same_floats(a->floats + x->feat_off, b->floats + y->feat_off, x->nfeat))
				what = "an item";
		}
	if (what != NULL) {
		fprintf(stderr, "the fast and the full reader differ on %s: %s\n", what, line);
		abort();
	}
}

static void
on_sample(void *arg, const char *key, size_t keylen, const char *buf, size_t len, int64_t ts,
    int32_t partition, int64_t offset)
{
	(void)arg;
	(void)ts;
	(void)partition;
	(void)offset;
	n_samples++;
	if (key == NULL || keylen == 0)
		abort();	/* a sample is keyed by its user */
	fuzz_want_json(buf, len, "a sample");
}

static void
on_late(void *arg, const char *key, size_t keylen, const char *buf, size_t len)
{
	(void)arg;
	(void)key;
	(void)keylen;
	n_late++;
	fuzz_want_json(buf, len, "a late record");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The options follow the size, so that early emission, eviction and partitions are all reached. */
	struct join_opts jo = {
		.window = 30 * 60000, .pay_window = 2 * 3600000, .max_delay = 60000,
		.idle_timeout = 0, .early = (int)(size & 1), .max_open = (size & 2) ? 3 : 1000000
	};
	struct join_out out = { on_sample, on_late, NULL };
	const uint8_t *p = data;
	size_t left = size;
	int32_t nparts = (size & 4) ? 3 : 0;
	struct jev ev, ev2;
	struct join *j;
	struct line ln;
	int64_t lineno = 0;
	char err[512];
	json_t *obj;

	diag_verbosity = 0;
	if (fast == NULL) {
		fast = jev_reader_new();
		full = jev_reader_new();
	}
	max_open = jo.max_open;
	j = join_new(&jo, &out, NULL);
	while (fuzz_next_line(&p, &left, &ln, lineno)) {
		int32_t part = nparts ? (int32_t)(lineno % nparts) : -1;
		int64_t off = nparts ? lineno : -1;

		lineno++;
		obj = json_loadb(ln.buf, ln.len, JSON_REJECT_DUPLICATES, NULL);
		if (jev_parse(fast, ln.buf, ln.len, &ev) == 1) {
			if (obj == NULL || !json_is_object(obj) || jev_from_json(full, obj, &ev2, err, sizeof err) != 0) {
				fprintf(stderr, "the fast reader accepts what the full one refuses: %s\n", ln.buf);
				abort();
			}
			same_event(&ev, &ev2, ln.buf);
			join_event(j, &ev, part, off);
			n_events++;
		} else if ((obj = (json_decref(obj), jsonx_parse(ln.buf, ln.len, err, sizeof err))) != NULL) {
			if (jev_from_json(full, obj, &ev, err, sizeof err) == 0) {
				join_event(j, &ev, part, off);
				n_events++;
			} else if (err[0] == '\0')
				abort();	/* a refusal says why */
		}
		json_decref(obj);
		obj = NULL;
		if (join_open(j) > max_open || join_waiting(j) > max_open) {
			fprintf(stderr, "%zu open impressions, %zu waiting events, at most %zu\n",
			    join_open(j), join_waiting(j), max_open);
			abort();
		}
		if ((lineno & 3) == 0)
			join_tick(j);
		free(ln.buf);
	}
	if (nparts && size % 3 == 0)
		join_drop_partition(j, 1);
	join_finish(j);
	if (join_open(j) != 0 || join_waiting(j) != 0)
		abort();	/* the end of input closes every window */
	join_free(j);
	if (getenv("FUZZ_VERBOSE") != NULL)
		fprintf(stderr, "%llu events, %llu samples, %llu late so far\n", n_events, n_samples, n_late);
	return 0;
}
