/* qscore.h: the parts of q-score — scoring, user histories, model hot swap, HTTP server (the ranking and its exploration are common/rank.h). */
#ifndef QSCORE_H
#define QSCORE_H
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "jbuf.h"
#include "model.h"
#include "qnet.h"
#include "rank.h"
#include "rng.h"
#include "score.h"

/* ---- history.c: each user's recent clicks, fed by the event stream ---- */

struct qs_history;

/* A store of at most max_users users (LRU), len clicks each. Never NULL. */
struct qs_history *qs_history_new(size_t max_users, size_t len);
/* NULL is a no-op. */
void qs_history_free(struct qs_history *h);
/*
 * Records that user clicked item on the page request_id (oldest first); a
 * second click on the same item of the same page adds nothing. Returns 1
 * when added, 0 when it was a repeat. Thread-safe.
 */
int qs_history_click(struct qs_history *h, const char *user, const char *request_id, const char *item);
/*
 * Notes that user's page belongs to session_id (from an impression): when
 * that is another session than the one the held clicks belong to, they are
 * dropped, as a transition's hist holds the clicks of its session only.
 * Returns 1 when clicks were dropped. Thread-safe.
 */
int qs_history_session(struct qs_history *h, const char *user, const char *session_id);
/*
 * Copies user's history, oldest first, at most max ids, into buf (bufsize
 * bytes, NUL-separated) with pointers in ids[]. Returns the count (0 for an
 * unknown user). Thread-safe.
 */
size_t qs_history_get(struct qs_history *h, const char *user, char *buf, size_t bufsize,
    const char **ids, size_t max);
/* Users held, and users evicted so far. */
size_t qs_history_users(struct qs_history *h);
uint64_t qs_history_evictions(struct qs_history *h);

/*
 * A history store behind one table of operations: the in-process store
 * above (the default) or Redis (history_redis.c), shared by replicas.
 */
struct qs_hstore_stats {
	int remote;			/* 1: Redis (the figures below users and evictions apply), 0: in process */
	size_t users;			/* in process: users held, and evicted so far */
	uint64_t evictions;
	int up;				/* Redis: requests read it now (0: it did not answer; reconnecting) */
	uint64_t fallbacks;		/* requests scored with an empty history because the store did not answer in time */
	uint64_t errors;		/* reads that failed or timed out */
	uint64_t reconnects;		/* connections made again after a failure */
	uint64_t writes;		/* events written */
	uint64_t write_errors;		/* attempts to write that failed (the events are written again) */
};
struct qs_hstore_ops {
	/*
	 * The writer's side, as qs_history_session() and qs_history_click(),
	 * called from the events thread only. A store that writes in batches
	 * returns 0 and counts the added clicks in flush().
	 */
	int (*session)(void *st, const char *user, const char *session_id);
	int (*click)(void *st, const char *user, const char *request_id, const char *item);
	/*
	 * Writes what session() and click() queued, when due (force: now);
	 * to be called after each of them, and again until it succeeds.
	 * Returns the clicks it added, or -1 when the store cannot be written
	 * now (the updates stay queued; call again).
	 */
	long (*flush)(void *st, int force);
	/* As qs_history_get(); -1 when the store did not answer in time (score with an empty history). Thread-safe. */
	long (*get)(void *st, const char *user, char *buf, size_t bufsize, const char **ids, size_t max);
	void (*stats)(void *st, struct qs_hstore_stats *s);
	void (*free)(void *st);
};
struct qs_hstore {
	const struct qs_hstore_ops *ops;
	void *st;
};
/* The in-process store of qs_history_new() behind the table. Never NULL. */
struct qs_hstore *qs_hstore_memory(size_t max_users, size_t len);
/* Frees the store and hs. NULL is a no-op. */
void qs_hstore_free(struct qs_hstore *hs);

/*
 * history_redis.c: each user's last len clicks of one session kept in Redis
 * at url ("redis://HOST:PORT[/DB]"), expiring ttl_ms after the user's last
 * event; a request waits timeout_us at most. A Redis that does not answer
 * does not stop the start: requests fall back until a background thread
 * reconnects. NULL when url is not such a URL.
 */
