/* join.c: online-join's state — open impressions and waiting feedback per input partition, joined in event time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jbuf.h"
#include "event.h"
#include "hash.h"
#include "heap.h"
#include "join.h"
#include "watermark.h"
#include "xalloc.h"

#define ABSENT		0xffff	/* length of an optional string that is absent */

enum { FB_CLICK = 1, FB_PAY = 2 };

/*
 * One shown item, packed. Its id and features live in the impression's block.
 */
struct jitem {
	uint32_t id_off;	/* offset of item_id in the block's strings */
	uint32_t feat_off;	/* index of its first feature in the block's floats */
	uint16_t id_len;
	uint16_t nfeat;
	int32_t pos;
	float prop;		/* NAN when absent */
	uint8_t click, pay, emitted;
};

/*
 * An open impression: one malloc'd block — this header, then its items, its
 * floats (context, then every item's features) and its strings (request_id,
 * user_id, session_id, policy, then the item ids), packed.
 */
struct imp {
	struct imp *hnext;	/* hash chain on request_id */
	uint64_t rhash;
	int64_t ts;
	int64_t deadline;	/* when the watermark reaches it: the next stage */
	uint64_t seq;		/* arrival order, to break ties */
	int64_t min_offset;	/* oldest input offset contributing, -1 none */
	int32_t partition;
	uint32_t hidx;		/* index in its partition's heap */
	int32_t page;
	uint16_t nitems, nctx;
	uint16_t rid_len, uid_len, sid_len, pol_len;
	uint8_t stage;		/* 0: first deadline (early emission), 1: close */
};

/* A click or pay waiting for its impression. */
struct fb {
	struct fb *hnext;
	uint64_t rhash;
	int64_t ts;		/* the deadline: it waits until the watermark passes ts */
	uint64_t seq;
	int64_t offset;
	int32_t partition;
	uint32_t hidx;
	uint8_t type;
	uint16_t rid_len, uid_len, item_len, eid_len;
	char data[];		/* request_id, user_id, item_id, event_id */
};

struct jpart {
	int32_t id;
	struct watermark *wm;	/* this partition's own event-time progress */
	int64_t cur;		/* the watermark last applied to its windows */
	int64_t last_wall;	/* monotonic ms of its last event */
	struct heap imps, fbs;	/* min-heaps on (deadline, seq) and (ts, seq) */
};

struct table {
	void **b;
	size_t nb, n;
};

