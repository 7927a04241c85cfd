/* sample.c: experience-collect's input — a sample line validated and filed into its session's page, or rejected with a reason. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "jsonx.h"
#include "lineio.h"
#include "toolio.h"
#include "xalloc.h"

#include "chain.h"
#include "ec.h"
#include "handover.h"
#include "sample.h"
#include "session.h"

/* Whether a sample is read for the first time, or again in a replay of what the reader before had read. */
enum take_mode {
	TAKE_LIVE,
	TAKE_REPLAY
};

/*
 * Rejects the line being taken with a reason; in a replay only counts it,
 * since the reader before had dead-lettered it already.
 */
static void __attribute__((format(printf, 3, 4)))
reject(const struct line *ln, enum take_mode mode, const char *fmt, ...)
{
	char reason[1024];
	va_list ap;

	if (mode == TAKE_REPLAY) {
		(*C.n_replay_skipped)++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	C.reject(C.io, ln, "%s", reason);
}

/* The partition-table index of a Kafka line, -1 for files; notes how far the partition was read. */
static int32_t
part_of(const struct line *ln)
{
	struct part *pt;
	int32_t i;

	if (ln->topic == NULL)
		return -1;
	pt = &C.parts[i = part_index(ln->topic, ln->partition)];
	if (!pt->active) {
		pt->active = 1;
		pt->next_read = ln->offset;
	}
	if (ln->offset + 1 > pt->next_read)
		pt->next_read = ln->offset + 1;
	return i;
}

/*
 * Whether a sample at offset of partition pi, of the session key (s: its
 * open session, or NULL), lies in a replay and belongs to a session that was
 * closed and written before: such samples are skipped. Sets *start when the
 * sample begins one of the sessions that were open, to be rebuilt.
 */
static int
replay_skips(int32_t pi, int64_t offset, const struct session *s, int *start)
{
	struct part *pt;

	*start = 0;
	if (pi < 0 || (pt = &C.parts[pi])->replay_end < 0 || offset >= pt->replay_end)
		return 0;
	while (pt->ipend < pt->npend && pt->pend[pt->ipend] < offset)
		pt->ipend++;
	if (s != NULL && s->part == pi)
		return 0;
	if (pt->ipend < pt->npend && pt->pend[pt->ipend] == offset) {
		pt->ipend++;
		*start = 1;
		return 0;
	}
	return 1;
}

/*
 * Whether the sample at offset of partition pi, in a replay, is one that
 * the reader before rejected as late in its open session s: it is rejected
 * again (and noted in s, for the next hand-over), whatever the watermark
 * here, which has not seen what that reader had seen.
 */
static int
replay_late(int32_t pi, int64_t offset, struct session *s)
{
	struct part *pt = &C.parts[pi];

	while (pt->iplate < pt->nplate && pt->plate[pt->iplate] < offset)
		pt->iplate++;
	if (pt->iplate == pt->nplate || pt->plate[pt->iplate] != offset)
		return 0;
	pt->iplate++;
	if (s != NULL && s->part == pi)
		session_note_late(s, offset);
	return 1;
}

static int
floats_equal(const float *a, const float *b, size_t n)
{
	return memcmp(a, b, n * sizeof *a) == 0;
}

/* One sample's fields, as read from its line. */
struct sample {
	char rid[257], uid[257], sid[257], iid[257];
	int64_t page, pos, ts;
	size_t nctx, nfeat;	/* in C.ctx and C.feat */
	double prop;
	int has_prop, click, pay;
	const char *policy;	/* in the line's JSON, or NULL */
};

/*
 * Reads the fields of sample object o into *sm, its context and features
 * into C.ctx and C.feat. 0, or -1 with a reason in err.
 */
static int
sample_read(json_t *o, struct sample *sm, char *err, size_t errlen)
{
	json_t *v;

	sm->prop = 0;
	sm->policy = NULL;
	if (jsonx_get_id(o, "request_id", sm->rid, err, errlen) != 0 ||
	    jsonx_get_id(o, "user_id", sm->uid, err, errlen) != 0 ||
	    jsonx_get_id(o, "session_id", sm->sid, err, errlen) != 0 ||
	    jsonx_get_id(o, "item_id", sm->iid, err, errlen) != 0 ||
	    jsonx_get_int(o, "page", 0, MAX_PAGE, &sm->page, err, errlen) != 0 ||
	    jsonx_get_int(o, "pos", 0, MAX_POS, &sm->pos, err, errlen) != 0 ||
	    jsonx_get_ts(o, "ts", &sm->ts, err, errlen) != 0 ||
	    jsonx_get_floats(o, "context", MAX_CONTEXT, C.ctx, &sm->nctx, err, errlen) != 0 ||
	    jsonx_get_floats(o, "features", MAX_FEATURES, C.feat, &sm->nfeat, err, errlen) != 0 ||
	    ((sm->has_prop = (v = json_object_get(o, "propensity")) != NULL && !json_is_null(v)) &&
	     jsonx_get_num(o, "propensity", 0, 1, &sm->prop, err, errlen) != 0) ||
	    jsonx_get_flag(o, "click", &sm->click, err, errlen) != 0 ||
	    jsonx_get_flag(o, "pay", &sm->pay, err, errlen) != 0 ||
	    ((v = json_object_get(o, "policy")) != NULL && !json_is_null(v) &&
	     jsonx_get_str(o, "policy", 256, &sm->policy, err, errlen) != 0))
		return -1;
	if (sm->ts < 0 || sm->ts > MAX_TS) {
		snprintf(err, errlen, "field 'ts': %" PRId64 " out of range", sm->ts);
		return -1;
	}
	return 0;
}

/* Whether sm may join its request's open page p; rejects it with a reason (see reject) when not. */
static int
page_takes(const struct page *p, const struct sample *sm, const struct line *ln, enum take_mode mode)
{
	const struct session *s = p->s;
	const struct item *it;
	uint32_t i;

	if (strcmp(session_user(s), sm->uid) != 0 || strcmp(session_id(s), sm->sid) != 0) {
		reject(ln, mode, "request %s belongs to user %s session %s, not user %s session %s",
		    sm->rid, session_user(s), session_id(s), sm->uid, sm->sid);
		return 0;
	}
	if (p->page != sm->page || p->ts != sm->ts || p->nctx != sm->nctx ||
	    !floats_equal(p->fl, C.ctx, sm->nctx) ||
	    (sm->policy == NULL) != (p->policy_off == UINT32_MAX) ||
	    (sm->policy && strcmp(sm->policy, p->str + p->policy_off) != 0)) {
		reject(ln, mode, "request %s: page, ts, context or policy differs from its earlier samples", sm->rid);
		return 0;
	}
	for (i = 0; i < p->nitems; i++) {
		it = &p->items[i];
		if (it->pos == sm->pos && strcmp(p->str + it->id_off, sm->iid) == 0) {
			reject(ln, mode, "duplicate sample of item %s at position %" PRId64 " of request %s",
			    sm->iid, sm->pos, sm->rid);
			return 0;
		}
		if (it->pos == sm->pos) {
			reject(ln, mode, "position %" PRId64 " of request %s already holds item %s",
			    sm->pos, sm->rid, p->str + it->id_off);
			return 0;
		}
	}
	return 1;
}

/*
 * Opens the page of sm's request, of partition part, in its session s
 * (NULL: none open; key, keylen, userlen and hash sh name it, and start
 * says that it is one a replay rebuilds). Returns the page, or NULL when
 * the sample is rejected (late, or before pages already chained).
 */
static struct page *
page_open(const struct line *ln, int32_t part, enum take_mode mode, const struct sample *sm,
    struct session *s, const char *key, size_t keylen, size_t userlen, uint64_t sh, int start)
{
	struct page *p;
	int64_t w = part_wm(part);
	int late;

	if (mode == TAKE_REPLAY) {
		/* In a replay the reader before decided what was late, and said so in its commit. */
		late = replay_late(part, ln->offset, s);
	} else if ((late = w != WATERMARK_NONE && w >= sat_add(sm->ts, C.grace))) {
		(*C.n_late)++;
		if (s != NULL && part >= 0 && s->part == part)
			session_note_late(s, ln->offset);
	}
	if (late) {
		reject(ln, mode, "late: request %s (ts %" PRId64 ") closed at watermark %" PRId64,
		    sm->rid, sm->ts, w);
		return NULL;
	}
	if (s != NULL && s->pages.n >= C.max_pages)
		evict_page(s);
	if (s && s->emitted &&
	    (sm->page < s->front_page || (sm->page == s->front_page && sm->ts <= s->front_ts))) {
		reject(ln, mode, "request %s: page %" PRId64 " comes before pages already chained in user %s session %s",
		    sm->rid, sm->page, sm->uid, sm->sid);
		return NULL;
	}
	if (s == NULL) {
		if (C.max_open > 0 && (size_t)*C.g_open >= C.max_open)
			evict_one();
		s = session_new(key, keylen, userlen, sh, part);
		s->start_offset = ln->offset;
		if (start) {
			s->frozen = 1;
			(*C.n_replayed)++;
		}
	}
	p = xcalloc(1, sizeof *p);
	p->s = s;
	p->hash = key_hash(sm->rid, strlen(sm->rid));
	p->ts = sm->ts;
	p->page = sm->page;
	p->part = part;
	p->first_offset = ln->offset;
	page_add_str(p, sm->rid);
	p->policy_off = sm->policy ? page_add_str(p, sm->policy) : UINT32_MAX;
	p->nctx = (uint16_t)sm->nctx;
	page_add_floats(p, C.ctx, sm->nctx);
	session_add_page(s, p);
	table_add(&C.requests, p, p->hash, page_next, page_hash);
	if (++*C.g_pages_open > *C.g_pages_peak)
		*C.g_pages_peak = *C.g_pages_open;
	(*C.n_pages)++;
	return p;
}

/* Adds the item of sm to page p. */
static void
page_add_item(struct page *p, const struct sample *sm)
{
	struct item *it;

	if (p->nitems == p->capitems) {
		p->capitems = p->capitems ? p->capitems * 2 : 8;
		p->items = xreallocarray(p->items, p->capitems, sizeof *p->items);
	}
	it = &p->items[p->nitems++];
	it->id_off = page_add_str(p, sm->iid);
	it->feat_off = page_add_floats(p, C.feat, sm->nfeat);
	it->nfeat = (uint16_t)sm->nfeat;
	it->pos = (uint16_t)sm->pos;
	it->click = (uint8_t)sm->click;
	it->pay = (uint8_t)sm->pay;
	it->has_propensity = (uint8_t)sm->has_prop;
	it->propensity = (float)sm->prop;
	if (!sm->has_prop)
		(*C.n_no_propensity)++;
}

/*
 * Reads a line into a tree, with the reason every tool gives for a line that
 * is not valid JSON: jansson builds the tree, and jscan words the refusal.
 * jscan reads only the lines jansson refuses and those with more opening
 * brackets than its depth bound (jansson takes nesting jscan refuses):
 * checking every line first cost 9% more instructions a sample. A value
 * other than an object is "not a JSON object". The tree, or NULL with the
 * reason in err.
 */
static json_t *
read_line(const struct line *ln, char *err, size_t errlen)
{
	size_t i, open = 0;
	json_t *o;

	o = jsonx_parse(ln->buf, ln->len, err, errlen);
	if (o != NULL)
		for (i = 0; i < ln->len && open <= JSCAN_MAX_DEPTH; i++)
			open += ln->buf[i] == '[' || ln->buf[i] == '{';
	if ((o == NULL || open > JSCAN_MAX_DEPTH) && jscan_check(&C.js, ln->buf, ln->len) != 0) {
		snprintf(err, errlen, "%s", C.js.err);
		json_decref(o);
		return NULL;
	}
	if (o != NULL && !json_is_object(o)) {
		snprintf(err, errlen, "not a JSON object");
		json_decref(o);
		return NULL;
	}
	return o;
}

/*
 * Validates one sample line of partition part, read as mode says, and files
 * it into its page; rejects it with a reason otherwise.
 */
static void
file_sample(const struct line *ln, int32_t part, enum take_mode mode)
{
	char err[256], key[514];
	struct sample sm;
	size_t ulen, slen;
	struct session *s;
	struct page *p;
	uint64_t h, sh;
	json_t *o;
	int start = 0, opened;

	if ((o = read_line(ln, err, sizeof err)) == NULL) {
		reject(ln, mode, "%s", err);
		return;
	}
	if (sample_read(o, &sm, err, sizeof err) != 0) {
		reject(ln, mode, "%s", err);
		goto out;
	}
	ulen = strlen(sm.uid);
	slen = strlen(sm.sid);
	memcpy(key, sm.uid, ulen + 1);
	memcpy(key + ulen + 1, sm.sid, slen + 1);
	sh = key_hash(key, ulen + slen + 2);
	s = table_find_session(&C.sessions, key, ulen + slen + 2, sh);
	if (mode == TAKE_REPLAY && replay_skips(part, ln->offset, s, &start)) {
		(*C.n_replay_skipped)++;
		goto out;
	}
	h = key_hash(sm.rid, strlen(sm.rid));
	if ((p = table_find_page(&C.requests, sm.rid, h)) != NULL) {
		if (!page_takes(p, &sm, ln, mode))
			goto out;
		opened = 0;
	} else if ((p = page_open(ln, part, mode, &sm, s, key, ulen + slen + 2, ulen, sh, start)) == NULL)
		goto out;
	else
		opened = 1;
	page_add_item(p, &sm);
	s = p->s;
	lru_unlink(s);
	lru_append(s);
	session_rewake(s);
	/*
	 * A page is one event of its partition: its first sample shows its ts to
	 * the watermark. The samples of a page held out as too far ahead neither
	 * show it again nor break a run of such pages.
	 */
	if (opened)
		p->ahead = watermark_observe(C.wm, ln->partition, sm.ts) == WATERMARK_AHEAD;
	else if (!p->ahead)
		watermark_observe(C.wm, ln->partition, sm.ts);
	if (p->ahead && mode == TAKE_LIVE)
		(*C.n_ahead)++;
out:
	json_decref(o);
}

/* Takes one sample line: files it, or skips it in a replay when its session was written before. */
void
take_sample(const struct line *ln)
{
	int32_t part = part_of(ln);

	if (part < 0 || C.parts[part].replay_end <= ln->offset) {
		file_sample(ln, part, TAKE_LIVE);
		return;
	}
	file_sample(ln, part, TAKE_REPLAY);
	if (ln->offset + 1 >= C.parts[part].replay_end)
		replay_end(part);
}