struct qs_hstore *qs_hredis_new(const char *url, size_t len, int64_t ttl_ms, int64_t timeout_us);
/* Splits a redis:// URL; host is allocated. 0, or -1 when it is not one. */
int qs_hredis_parse(const char *url, char **host, int *port, int *db);

/*
 * Follows canonical events (clicks and pays) from spec on a thread of its
 * own and records them into h. A pay counts as a click when its item was not
 * clicked on that page; an impression of a new session starts the user's
 * history afresh. kopts may be NULL. NULL after a diagnostic when the thread cannot start.
 */
struct kafka_opts;
struct qs_events;
struct qs_events *qs_events_start(struct qs_hstore *h, const char *spec, const struct kafka_opts *kopts);
/* Events read, recorded clicks, and lines that were not usable. */
void qs_events_counts(struct qs_events *ev, uint64_t *lines, uint64_t *clicks, uint64_t *bad);
/*
 * Asks the thread to stop and frees ev when the thread has ended within a
 * moment: returns 1 then (the history is no longer used). Returns 0 when the
 * thread is still blocked on its input: it is left to the exit, and so must
 * be the history. NULL returns 1.
 */
int qs_events_stop(struct qs_events *ev);

/* ---- score.c: one request, parsed, scored and answered ---- */

/* Process-wide counters (atomics: bumped from every request thread). */
struct qs_counters {
	atomic_uint_fast64_t requests;		/* score requests (a batch counts each element) */
	atomic_uint_fast64_t errors;		/* of which answered with an error */
	atomic_uint_fast64_t unknown_items;	/* candidates scored with the unknown row */
	atomic_uint_fast64_t feature_rows;	/* candidates the table lacks, scored with the row of their features */
	atomic_uint_fast64_t unknown_hist;	/* history items not in the embeddings */
	atomic_uint_fast64_t hist_from_store;	/* requests whose history came from the event stream */
	atomic_uint_fast64_t no_model;		/* requests refused because no model was loaded */
};

/* The counts the scoring keeps per worker until the request (or the whole batch) is answered. */
struct qs_tally {
	uint64_t unknown_items, feature_rows, unknown_hist, hist_from_store, no_model;
};

/* What every scoring call shares (read-only after start, but for the counters). */
struct qs_config {
	struct rank_explore explore;
	double diversity;		/* weight of the similarity penalty (0: rank by q alone) */
	uint64_t seed;
	size_t default_k;		/* 0: every candidate */
	size_t max_candidates;
	struct qs_hstore *history;	/* NULL without --events or --history */
	struct qs_counters *counters;
};

/* A parsed score request; ids and numbers live in the worker's buffers until the next parse. */
struct qs_req {
	char request_id[257];
	char user_id[257];
	int has_user, has_hist, has_ctx, has_cands;
	size_t nhist;			/* ids at w->hoff/hlen2 */
	size_t ctx_off, nctx;		/* floats at w->fbuf + ctx_off */
	size_t ncand;			/* candidates at w->coff/clen/cfoff/cfn */
	size_t k;			/* 0 when absent, QS_K_ALL for "k":0 */
};
/* A request's "k":0: every candidate, whatever -k says. */
#define QS_K_ALL SIZE_MAX

/* A thread's scratch for parsing and scoring: reused from request to request, never shared. */
struct qs_worker {
	struct score_ws sc;		/* the forward pass's */
	struct rank_ws rank;
	struct rank_diverse_ws div;
	const float **fvec;		/* candidates' feature vectors (NULL: none), for the scoring and the diversity penalty */
	struct rng rng;
	/* parser output */
	char *sbuf;			/* ids, NUL-terminated */
	size_t slen, scap;
	float *fbuf;			/* context and features */
	size_t flen, fcap;
	size_t *coff, *clen, *cfoff, *cfn;	/* candidates: id offset and length, features offset and count */
	size_t ccap;
	size_t *hoff, *hlen2;		/* history ids */
	size_t hcap2;
	/* scoring */
	size_t cap;			/* candidates the arrays below hold */
	float *q;
	uint32_t *order;
	double *prop;
	const char **cid;		/* candidate ids, for the batched lookup */
	size_t hrcap;
	const char **hid;		/* history ids */
	size_t *hidlen;
	char *histbuf;			/* ids copied from the history store */
	size_t histcap;
	int fwd_clock;			/* set: the scoring adds the thread CPU ns of its lookups and forward passes to fwd_ns */
	uint64_t fwd_ns;
	uint64_t nserved;		/* requests this worker served (the server samples fwd_ns on some) */
	uint64_t sample_rs;		/* the server's draws of which requests it samples */
	unsigned sample_at, sample_fwd;	/* the sampled place in this block of requests; the block with fwd_ns */
	struct jbuf out;		/* the answer being written */
	struct qs_tally tally;		/* counts of the requests scored, not yet added to the shared counters */
	struct qs_worker *next;		/* in the list of all workers */
};

