/* experience-collect: chains the pages of each user's session, rebuilt from labelled samples, into reinforcement-learning transitions. */
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "diag.h"
#include "hash.h"
#include "jbuf.h"
#include "jsonx.h"
#include "kafka.h"
#include "lineio.h"
#include "stats.h"
#include "toolio.h"
#include "watermark.h"
#include "xalloc.h"

#define MAX_CONTEXT	1024	/* numbers in a sample's context */
#define MAX_FEATURES	4096	/* numbers in an item's features */
#define MAX_POS		65535	/* largest position on a page */
#define MAX_PAGE	1000000000	/* largest page number */
#define MAX_HIST	10000	/* largest --hist-len */
#define MAX_TS		253402300799999LL	/* 9999-12-31T23:59:59.999Z */

/* Why a chain of pages ended (the "end" field of a done transition). */
enum chain_end {
	END_NONE,
	END_SESSION_GAP,	/* no next page within --session-gap: the user left */
	END_PAGE_GAP,		/* the next page number is missing: the chain is cut */
	END_EOF,		/* end of input: the session may go on elsewhere */
	END_EVICTED,		/* closed early to honour --max-open */
	END_REVOKED		/* its Kafka partition was revoked in a rebalance */
};

static const char *const end_names[] = {
	"", "session_gap", "page_gap", "eof", "evicted", "revoked"
};

/* One shown item of a page; its strings and numbers live in the page's arrays. */
struct item {
	uint32_t id_off;	/* item id in page->str */
	uint32_t feat_off;	/* first feature in page->fl */
	uint16_t nfeat;
	uint16_t pos;
	uint8_t click, pay;
	float propensity;
};

/* One request of a session: the samples gathered so far. */
struct page {
	struct session *s;
	struct page *next;	/* in the session, ordered by (page, ts) */
	struct page *hnext;	/* in the request table */
	uint64_t hash;		/* of the request id */
	int64_t ts;
	int64_t page;
	int64_t first_offset;	/* Kafka offset of the first sample, -1 for files */
	int32_t part;		/* index into the partition table, -1 for files */
	uint32_t policy_off;	/* in str, or UINT32_MAX when absent */
	uint16_t nctx;		/* context: fl[0..nctx) */
	struct item *items;	/* in arrival order until emitted */
	uint32_t nitems, capitems;
	float *fl;
	uint32_t nfl, capfl;
	char *str;		/* request id at 0, then policy and item ids, each NUL-ended */
	uint32_t nstr, capstr;
};

/* One (user, session): its open pages and the state carried from emitted ones. */
struct session {
	char *key;		/* user_id NUL session_id NUL */
	size_t userlen;
	uint64_t hash;
	struct session *hnext;
	struct session *lru_prev, *lru_next;	/* least recently fed first */
	size_t heap_idx;
	int64_t wake;		/* watermark at which it may progress */
	struct page *pages;
	char **hist;		/* ring of --hist-len item ids, oldest at hist_head */
	size_t hist_n, hist_head;
	char *mdp_id;		/* of the running episode, NULL between episodes */
	uint64_t seq;		/* of the next transition in the episode */
	int emitted;		/* some page was emitted */
	/* a new page must come after this one: the last emitted, or the next page it chained to */
	int64_t front_page, front_ts;
	int32_t part;		/* partition-table index of its first sample, -1 for files */
	int64_t start_offset;	/* Kafka offset of its first sample, -1 for files */
	int frozen;		/* rebuilt from a replay not yet read to its end: waits */
	int64_t *late;		/* Kafka offsets of the samples of its partition rejected as late while it was open, ascending */
	size_t nlate;
};

/* Sessions ordered by the watermark at which they may progress. */
struct heap {
	struct session **v;
	size_t n, cap;
};

/* A string-keyed chained hash table of sessions or pages. */
struct table {
	void **b;
	size_t nb, n;
};

/* A Kafka partition seen on input, for committing positions. */
struct part {
	char *topic;
	int32_t partition;
	int64_t next_read;	/* offset after the last record read */
	int64_t wm_now;		/* its own event-time progress (see advance) */
	struct heap heap;	/* its sessions */
	int64_t held;		/* scratch: oldest offset still held */
	int64_t *starts;	/* scratch: first offsets of its open sessions */
	size_t nstarts, capstarts;
	int revoking;		/* scratch: being handed over */
	int active;		/* assigned: its position is stored at checkpoints */
	int described;		/* its last stored position carries the open sessions (see store_part) */
	int64_t replay_end;	/* the previous reader had read up to here; -1 when not replaying */
	int64_t *pend;		/* first offsets of the sessions it held open, not met yet, ascending */
	size_t npend, ipend;
	int64_t *plate;		/* offsets of the samples it rejected as late in those sessions, not met yet, ascending */
	size_t nplate, iplate;
	int64_t *lates;		/* scratch: offsets of the late samples of its open sessions (with plate's) */
	size_t nlates, caplates;
};

struct collector {
	struct tool_io *io;
	struct watermark *wm;
	int64_t wm_now;
	/* options */
	double w_click, w_pay;
	size_t hist_len;
	int64_t gap, grace;
	size_t max_open;
	/* state */
	struct table sessions, requests;
	struct session *lru_head, *lru_tail;
	struct heap heap;	/* sessions read from files */
	struct part *parts;
	size_t nparts;
	struct jbuf out;
	float ctx[MAX_CONTEXT], feat[MAX_FEATURES];
	/* counters */
	uint64_t *n_pages, *n_late, *n_evicted, *n_revoked;
	uint64_t *n_replayed, *n_replay_skipped, *n_undescribed;
	int replaying;		/* the sample being taken lies in a replay */
	uint64_t *n_end[END_REVOKED + 1];
	int64_t *g_open, *g_open_peak, *g_pages_open, *g_pages_peak;
};

static struct collector C;

static void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: experience-collect [-hqv] [-b brokers] [-G group] [-i input]... [-o output]\n"
	    "                          [-X key=value]... [--dead-letter endpoint] [--grace duration]\n"
	    "                          [--hist-len n] [--idle-timeout duration] [--max-delay duration]\n"
	    "                          [--max-open sessions] [--session-gap duration]\n"
	    "                          [--w-click weight] [--w-pay weight] [--max-line bytes]\n"
	    "                          [--stats file] [--stats-interval seconds] [--metrics file]\n"
	    "                          [--commit-interval seconds] [--strict]\n");
	exit(status);
}

