/* history.c: q-score's real-time user histories — a sharded LRU of recent clicks, fed from the event stream by a thread of its own. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "hash.h"
#include "jsonx.h"
#include "kafka.h"
#include "lineio.h"
#include "qscore.h"
#include "xalloc.h"

#define NSHARDS 16

struct click {
	char *item;
	uint64_t page;		/* hash of the request id: one entry per item of a page */
};

struct user {
	struct user *hnext;		/* hash chain */
	struct user *prev, *next;	/* LRU list, most recent first */
	uint64_t h;
	uint64_t session;		/* hash of the session its clicks belong to, 0 when unknown */
	char *id;
	size_t n, head;			/* clicks held; index of the oldest */
	struct click ring[];
};

struct shard {
	pthread_mutex_t mu;
	struct user **tab;
	size_t mask;
	size_t n, cap;
	struct user *mru, *lru;
};

struct qs_history {
	size_t len;
	struct shard sh[NSHARDS];
	atomic_uint_fast64_t evictions;
};

struct qs_history *
qs_history_new(size_t max_users, size_t len)
{
	struct qs_history *h = xcalloc(1, sizeof *h);
	size_t i, cap, tab;

	h->len = len ? len : 1;
	cap = (max_users + NSHARDS - 1) / NSHARDS;
	if (cap == 0)
		cap = 1;
	for (tab = 16; tab < cap * 2; tab *= 2)
		;
	for (i = 0; i < NSHARDS; i++) {
		pthread_mutex_init(&h->sh[i].mu, NULL);
		h->sh[i].tab = xcalloc(tab, sizeof *h->sh[i].tab);
		h->sh[i].mask = tab - 1;
		h->sh[i].cap = cap;
	}
	return h;
}

static void
user_free(struct user *u, size_t len)
{
	size_t i;

	for (i = 0; i < u->n; i++)
		free(u->ring[(u->head + i) % len].item);
	free(u->id);
	free(u);
}

void
qs_history_free(struct qs_history *h)
{
	struct user *u, *next;
	size_t i;

	if (h == NULL)
		return;
	for (i = 0; i < NSHARDS; i++) {
		for (u = h->sh[i].mru; u != NULL; u = next) {
			next = u->next;
			user_free(u, h->len);
		}
		free(h->sh[i].tab);
		pthread_mutex_destroy(&h->sh[i].mu);
	}
	free(h);
}

static void
lru_unlink(struct shard *s, struct user *u)
{
	if (u->prev)
		u->prev->next = u->next;
	else
		s->mru = u->next;
	if (u->next)
		u->next->prev = u->prev;
	else
		s->lru = u->prev;
	u->prev = u->next = NULL;
}

static void
lru_push(struct shard *s, struct user *u)
{
	u->prev = NULL;
	u->next = s->mru;
	if (s->mru)
		s->mru->prev = u;
	s->mru = u;
	if (s->lru == NULL)
		s->lru = u;
}

static struct user *
find(struct shard *s, uint64_t hv, const char *id)
{
	struct user *u;

	for (u = s->tab[(hv >> 8) & s->mask]; u != NULL; u = u->hnext)
		if (u->h == hv && strcmp(u->id, id) == 0)
			return u;
	return NULL;
}

static void
unhash(struct shard *s, struct user *u)
{
	struct user **pp = &s->tab[(u->h >> 8) & s->mask];

	while (*pp != u)
		pp = &(*pp)->hnext;
	*pp = u->hnext;
}

/* The user's entry, created (evicting the least recently used when full) if absent, made most recent. Lock held. */
static struct user *
touch(struct qs_history *h, struct shard *s, uint64_t hv, const char *user)
{
	struct user *u = find(s, hv, user), *old;

	if (u == NULL) {
		if (s->n >= s->cap) {
			old = s->lru;
			lru_unlink(s, old);
			unhash(s, old);
			user_free(old, h->len);
			s->n--;
			atomic_fetch_add(&h->evictions, 1);
		}
		u = xcalloc(1, sizeof *u + h->len * sizeof u->ring[0]);
		u->h = hv;
		u->id = xstrdup(user);
		u->hnext = s->tab[(hv >> 8) & s->mask];
		s->tab[(hv >> 8) & s->mask] = u;
		s->n++;
	} else
		lru_unlink(s, u);
	lru_push(s, u);
	return u;
}

