/* history_redis.c: q-score's user histories in Redis — written pipelined by the events thread, read by any replica in one round trip with a bounded wait. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "hash.h"
#include "qscore.h"
#include "xalloc.h"

/*
 * A user's key is "pageturn:h:USER", a list: element 0 the hash of the
 * session the clicks belong to ("" while unknown), then the clicks, oldest
 * first, each "PAGE ITEM" (PAGE the hash of the request id, 16 hex digits).
 * Both updates run as one script each, so that the store keeps exactly the
 * in-process store's definition (a repeat on a page adds nothing, another
 * session starts afresh) whoever writes, and a write sent twice after a
 * broken connection changes nothing.
 */
#define KEY_PREFIX	"pageturn:h:"
#define PIPE_MAX	256		/* events written in one round trip at most */
#define PIPE_AGE_MS	2		/* and none waits longer than this once another arrives */
#define RETRY_MS	100		/* between attempts to reach a store that is down */
#define WRITE_TIMEOUT_MS 2000
#define SLOW_MAX	3		/* reads timed out in a row that take the store down */

static const char update_lua[] =
	"local k, ttl = KEYS[1], ARGV[2]\n"
	"local r = 0\n"
	"if ARGV[1] == 's' then\n"
	"  local s = redis.call('LINDEX', k, 0)\n"
	"  if not s then redis.call('RPUSH', k, ARGV[3])\n"
	"  elseif s == '' then redis.call('LSET', k, 0, ARGV[3])\n"
	"  elseif s ~= ARGV[3] then\n"
	"    if redis.call('LLEN', k) > 1 then r = 1 end\n"
	"    redis.call('DEL', k)\n"
	"    redis.call('RPUSH', k, ARGV[3])\n"
	"  end\n"
	"else\n"
	"  if redis.call('LLEN', k) == 0 then redis.call('RPUSH', k, '') end\n"
	"  if not redis.call('LPOS', k, ARGV[3]) then\n"
	"    redis.call('RPUSH', k, ARGV[3])\n"
	"    if redis.call('LLEN', k) > tonumber(ARGV[4]) + 1 then\n"
	"      local s = redis.call('LPOP', k)\n"
	"      redis.call('LPOP', k)\n"
	"      redis.call('LPUSH', k, s)\n"
	"    end\n"
	"    r = 1\n"
	"  end\n"
	"end\n"
	"redis.call('PEXPIRE', k, ttl)\n"
	"return r\n";

struct pending {
	char *user;			/* an update: user, op ("s" or "c") and its argument */
	char op[2];
	char *arg;
};

struct hredis {
	char *host;
	int port, db;
	size_t len;
	int64_t ttl_ms;
	struct timeval tv;		/* a request's wait */
	char sha[41];			/* of update_lua, as SCRIPT LOAD said */

	/* the readers' connections: idle ones in a stack */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	redisContext **idle;
	size_t nidle, capidle;
	atomic_int up;			/* 0: requests do not try; the reconnect thread does */
	atomic_int slow;		/* reads timed out in a row */
	int stop;
	pthread_t tid;

	/* the writer: the events thread's alone */
	redisContext *wc;
	struct pending pend[PIPE_MAX];
	size_t npend;
	int64_t first_ms, retry_ms;

