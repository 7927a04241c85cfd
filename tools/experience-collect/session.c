/* session.c: experience-collect's session store — sessions and open pages by key, least recently fed first, and by the watermark at which they may progress. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "heap.h"
#include "stats.h"
#include "xalloc.h"

#include "ec.h"
#include "session.h"

struct collector C;

const char *const end_names[] = {
	"", "session_gap", "page_gap", "eof", "evicted", "revoked", "idle"
};

/* Sets up the collector's heap of file input and registers its counters and gauges in st. */
void
collector_init(struct stats *st)
{
	enum chain_end e;
	char name[32];

	session_heap_init(&C.heap);
	C.n_pages = stats_counter(st, "pages");
	C.n_late = stats_counter(st, "late");
	C.n_evicted = stats_counter(st, "evicted_sessions");
	C.n_revoked = stats_counter(st, "revoked_sessions");
	C.n_replayed = stats_counter(st, "replayed_sessions");
	C.n_replay_skipped = stats_counter(st, "replay_skipped");
	C.n_undescribed = stats_counter(st, "undescribed_positions");
	C.n_no_propensity = stats_counter(st, "no_propensity");
	C.n_evicted_pages = stats_counter(st, "evicted_pages");
	C.n_page_steps = stats_counter(st, "page_order_steps");
	C.n_ahead = stats_counter(st, "ahead_samples");
	C.n_idle_close = stats_counter(st, "idle_closes");
	for (e = END_SESSION_GAP; e <= END_IDLE; e++) {
		snprintf(name, sizeof name, "end_%s", end_names[e]);
		C.n_end[e] = stats_counter(st, name);
	}
	C.g_open = stats_gauge(st, "open_sessions");
	C.g_open_peak = stats_gauge(st, "open_sessions_peak");
	C.g_pages_open = stats_gauge(st, "open_pages");
	C.g_pages_peak = stats_gauge(st, "open_pages_peak");
}

uint64_t
key_hash(const char *k, size_t len)
{
	return hash64(k, len, 0x9e3779b97f4a7c15ULL);
}

/* The session whose key (keylen bytes, hash h) is given, or NULL. */
struct session *
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
struct page *
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

void **
session_next(void *e)
{
	return (void **)&((struct session *)e)->hnext;
}

uint64_t
session_hash(void *e)
{
	return ((struct session *)e)->hash;
}

void **
page_next(void *e)
{
	return (void **)&((struct page *)e)->hnext;
}

uint64_t
page_hash(void *e)
{
	return ((struct page *)e)->hash;
}

/* Adds entry e with hash h; the table does not own it. */
void
table_add(struct table *t, void *e, uint64_t h, void **(*next_of)(void *), uint64_t (*hash_of)(void *))
{
	if (t->n >= t->nb)
		table_grow(t, next_of, hash_of);
	*next_of(e) = t->b[h & (t->nb - 1)];
	t->b[h & (t->nb - 1)] = e;
	t->n++;
}

/* Unlinks entry e, which must be in the table. */
void
table_del(struct table *t, void *e, uint64_t h, void **(*next_of)(void *))
{
	void **pp = &t->b[h & (t->nb - 1)];

	while (*pp != e)
		pp = next_of(*pp);
	*pp = *next_of(e);
	t->n--;
}

/* The heap that holds s: its partition's, or the one of file input. */
static struct heap *
heap_of(const struct session *s)
{
	return s->part >= 0 ? &C.parts[s->part].heap : &C.heap;
}

/* The watermark of partition-table index part: that partition's, or the one of file input (-1). */
int64_t
part_wm(int32_t part)
{
	return part >= 0 ? C.parts[part].wm_now : C.wm_now;
}

/* The watermark that s progresses by. */
int64_t
wm_of(const struct session *s)
{
	return part_wm(s->part);
}

/* Wake-up order: the session that may progress at the lowest watermark first. */
static int
session_wakes_before(const void *a, const void *b)
{
	return ((const struct session *)a)->wake < ((const struct session *)b)->wake;
}

static void
session_place(void *e, size_t i)
{
	((struct session *)e)->heap_idx = i;
}

void
session_heap_init(struct heap *h)
{
	heap_init(h, session_wakes_before, session_place);
}

/*
 * The watermark at which s can next progress: its first page completes at
 * ts + grace; a complete first page is decided when the second completes or
 * when the session gap has passed.
 */