int
qs_history_session(struct qs_history *h, const char *user, const char *session_id)
{
	uint64_t hv = hash64(user, strlen(user), 0x51);
	uint64_t sess = hash64(session_id, strlen(session_id), 0x53) | 1;
	struct shard *s = &h->sh[hv % NSHARDS];
	struct user *u;
	size_t i;
	int cleared = 0;

	pthread_mutex_lock(&s->mu);
	u = touch(h, s, hv, user);
	if (u->session == 0)
		u->session = sess;	/* clicks seen before any impression: taken to be of this session */
	else if (u->session != sess) {
		cleared = u->n > 0;
		for (i = 0; i < u->n; i++) {
			free(u->ring[(u->head + i) % h->len].item);
			u->ring[(u->head + i) % h->len].item = NULL;
		}
		u->n = u->head = 0;
		u->session = sess;
	}
	pthread_mutex_unlock(&s->mu);
	return cleared;
}

int
qs_history_click(struct qs_history *h, const char *user, const char *request_id, const char *item)
{
	uint64_t hv = hash64(user, strlen(user), 0x51);
	uint64_t page = hash64(request_id, strlen(request_id), 0x52);
	struct shard *s = &h->sh[hv % NSHARDS];
	struct user *u;
	size_t i, slot;
	int added = 0;

	pthread_mutex_lock(&s->mu);
	u = touch(h, s, hv, user);
	for (i = 0; i < u->n; i++) {
		struct click *c = &u->ring[(u->head + i) % h->len];
		if (c->page == page && strcmp(c->item, item) == 0)
			goto out;
	}
	if (u->n == h->len) {
		free(u->ring[u->head].item);
		u->head = (u->head + 1) % h->len;
		u->n--;
	}
	slot = (u->head + u->n) % h->len;
	u->ring[slot].item = xstrdup(item);
	u->ring[slot].page = page;
	u->n++;
	added = 1;
out:
	pthread_mutex_unlock(&s->mu);
	return added;
}