	atomic_uint_fast64_t fallbacks, errors, reconnects, writes, write_errors;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
reply_ok(redisContext *c, redisReply *r)
{
	return c->err == 0 && r != NULL && r->type != REDIS_REPLY_ERROR;
}

/* A connection with DB selected, commands waiting at most tv; NULL when Redis cannot be reached. */
static redisContext *
hr_connect(struct hredis *h, struct timeval tv)
{
	redisContext *c;
	redisReply *r;

	c = redisConnectWithTimeout(h->host, h->port, tv);
	if (c == NULL)
		return NULL;
	if (c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK)
		goto err;
	if (h->db != 0) {
		r = redisCommand(c, "SELECT %d", h->db);
		if (!reply_ok(c, r)) {
			if (r != NULL)
				freeReplyObject(r);
			goto err;
		}
		freeReplyObject(r);
	}
	return c;
err:
	redisFree(c);
	return NULL;
}

/* ---- the readers ---- */

static void
pool_put(struct hredis *h, redisContext *c)
{
	pthread_mutex_lock(&h->mu);
	if (h->nidle == h->capidle) {
		h->capidle = h->capidle ? h->capidle * 2 : 8;
		h->idle = xreallocarray(h->idle, h->capidle, sizeof *h->idle);
	}
	h->idle[h->nidle++] = c;
	pthread_mutex_unlock(&h->mu);
}

static redisContext *
pool_take(struct hredis *h)
{
	redisContext *c = NULL;

	pthread_mutex_lock(&h->mu);
	if (h->nidle > 0)
		c = h->idle[--h->nidle];
	pthread_mutex_unlock(&h->mu);
	return c;
}

/* A request's connection failed: the idle ones are dropped with it and the reconnect thread takes over. */
static void
mark_down(struct hredis *h, redisContext *c)
{
	size_t i;

	if (c != NULL)
		redisFree(c);
	pthread_mutex_lock(&h->mu);
	atomic_store(&h->slow, 0);
	if (atomic_exchange(&h->up, 0))
		diag_warn("history redis://%s:%d: not answering; scoring without stored histories until it does",
		    h->host, h->port);
	for (i = 0; i < h->nidle; i++)
		redisFree(h->idle[i]);
	h->nidle = 0;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
}

static void *
reconnect_main(void *arg)
{
	struct hredis *h = arg;
	struct timespec until;
	redisContext *c;
	redisReply *r;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&h->mu);
	while (!h->stop) {
		if (atomic_load(&h->up)) {
			pthread_cond_wait(&h->cv, &h->mu);
			continue;
		}
		pthread_mutex_unlock(&h->mu);
		c = hr_connect(h, (struct timeval){ 0, RETRY_MS * 1000 });
		r = c != NULL ? redisCommand(c, "PING") : NULL;
		if (c != NULL && reply_ok(c, r)) {
			pool_put(h, c);
			atomic_fetch_add(&h->reconnects, 1);
			atomic_store(&h->up, 1);
			diag_info(1, "history redis://%s:%d: reconnected", h->host, h->port);
		} else if (c != NULL)
			redisFree(c);
		if (r != NULL)
			freeReplyObject(r);
		pthread_mutex_lock(&h->mu);
		if (!atomic_load(&h->up) && !h->stop) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += RETRY_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&h->cv, &h->mu, &until);
		}
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

static long
hr_get(void *st, const char *user, char *buf, size_t bufsize, const char **ids, size_t max)
{
	struct hredis *h = st;
	redisContext *c;
	redisReply *r;
	size_t i, first, n = 0, used = 0, len;
	const char *item;
	int timed_out;

	if (!atomic_load(&h->up))
		goto fallback;
	if ((c = pool_take(h)) == NULL && (c = hr_connect(h, h->tv)) == NULL) {
		atomic_fetch_add(&h->errors, 1);
		mark_down(h, NULL);
		goto fallback;
	}
	r = redisCommand(c, "LRANGE " KEY_PREFIX "%s 0 -1", user);
	timed_out = r == NULL && c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK);
	if (!reply_ok(c, r) || r->type != REDIS_REPLY_ARRAY) {
		if (r != NULL)
			freeReplyObject(r);
		atomic_fetch_add(&h->errors, 1);
		/* one slow answer costs its connection; a broken one, or several slow in a row, the store */
		if (timed_out && atomic_fetch_add(&h->slow, 1) + 1 < SLOW_MAX)
			redisFree(c);
		else
			mark_down(h, c);
		goto fallback;
	}
	atomic_store(&h->slow, 0);
	pool_put(h, c);
	if (r->elements > 1) {
		first = r->elements - 1 > max ? r->elements - max : 1;
		for (i = first; i < r->elements; i++) {
			if (r->element[i]->type != REDIS_REPLY_STRING || r->element[i]->len < 18)
				continue;
			item = r->element[i]->str + 17;
			len = r->element[i]->len - 17 + 1;
			if (used + len > bufsize)
				break;
			memcpy(buf + used, item, len);
			ids[n++] = buf + used;
			used += len;
		}
	}
	freeReplyObject(r);
	return (long)n;
fallback:
	atomic_fetch_add(&h->fallbacks, 1);
	return -1;
}

/* ---- the writer ---- */