/* A worker whose generator is seeded from seed and its index (deterministic per worker). Never NULL. */
struct qs_worker *qs_worker_new(uint64_t seed, uint64_t index);
void qs_worker_free(struct qs_worker *w);

/*
 * parse.c: reads one score request object from buf (len bytes) into rq and
 * w's buffers, checking JSON syntax and field types. At most max_cands
 * candidates. 0, or -1 with a reason in err (rq->request_id holds the id
 * when it was read before the fault, else "").
 */
int qs_parse(struct qs_worker *w, const char *buf, size_t len, size_t max_cands, struct qs_req *rq,
    char *err, size_t errlen);
/*
 * A batch body (a JSON array of requests), read once from start to end:
 * qs_batch_open() checks its '[', then each qs_batch_next() reads the next
 * element. With a worker, an element that is a well-formed request is parsed
 * into rq as it is read (*parsed set; rq and w's buffers hold it until the
 * next call); any other element is only checked for syntax, and qs_parse()
 * of its text [start, end) says what is wrong with it. w NULL: every element
 * only checked. qs_batch_next() returns 1 for an element, 0 after the last
 * (the array closed, nothing but white space after it), -1 with a reason in
 * the err given to qs_batch_open() when the body is not a well-formed array.
 */
struct qs_batch {
	const char *buf;
	size_t len, pos;
	size_t n;			/* elements read */
	char *err;
	size_t errlen;
};
int qs_batch_open(struct qs_batch *b, const char *buf, size_t len, char *err, size_t errlen);
int qs_batch_next(struct qs_batch *b, struct qs_worker *w, size_t max_cands, struct qs_req *rq, size_t *start,
    size_t *end, int *parsed);

/*
 * Parses and scores one request given as text, appending the response
 * object to out; on failure appends nothing and returns -1 with the reason
 * (m NULL: "no model loaded"). id (257 bytes) receives the request id when
 * one was read, else "".
 */
int qs_score_text(struct qs_worker *w, const struct qs_config *cf, const struct model *m, const char *buf,
    size_t len, struct jbuf *out, char id[257], char *err, size_t errlen);
/*
 * Answers a batch body (a JSON array of requests) into out: an array of the
 * elements' response objects, an error object for each element that cannot
 * be scored (*n elements, *nerr of them errors). Each element is parsed once,
 * as the body is read. Returns 0; -1 with the reason in err when the body is
 * not a well-formed array (400), -2 when it holds more than max elements
 * (413; *n says how many). A refused body leaves out, the worker's random
 * draws and the counters as they were (the users whose histories its
 * elements read stay the most recently used).
 */
int qs_score_batch(struct qs_worker *w, const struct qs_config *cf, const struct model *m, const char *buf, size_t len,
    size_t max, struct jbuf *out, size_t *n, size_t *nerr, char *err, size_t errlen);
/* Appends {"request_id":…,"error":…} (request_id null when id is ""). */
void qs_error_response(struct jbuf *out, const char *id, const char *reason);

/* ---- models.c: the serving model, its loader thread and the hot swap ---- */

/* A loaded version as served: reference-counted. */
struct qs_model {
	atomic_long refs;
	struct model *m;
	int64_t loaded_at_ms;
	double load_ms, warm_ms;
	size_t warm_n;			/* warm-up requests scored */
	const char *warm_src;		/* "version", "file" or "none" */
	struct qs_model *next_retired;
};