/* a + b, saturating at INT64_MAX (b >= 0). */
static int64_t
sat_add(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/*
 * Rejects the line being taken with a reason; in a replay only counts it,
 * since the reader before had dead-lettered it already.
 */
static void __attribute__((format(printf, 2, 3)))
reject(const struct line *ln, const char *fmt, ...)
{
	char reason[1024];
	va_list ap;

	if (C.replaying) {
		(*C.n_replay_skipped)++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	tool_io_reject(C.io, ln, "%s", reason);
}

/* --- output --- */

/* Appends a double as a JSON real (always with a '.' or an exponent). */
static void
put_real(struct jbuf *b, double d)
{
	size_t start = b->len, i;

	jbuf_printf(b, "%.10g", d);
	for (i = start; i < b->len; i++)
		if (b->p[i] == '.' || b->p[i] == 'e')
			return;
	jbuf_lit(b, ".0");
}

/* --- tables --- */

static uint64_t
key_hash(const char *k, size_t len)
{
	return hash64(k, len, 0x9e3779b97f4a7c15ULL);
}

/* The session whose key (keylen bytes, hash h) is given, or NULL. */
static struct session *
table_find_session(struct table *t, const char *key, size_t keylen, uint64_t h)
{
	struct session *s;

	if (t->nb == 0)
		return NULL;
	for (s = t->b[h & (t->nb - 1)]; s; s = s->hnext)
		if (s->hash == h && memcmp(s->key, key, keylen) == 0)
			return s;
	return NULL;
}

/* The open page of request rid (hash h), or NULL. */
static struct page *
table_find_page(struct table *t, const char *rid, uint64_t h)
{
	struct page *p;

	if (t->nb == 0)
		return NULL;
	for (p = t->b[h & (t->nb - 1)]; p; p = p->hnext)
		if (p->hash == h && strcmp(p->str, rid) == 0)
			return p;
	return NULL;
}

/* Doubles the bucket array; next_of gives the chain link of an entry. */
static void
table_grow(struct table *t, void **(*next_of)(void *), uint64_t (*hash_of)(void *))
{
	size_t nb = t->nb ? t->nb * 2 : 1024, i;
	void **b = xcalloc(nb, sizeof *b);
	void *e, *nx;

	for (i = 0; i < t->nb; i++) {
		for (e = t->b[i]; e; e = nx) {
			nx = *next_of(e);
			*next_of(e) = b[hash_of(e) & (nb - 1)];
			b[hash_of(e) & (nb - 1)] = e;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

static void **
session_next(void *e)
{
	return (void **)&((struct session *)e)->hnext;
}

static uint64_t
session_hash(void *e)
{
	return ((struct session *)e)->hash;
}

static void **
page_next(void *e)
{
	return (void **)&((struct page *)e)->hnext;
}

static uint64_t
page_hash(void *e)
{
	return ((struct page *)e)->hash;
}

/* Adds entry e with hash h; the table does not own it. */
static void
table_add(struct table *t, void *e, uint64_t h, void **(*next_of)(void *), uint64_t (*hash_of)(void *))
{
	if (t->n >= t->nb)
		table_grow(t, next_of, hash_of);
	*next_of(e) = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = e;
	t->n++;
}

/* Unlinks entry e, which must be in the table. */
static void
table_del(struct table *t, void *e, uint64_t h, void **(*next_of)(void *))
{
	void **pp = &t->b[h & (t->nb - 1)];

	while (*pp != e)
		pp = next_of(*pp);
	*pp = *next_of(e);
	t->n--;
}

/* --- the wake-up heap: sessions by the watermark at which they may progress --- */

/* The heap that holds s: its partition's, or the one of file input. */
static struct heap *
heap_of(const struct session *s)
{
	return s->part >= 0 ? &C.parts[s->part].heap : &C.heap;
}

/* The watermark of partition-table index part: that partition's, or the one of file input (-1). */
static int64_t
part_wm(int32_t part)
{
	return part >= 0 ? C.parts[part].wm_now : C.wm_now;
}

/* The watermark that s progresses by. */
static int64_t
wm_of(const struct session *s)
{
	return part_wm(s->part);
}

static void
heap_swap(struct heap *h, size_t i, size_t j)
{
	struct session *t = h->v[i];

	h->v[i] = h->v[j];
	h->v[j] = t;
	h->v[i]->heap_idx = i;
	h->v[j]->heap_idx = j;
}

/* Restores the order of h around index i after its wake time changed. */
static void
heap_fix(struct heap *h, size_t i)
{
	size_t l, r, m;

	while (i > 0 && h->v[(i - 1) / 2]->wake > h->v[i]->wake) {
		heap_swap(h, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && h->v[l]->wake < h->v[m]->wake)
			m = l;
		if (r < h->n && h->v[r]->wake < h->v[m]->wake)
			m = r;
		if (m == i)
			return;
		heap_swap(h, i, m);
		i = m;
	}
}

static void
heap_add(struct session *s)
{
	struct heap *h = heap_of(s);

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		h->v = xreallocarray(h->v, h->cap, sizeof *h->v);
	}
	s->heap_idx = h->n;
	h->v[h->n++] = s;
	heap_fix(h, s->heap_idx);
}

static void
heap_del(struct session *s)
{
	struct heap *h = heap_of(s);
	size_t i = s->heap_idx;

	h->n--;
	if (i != h->n) {
		h->v[i] = h->v[h->n];
		h->v[i]->heap_idx = i;
		heap_fix(h, i);
	}
}

/*
 * The watermark at which s can next progress: its first page completes at
 * ts + grace; a complete first page is decided when the second completes or
 * when the session gap has passed.
 */
static void
session_rewake(struct session *s)
{
	struct page *p0 = s->pages, *p1;
	int64_t w;

	if (p0 == NULL || s->frozen)
		w = INT64_MAX;
	else if (wm_of(s) < sat_add(p0->ts, C.grace))
		w = sat_add(p0->ts, C.grace);
	else {
		w = sat_add(sat_add(p0->ts, C.gap), C.grace);
		if ((p1 = p0->next) != NULL && sat_add(p1->ts, C.grace) < w)
			w = sat_add(p1->ts, C.grace);
	}
	s->wake = w;
	heap_fix(heap_of(s), s->heap_idx);
}

/* --- pages --- */

/* Copies s into the strings of p; returns its offset. */
static uint32_t
page_add_str(struct page *p, const char *s)
{
	size_t n = strlen(s) + 1;
	uint32_t off = p->nstr;

	if (p->nstr + n > p->capstr) {
		while (p->nstr + n > p->capstr)
			p->capstr = p->capstr ? p->capstr * 2 : 64;
		p->str = xrealloc(p->str, p->capstr);
	}
	memcpy(p->str + p->nstr, s, n);
	p->nstr += (uint32_t)n;
	return off;
}

/* Copies n floats into the numbers of p; returns the offset of the first. */
static uint32_t
page_add_floats(struct page *p, const float *v, size_t n)
{
	uint32_t off = p->nfl;

	if (p->nfl + n > p->capfl) {
		while (p->nfl + n > p->capfl)
			p->capfl = p->capfl ? p->capfl * 2 : 16;
		p->fl = xreallocarray(p->fl, p->capfl, sizeof *p->fl);
	}
	memcpy(p->fl + p->nfl, v, n * sizeof *v);
	p->nfl += (uint32_t)n;
	return off;
}

static void
page_free(struct page *p)
{
	if (p == NULL)
		return;
	free(p->items);
	free(p->fl);
	free(p->str);
	free(p);
}

static int
item_cmp_pos(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	return (int)x->pos - (int)y->pos;
}

/* Orders pages by (page, ts). */
static int
page_before(const struct page *a, int64_t page, int64_t ts)
{
	return a->page < page || (a->page == page && a->ts < ts);
}

/* --- sessions --- */

static const char *
session_user(const struct session *s)
{
	return s->key;
}

static const char *
session_id(const struct session *s)
{
	return s->key + s->userlen + 1;
}

static void
lru_unlink(struct session *s)
{
	if (s->lru_prev)
		s->lru_prev->lru_next = s->lru_next;
	else
		C.lru_head = s->lru_next;
	if (s->lru_next)
		s->lru_next->lru_prev = s->lru_prev;
	else
		C.lru_tail = s->lru_prev;
	s->lru_prev = s->lru_next = NULL;
}

static void
lru_append(struct session *s)
{
	s->lru_prev = C.lru_tail;
	s->lru_next = NULL;
	if (C.lru_tail)
		C.lru_tail->lru_next = s;
	else
		C.lru_head = s;
	C.lru_tail = s;
}

static void
hist_clear(struct session *s)
{
	size_t i;

	for (i = 0; i < s->hist_n; i++)
		free(s->hist[(s->hist_head + i) % C.hist_len]);
	s->hist_n = s->hist_head = 0;
}

/* Appends a copy of id to the history of s, dropping the oldest past --hist-len. */
static void
hist_push(struct session *s, const char *id)
{
	if (C.hist_len == 0)
		return;
	if (s->hist_n == C.hist_len) {
		free(s->hist[s->hist_head]);
		s->hist[s->hist_head] = xstrdup(id);
		s->hist_head = (s->hist_head + 1) % C.hist_len;
	} else
		s->hist[(s->hist_head + s->hist_n++) % C.hist_len] = xstrdup(id);
}

/* A new, empty session, in every index; key is copied. */
static struct session *
session_new(const char *key, size_t keylen, size_t userlen, uint64_t h, int32_t part)
{
	struct session *s = xcalloc(1, sizeof *s);

	s->key = xmalloc(keylen);
	memcpy(s->key, key, keylen);
	s->userlen = userlen;
	s->hash = h;
	if (C.hist_len > 0)
		s->hist = xcalloc(C.hist_len, sizeof *s->hist);
	s->wake = INT64_MAX;
	s->part = part;
	s->start_offset = -1;
	table_add(&C.sessions, s, h, session_next, session_hash);
	lru_append(s);
	heap_add(s);
	if (++*C.g_open > *C.g_open_peak)
		*C.g_open_peak = *C.g_open;
	return s;
}

/* Removes s from every index and frees it with its pages, written or not. */
static void
session_free(struct session *s)
{
	struct page *p, *nx;

	table_del(&C.sessions, s, s->hash, session_next);
	lru_unlink(s);
	heap_del(s);
	for (p = s->pages; p; p = nx) {
		nx = p->next;
		table_del(&C.requests, p, p->hash, page_next);
		(*C.g_pages_open)--;
		page_free(p);
	}
	hist_clear(s);
	free(s->hist);
	free(s->mdp_id);
	free(s->key);
	free(s->late);
	free(s);
	(*C.g_open)--;
}

/* --- transitions --- */

/* Whether item i of p enters the history: clicked or paid, and not already by a copy of it shown earlier on p. */
static int
hist_worthy(const struct page *p, uint32_t i)
{
	uint32_t j;

	if (!(p->items[i].click || p->items[i].pay))
		return 0;
	for (j = 0; j < i; j++)
		if ((p->items[j].click || p->items[j].pay) &&
		    strcmp(p->str + p->items[j].id_off, p->str + p->items[i].id_off) == 0)
			return 0;
	return 1;
}

/* Appends the hist of s followed by the clicked or paid items of p (NULL: none), the last --hist-len. */
static void
put_hist(struct jbuf *b, const struct session *s, const struct page *p)
{
	size_t nclick = 0, skip, k = 0;
	uint32_t i;

	if (p)
		for (i = 0; i < p->nitems; i++)
			nclick += hist_worthy(p, i);
	skip = s->hist_n + nclick > C.hist_len ? s->hist_n + nclick - C.hist_len : 0;
	jbuf_lit(b, "[");
	for (k = skip; k < s->hist_n; k++) {
		if (k > skip)
			jbuf_lit(b, ",");
		jbuf_strz(b, s->hist[(s->hist_head + k) % C.hist_len]);
	}
	k = skip < s->hist_n ? s->hist_n - skip : 0;
	skip = skip > s->hist_n ? skip - s->hist_n : 0;
	for (i = 0; p && i < p->nitems; i++) {
		if (!hist_worthy(p, i))
			continue;
		if (skip) {
			skip--;
			continue;
		}
		if (k++)
			jbuf_lit(b, ",");
		jbuf_strz(b, p->str + p->items[i].id_off);
	}
	jbuf_lit(b, "]");
}

static void
put_items(struct jbuf *b, const struct page *p, int full)
{
	const struct item *it;
	uint32_t i;

	jbuf_lit(b, "[");
	for (i = 0; i < p->nitems; i++) {
		it = &p->items[i];
		if (i)
			jbuf_lit(b, ",");
		jbuf_lit(b, "{\"item_id\":");
		jbuf_strz(b, p->str + it->id_off);
		if (full) {
			jbuf_lit(b, ",\"pos\":");
			jbuf_i64(b, it->pos);
		}
		jbuf_lit(b, ",\"features\":");
		jbuf_floats(b, p->fl + it->feat_off, it->nfeat);
		if (full) {
			jbuf_lit(b, ",\"propensity\":");
			jbuf_num7(b, it->propensity);
			jbuf_lit(b, ",\"click\":");
			jbuf_i64(b, it->click);
			jbuf_lit(b, ",\"pay\":");
			jbuf_i64(b, it->pay);
		}
		jbuf_lit(b, "}");
	}
	jbuf_lit(b, "]");
}

/*
 * Emits the transition of p0, the first open page of s, with p1 the page
 * after it (NULL: none); when_last is the end to report when there is no
 * next page. Then removes p0 and carries its clicks into the history.
 */
static void
emit_first(struct session *s, enum chain_end when_last)
{
	struct page *p0 = s->pages, *p1 = p0->next;
	enum chain_end end = END_NONE;
	struct jbuf *b = &C.out;
	double clicks = 0, pays = 0;
	uint32_t i;

	if (p1 == NULL)
		end = when_last;
	else if (p1->ts - p0->ts > C.gap)
		end = END_SESSION_GAP;
	else if (p1->page > p0->page + 1)
		end = END_PAGE_GAP;
	qsort(p0->items, p0->nitems, sizeof *p0->items, item_cmp_pos);
	if (p1)
		qsort(p1->items, p1->nitems, sizeof *p1->items, item_cmp_pos);
	if (s->mdp_id == NULL) {
		if (p0->page == 0)
			s->mdp_id = xasprintf("%s/%s", session_user(s), session_id(s));
		else
			s->mdp_id = xasprintf("%s/%s/%s", session_user(s), session_id(s), p0->str);
		s->seq = 0;
	}
	for (i = 0; i < p0->nitems; i++) {
		clicks += p0->items[i].click;
		pays += p0->items[i].pay;
	}

	b->len = 0;
	jbuf_lit(b, "{\"mdp_id\":");
	jbuf_strz(b, s->mdp_id);
	jbuf_lit(b, ",\"seq\":");
	jbuf_i64(b, (int64_t)s->seq);
	jbuf_lit(b, ",\"user_id\":");
	jbuf_strz(b, session_user(s));
	jbuf_lit(b, ",\"session_id\":");
	jbuf_strz(b, session_id(s));
	jbuf_lit(b, ",\"request_id\":");
	jbuf_strz(b, p0->str);
	jbuf_lit(b, ",\"page\":");
	jbuf_i64(b, p0->page);
	jbuf_lit(b, ",\"ts\":");
	jbuf_i64(b, p0->ts);
	if (p0->policy_off != UINT32_MAX) {
		jbuf_lit(b, ",\"policy\":");
		jbuf_strz(b, p0->str + p0->policy_off);
	}
	jbuf_lit(b, ",\"state\":{\"hist\":");
	put_hist(b, s, NULL);
	jbuf_lit(b, ",\"context\":");
	jbuf_floats(b, p0->fl, p0->nctx);
	jbuf_lit(b, "},\"action\":");
	put_items(b, p0, 1);
	jbuf_lit(b, ",\"reward\":");
	put_real(b, C.w_click * clicks + C.w_pay * pays);
	if (end == END_NONE) {
		jbuf_lit(b, ",\"next_state\":{\"hist\":");
		put_hist(b, s, p0);
		jbuf_lit(b, ",\"context\":");
		jbuf_floats(b, p1->fl, p1->nctx);
		jbuf_lit(b, "},\"next_action\":");
		put_items(b, p1, 0);
		jbuf_lit(b, ",\"done\":false}");
	} else {
		jbuf_lit(b, ",\"next_state\":null,\"next_action\":[],\"done\":true,\"end\":");
		jbuf_strz(b, end_names[end]);
		jbuf_lit(b, "}");
		(*C.n_end[end])++;
	}
	tool_io_emit_raw(C.io, session_user(s), b->p, b->len);

	for (i = 0; i < p0->nitems; i++)
		if (hist_worthy(p0, i))
			hist_push(s, p0->str + p0->items[i].id_off);
	s->seq++;
	s->emitted = 1;
	s->front_page = end == END_NONE ? p1->page : p0->page;
	s->front_ts = end == END_NONE ? p1->ts : p0->ts;
	if (end != END_NONE) {
		free(s->mdp_id);
		s->mdp_id = NULL;
		if (end == END_SESSION_GAP)
			hist_clear(s);
	}
	s->pages = p1;
	table_del(&C.requests, p0, p0->hash, page_next);
	(*C.g_pages_open)--;
	page_free(p0);
}

/*
 * Emits every transition of s that the watermark decides (all of them when
 * force names the end of an early close), then frees s when no page is left.
 */
static void
session_progress(struct session *s, enum chain_end force)
{
	struct page *p0, *p1;
	int64_t w = wm_of(s);

	while ((p0 = s->pages) != NULL) {
		p1 = p0->next;
		if (force == END_NONE) {
			if (w < sat_add(p0->ts, C.grace))
				break;
			if (!(p1 && w >= sat_add(p1->ts, C.grace)) &&
			    w < sat_add(sat_add(p0->ts, C.gap), C.grace))
				break;
		}
		emit_first(s, force == END_NONE ? END_SESSION_GAP : force);
	}
	if (s->pages == NULL)
		session_free(s);
	else
		session_rewake(s);
}

/* Runs the sessions of h whose wake-up time its watermark *now, set to w, has reached. */
static void
advance_heap(struct heap *h, int64_t *now, int64_t w)
{
	if (w < *now)
		w = *now;
	if (w == *now && (h->n == 0 || h->v[0]->wake > w))
		return;
	*now = w;
	while (h->n > 0 && h->v[0]->wake <= w)
		session_progress(h->v[0], END_NONE);
}

/*
 * Runs every session whose wake-up time its watermark has reached. The
 * sessions of a Kafka partition go by the event time of that partition
 * alone (once it is idle, by that of all), so that what a partition yields
 * does not depend on which other partitions its reader holds.
 */
static void
advance(void)
{
	size_t i;

	advance_heap(&C.heap, &C.wm_now, watermark_get(C.wm));
	for (i = 0; i < C.nparts; i++)
		if (C.parts[i].active)
			advance_heap(&C.parts[i].heap, &C.parts[i].wm_now,
			    watermark_get_part(C.wm, C.parts[i].partition));
}

/* Closes the least recently fed session early, emitting what it holds. */
static void
evict_one(void)
{
	struct session *s = C.lru_head;

	diag_info(2, "evicting session %s/%s", session_user(s), session_id(s));
	(*C.n_evicted)++;
	session_progress(s, END_EVICTED);
}

/* --- input --- */

/* The partition-table index of partition of topic, added when new. */
static int32_t
part_index(const char *topic, int32_t partition)
{
	size_t i;

	for (i = 0; i < C.nparts; i++)
		if (C.parts[i].partition == partition && strcmp(C.parts[i].topic, topic) == 0)
			return (int32_t)i;
	C.parts = xreallocarray(C.parts, C.nparts + 1, sizeof *C.parts);
	memset(&C.parts[i], 0, sizeof C.parts[i]);
	C.parts[i].topic = xstrdup(topic);
	C.parts[i].partition = partition;
	C.parts[i].replay_end = -1;
	C.parts[i].wm_now = WATERMARK_NONE;
	C.nparts++;
	return (int32_t)i;
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

/* Ends the replay of partition pi: its rebuilt sessions go on under the watermark. */
static void
replay_end(int32_t pi)
{
	struct part *pt = &C.parts[pi];
	struct session *s;

	pt->replay_end = -1;
	free(pt->pend);
	pt->pend = NULL;
	pt->npend = pt->ipend = 0;
	free(pt->plate);
	pt->plate = NULL;
	pt->nplate = pt->iplate = 0;
	for (s = C.lru_head; s; s = s->lru_next)
		if (s->part == pi && s->frozen) {
			s->frozen = 0;
			session_rewake(s);
		}
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

/* Notes that a sample of s's partition at offset was rejected as late while s was open. */
static void
session_note_late(struct session *s, int64_t offset)
{
	if (s->nlate > 0 && s->late[s->nlate - 1] >= offset)
		return;
	s->late = xreallocarray(s->late, s->nlate + 1, sizeof *s->late);
	s->late[s->nlate++] = offset;
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

/* Validates one sample line of partition part and files it into its page; rejects it with a reason otherwise. */
static void
file_sample(const struct line *ln, int32_t part)
{
	char err[256], rid[257], uid[257], sid[257], iid[257], key[514];
	int64_t page, pos, ts;
	double prop;
	int click, pay;
	size_t nctx, nfeat, ulen, slen, i;
	const char *policy = NULL;
	struct session *s;
	struct page *p, **pp;
	struct item *it;
	uint64_t h, sh;
	int64_t w;
	json_t *o, *v;
	int start = 0, late;

	if ((o = jsonx_parse(ln->buf, ln->len, err, sizeof err)) == NULL) {
		reject(ln, "%s", err);
		return;
	}
	if (!json_is_object(o)) {
		reject(ln, "expected a JSON object");
		goto out;
	}
	if (jsonx_get_id(o, "request_id", rid, err, sizeof err) != 0 ||
	    jsonx_get_id(o, "user_id", uid, err, sizeof err) != 0 ||
	    jsonx_get_id(o, "session_id", sid, err, sizeof err) != 0 ||
	    jsonx_get_id(o, "item_id", iid, err, sizeof err) != 0 ||
	    jsonx_get_int(o, "page", 0, MAX_PAGE, &page, err, sizeof err) != 0 ||
	    jsonx_get_int(o, "pos", 0, MAX_POS, &pos, err, sizeof err) != 0 ||
	    jsonx_get_ts(o, "ts", &ts, err, sizeof err) != 0 ||
	    jsonx_get_floats(o, "context", MAX_CONTEXT, C.ctx, &nctx, err, sizeof err) != 0 ||
	    jsonx_get_floats(o, "features", MAX_FEATURES, C.feat, &nfeat, err, sizeof err) != 0 ||
	    jsonx_get_num(o, "propensity", 0, 1, &prop, err, sizeof err) != 0 ||
	    jsonx_get_flag(o, "click", &click, err, sizeof err) != 0 ||
	    jsonx_get_flag(o, "pay", &pay, err, sizeof err) != 0 ||
	    ((v = json_object_get(o, "policy")) != NULL && !json_is_null(v) &&
	     jsonx_get_str(o, "policy", 256, &policy, err, sizeof err) != 0)) {
		reject(ln, "%s", err);
		goto out;
	}

	if (ts < 0 || ts > MAX_TS) {
		reject(ln, "field 'ts': %" PRId64 " out of range", ts);
		goto out;
	}
	ulen = strlen(uid);
	slen = strlen(sid);
	memcpy(key, uid, ulen + 1);
	memcpy(key + ulen + 1, sid, slen + 1);
	sh = key_hash(key, ulen + slen + 2);
	s = table_find_session(&C.sessions, key, ulen + slen + 2, sh);
	if (C.replaying && replay_skips(part, ln->offset, s, &start)) {
		(*C.n_replay_skipped)++;
		goto out;
	}
	h = key_hash(rid, strlen(rid));
	if ((p = table_find_page(&C.requests, rid, h)) != NULL) {
		s = p->s;
		if (strcmp(session_user(s), uid) != 0 || strcmp(session_id(s), sid) != 0) {
			reject(ln, "request %s belongs to user %s session %s, not user %s session %s",
			    rid, session_user(s), session_id(s), uid, sid);
			goto out;
		}
		if (p->page != page || p->ts != ts || p->nctx != nctx || !floats_equal(p->fl, C.ctx, nctx) ||
		    (policy == NULL) != (p->policy_off == UINT32_MAX) ||
		    (policy && strcmp(policy, p->str + p->policy_off) != 0)) {
			reject(ln, "request %s: page, ts, context or policy differs from its earlier samples", rid);
			goto out;
		}
		for (i = 0; i < p->nitems; i++) {
			it = &p->items[i];
			if (it->pos == pos && strcmp(p->str + it->id_off, iid) == 0) {
				reject(ln, "duplicate sample of item %s at position %" PRId64 " of request %s",
				    iid, pos, rid);
				goto out;
			}
			if (it->pos == pos) {
				reject(ln, "position %" PRId64 " of request %s already holds item %s",
				    pos, rid, p->str + it->id_off);
				goto out;
			}
		}
	} else {
		w = part_wm(part);
		if (C.replaying) {
			/* In a replay the reader before decided what was late, and said so in its commit. */
			late = replay_late(part, ln->offset, s);
		} else if ((late = w != WATERMARK_NONE && w >= sat_add(ts, C.grace))) {
			(*C.n_late)++;
			if (s != NULL && part >= 0 && s->part == part)
				session_note_late(s, ln->offset);
		}
		if (late) {
			reject(ln, "late: request %s (ts %" PRId64 ") closed at watermark %" PRId64,
			    rid, ts, w);
			goto out;
		}
		if (s && s->emitted && (page < s->front_page || (page == s->front_page && ts <= s->front_ts))) {
			reject(ln, "request %s: page %" PRId64 " comes before pages already chained in user %s session %s",
			    rid, page, uid, sid);
			goto out;
		}
		if (s == NULL) {
			if (C.max_open > 0 && (size_t)*C.g_open >= C.max_open)
				evict_one();
			s = session_new(key, ulen + slen + 2, ulen, sh, part);
			s->start_offset = ln->offset;
			if (start) {
				s->frozen = 1;
				(*C.n_replayed)++;
			}
		}
		p = xcalloc(1, sizeof *p);
		p->s = s;
		p->hash = key_hash(rid, strlen(rid));
		p->ts = ts;
		p->page = page;
		p->part = part;
		p->first_offset = ln->offset;
		page_add_str(p, rid);
		p->policy_off = policy ? page_add_str(p, policy) : UINT32_MAX;
		p->nctx = (uint16_t)nctx;
		page_add_floats(p, C.ctx, nctx);
		for (pp = &s->pages; *pp && page_before(*pp, page, ts); pp = &(*pp)->next)
			;
		p->next = *pp;
		*pp = p;
		table_add(&C.requests, p, p->hash, page_next, page_hash);
		if (++*C.g_pages_open > *C.g_pages_peak)
			*C.g_pages_peak = *C.g_pages_open;
		(*C.n_pages)++;
	}

	if (p->nitems == p->capitems) {
		p->capitems = p->capitems ? p->capitems * 2 : 8;
		p->items = xreallocarray(p->items, p->capitems, sizeof *p->items);
	}
	it = &p->items[p->nitems++];
	it->id_off = page_add_str(p, iid);
	it->feat_off = page_add_floats(p, C.feat, nfeat);
	it->nfeat = (uint16_t)nfeat;
	it->pos = (uint16_t)pos;
	it->click = (uint8_t)click;
	it->pay = (uint8_t)pay;
	it->propensity = (float)prop;
	s = p->s;
	lru_unlink(s);
	lru_append(s);
	session_rewake(s);
	watermark_observe(C.wm, ln->partition, ts);
out:
	json_decref(o);
}

/* Takes one sample line: files it, or skips it in a replay when its session was written before. */
static void
take_sample(const struct line *ln)
{
	int32_t part = part_of(ln);

	C.replaying = part >= 0 && C.parts[part].replay_end > ln->offset;
	file_sample(ln, part);
	if (C.replaying && ln->offset + 1 >= C.parts[part].replay_end)
		replay_end(part);
	C.replaying = 0;
}

/* --- Kafka positions --- */

/*
 * What a partition's committed position says, in its commit metadata, to
 * the reader that takes the partition over: "ec2 R W D1 D2 ... / L1 L2 ...",
 * decimal numbers. The position is never past the first sample of a session
 * still open; the reader before had read up to the position plus R, where
 * its watermark of the partition was W (WATERMARK_NONE: none yet); the
 * sessions open then began at the position plus D1, then D2 after that, and
 * so on; in those sessions it had rejected as late the samples at the
 * position plus L1, then L2 after that, and so on (the part from "/" is
 * left out when there are none). Every other session met before that end
 * was closed and written: its samples are skipped. A description longer
 * than META_MAX is not stored. "ec1 R D1 D2 ..." (no watermark, no late
 * samples) is read too.
 */
#define META_MAGIC	"ec2"
#define META_MAGIC_1	"ec1"
#define META_MAX	4000	/* under the brokers' default offset.metadata.max.bytes, 4096 */

/* Appends offset to the array *v of *n offsets (room for *cap). */
static void
offsets_add(int64_t **v, size_t *n, size_t *cap, int64_t offset)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = xreallocarray(*v, *cap, sizeof **v);
	}
	(*v)[(*n)++] = offset;
}

static int
offset_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Gathers, per partition, the first offsets of its open sessions and the
 * offsets of their late samples (with those of a replay not met yet), and
 * the oldest offset held.
 */
static void
gather_open(void)
{
	struct session *s;
	struct page *p;
	struct part *pt;
	size_t i, k;

	for (i = 0; i < C.nparts; i++) {
		pt = &C.parts[i];
		pt->nstarts = pt->nlates = 0;
		pt->held = pt->next_read;
		for (k = pt->ipend; k < pt->npend; k++)
			offsets_add(&pt->starts, &pt->nstarts, &pt->capstarts, pt->pend[k]);
		for (k = pt->iplate; k < pt->nplate; k++)
			offsets_add(&pt->lates, &pt->nlates, &pt->caplates, pt->plate[k]);
	}
	for (s = C.lru_head; s; s = s->lru_next) {
		if (s->part >= 0) {
			pt = &C.parts[s->part];
			offsets_add(&pt->starts, &pt->nstarts, &pt->capstarts, s->start_offset);
			for (k = 0; k < s->nlate; k++)
				offsets_add(&pt->lates, &pt->nlates, &pt->caplates, s->late[k]);
		}
		for (p = s->pages; p; p = p->next)
			if (p->part >= 0 && p->first_offset < C.parts[p->part].held)
				C.parts[p->part].held = p->first_offset;
	}
	/* (qsort's array may not be NULL, even empty) */
	for (i = 0; i < C.nparts; i++) {
		if (C.parts[i].nstarts)
			qsort(C.parts[i].starts, C.parts[i].nstarts, sizeof *C.parts[i].starts, offset_cmp);
		if (C.parts[i].nlates)
			qsort(C.parts[i].lates, C.parts[i].nlates, sizeof *C.parts[i].lates, offset_cmp);
	}
}

/*
 * Appends " d1 d2 ...", the ascending offsets of v from prev on, each less
 * the one before (the first less prev), to b while it fits.
 */
static void
describe_offsets(struct jbuf *b, const int64_t *v, size_t n, int64_t prev)
{
	size_t k;

	for (k = 0; k < n && b->len <= META_MAX; k++) {
		if (v[k] < prev)
			continue;
		jbuf_lit(b, " ");
		jbuf_i64(b, v[k] - prev);
		prev = v[k];
	}
}

/*
 * The position to commit for partition pi (after gather_open) with its
 * description in b; returns 1 when described, 0 when the description is too
 * long, and the position is then that of the oldest open page.
 */
static int
describe_part(size_t pi, struct jbuf *b, int64_t *pos)
{
	struct part *pt = &C.parts[pi];
	int64_t end = pt->next_read, c = pt->held;

	b->len = 0;
	if (pt->replay_end > end)
		end = pt->replay_end;
	if (pt->nstarts > 0 && pt->starts[0] < c)
		c = pt->starts[0];
	*pos = c;
	if (c == end && pt->nstarts == 0 && pt->wm_now == WATERMARK_NONE)
		return 1;
	jbuf_lit(b, META_MAGIC " ");
	jbuf_i64(b, end - c);
	jbuf_lit(b, " ");
	jbuf_i64(b, pt->wm_now);
	describe_offsets(b, pt->starts, pt->nstarts, c);
	if (pt->nlates > 0 && pt->lates[pt->nlates - 1] >= c) {
		jbuf_lit(b, " /");
		describe_offsets(b, pt->lates, pt->nlates, c);
	}
	if (b->len <= META_MAX)
		return 1;
	b->len = 0;
	*pos = pt->held;
	return 0;
}

/* Stores, per assigned partition, the position from which a new reader rebuilds what is open, with its description. */
static void
store_positions(void *arg)
{
	struct jbuf b = { 0 };
	int64_t pos;
	size_t i;

	if (C.nparts == 0)
		return;
	gather_open();
	for (i = 0; i < C.nparts; i++) {
		if (!C.parts[i].active)
			continue;
		if (!(C.parts[i].described = describe_part(i, &b, &pos)))
			(*C.n_undescribed)++;
		line_reader_store_meta(C.io->in, C.parts[i].topic, C.parts[i].partition, pos, b.p, b.len);
	}
	free(b.p);
}

/*
 * Reads " d1 d2 ..." at *p, differences of offsets from offset, into the
 * array *v of *n; leaves *p after them. 0, or -1 on a negative or missing
 * number.
 */
static int
read_offsets(char **p, int64_t offset, int64_t **v, size_t *n)
{
	char *e;
	long long d;

	for (; **p == ' ' && (*p)[1] != '/'; *p = e) {
		d = strtoll(++*p, &e, 10);
		if (e == *p || d < 0)
			return -1;
		offset += d;
		*v = xreallocarray(*v, *n + 1, sizeof **v);
		(*v)[(*n)++] = offset;
	}
	return 0;
}

/*
 * Reads the description committed with partition pi's start position
 * (offset) into its replay: its end, the sessions to rebuild, the late
 * samples in them, and the watermark it starts from. 0 when valid.
 */
static int
read_description(struct part *pt, const char *meta, size_t len, int64_t offset)
{
	char *t = xmalloc(len + 1), *p, *e;
	long long v;
	int64_t wm = WATERMARK_NONE;
	int rv = -1, v1;

	memcpy(t, meta, len);
	t[len] = '\0';
	v1 = strncmp(t, META_MAGIC_1 " ", sizeof META_MAGIC_1) == 0;
	if (!v1 && strncmp(t, META_MAGIC " ", sizeof META_MAGIC) != 0)
		goto out;
	p = t + (v1 ? sizeof META_MAGIC_1 : sizeof META_MAGIC);
	v = strtoll(p, &e, 10);
	if (e == p || v < 0)
		goto out;
	pt->replay_end = offset + v;
	if (!v1) {
		p = e;
		v = strtoll(p, &e, 10);
		if (e == p || *p != ' ')
			goto out;
		wm = v;
	}
	p = e;
	if (read_offsets(&p, offset, &pt->pend, &pt->npend) != 0)
		goto out;
	if (!v1 && strncmp(p, " /", 2) == 0) {
		p += 2;
		if (read_offsets(&p, offset, &pt->plate, &pt->nplate) != 0 || pt->nplate == 0)
			goto out;
	}
	if (*p != '\0')
		goto out;
	if (wm > pt->wm_now)
		pt->wm_now = wm;
	rv = 0;
out:
	free(t);
	return rv;
}

/* Takes partition of topic on: notes where it starts and what the reader before left open. */
static void
take_over(const char *topic, int32_t partition)
{
	int32_t pi = part_index(topic, partition);
	struct part *pt = &C.parts[pi];
	const char *meta;
	int64_t offset;
	size_t len;

	replay_end(pi);
	pt->wm_now = WATERMARK_NONE;
	if ((meta = line_reader_start(C.io->in, topic, partition, &offset, &len)) == NULL) {
		diag_info(1, "kafka:%s/%" PRId32 ": no committed position known", topic, partition);
		return;
	}
	pt->active = 1;
	pt->next_read = offset;
	if (len == 0)
		return;
	if (read_description(pt, meta, len, offset) != 0) {
		diag_warn("kafka:%s/%" PRId32 ": commit metadata not understood; reading on from offset %" PRId64,
		    topic, partition, offset);
		replay_end(pi);
		return;
	}
	diag_info(2, "kafka:%s/%" PRId32 ": replaying from %" PRId64 " to %" PRId64 ", %zu open session(s), "
	    "%zu late sample(s), watermark %" PRId64, topic, partition, offset, pt->replay_end, pt->npend, pt->nplate,
	    pt->wm_now);
	if (pt->replay_end <= offset)
		replay_end(pi);
}

/*
 * Hands over the partitions marked revoking: those whose open sessions can
 * be described are committed at a position from which the next reader
 * rebuilds them, and dropped unwritten; the others have their sessions
 * closed and written (end "revoked") first.
 */
static void
hand_over(void)
{
	struct jbuf b = { 0 };
	struct session *s, *nx;
	struct page *p;
	int64_t pos;
	size_t i;
	int hit;

	gather_open();
	for (i = 0; i < C.nparts; i++)
		if (C.parts[i].revoking)
			C.parts[i].described = describe_part(i, &b, &pos);
	free(b.p);
	for (s = C.lru_head; s; s = nx) {
		nx = s->lru_next;
		hit = 0;
		for (p = s->pages; p && !hit; p = p->next)
			hit = p->part >= 0 && C.parts[p->part].revoking && !C.parts[p->part].described;
		if (hit) {
			(*C.n_revoked)++;
			session_progress(s, END_REVOKED);
		}
	}
	for (i = 0; i < C.nparts; i++)
		if (C.parts[i].revoking)
			watermark_forget(C.wm, C.parts[i].partition);
	tool_io_checkpoint(C.io);
	for (s = C.lru_head; s; s = nx) {
		nx = s->lru_next;
		if (s->part >= 0 && C.parts[s->part].revoking) {
			(*C.n_revoked)++;
			session_free(s);
		}
	}
	for (i = 0; i < C.nparts; i++)
		if (C.parts[i].revoking) {
			C.parts[i].revoking = 0;
			C.parts[i].active = 0;
			replay_end((int32_t)i);
		}
}

/*
 * A revoked partition is handed over (see hand_over). An assigned partition
 * is taken over, and joins the watermark at once, so that the samples of a
 * partition that delivers later are not taken for late ones.
 */
static void
on_rebalance(void *arg, int assigned, const char *topic, const int32_t *partitions, size_t n)
{
	size_t i, j;

	diag_info(2, "%s %zu partition(s) of %s", assigned ? "assigned" : "revoking", n, topic);
	if (assigned) {
		for (j = 0; j < n; j++) {
			take_over(topic, partitions[j]);
			/* An assigned partition holds the watermark back until it delivers or goes idle. */
			watermark_observe(C.wm, partitions[j], INT64_MIN);
		}
		return;
	}
	for (i = 0; i < C.nparts; i++)
		for (j = 0; j < n; j++)
			if (C.parts[i].partition == partitions[j] && strcmp(C.parts[i].topic, topic) == 0)
				C.parts[i].revoking = 1;
	hand_over();
}

/* Closes every open session at the end of input. */
static void
flush_all(void)
{
	while (C.lru_head)
		session_progress(C.lru_head, END_EOF);
}

int
main(int argc, char *argv[])
{
	enum {
		OPT_W_CLICK = TOOL_OPT_FIRST, OPT_W_PAY, OPT_HIST_LEN, OPT_SESSION_GAP,
		OPT_MAX_DELAY, OPT_GRACE, OPT_IDLE_TIMEOUT, OPT_MAX_OPEN
	};
	static const struct option longopts[] = {
		TOOL_LONGOPTS,
		{ "help",         no_argument,       NULL, 'h' },
		{ "w-click",      required_argument, NULL, OPT_W_CLICK },
		{ "w-pay",        required_argument, NULL, OPT_W_PAY },
		{ "hist-len",     required_argument, NULL, OPT_HIST_LEN },
		{ "session-gap",  required_argument, NULL, OPT_SESSION_GAP },
		{ "max-delay",    required_argument, NULL, OPT_MAX_DELAY },
		{ "grace",        required_argument, NULL, OPT_GRACE },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
		{ "max-open",     required_argument, NULL, OPT_MAX_OPEN },
		{ NULL, 0, NULL, 0 }
	};
	struct tool_opts opts = { 0 };
	int64_t max_delay = 60 * 1000, idle_timeout = 60 * 1000, d;
	struct line ln;
	size_t i;
	long n;
	int ch, rv, r;
	enum chain_end e;

	diag_init(argv[0]);
	C.w_click = 1.0;
	C.w_pay = 1.0;
	C.hist_len = 20;
	C.gap = 30 * 60 * 1000;
	C.grace = 0;
	C.max_open = 1000000;
	while ((ch = getopt_long(argc, argv, TOOL_SHORTOPTS "h", longopts, NULL)) != -1) {
		if ((r = tool_opts_handle(&opts, ch, optarg)) == 1)
			continue;
		if (r < 0)
			usage(2);
		switch (ch) {
		case 'h':
			usage(0);
			break;
		case OPT_W_CLICK:
			if (parse_double(optarg, -1e9, 1e9, &C.w_click) != 0)
				diag_fatal(2, "--w-click %s: expected a number", optarg);
			break;
		case OPT_W_PAY:
			if (parse_double(optarg, -1e9, 1e9, &C.w_pay) != 0)
				diag_fatal(2, "--w-pay %s: expected a number", optarg);
			break;
		case OPT_HIST_LEN:
			if (parse_long(optarg, 0, MAX_HIST, &n) != 0)
				diag_fatal(2, "--hist-len %s: expected 0 to %d", optarg, MAX_HIST);
			C.hist_len = (size_t)n;
			break;
		case OPT_MAX_OPEN:
			if (parse_long(optarg, 1, 1000000000L, &n) != 0)
				diag_fatal(2, "--max-open %s: expected a positive number", optarg);
			C.max_open = (size_t)n;
			break;
		case OPT_SESSION_GAP:
		case OPT_MAX_DELAY:
		case OPT_GRACE:
		case OPT_IDLE_TIMEOUT:
			if ((d = parse_duration_ms(optarg)) < 0)
				diag_fatal(2, "%s %s: expected a duration", argv[optind - 2], optarg);
			if (ch == OPT_SESSION_GAP)
				C.gap = d;
			else if (ch == OPT_MAX_DELAY)
				max_delay = d;
			else if (ch == OPT_GRACE)
				C.grace = d;
			else
				idle_timeout = d;
			break;
		default:
			usage(2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage(2);

	opts.kafka.start_metadata = 1;
	if ((C.io = tool_io_open(&opts, "experience-collect")) == NULL) {
		tool_opts_free(&opts);
		return 1;
	}
	C.io->manual_commit = 1;
	C.wm = watermark_new(max_delay, idle_timeout);
	C.wm_now = WATERMARK_NONE;
	C.n_pages = stats_counter(C.io->st, "pages");
	C.n_late = stats_counter(C.io->st, "late");
	C.n_evicted = stats_counter(C.io->st, "evicted_sessions");
	C.n_revoked = stats_counter(C.io->st, "revoked_sessions");
	C.n_replayed = stats_counter(C.io->st, "replayed_sessions");
	C.n_replay_skipped = stats_counter(C.io->st, "replay_skipped");
	C.n_undescribed = stats_counter(C.io->st, "undescribed_positions");
	for (e = END_SESSION_GAP; e <= END_REVOKED; e++) {
		char name[32];

		snprintf(name, sizeof name, "end_%s", end_names[e]);
		C.n_end[e] = stats_counter(C.io->st, name);
	}
	C.g_open = stats_gauge(C.io->st, "open_sessions");
	C.g_open_peak = stats_gauge(C.io->st, "open_sessions_peak");
	C.g_pages_open = stats_gauge(C.io->st, "open_pages");
	C.g_pages_peak = stats_gauge(C.io->st, "open_pages_peak");
	tool_io_on_checkpoint(C.io, store_positions, NULL);

	line_reader_on_rebalance(C.io->in, on_rebalance, NULL);
	while ((rv = tool_io_next(C.io, &ln)) != 0) {
		if (rv == 1)
			take_sample(&ln);
		advance();
	}
	/* A stop hands every partition over, as a revocation does. */
	for (i = 0; i < C.nparts; i++)
		C.parts[i].revoking = C.parts[i].active;
	if (C.nparts > 0)
		hand_over();
	flush_all();
	rv = tool_io_close(C.io);
	watermark_free(C.wm);
	tool_opts_free(&opts);
	return rv;
}