/* Queues one update for hr_flush(); 0 (whether it adds a click is known when it is sent). */
static int
queue_update(struct hredis *h, const char *user, const char *op, const char *arg)
{
	struct pending *p = &h->pend[h->npend];

	if (h->npend == PIPE_MAX)	/* not when hr_flush() is called after each update, as its contract asks */
		return 0;
	p->user = xstrdup(user);
	p->op[0] = op[0];
	p->op[1] = '\0';
	p->arg = xstrdup(arg);
	if (h->npend++ == 0)
		h->first_ms = mono_ms();
	return 0;
}

static int
hr_session(void *st, const char *user, const char *session_id)
{
	char sess[17];

	snprintf(sess, sizeof sess, "%016llx",
	    (unsigned long long)(hash64(session_id, strlen(session_id), 0x53) | 1));
	return queue_update(st, user, "s", sess);
}

static int
hr_click(void *st, const char *user, const char *request_id, const char *item)
{
	char entry[17 + 257];

	snprintf(entry, sizeof entry, "%016llx %s",
	    (unsigned long long)hash64(request_id, strlen(request_id), 0x52), item);
	return queue_update(st, user, "c", entry);
}

/* The writer's connection, with the script loaded; NULL when Redis cannot be reached. */
static redisContext *
writer_connect(struct hredis *h)
{
	redisContext *c;
	redisReply *r;

	c = hr_connect(h, (struct timeval){ WRITE_TIMEOUT_MS / 1000, (WRITE_TIMEOUT_MS % 1000) * 1000 });
	if (c == NULL)
		return NULL;
	r = redisCommand(c, "SCRIPT LOAD %s", update_lua);
	if (!reply_ok(c, r) || r->type != REDIS_REPLY_STRING || r->len != 40) {
		if (r != NULL && r->type == REDIS_REPLY_ERROR)
			diag_warn("history redis://%s:%d: SCRIPT LOAD: %s", h->host, h->port, r->str);
		if (r != NULL)
			freeReplyObject(r);
		redisFree(c);
		return NULL;
	}
	memcpy(h->sha, r->str, 41);
	freeReplyObject(r);
	return c;
}

static void
pending_free(struct pending *p)
{
	free(p->user);
	free(p->arg);
}

/*
 * Sends the queued updates in one round trip. Returns the clicks they
 * added, or -1 when Redis cannot be written now: the updates stay queued
 * and are sent again by the next call (each is idempotent).
 */
static long
hr_flush(void *st, int force)
{
	struct hredis *h = st;
	redisReply *r;
	char len[24], ttl[24];
	size_t i, kept;
	long added = 0;
	int64_t now;

	if (h->npend == 0)
		return 0;
	now = mono_ms();
	if (!force && h->npend < PIPE_MAX && now - h->first_ms < PIPE_AGE_MS)
		return 0;
	if (h->wc == NULL) {
		if (now < h->retry_ms)
			return -1;
		if ((h->wc = writer_connect(h)) == NULL) {
			h->retry_ms = now + RETRY_MS;
			atomic_fetch_add(&h->write_errors, 1);
			return -1;
		}
	}
	snprintf(len, sizeof len, "%zu", h->len);
	snprintf(ttl, sizeof ttl, "%lld", (long long)h->ttl_ms);
	for (i = 0; i < h->npend; i++)
		redisAppendCommand(h->wc, "EVALSHA %s 1 " KEY_PREFIX "%s %s %s %s %s", h->sha, h->pend[i].user,
		    h->pend[i].op, ttl, h->pend[i].arg, len);
	for (i = 0, kept = 0; i < h->npend; i++) {
		if (redisGetReply(h->wc, (void **)&r) != REDIS_OK || r == NULL) {
			/* what was not answered is sent again on a new connection */
			memmove(&h->pend[kept], &h->pend[i], (h->npend - i) * sizeof h->pend[0]);
			h->npend = kept + h->npend - i;
			redisFree(h->wc);
			h->wc = NULL;
			h->retry_ms = now + RETRY_MS;
			atomic_fetch_add(&h->write_errors, 1);
			return -1;
		}
		if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
			/* a flushed script cache: loaded again on the next connection */
			h->pend[kept++] = h->pend[i];
		} else {
			if (r->type == REDIS_REPLY_INTEGER && h->pend[i].op[0] == 'c')
				added += (long)r->integer;
			else if (r->type == REDIS_REPLY_ERROR)
				diag_info(1, "history redis://%s:%d: %s", h->host, h->port, r->str);
			pending_free(&h->pend[i]);
			atomic_fetch_add(&h->writes, 1);
		}
		freeReplyObject(r);
	}
	h->npend = kept;
	if (kept > 0) {
		redisFree(h->wc);
		h->wc = NULL;
		return -1;
	}
	return added;
}