size_t
qs_history_get(struct qs_history *h, const char *user, char *buf, size_t bufsize, const char **ids, size_t max)
{
	uint64_t hv = hash64(user, strlen(user), 0x51);
	struct shard *s = &h->sh[hv % NSHARDS];
	struct user *u;
	size_t i, first, n = 0, used = 0, len;

	pthread_mutex_lock(&s->mu);
	u = find(s, hv, user);
	if (u != NULL) {
		lru_unlink(s, u);
		lru_push(s, u);
		first = u->n > max ? u->n - max : 0;
		for (i = first; i < u->n; i++) {
			const char *item = u->ring[(u->head + i) % h->len].item;
			len = strlen(item) + 1;
			if (used + len > bufsize)
				break;
			memcpy(buf + used, item, len);
			ids[n++] = buf + used;
			used += len;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

size_t
qs_history_users(struct qs_history *h)
{
	size_t i, n = 0;

	for (i = 0; i < NSHARDS; i++) {
		pthread_mutex_lock(&h->sh[i].mu);
		n += h->sh[i].n;
		pthread_mutex_unlock(&h->sh[i].mu);
	}
	return n;
}

uint64_t
qs_history_evictions(struct qs_history *h)
{
	return atomic_load(&h->evictions);
}

/* ---- the in-process store behind the table of history stores ---- */

static int
mem_session(void *st, const char *user, const char *session_id)
{
	return qs_history_session(st, user, session_id);
}

static int
mem_click(void *st, const char *user, const char *request_id, const char *item)
{
	return qs_history_click(st, user, request_id, item);
}

static long
mem_flush(void *st, int force)
{
	return 0;
}

static long
mem_get(void *st, const char *user, char *buf, size_t bufsize, const char **ids, size_t max)
{
	return (long)qs_history_get(st, user, buf, bufsize, ids, max);
}

static void
mem_stats(void *st, struct qs_hstore_stats *s)
{
	memset(s, 0, sizeof *s);
	s->users = qs_history_users(st);
	s->evictions = qs_history_evictions(st);
}

static void
mem_free(void *st)
{
	qs_history_free(st);
}

static const struct qs_hstore_ops mem_ops = {
	.session = mem_session,
	.click = mem_click,
	.flush = mem_flush,
	.get = mem_get,
	.stats = mem_stats,
	.free = mem_free,
};

struct qs_hstore *
qs_hstore_memory(size_t max_users, size_t len)
{
	struct qs_hstore *hs = xcalloc(1, sizeof *hs);

	hs->ops = &mem_ops;
	hs->st = qs_history_new(max_users, len);
	return hs;
}

void
qs_hstore_free(struct qs_hstore *hs)
{
	if (hs == NULL)
		return;
	hs->ops->free(hs->st);
	free(hs);
}

/* ---- the event follower ---- */

struct qs_events {
	struct qs_hstore *h;
	char *spec;
	const struct kafka_opts *kopts;
	pthread_t tid;
	atomic_int stop;
	atomic_int ended;
	atomic_uint_fast64_t lines, clicks, bad;
};

/* Records one canonical event; non-click, non-pay events are skipped. -1 when the line is unusable. */
static int
event_apply(struct qs_events *ev, const char *buf, size_t len)
{
	char err[128], user[257], req[257], item[257];
	const char *type;
	json_t *j;
	int rc = -1;

	j = jsonx_parse(buf, len, err, sizeof err);
	if (j == NULL)
		return -1;
	if (jsonx_get_str(j, "type", 32, &type, err, sizeof err) != 0)
		goto out;
	rc = 0;
	if (strcmp(type, "impression") == 0) {
		char sess[257];
		if (json_object_get(j, "session_id") == NULL)
			goto out;
		if (jsonx_get_id(j, "user_id", user, err, sizeof err) != 0 ||
		    jsonx_get_id(j, "session_id", sess, err, sizeof err) != 0) {
			rc = -1;
			goto out;
		}
		ev->h->ops->session(ev->h->st, user, sess);
		goto out;
	}
	if (strcmp(type, "click") != 0 && strcmp(type, "pay") != 0)
		goto out;
	if (jsonx_get_id(j, "user_id", user, err, sizeof err) != 0 ||
	    jsonx_get_id(j, "request_id", req, err, sizeof err) != 0 ||
	    jsonx_get_id(j, "item_id", item, err, sizeof err) != 0) {
		rc = -1;
		goto out;
	}
	if (ev->h->ops->click(ev->h->st, user, req, item) > 0)
		atomic_fetch_add(&ev->clicks, 1);
out:
	json_decref(j);
	return rc;
}

/*
 * Writes the store's queued updates when due (force: now). A store that
 * cannot be written holds the reader back, retrying, until it can or the
 * thread is asked to stop: the events wait in their topic, not in memory.
 */
static void
events_flush(struct qs_events *ev, int force)
{
	long n;

	while ((n = ev->h->ops->flush(ev->h->st, force)) < 0 && !atomic_load(&ev->stop)) {
		force = 1;
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	if (n > 0)
		atomic_fetch_add(&ev->clicks, (uint64_t)n);
}

static void *
events_main(void *arg)
{
	struct qs_events *ev = arg;
	struct line_reader *r;
	struct line ln;
	sigset_t all;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	r = line_reader_open(&ev->spec, 1, ev->kopts, LINE_MAX_DEFAULT);
	while (!atomic_load(&ev->stop)) {
		rc = line_reader_next(r, &ln);
		if (rc == 0 || rc == -1)
			break;
		if (rc == LINE_IDLE) {
			events_flush(ev, 1);
			continue;
		}
		atomic_fetch_add(&ev->lines, 1);
		if (ln.too_long || event_apply(ev, ln.buf, ln.len) != 0)
			atomic_fetch_add(&ev->bad, 1);
		events_flush(ev, 0);
	}
	events_flush(ev, 1);
	if (line_reader_failed(r))
		diag_warn("events %s: could not be read to the end", ev->spec);
	else
		diag_info(2, "events %s: ended after %ju lines", ev->spec, (uintmax_t)atomic_load(&ev->lines));
	line_reader_close(r);
	atomic_store(&ev->ended, 1);
	return NULL;
}

struct qs_events *
qs_events_start(struct qs_hstore *h, const char *spec, const struct kafka_opts *kopts)
{
	struct qs_events *ev = xcalloc(1, sizeof *ev);
	int e;

	ev->h = h;
	ev->spec = xstrdup(spec);
	ev->kopts = kopts;
	if ((e = pthread_create(&ev->tid, NULL, events_main, ev)) != 0) {
		diag_warn("events thread: %s", strerror(e));
		free(ev->spec);
		free(ev);
		return NULL;
	}
	return ev;
}

void
qs_events_counts(struct qs_events *ev, uint64_t *lines, uint64_t *clicks, uint64_t *bad)
{
	*lines = ev ? atomic_load(&ev->lines) : 0;
	*clicks = ev ? atomic_load(&ev->clicks) : 0;
	*bad = ev ? atomic_load(&ev->bad) : 0;
}

int
qs_events_stop(struct qs_events *ev)
{
	int i;

	if (ev == NULL)
		return 1;
	atomic_store(&ev->stop, 1);
	for (i = 0; i < 50 && !atomic_load(&ev->ended); i++)
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	if (!atomic_load(&ev->ended)) {
		/* Blocked on a pipe or a file that never ends: leave the thread (and ev) to the exit. */
		pthread_detach(ev->tid);
		return 0;
	}
	pthread_join(ev->tid, NULL);
	free(ev->spec);
	free(ev);
	return 1;
}