struct join {
	struct join_opts o;
	struct join_out out;
	int64_t close_after;	/* max(window, pay_window) */
	int64_t first_after;	/* min(window, pay_window): the early stage */
	struct watermark *gwm;	/* over all partitions */
	struct jpart **parts;
	size_t nparts, capparts, lastpart;
	struct table imps, fbs;	/* on request_id */
	size_t nopen, nwaiting;
	uint64_t seq;
	struct jbuf rec;		/* the record being built */
	uint64_t n_late_total;
	struct stats *nullst;	/* where the counters go without stats, and after join_free() starts */
	char why[160];		/* why the last event was refused */
	uint64_t *n_conflict, *n_ahead, *n_idle_close;
	uint64_t *n_imp, *n_click, *n_pay, *n_samples, *n_late, *n_evicted, *n_evicted_fb,
	    *n_dup_click, *n_dup_pay, *n_dup_imp, *n_late_imp, *n_early, *n_joined_waiting;
	int64_t *g_open, *g_waiting, *g_peak;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- heaps: the key of an element is (deadline or ts, seq) ---- */

static int
imp_before(const void *a, const void *b)
{
	const struct imp *x = a, *y = b;

	return x->deadline < y->deadline || (x->deadline == y->deadline && x->seq < y->seq);
}

static int
fb_before(const void *a, const void *b)
{
	const struct fb *x = a, *y = b;

	return x->ts < y->ts || (x->ts == y->ts && x->seq < y->seq);
}

static void
imp_place(void *e, size_t i)
{
	((struct imp *)e)->hidx = (uint32_t)i;
}

static void
fb_place(void *e, size_t i)
{
	((struct fb *)e)->hidx = (uint32_t)i;
}

/* ---- hash tables on request_id (chained, intrusive: hnext is the first field) ---- */

static void
table_grow(struct table *t, int is_imp)
{
	size_t nb = t->nb ? t->nb * 2 : 1024, i;
	void **b = xcalloc(nb, sizeof *b);

	for (i = 0; i < t->nb; i++) {
		void *e = t->b[i], *next;

		while (e != NULL) {
			uint64_t h = is_imp ? ((struct imp *)e)->rhash : ((struct fb *)e)->rhash;

			next = *(void **)e;
			*(void **)e = b[h & (nb - 1)];
			b[h & (nb - 1)] = e;
			e = next;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

static void
table_add(struct table *t, void *e, uint64_t h, int is_imp)
{
	if (t->n >= t->nb)
		table_grow(t, is_imp);
	*(void **)e = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = e;
	t->n++;
}

static void
table_del(struct table *t, void *e, uint64_t h)
{
	void **pp = &t->b[h & (t->nb - 1)];

	while (*pp != NULL && *pp != e)
		pp = (void **)*pp;
	if (*pp == e) {
		*pp = *(void **)e;
		t->n--;
	}
}

/* ---- impression blocks ---- */

static struct jitem *
imp_items(const struct imp *m)
{
	return (struct jitem *)(m + 1);
}

static float *
imp_floats(const struct imp *m)
{
	return (float *)(imp_items(m) + m->nitems);
}

/* The strings start after the floats, of which there are imp_nfloats(). */
static char *
imp_strs(const struct imp *m, size_t nfloats)
{
	return (char *)(imp_floats(m) + nfloats);
}

static size_t
imp_nfloats(const struct imp *m)
{
	const struct jitem *it = imp_items(m);

	if (m->nitems == 0)
		return m->nctx;
	return it[m->nitems - 1].feat_off + it[m->nitems - 1].nfeat;
}

static const char *
imp_rid(const struct imp *m)
{
	return imp_strs(m, imp_nfloats(m));
}

static struct imp *
imp_find(struct join *j, const char *rid, size_t len, uint64_t h)
{
	struct imp *m;

	if (j->imps.nb == 0)
		return NULL;
	for (m = j->imps.b[h & (j->imps.nb - 1)]; m != NULL; m = m->hnext)
		if (m->rhash == h && m->rid_len == len && memcmp(imp_rid(m), rid, len) == 0)
			return m;
	return NULL;
}

/* ---- partitions ---- */

static struct jpart *
part_get(struct join *j, int32_t id)
{
	struct jpart *p;
	size_t i;

	if (j->lastpart < j->nparts && j->parts[j->lastpart]->id == id)
		return j->parts[j->lastpart];
	for (i = 0; i < j->nparts; i++)
		if (j->parts[i]->id == id) {
			j->lastpart = i;
			return j->parts[i];
		}
	if (j->nparts == j->capparts) {
		j->capparts = j->capparts ? j->capparts * 2 : 8;
		j->parts = xreallocarray(j->parts, j->capparts, sizeof *j->parts);
	}
	p = xcalloc(1, sizeof *p);
	p->id = id;
	p->wm = watermark_new(j->o.max_delay, 0);
	watermark_set_max_ahead(p->wm, j->o.max_ahead, WATERMARK_CONFIRM);
	p->cur = WATERMARK_NONE;
	heap_init(&p->imps, imp_before, imp_place);
	heap_init(&p->fbs, fb_before, fb_place);
	j->parts[j->nparts] = p;
	j->lastpart = j->nparts++;
	return p;
}

/* ---- output ---- */

static void
sample_id(const struct imp *m, const struct jitem *it, char out[33])
{
	char tmp[257 * 2 + 24];
	const char *s = imp_rid(m);
	size_t n = 0;

	memcpy(tmp, s, m->rid_len);
	n += m->rid_len;
	tmp[n++] = '\n';
	memcpy(tmp + n, s + it->id_off, it->id_len);
	n += it->id_len;
	n += (size_t)snprintf(tmp + n, sizeof tmp - n, "\n%d", it->pos);
	hash_hex128(tmp, n, out);
}

static void
emit_sample(struct join *j, struct imp *m, struct jitem *it)
{
	const float *fl = imp_floats(m);
	const char *s = imp_strs(m, imp_nfloats(m)), *uid = s + m->rid_len;
	const char *sid = uid + m->uid_len;
	const char *pol = sid + (m->sid_len == ABSENT ? 0 : m->sid_len);
	struct jbuf *b = &j->rec;
	char id[33];

	it->emitted = 1;
	(*j->n_samples)++;
	if (j->out.sample == NULL)
		return;
	sample_id(m, it, id);
	b->len = 0;
	jbuf_lit(b, "{\"sample_id\":\"");
	jbuf_put(b, id, 32);
	jbuf_lit(b, "\",\"request_id\":");
	jbuf_str(b, s, m->rid_len);
	jbuf_lit(b, ",\"user_id\":");
	jbuf_str(b, uid, m->uid_len);
	if (m->sid_len != ABSENT) {
		jbuf_lit(b, ",\"session_id\":");
		jbuf_str(b, sid, m->sid_len);
	}
	jbuf_lit(b, ",\"page\":");
	jbuf_i64(b, m->page);
	jbuf_lit(b, ",\"pos\":");
	jbuf_i64(b, it->pos);
	jbuf_lit(b, ",\"item_id\":");
	jbuf_str(b, s + it->id_off, it->id_len);
	jbuf_lit(b, ",\"ts\":");
	jbuf_i64(b, m->ts);
	jbuf_lit(b, ",\"context\":");
	jbuf_floats(b, fl, m->nctx);
	jbuf_lit(b, ",\"features\":");
	jbuf_floats(b, fl + it->feat_off, it->nfeat);
	if (!isnan(it->prop)) {
		jbuf_lit(b, ",\"propensity\":");
		jbuf_num7(b, it->prop);
	}
	if (m->pol_len != ABSENT) {
		jbuf_lit(b, ",\"policy\":");
		jbuf_str(b, pol, m->pol_len);
	}
	jbuf_lit(b, ",\"click\":");
	jbuf_put(b, it->click ? "1" : "0", 1);
	jbuf_lit(b, ",\"pay\":");
	jbuf_put(b, it->pay ? "1" : "0", 1);
	jbuf_put(b, "}", 1);
	j->out.sample(j->out.arg, uid, m->uid_len, b->p, b->len, m->ts, m->partition, m->min_offset);
}

/* A feedback event as the join saw it, for correction records. */
struct fbev {
	int type;
	int64_t ts;
	const char *rid, *uid, *item, *eid;
	size_t rid_len, uid_len, item_len, eid_len;
};

/*
 * A click or pay that labels no sample: a correction record to out->late
 * (sample_id when the sample is known), counted either way.
 */
static void
emit_late(struct join *j, const struct fbev *e, const char *reason, const char *sid)
{
	struct jbuf *b = &j->rec;

	(*j->n_late)++;
	j->n_late_total++;
	if (j->out.late == NULL)
		return;
	b->len = 0;
	jbuf_lit(b, "{\"reason\":");
	jbuf_str(b, reason, strlen(reason));
	if (sid != NULL) {
		jbuf_lit(b, ",\"sample_id\":\"");
		jbuf_put(b, sid, 32);
		jbuf_put(b, "\"", 1);
	}
	jbuf_lit(b, ",\"type\":");
	jbuf_str(b, e->type == FB_CLICK ? "click" : "pay", e->type == FB_CLICK ? 5 : 3);
	jbuf_lit(b, ",\"request_id\":");
	jbuf_str(b, e->rid, e->rid_len);
	jbuf_lit(b, ",\"user_id\":");
	jbuf_str(b, e->uid, e->uid_len);
	jbuf_lit(b, ",\"item_id\":");
	jbuf_str(b, e->item, e->item_len);
	jbuf_lit(b, ",\"ts\":");
	jbuf_i64(b, e->ts);
	if (e->eid_len > 0) {
		jbuf_lit(b, ",\"event_id\":");
		jbuf_str(b, e->eid, e->eid_len);
	}
	jbuf_lit(b, ",\"click\":1,\"pay\":");
	jbuf_put(b, e->type == FB_PAY ? "1" : "0", 1);
	jbuf_put(b, "}", 1);
	j->out.late(j->out.arg, e->uid, e->uid_len, b->p, b->len);
}

/* An impression that came after its windows closed: a correction record to out->late, counted. */
static void
emit_late_imp(struct join *j, const struct jev *ev)
{
	struct jbuf *b = &j->rec;

	j->n_late_total++;
	if (j->out.late == NULL)
		return;
	b->len = 0;
	jbuf_lit(b, "{\"reason\":\"late_impression\",\"type\":\"impression\",\"request_id\":");
	jbuf_str(b, ev->rid.p, ev->rid.n);
	jbuf_lit(b, ",\"user_id\":");
	jbuf_str(b, ev->uid.p, ev->uid.n);
	if (ev->sid.p != NULL) {
		jbuf_lit(b, ",\"session_id\":");
		jbuf_str(b, ev->sid.p, ev->sid.n);
	}
	jbuf_lit(b, ",\"page\":");
	jbuf_i64(b, ev->page);
	jbuf_lit(b, ",\"ts\":");
	jbuf_i64(b, ev->ts);
	jbuf_put(b, "}", 1);
	j->out.late(j->out.arg, ev->uid.p, ev->uid.n, b->p, b->len);
}

static void
fb_event(const struct fb *f, struct fbev *e)
{
	e->type = f->type;
	e->ts = f->ts;
	e->rid = f->data;
	e->rid_len = f->rid_len;
	e->uid = e->rid + f->rid_len;
	e->uid_len = f->uid_len;
	e->item = e->uid + f->uid_len;
	e->item_len = f->item_len;
	e->eid = e->item + f->item_len;
	e->eid_len = f->eid_len;
}

/* ---- joining ---- */

/* Nonzero when both labels of it can no longer change, as of watermark wm. */
static int
item_final(const struct join *j, const struct imp *m, const struct jitem *it, int64_t wm)
{
	int click_done = it->click || (wm != WATERMARK_NONE && wm >= m->ts + j->o.window);
	int pay_done = it->pay || (wm != WATERMARK_NONE && wm >= m->ts + j->o.pay_window);

	return click_done && pay_done;
}

enum { J_JOINED, J_DUP, J_OUTSIDE, J_NOT_SHOWN, J_AFTER_EMIT };

/* Applies one click or pay to an open impression; says what became of it (and which item in *itp). */
static int
imp_apply(struct join *j, struct imp *m, const struct fbev *e, struct jitem **itp)
{
	struct jitem *it = imp_items(m);
	const char *s = imp_rid(m);
	size_t i;

	for (i = 0; i < m->nitems; i++, it++)
		if (it->id_len == e->item_len && memcmp(s + it->id_off, e->item, e->item_len) == 0)
			break;
	*itp = NULL;
	if (i == m->nitems)
		return J_NOT_SHOWN;
	*itp = it;
	if (e->ts - m->ts >= (e->type == FB_CLICK ? j->o.window : j->o.pay_window))
		return J_OUTSIDE;
	if (e->type == FB_CLICK) {
		if (it->click)
			return J_DUP;
		if (it->emitted)
			return J_AFTER_EMIT;
		it->click = 1;
	} else {
		if (it->pay)
			return J_DUP;
		if (it->emitted)
			return J_AFTER_EMIT;
		it->pay = 1;
		it->click = 1;
	}
	return J_JOINED;
}

/*
 * Joins e to m, emitting what follows: a correction record when it labels
 * nothing, the sample at once under --emit early when its labels became final.
 * Returns 1 when e contributed to m's state.
 */
static int
imp_join(struct join *j, struct imp *m, const struct fbev *e, int64_t wm)
{
	struct jitem *it;
	char sid[33];
	int r = imp_apply(j, m, e, &it);

	switch (r) {
	case J_JOINED:
		if (j->o.early && item_final(j, m, it, wm)) {
			(*j->n_early)++;
			emit_sample(j, m, it);
		}
		return 1;
	case J_DUP:
		(*(e->type == FB_CLICK ? j->n_dup_click : j->n_dup_pay))++;
		return 0;
	case J_NOT_SHOWN:
		emit_late(j, e, "item_not_shown", NULL);
		return 0;
	default:
		sample_id(m, it, sid);
		emit_late(j, e, r == J_OUTSIDE ? "outside_window" : "late", sid);
		return 0;
	}
}

/* Closes m: emits every sample not yet out and frees it. */
static void
imp_close(struct join *j, struct jpart *p, struct imp *m)
{
	struct jitem *it = imp_items(m);
	size_t i;

	for (i = 0; i < m->nitems; i++)
		if (!it[i].emitted)
			emit_sample(j, m, &it[i]);
	table_del(&j->imps, m, m->rhash);
	heap_remove(&p->imps, m->hidx);
	j->nopen--;
	*j->g_open = (int64_t)j->nopen;
	free(m);
}

static void
fb_remove(struct join *j, struct jpart *p, struct fb *f)
{
	table_del(&j->fbs, f, f->rhash);
	heap_remove(&p->fbs, f->hidx);
	j->nwaiting--;
	*j->g_waiting = (int64_t)j->nwaiting;
	free(f);
}

/* Applies watermark wm to p: impressions reach their deadlines, waiting feedback gives up. */
static void
part_advance(struct join *j, struct jpart *p, int64_t wm)
{
	struct fbev e;
	struct imp *m;
	struct fb *f;
	size_t i;

	if (wm > p->cur)
		p->cur = wm;
	while (p->imps.n > 0 && (m = p->imps.v[0])->deadline <= p->cur) {
		/* The early stage, unless the watermark passed the close already. */
		if (m->stage == 0 && m->ts + j->close_after > p->cur) {
			struct jitem *it = imp_items(m);

			for (i = 0; i < m->nitems; i++)
				if (!it[i].emitted && item_final(j, m, &it[i], p->cur)) {
					(*j->n_early)++;
					emit_sample(j, m, &it[i]);
				}
			m->stage = 1;
			m->deadline = m->ts + j->close_after;
			heap_fix(&p->imps, 0);
			continue;
		}
		imp_close(j, p, m);
	}
	while (p->fbs.n > 0 && (f = p->fbs.v[0])->ts < p->cur) {
		fb_event(f, &e);
		emit_late(j, &e, "unknown_impression", NULL);
		fb_remove(j, p, f);
	}
}

/* The partition holding the oldest open impression (for --max-open), or NULL. */
static struct jpart *
oldest_imps(struct join *j)
{
	struct jpart *best = NULL;
	size_t i;

	for (i = 0; i < j->nparts; i++)
		if (j->parts[i]->imps.n > 0 && (best == NULL ||
		    imp_before(j->parts[i]->imps.v[0], best->imps.v[0])))
			best = j->parts[i];
	return best;
}

static struct jpart *
oldest_fbs(struct join *j)
{
	struct jpart *best = NULL;
	size_t i;

	for (i = 0; i < j->nparts; i++)
		if (j->parts[i]->fbs.n > 0 && (best == NULL ||
		    fb_before(j->parts[i]->fbs.v[0], best->fbs.v[0])))
			best = j->parts[i];
	return best;
}

/* The block of impression ev: its header filled but for the join state. */
static struct imp *
imp_read(const struct jev *ev)
{
	size_t nfl = ev->nctx, nstr, i;
	struct jitem *it;
	struct imp *m;
	char *str;
	float *fl;

	nstr = ev->rid.n + ev->uid.n + ev->sid.n + ev->pol.n;
	for (i = 0; i < ev->nitems; i++) {
		nfl += ev->items[i].nfeat;
		nstr += ev->items[i].id.n;
	}
	m = xmalloc(sizeof *m + ev->nitems * sizeof(struct jitem) + nfl * sizeof(float) + nstr);
	memset(m, 0, sizeof *m);
	m->nitems = (uint16_t)ev->nitems;
	m->nctx = (uint16_t)ev->nctx;
	m->page = ev->page;
	m->rid_len = (uint16_t)ev->rid.n;
	m->uid_len = (uint16_t)ev->uid.n;
	m->sid_len = ev->sid.p != NULL ? (uint16_t)ev->sid.n : ABSENT;
	m->pol_len = ev->pol.p != NULL ? (uint16_t)ev->pol.n : ABSENT;
	it = imp_items(m);
	fl = imp_floats(m);
	memcpy(fl, ev->floats + ev->ctx_off, ev->nctx * sizeof(float));
	str = imp_strs(m, nfl);
	memcpy(str, ev->rid.p, ev->rid.n);
	memcpy(str + ev->rid.n, ev->uid.p, ev->uid.n);
	nstr = ev->rid.n + ev->uid.n;
	if (ev->sid.p != NULL) {
		memcpy(str + nstr, ev->sid.p, ev->sid.n);
		nstr += ev->sid.n;
	}
	if (ev->pol.p != NULL) {
		memcpy(str + nstr, ev->pol.p, ev->pol.n);
		nstr += ev->pol.n;
	}
	nfl = ev->nctx;
	for (i = 0; i < ev->nitems; i++) {
		const struct jev_item *e = &ev->items[i];

		it[i].id_off = (uint32_t)nstr;
		it[i].id_len = (uint16_t)e->id.n;
		memcpy(str + nstr, e->id.p, e->id.n);
		nstr += e->id.n;
		it[i].feat_off = (uint32_t)nfl;
		it[i].nfeat = e->nfeat;
		memcpy(fl + nfl, ev->floats + e->feat_off, e->nfeat * sizeof(float));
		nfl += e->nfeat;
		it[i].pos = e->pos;
		it[i].prop = e->prop;
		it[i].click = it[i].pay = it[i].emitted = 0;
	}
	return m;
}

/* Nonzero when ev shows what m shows: the same user, page and items in the same order. */
static int
imp_same(const struct imp *m, const struct jev *ev)
{
	const struct jitem *it = imp_items(m);
	const char *s = imp_rid(m);
	size_t i;

	if (m->uid_len != ev->uid.n || memcmp(s + m->rid_len, ev->uid.p, ev->uid.n) != 0 ||
	    m->page != ev->page || m->nitems != ev->nitems)
		return 0;
	for (i = 0; i < m->nitems; i++)
		if (it[i].id_len != ev->items[i].id.n ||
		    memcmp(s + it[i].id_off, ev->items[i].id.p, it[i].id_len) != 0)
			return 0;
	return 1;
}

/* Takes impression ev: -1 (reason in j->why) when it conflicts with the open impression of its request_id. */
static int
on_impression(struct join *j, struct jpart *p, const struct jev *ev, int64_t offset)
{
	const char *rid = ev->rid.p;
	size_t rid_len = ev->rid.n;
	uint64_t h = hash64(rid, rid_len, 0);
	int64_t ts = ev->ts;
	struct fb *f, *next;
	struct fbev e;
	struct imp *m;
	struct jpart *fp;

	if ((m = imp_find(j, rid, rid_len, h)) != NULL) {
		if (imp_same(m, ev)) {
			(*j->n_dup_imp)++;
			return 0;
		}
		(*j->n_conflict)++;
		snprintf(j->why, sizeof j->why, "conflicting impression: request_id %.*s is open with "
		    "another user, page or items", (int)(rid_len > 64 ? 64 : rid_len), rid);
		return -1;
	}
	(*j->n_imp)++;
	/*
	 * Its windows closed before it came: a copy of an impression already
	 * written (a replay upstream), or one too late to be labelled. Either
	 * way a sample of it could contradict the one written, so it is a
	 * correction record, not a sample.
	 */
	if (p->cur != WATERMARK_NONE && ts + j->close_after <= p->cur) {
		(*j->n_late_imp)++;
		emit_late_imp(j, ev);
		return 0;
	}
	m = imp_read(ev);
	m->rhash = h;
	m->ts = ts;
	m->seq = j->seq++;
	m->min_offset = offset;
	m->partition = p->id;
	if (j->o.early) {
		m->stage = 0;
		m->deadline = ts + j->first_after;
	} else {
		m->stage = 1;
		m->deadline = ts + j->close_after;
	}
	table_add(&j->imps, m, h, 1);
	heap_push(&p->imps, m);
	j->nopen++;
	*j->g_open = (int64_t)j->nopen;
	if (*j->g_open > *j->g_peak)
		*j->g_peak = *j->g_open;

	/* The clicks and pays that came first. */
	if (j->nwaiting > 0) {
		for (f = j->fbs.b[h & (j->fbs.nb - 1)]; f != NULL; f = next) {
			next = f->hnext;
			if (f->rhash != h || f->rid_len != rid_len || memcmp(f->data, rid, rid_len) != 0)
				continue;
			fb_event(f, &e);
			(*j->n_joined_waiting)++;
			if (imp_join(j, m, &e, p->cur) && f->partition == m->partition &&
			    f->offset >= 0 && (m->min_offset < 0 || f->offset < m->min_offset))
				m->min_offset = f->offset;
			fp = part_get(j, f->partition);
			fb_remove(j, fp, f);
		}
	}
	if (j->o.early) {
		struct jitem *it = imp_items(m);
		size_t i;

		for (i = 0; i < m->nitems; i++)
			if (!it[i].emitted && item_final(j, m, &it[i], p->cur)) {
				(*j->n_early)++;
				emit_sample(j, m, &it[i]);
			}
	}
	while (j->nopen > j->o.max_open && (fp = oldest_imps(j)) != NULL) {
		(*j->n_evicted)++;
		imp_close(j, fp, fp->imps.v[0]);
	}
	return 0;
}

static void
on_feedback(struct join *j, struct jpart *p, const struct jev *ev, int64_t offset)
{
	const char *rid = ev->rid.p, *uid = ev->uid.p, *item = ev->item.p, *eid = ev->eid.p;
	int type = ev->type == JEV_CLICK ? FB_CLICK : FB_PAY;
	int64_t ts = ev->ts;
	struct fbev fe;
	struct imp *m;
	struct fb *f;
	struct jpart *fp;
	uint64_t h;

	(*(type == FB_CLICK ? j->n_click : j->n_pay))++;
	fe.type = type;
	fe.ts = ts;
	fe.rid = rid;
	fe.rid_len = ev->rid.n;
	fe.uid = uid;
	fe.uid_len = ev->uid.n;
	fe.item = item;
	fe.item_len = ev->item.n;
	fe.eid = eid != NULL ? eid : "";
	fe.eid_len = ev->eid.n;
	h = hash64(rid, fe.rid_len, 0);
	if ((m = imp_find(j, rid, fe.rid_len, h)) != NULL) {
		if (imp_join(j, m, &fe, part_get(j, m->partition)->cur) && m->partition == p->id &&
		    offset >= 0 && (m->min_offset < 0 || offset < m->min_offset))
			m->min_offset = offset;
		return;
	}
	if (p->cur != WATERMARK_NONE && ts < p->cur) {
		emit_late(j, &fe, "late", NULL);
		return;
	}
	/* Its impression may still come: wait until the watermark passes ts. */
	f = xmalloc(sizeof *f + fe.rid_len + fe.uid_len + fe.item_len + fe.eid_len);
	f->rhash = h;
	f->ts = ts;
	f->seq = j->seq++;
	f->offset = offset;
	f->partition = p->id;
	f->type = (uint8_t)type;
	f->rid_len = (uint16_t)fe.rid_len;
	f->uid_len = (uint16_t)fe.uid_len;
	f->item_len = (uint16_t)fe.item_len;
	f->eid_len = (uint16_t)fe.eid_len;
	memcpy(f->data, rid, fe.rid_len);
	memcpy(f->data + fe.rid_len, uid, fe.uid_len);
	memcpy(f->data + fe.rid_len + fe.uid_len, item, fe.item_len);
	memcpy(f->data + fe.rid_len + fe.uid_len + fe.item_len, fe.eid, fe.eid_len);
	table_add(&j->fbs, f, h, 0);
	heap_push(&p->fbs, f);
	j->nwaiting++;
	*j->g_waiting = (int64_t)j->nwaiting;
	while (j->nwaiting > j->o.max_open && (fp = oldest_fbs(j)) != NULL) {
		f = fp->fbs.v[0];
		fb_event(f, &fe);
		(*j->n_evicted_fb)++;
		emit_late(j, &fe, "unknown_impression", NULL);
		fb_remove(j, fp, f);
	}
}

/* ---- the interface ---- */

struct join *
join_new(const struct join_opts *o, const struct join_out *out, struct stats *st)
{
	struct join *j = xcalloc(1, sizeof *j);
	uint64_t **c[] = { &j->n_imp, &j->n_click, &j->n_pay, &j->n_samples, &j->n_late, &j->n_evicted,
	    &j->n_evicted_fb, &j->n_dup_click, &j->n_dup_pay, &j->n_dup_imp, &j->n_late_imp, &j->n_early,
	    &j->n_joined_waiting, &j->n_conflict, &j->n_ahead, &j->n_idle_close };
	static const char *const names[] = { "impressions", "clicks", "pays", "samples", "late",
	    "evicted", "evicted_waiting", "duplicate_clicks", "duplicate_pays", "duplicate_impressions",
	    "late_impressions", "early_samples", "joined_after_wait", "conflicting_impressions",
	    "ahead_events", "idle_closes" };
	size_t i;

	j->o = *o;
	if (j->o.max_open == 0)
		j->o.max_open = 1;
	if (out != NULL)
		j->out = *out;
	j->close_after = o->window > o->pay_window ? o->window : o->pay_window;
	j->first_after = o->window < o->pay_window ? o->window : o->pay_window;
	j->gwm = watermark_new(o->max_delay, o->idle_timeout);
	watermark_set_max_ahead(j->gwm, o->max_ahead, WATERMARK_CONFIRM);
	j->nullst = stats_null();
	if (st == NULL)
		st = j->nullst;
	for (i = 0; i < sizeof c / sizeof c[0]; i++)
		*c[i] = stats_counter(st, names[i]);
	j->g_open = stats_gauge(st, "open_impressions");
	j->g_waiting = stats_gauge(st, "waiting_feedback");
	j->g_peak = stats_gauge(st, "open_impressions_peak");
	return j;
}

int
join_event(struct join *j, const struct jev *ev, int32_t partition, int64_t offset)
{
	struct jpart *p;
	int64_t wm, ts = ev->ts;

	p = part_get(j, partition);
	if (ev->type == JEV_IMPRESSION) {
		if (on_impression(j, p, ev, offset) != 0)
			return -1;
	} else
		on_feedback(j, p, ev, offset);
	if (j->o.idle_timeout > 0)
		p->last_wall = mono_ms();
	/* Both see the same events of the partition, so they hold back the same outliers. */
	if (watermark_observe(p->wm, -1, ts) == WATERMARK_AHEAD)
		(*j->n_ahead)++;
	watermark_observe(j->gwm, partition, ts);
	wm = watermark_get(p->wm);
	if (wm > p->cur || (p->imps.n > 0 && ((struct imp *)p->imps.v[0])->deadline <= p->cur))
		part_advance(j, p, wm);
	return 0;
}

const char *
join_why(const struct join *j)
{
	return j->why;
}

/* Closes every window of p and gives up its waiting feedback, as at the end of the input, its watermark kept. */
static void
part_flush(struct join *j, struct jpart *p)
{
	int64_t cur = p->cur;

	part_advance(j, p, INT64_MAX);
	p->cur = cur;
}

void
join_quiet(struct join *j)
{
	int64_t q;
	size_t i;

	if (j->o.idle_close <= 0 || (j->nopen == 0 && j->nwaiting == 0) ||
	    (q = watermark_quiet_ms(j->gwm)) < j->o.idle_close)
		return;
	(*j->n_idle_close)++;
	for (i = 0; i < j->nparts; i++)
		part_flush(j, j->parts[i]);
}

void
join_tick(struct join *j)
{
	int64_t now, g;
	size_t i;

	if (j->o.idle_timeout <= 0 || j->nparts == 0)
		return;
	now = mono_ms();
	g = watermark_get(j->gwm);
	for (i = 0; i < j->nparts; i++) {
		struct jpart *p = j->parts[i];

		if (now - p->last_wall >= j->o.idle_timeout && g > p->cur)
			part_advance(j, p, g);
	}
}

int64_t
join_watermark(struct join *j)
{
	return watermark_get(j->gwm);
}

void
join_finish(struct join *j)
{
	size_t i;

	for (i = 0; i < j->nparts; i++)
		part_advance(j, j->parts[i], INT64_MAX);
}

static void
part_free(struct join *j, struct jpart *p)
{
	while (p->imps.n > 0) {
		struct imp *m = p->imps.v[--p->imps.n];

		table_del(&j->imps, m, m->rhash);
		j->nopen--;
		free(m);
	}
	while (p->fbs.n > 0) {
		struct fb *f = p->fbs.v[--p->fbs.n];

		table_del(&j->fbs, f, f->rhash);
		j->nwaiting--;
		free(f);
	}
	*j->g_open = (int64_t)j->nopen;
	*j->g_waiting = (int64_t)j->nwaiting;
	free(p->imps.v);
	free(p->fbs.v);
	watermark_free(p->wm);
	free(p);
}

void
join_drop_partition(struct join *j, int32_t partition)
{
	size_t i;

	for (i = 0; i < j->nparts; i++)
		if (j->parts[i]->id == partition) {
			part_free(j, j->parts[i]);
			j->parts[i] = j->parts[--j->nparts];
			j->lastpart = 0;
			watermark_forget(j->gwm, partition);
			return;
		}
}

int64_t
join_oldest_offset(struct join *j, int32_t partition)
{
	struct jpart *p = NULL;
	int64_t lo = -1;
	size_t i;

	for (i = 0; i < j->nparts; i++)
		if (j->parts[i]->id == partition)
			p = j->parts[i];
	if (p == NULL)
		return -1;
	for (i = 0; i < p->imps.n; i++) {
		const struct imp *m = p->imps.v[i];

		if (m->min_offset >= 0 && (lo < 0 || m->min_offset < lo))
			lo = m->min_offset;
	}
	for (i = 0; i < p->fbs.n; i++) {
		const struct fb *f = p->fbs.v[i];

		if (f->offset >= 0 && (lo < 0 || f->offset < lo))
			lo = f->offset;
	}
	return lo;
}

size_t
join_open(const struct join *j)
{
	return j->nopen;
}

size_t
join_waiting(const struct join *j)
{
	return j->nwaiting;
}

uint64_t
join_late(const struct join *j)
{
	return j->n_late_total;
}

void
join_free(struct join *j)
{
	if (j == NULL)
		return;
	/* The stats may be gone already. */
	j->g_open = stats_gauge(j->nullst, "open_impressions");
	j->g_waiting = stats_gauge(j->nullst, "waiting_feedback");
	while (j->nparts > 0)
		part_free(j, j->parts[--j->nparts]);
	free(j->parts);
	free(j->imps.b);
	free(j->fbs.b);
	watermark_free(j->gwm);
	stats_free(j->nullst);
	free(j->rec.p);
	free(j);
}