/* ---- the table ---- */

static void
hr_stats(void *st, struct qs_hstore_stats *s)
{
	struct hredis *h = st;

	memset(s, 0, sizeof *s);
	s->remote = 1;
	s->up = atomic_load(&h->up);
	s->fallbacks = atomic_load(&h->fallbacks);
	s->errors = atomic_load(&h->errors);
	s->reconnects = atomic_load(&h->reconnects);
	s->writes = atomic_load(&h->writes);
	s->write_errors = atomic_load(&h->write_errors);
}

static void
hr_free(void *st)
{
	struct hredis *h = st;
	size_t i;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mu);
	h->stop = 1;
	pthread_cond_signal(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->tid, NULL);
	for (i = 0; i < h->nidle; i++)
		redisFree(h->idle[i]);
	for (i = 0; i < h->npend; i++)
		pending_free(&h->pend[i]);
	if (h->wc != NULL)
		redisFree(h->wc);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->mu);
	free(h->idle);
	free(h->host);
	free(h);
}

static const struct qs_hstore_ops hredis_ops = {
	.session = hr_session,
	.click = hr_click,
	.flush = hr_flush,
	.get = hr_get,
	.stats = hr_stats,
	.free = hr_free,
};

int
qs_hredis_parse(const char *url, char **host, int *port, int *db)
{
	const char *p, *colon, *slash;
	char *end;
	long v;

	if (strncmp(url, "redis://", 8) != 0)
		return -1;
	p = url + 8;
	slash = strchr(p, '/');
	colon = memrchr(p, ':', slash ? (size_t)(slash - p) : strlen(p));
	if (colon == NULL || colon == p)
		return -1;
	errno = 0;
	v = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || errno != 0 || v < 1 || v > 65535 || (*end != '\0' && *end != '/'))
		return -1;
	*port = (int)v;
	*db = 0;
	if (*end == '/' && end[1] != '\0') {
		p = end + 1;
		v = strtol(p, &end, 10);
		if (end == p || *end != '\0' || v < 0 || v > 1000000)
			return -1;
		*db = (int)v;
	}
	p = url + 8;
	if (*p == '[' && colon[-1] == ']')	/* [V6]:PORT */
		*host = xstrndup(p + 1, (size_t)(colon - p - 2));
	else
		*host = xstrndup(p, (size_t)(colon - p));
	return 0;
}

struct qs_hstore *
qs_hredis_new(const char *url, size_t len, int64_t ttl_ms, int64_t timeout_us)
{
	struct qs_hstore *hs;
	struct hredis *h = xcalloc(1, sizeof *h);
	redisContext *c;
	int e, i;

	if (qs_hredis_parse(url, &h->host, &h->port, &h->db) != 0) {
		free(h);
		return NULL;
	}
	h->len = len ? len : 1;
	h->ttl_ms = ttl_ms;
	h->tv.tv_sec = timeout_us / 1000000;
	h->tv.tv_usec = timeout_us % 1000000;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	/* the first connection is made now (but a store that is down does not stop the start) */
	if ((c = hr_connect(h, (struct timeval){ 1, 0 })) != NULL) {
		pool_put(h, c);
		atomic_store(&h->up, 1);
	} else
		diag_warn("%s: not answering; scoring without stored histories until it does", url);
	if ((e = pthread_create(&h->tid, NULL, reconnect_main, h)) != 0) {
		diag_warn("history reconnect thread: %s", strerror(e));
		h->stop = 1;
		for (i = 0; i < (int)h->nidle; i++)
			redisFree(h->idle[i]);
		free(h->idle);
		free(h->host);
		free(h);
		return NULL;
	}
	hs = xcalloc(1, sizeof *hs);
	hs->ops = &hredis_ops;
	hs->st = h;
	return hs;
}