struct qs_models;

struct qs_models_opts {
	const char *dir;		/* MODELDIR */
	uint32_t pin;			/* 0: follow the newest */
	const char *warmup;		/* --warmup FILE or NULL */
	size_t warmup_max;		/* requests of a warm-up file scored at most */
	int64_t poll_ms;		/* polling interval (also the fallback when inotify fails) */
	const struct qs_config *cf;
	const char *topic;		/* -m kafka:TOPIC: versions assembled from it into dir (the --model-cache), or NULL */
	const struct kafka_opts *kafka;	/* its brokers and settings */
};

/* Holds the options (copied pointers must outlive it). Never NULL. */
struct qs_models *qs_models_new(const struct qs_models_opts *o);
/* Loads the starting version on the calling thread. 0, or -1 when none could be loaded (reasons logged). */
int qs_models_load_now(struct qs_models *ms);
/* Starts the loader thread. 0 or -1. */
int qs_models_start(struct qs_models *ms);
/* Asks the loader for a check now (async-signal-safe: SIGHUP). */
void qs_models_poke(struct qs_models *ms);
/*
 * The serving model with a reference taken, or NULL when none is loaded.
 * Wait-free in the common case; never blocks on the loader.
 */
struct qs_model *qs_model_acquire(struct qs_models *ms);
/* Drops the reference; the last drop of a replaced model hands it to the loader to free. NULL is a no-op. */
void qs_model_release(struct qs_models *ms, struct qs_model *qm);
/* The /v1/models document (a new reference). */
json_t *qs_models_status(struct qs_models *ms);
/* The serving version (0 when none), swaps and refusals so far. */
uint32_t qs_models_version(struct qs_models *ms);
uint64_t qs_models_swaps(struct qs_models *ms);
uint64_t qs_models_refusals(struct qs_models *ms);
/*
 * Makes qm (refs unset, owned by ms from now on) the serving model; the
 * replaced one goes to the retired list when its last request ends. The
 * loader's step, exposed for the tests of the swap.
 */
void qs_models_swap_in(struct qs_models *ms, struct qs_model *qm);
/* Frees the retired models (the loader's chore; call it from one thread at a time). */
void qs_models_free_retired(struct qs_models *ms);
/* References being taken (hazard slots held) plus retired models not yet freed: 0 when quiet. */
size_t qs_models_pending(struct qs_models *ms);
/* Stops the loader, frees every model. NULL is a no-op. */
void qs_models_free(struct qs_models *ms);

/* ---- server.c: HTTP ---- */

struct qs_server_opts {
	const char *listen;		/* "HOST:PORT" (port 0: any free port) */
	const char *port_file;		/* the bound port is written there, or NULL */
	unsigned threads;
	size_t max_body;
	size_t max_header;
	unsigned max_conns;
	unsigned timeout_s;		/* idle connections closed after it; a kept-alive one's next request due within it */
	unsigned read_timeout_s;	/* a new connection's first request due (headers and body) within it */
	unsigned drain_s;		/* SIGTERM: the requests in flight are waited for this long at most */
	size_t max_batch;
	struct qs_models *models;
	const struct qs_config *cf;
	struct qs_events *events;
};
struct qs_server;
struct sockaddr_storage;
/* Parses a --listen value, "HOST:PORT", "[V6]:PORT" or "PORT" (the loopback), into *addr: 0, or -1 after a diagnostic. */
int qs_parse_listen(const char *spec, struct sockaddr_storage *addr);
/* Starts serving; NULL after a diagnostic. */
struct qs_server *qs_server_start(const struct qs_server_opts *o);
/*
 * Stops accepting connections (a new one is refused), then waits until the
 * requests whose headers have arrived are answered, at most secs seconds;
 * answers say "Connection: close" meanwhile. NULL is a no-op.
 */
void qs_server_drain(struct qs_server *s, unsigned secs);
/* Stops (dropping what is still in flight) and frees. NULL is a no-op. */
void qs_server_stop(struct qs_server *s);

#endif