void
session_rewake(struct session *s)
{
	struct page *p0 = session_first(s), *p1;
	int64_t w;

	if (p0 == NULL || s->frozen)
		w = INT64_MAX;
	else if (wm_of(s) < sat_add(p0->ts, C.grace))
		w = sat_add(p0->ts, C.grace);
	else {
		w = sat_add(sat_add(p0->ts, C.gap), C.grace);
		if ((p1 = session_second(s)) != NULL && sat_add(p1->ts, C.grace) < w)
			w = sat_add(p1->ts, C.grace);
	}
	s->wake = w;
	heap_fix(heap_of(s), s->heap_idx);
}

/* Copies s into the strings of p; returns its offset. */
uint32_t
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
uint32_t
page_add_floats(struct page *p, const float *v, size_t n)
{
	uint32_t off = p->nfl;

	/* allocated even for none, so that p->fl + offset is never arithmetic on NULL */
	if (p->fl == NULL || p->nfl + n > p->capfl) {
		if (p->capfl == 0)
			p->capfl = 16;
		while (p->nfl + n > p->capfl)
			p->capfl *= 2;
		p->fl = xreallocarray(p->fl, p->capfl, sizeof *p->fl);
	}
	memcpy(p->fl + p->nfl, v, n * sizeof *v);
	p->nfl += (uint32_t)n;
	return off;
}

void
page_free(struct page *p)
{
	if (p == NULL)
		return;
	free(p->items);
	free(p->fl);
	free(p->str);
	free(p);
}

int
item_cmp_pos(const void *a, const void *b)
{
	const struct item *x = a, *y = b;

	return (int)x->pos - (int)y->pos;
}

/* Orders the open pages of a session by (page, ts), the later arrival first among equals. */
static int
page_before(const void *x, const void *y)
{
	const struct page *a = x, *b = y;

	(*C.n_page_steps)++;
	if (a->page != b->page)
		return a->page < b->page;
	if (a->ts != b->ts)
		return a->ts < b->ts;
	return a->seq > b->seq;
}

const char *
session_user(const struct session *s)
{
	return s->key;
}

const char *
session_id(const struct session *s)
{
	return s->key + s->userlen + 1;
}

void
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

void
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

void
hist_clear(struct session *s)
{
	size_t i;

	for (i = 0; i < s->hist_n; i++)
		free(s->hist[(s->hist_head + i) % C.hist_len]);
	s->hist_n = s->hist_head = 0;
}

/* Appends a copy of id to the history of s, dropping the oldest past --hist-len. */
void
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
struct session *
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
	heap_init(&s->pages, page_before, NULL);
	s->part = part;
	s->start_offset = -1;
	table_add(&C.sessions, s, h, session_next, session_hash);
	lru_append(s);
	heap_push(heap_of(s), s);
	if (++*C.g_open > *C.g_open_peak)
		*C.g_open_peak = *C.g_open;
	return s;
}

/* Removes s from every index and frees it with its pages, written or not. */
void
session_free(struct session *s)
{
	struct page *p;
	size_t i;

	table_del(&C.sessions, s, s->hash, session_next);
	lru_unlink(s);
	heap_remove(heap_of(s), s->heap_idx);
	for (i = 0; i < s->pages.n; i++) {
		p = s->pages.v[i];
		table_del(&C.requests, p, p->hash, page_next);
		(*C.g_pages_open)--;
		page_free(p);
	}
	heap_free(&s->pages);
	hist_clear(s);
	free(s->hist);
	free(s->mdp_id);
	free(s->key);
	free(s->late);
	free(s);
	(*C.g_open)--;
}

/* Notes that a sample of s's partition at offset was rejected as late while s was open. */
void
session_note_late(struct session *s, int64_t offset)
{
	if (s->nlate > 0 && s->late[s->nlate - 1] >= offset)
		return;
	s->late = xreallocarray(s->late, s->nlate + 1, sizeof *s->late);
	s->late[s->nlate++] = offset;
}

struct page *
session_first(const struct session *s)
{
	return heap_top(&s->pages);
}

struct page *
session_second(const struct session *s)
{
	const struct heap *h = &s->pages;

	if (h->n < 2)
		return NULL;
	if (h->n == 2 || h->before(h->v[1], h->v[2]))
		return h->v[1];
	return h->v[2];
}

void
session_add_page(struct session *s, struct page *p)
{
	p->seq = C.page_seq++;
	heap_push(&s->pages, p);
}

void
session_drop_first(struct session *s)
{
	struct page *p0 = heap_pop(&s->pages);

	table_del(&C.requests, p0, p0->hash, page_next);
	(*C.g_pages_open)--;
	page_free(p0);
}
