/* server.c: q-score's HTTP side — libmicrohttpd with a thread pool: /v1/score, /v1/models, /v1/latency, /metrics, /healthz. */
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "diag.h"
#include "qscore.h"
#include "xalloc.h"

/* Upper bounds (seconds) of the latency histogram buckets; +Inf is implied. */
static const double bucket_le[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5
};
#define NBUCKETS (sizeof bucket_le / sizeof bucket_le[0])

static const unsigned codes[] = { 200, 400, 404, 405, 413, 500, 503 };

/* Service times at 1 us resolution up to 20 ms (the last slot holds the rest), for /v1/latency. */
#define CPU_SAMPLE 16		/* the thread's CPU time is taken on one request in CPU_SAMPLE */
#define FWD_SAMPLE 32		/* the forward passes' on one in FWD_SAMPLE (a multiple: on one of those) */
#define NSERVICE 20001
#define NCODES (sizeof codes / sizeof codes[0])

/* The state of one HTTP request while its body arrives. */
struct conn {
	struct jbuf body;
	int too_big;
	int score;
	struct timespec t0;
};

/*
 * What one thread counts. Only that thread writes it, with a plain load and
 * store (no locked instruction, and no cache line shared with another
 * thread's counts, which a request would otherwise pull over from the other
 * processor several times); /metrics and /v1/latency sum over the threads.
 */
struct tstats {
	struct tstats *next;
	struct conn *spare;		/* a finished request's state, reused with its body buffer */
	_Atomic uint64_t hist[NBUCKETS + 1];
	_Atomic uint64_t lat_sum_ns, lat_count;
	_Atomic uint64_t by_code[NCODES + 1];
	_Atomic uint64_t requests, errors;	/* score requests, as qs_counters' */
	/*
	 * The service times since the reset of generation gen. A reset only
	 * moves the server's generation on: the thread zeroes its own tables
	 * when it next serves, and until then the readers leave them out.
	 */
	_Atomic uint64_t gen;
	size_t lo, hi;			/* the slots written since the tables were last zeroed */
	_Atomic uint64_t svc_sum_ns[3];	/* the sums of the three tables' times (wall, CPU, forward), in ns */
	_Atomic uint64_t svc_cpu_n, svc_fwd_n;	/* requests sampled for svc_cpu and for svc_fwd */
	_Atomic uint64_t svc_wall[NSERVICE];	/* complete body to answer queued, wall clock */
	_Atomic uint64_t svc_cpu[NSERVICE];	/* the same span, the thread's CPU time */
	_Atomic uint64_t svc_fwd[NSERVICE];	/* of which the lookups and forward passes, CPU time, sampled */
};

/*
 * An open connection, by its socket: until when it may take to deliver the
 * request it is receiving (0: none, an answer is being made or sent) and
 * since when it has been at it.
 */
struct conn_slot {
	int used;			/* under cmu */
	_Atomic int64_t since_ms, deadline_ms;	/* set by the connection's thread without a lock */
};

struct qs_server {
	struct qs_server_opts o;
	struct MHD_Daemon *d;
	/* the connections, watched by the reaper: a slow one is shut down at its deadline */
	pthread_mutex_t cmu;
	struct conn_slot *slots;	/* by socket, as many as the open-file limit (a socket past it is not watched) */
	size_t nslots, hiwater;		/* slots; one past the highest socket seen */
	unsigned nopen;
	pthread_t reaper;
	int reaper_started;
	atomic_int stopping;
	atomic_int draining;		/* SIGTERM: answers say "Connection: close" */
	atomic_uint inflight;		/* requests from their headers to their end */
	atomic_uint_fast64_t slow_closed, evicted;
	struct sockaddr_storage addr;
	uint64_t serial;		/* which server a thread's cached pointers belong to */
	pthread_mutex_t mu;
	struct qs_worker *workers;	/* one per request thread, made on first use */
	uint64_t nworkers;
	struct tstats *stats;		/* one per thread, made on first use */
	/* moved on by each reset of /v1/latency, read by every request: a line of its own */
	_Alignas(64) _Atomic uint64_t svc_gen;
	char pad[64 - sizeof(uint64_t)];
};

static _Atomic uint64_t server_serial;
static _Thread_local struct qs_worker *tl_worker;
static _Thread_local struct tstats *tl_stats;
static _Thread_local uint64_t tl_serial;	/* the server tl_stats belongs to */

/* Adds n to a counter that only the calling thread writes. */
static inline void
bump(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* The calling thread's counts. */
static struct tstats *
stats(struct qs_server *s)
{
	struct tstats *t;

	if (tl_stats != NULL && tl_serial == s->serial)
		return tl_stats;
	t = xcalloc(1, sizeof *t);
	t->lo = NSERVICE;
	atomic_store(&t->gen, atomic_load(&s->svc_gen));
	pthread_mutex_lock(&s->mu);
	t->next = s->stats;
	s->stats = t;
	pthread_mutex_unlock(&s->mu);
	tl_stats = t;
	tl_serial = s->serial;
	return t;
}

/* Counts a score request refused before it was scored (too large, not a batch): a request and an error. */
static void
count_refused(struct tstats *t)
{
	bump(&t->requests, 1);
	bump(&t->errors, 1);
}

/* The sum over the threads of the counter at offset in struct tstats. */
static uint64_t
sum_stats(struct qs_server *s, size_t offset)
{
	struct tstats *t;
	uint64_t n = 0;

	pthread_mutex_lock(&s->mu);
	for (t = s->stats; t != NULL; t = t->next)
		n += atomic_load_explicit((_Atomic uint64_t *)(void *)((char *)t + offset), memory_order_relaxed);
	pthread_mutex_unlock(&s->mu);
	return n;
}
#define SUM(s, field) sum_stats((s), offsetof(struct tstats, field))

static struct qs_worker *
worker(struct qs_server *s)
{
	if (tl_worker == NULL) {
		pthread_mutex_lock(&s->mu);
		tl_worker = qs_worker_new(s->o.cf->seed, ++s->nworkers);
		tl_worker->next = s->workers;
		s->workers = tl_worker;
		pthread_mutex_unlock(&s->mu);
	}
	return tl_worker;
}

static void
count_code(struct qs_server *s, unsigned code)
{
	size_t i;

	for (i = 0; i < NCODES && codes[i] != code; i++)
		;
	bump(&stats(s)->by_code[i], 1);
}

static void conn_deadline(struct qs_server *s, struct MHD_Connection *c, int64_t ms);

/*
 * Queues a response with a copy of body (len bytes) and, when allow is not
 * NULL, an Allow header (a 405's); the request has arrived: its deadline is
 * lifted.
 */
static enum MHD_Result
respond(struct qs_server *s, struct MHD_Connection *c, unsigned code, const char *type, const char *body, size_t len,
    const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	conn_deadline(s, c, -1);
	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (atomic_load(&s->draining))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	if (allow != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	count_code(s, code);
	return ret;
}

static enum MHD_Result
reply(struct qs_server *s, struct MHD_Connection *c, unsigned code, const char *type, const char *body, size_t len)
{
	return respond(s, c, code, type, body, len, NULL);
}

/* 405: the method is not one of allow, the methods of the resource. */
static enum MHD_Result
reply_not_allowed(struct qs_server *s, struct MHD_Connection *c, const char *allow)
{
	struct jbuf b = { 0 };
	enum MHD_Result ret;

	jbuf_printf(&b, "{\"error\":\"method not allowed: use %s\"}\n", allow);
	ret = respond(s, c, 405, "application/json", b.p, b.len, allow);
	jbuf_free(&b);
	return ret;
}

static enum MHD_Result
reply_error(struct qs_server *s, struct MHD_Connection *c, unsigned code, const char *reason)
{
	struct jbuf b = { 0 };
	enum MHD_Result ret;

	jbuf_puts(&b, "{\"error\":");
	jbuf_str(&b, reason, strlen(reason));
	jbuf_puts(&b, "}\n");
	ret = reply(s, c, code, "application/json", b.p, b.len);
	jbuf_free(&b);
	return ret;
}

/* Counts a score request, from its first byte (t0) to its answer queued (t1), into the /metrics histogram. */
static void
observe(struct tstats *t, const struct timespec *t0, const struct timespec *t1)
{
	uint64_t ns;
	double sec;
	size_t i;

	ns = (uint64_t)((t1->tv_sec - t0->tv_sec) * 1000000000LL + (t1->tv_nsec - t0->tv_nsec));
	sec = (double)ns / 1e9;
	for (i = 0; i < NBUCKETS && sec > bucket_le[i]; i++)
		;
	bump(&t->hist[i], 1);
	bump(&t->lat_sum_ns, ns);
	bump(&t->lat_count, 1);
}

/* Scores one request (text) into out; errors become error objects. Returns the HTTP status for a lone request. */
static unsigned
score_one(struct qs_server *s, struct qs_worker *w, const struct model *m, const char *buf, size_t len,
    struct jbuf *out)
{
	struct tstats *t = stats(s);
	char id[257], err[320];

	bump(&t->requests, 1);
	if (qs_score_text(w, s->o.cf, m, buf, len, out, id, err, sizeof err) == 0)
		return 200;
	bump(&t->errors, 1);
	qs_error_response(out, id, err);
	return m == NULL ? 503 : 400;
}

/* Answers a complete POST /v1/score: one request object, or an array of them. */
static enum MHD_Result
answer_score(struct qs_server *s, struct MHD_Connection *c, struct conn *cc)
{
	struct tstats *t = stats(s);
	struct qs_worker *w = worker(s);
	struct jbuf *out = &w->out;
	const char *body = cc->body.p ? cc->body.p : "";
	size_t len = cc->body.len, n, nerr, skip = 0;
	struct qs_model *qm;
	char why[320];
	unsigned code;
	int r;

	if (cc->too_big) {
		count_refused(t);
		snprintf(why, sizeof why, "request body larger than %zu bytes", s->o.max_body);
		return reply_error(s, c, 413, why);
	}
	while (skip < len && (body[skip] == ' ' || body[skip] == '\t' || body[skip] == '\n' || body[skip] == '\r'))
		skip++;
	out->len = 0;
	if (skip < len && body[skip] == '[') {
		qm = qs_model_acquire(s->o.models);
		r = qs_score_batch(w, s->o.cf, qm ? qm->m : NULL, body, len, s->o.max_batch, out, &n, &nerr, why,
		    sizeof why);
		if (r < 0) {
			qs_model_release(s->o.models, qm);
			count_refused(t);
			return reply_error(s, c, r == -1 ? 400 : 413, why);
		}
		bump(&t->requests, n);
		bump(&t->errors, nerr);
		jbuf_puts(out, "\n");
		code = 200;
	} else {
		qm = qs_model_acquire(s->o.models);
		code = score_one(s, w, qm ? qm->m : NULL, body, len, out);
		jbuf_puts(out, "\n");
	}
	/* one version answers the whole body: the reference is held until here */
	qs_model_release(s->o.models, qm);
	return reply(s, c, code, "application/json", out->p, out->len);
}

static uint64_t
ts_ns(const struct timespec *t)
{
	return (uint64_t)t->tv_sec * 1000000000u + (uint64_t)t->tv_nsec;
}

static enum MHD_Result
handle_score(struct qs_server *s, struct MHD_Connection *c, struct conn *cc)
{
	struct qs_worker *w = worker(s);
	struct tstats *t = stats(s);
	struct timespec w0, w1, c0, c1;
	enum MHD_Result ret;
	uint64_t us, ns[3], gen;
	size_t i;
	int sample;

	/*
	 * The thread's CPU clock is a system call, not a read of the vDSO's
	 * (1.5 us in a virtual machine): the CPU time is taken on one request
	 * in each block of CPU_SAMPLE,
	 * the forward passes' on the sampled one of one block in each
	 * FWD_SAMPLE requests; the wall clock on every request. Which one is
	 * drawn anew for each block: a fixed place could fall in step with a
	 * pattern of the load (a client's connections taking turns, the first
	 * request after a wait) and measure only its kind.
	 */
	if (w->nserved % CPU_SAMPLE == 0) {
		w->sample_rs = w->sample_rs * 6364136223846793005ULL + 1442695040888963407ULL;
		w->sample_at = (unsigned)((w->sample_rs >> 33) % CPU_SAMPLE);
		if (w->nserved % FWD_SAMPLE == 0)
			w->sample_fwd = (unsigned)((w->sample_rs >> 50) % (FWD_SAMPLE / CPU_SAMPLE));
	}
	sample = w->nserved % CPU_SAMPLE == w->sample_at;
	w->fwd_ns = 0;
	w->fwd_clock = sample && w->nserved % FWD_SAMPLE / CPU_SAMPLE == w->sample_fwd;
	w->nserved++;
	clock_gettime(CLOCK_MONOTONIC, &w0);
	if (sample)
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
	ret = answer_score(s, c, cc);
	if (sample)
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_MONOTONIC, &w1);
	ns[0] = ts_ns(&w1) - ts_ns(&w0);
	ns[1] = sample ? ts_ns(&c1) - ts_ns(&c0) : 0;
	ns[2] = w->fwd_ns;
	gen = atomic_load_explicit(&s->svc_gen, memory_order_relaxed);
	if (atomic_load_explicit(&t->gen, memory_order_relaxed) != gen) {
		/* /v1/latency was reset since this thread last served: its tables start afresh */
		for (i = t->lo; i <= t->hi && i < NSERVICE; i++) {
			atomic_store_explicit(&t->svc_wall[i], 0, memory_order_relaxed);
			atomic_store_explicit(&t->svc_cpu[i], 0, memory_order_relaxed);
			atomic_store_explicit(&t->svc_fwd[i], 0, memory_order_relaxed);
		}
		for (i = 0; i < 3; i++)
			atomic_store_explicit(&t->svc_sum_ns[i], 0, memory_order_relaxed);
		atomic_store_explicit(&t->svc_cpu_n, 0, memory_order_relaxed);
		atomic_store_explicit(&t->svc_fwd_n, 0, memory_order_relaxed);
		t->lo = NSERVICE;
		t->hi = 0;
		atomic_store_explicit(&t->gen, gen, memory_order_release);
	}
	for (i = 0; i < (w->fwd_clock ? 3u : sample ? 2u : 1u); i++) {
		_Atomic uint64_t *tab = i == 0 ? t->svc_wall : i == 1 ? t->svc_cpu : t->svc_fwd;
		us = ns[i] / 1000;
		if (us > NSERVICE - 1)
			us = NSERVICE - 1;
		bump(&tab[us], 1);
		bump(&t->svc_sum_ns[i], ns[i]);
		t->lo = us < t->lo ? us : t->lo;
		t->hi = us > t->hi ? us : t->hi;
	}
	if (sample)
		bump(&t->svc_cpu_n, 1);
	if (w->fwd_clock) {
		bump(&t->svc_fwd_n, 1);
		w->fwd_clock = 0;
	}
	observe(t, &cc->t0, &w1);
	return ret;
}

/* The p-quantile (microseconds) of a service-time table; n is its total. */
static uint64_t
quantile(const uint64_t *t, uint64_t n, double p)
{
	uint64_t want = (uint64_t)(p * (double)(n ? n - 1 : 0)) + 1, cum = 0;
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < NSERVICE; i++) {
		cum += t[i];
		if (cum >= want)
			return i;
	}
	return NSERVICE - 1;
}

/* GET /v1/latency[?reset=1]: percentiles of the service time since the last reset. */
static enum MHD_Result
handle_latency(struct qs_server *s, struct MHD_Connection *c)
{
	const char *reset = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "reset");
	uint64_t *tab = xcalloc(3 * NSERVICE, sizeof *tab), sum[3] = { 0 }, n = 0, nc = 0, nf = 0, gen;
	struct jbuf b = { 0 };
	enum MHD_Result ret;
	struct tstats *t;
	size_t i, k;

	/* the threads' tables of this generation, added up (a thread that has not served since the reset has none) */
	gen = atomic_load(&s->svc_gen);
	pthread_mutex_lock(&s->mu);
	for (t = s->stats; t != NULL; t = t->next) {
		if (atomic_load_explicit(&t->gen, memory_order_acquire) != gen)
			continue;
		for (i = 0; i < NSERVICE; i++) {
			tab[i] += atomic_load_explicit(&t->svc_wall[i], memory_order_relaxed);
			tab[NSERVICE + i] += atomic_load_explicit(&t->svc_cpu[i], memory_order_relaxed);
			tab[2 * NSERVICE + i] += atomic_load_explicit(&t->svc_fwd[i], memory_order_relaxed);
		}
		for (k = 0; k < 3; k++)
			sum[k] += atomic_load_explicit(&t->svc_sum_ns[k], memory_order_relaxed);
		nc += atomic_load_explicit(&t->svc_cpu_n, memory_order_relaxed);
		nf += atomic_load_explicit(&t->svc_fwd_n, memory_order_relaxed);
	}
	pthread_mutex_unlock(&s->mu);
	for (i = 0; i < NSERVICE; i++)
		n += tab[i];
	jbuf_printf(&b, "{\"requests\":%ju", (uintmax_t)n);
	for (k = 0; k < 3; k++) {
		uint64_t m = k == 0 ? n : k == 1 ? nc : nf;
		jbuf_printf(&b, ",\"%s\":{\"p50\":%ju,\"p99\":%ju,\"p999\":%ju,\"mean\":%.2f}",
		    k == 0 ? "wall_us" : k == 1 ? "cpu_us" : "forward_us", (uintmax_t)quantile(tab + k * NSERVICE, m, 0.5),
		    (uintmax_t)quantile(tab + k * NSERVICE, m, 0.99), (uintmax_t)quantile(tab + k * NSERVICE, m, 0.999),
		    m ? (double)sum[k] / 1000.0 / (double)m : 0.0);
	}
	jbuf_printf(&b, ",\"cpu_sampled\":%ju,\"forward_sampled\":%ju", (uintmax_t)nc, (uintmax_t)nf);
	jbuf_puts(&b, "}\n");
	free(tab);
	if (reset != NULL && strcmp(reset, "1") == 0)
		atomic_fetch_add(&s->svc_gen, 1);
	ret = reply(s, c, 200, "application/json", b.p, b.len);
	jbuf_free(&b);
	return ret;
}

static enum MHD_Result
handle_models(struct qs_server *s, struct MHD_Connection *c)
{
	json_t *st = qs_models_status(s->o.models);
	char *txt = json_dumps(st, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
	struct jbuf b = { 0 };
	enum MHD_Result ret;

	json_decref(st);
	jbuf_puts(&b, txt);
	jbuf_puts(&b, "\n");
	free(txt);
	ret = reply(s, c, 200, "application/json", b.p, b.len);
	jbuf_free(&b);
	return ret;
}

static void
metric(struct jbuf *b, const char *name, const char *type, const char *help, double v)
{
	jbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type, name, v);
}

static enum MHD_Result
handle_metrics(struct qs_server *s, struct MHD_Connection *c)
{
	const struct qs_counters *ct = s->o.cf->counters;
	struct jbuf b = { 0 };
	uint64_t cum = 0, lines, clicks, bad;
	struct qs_hstore_stats hs;
	enum MHD_Result ret;
	size_t i;

	metric(&b, "qscore_requests_total", "counter", "Score requests answered (each element of a batch counts).",
	    (double)(atomic_load(&ct->requests) + SUM(s, requests)));
	metric(&b, "qscore_request_errors_total", "counter", "Score requests answered with an error (bad JSON, bad fields, no model).",
	    (double)(atomic_load(&ct->errors) + SUM(s, errors)));
	jbuf_puts(&b, "# HELP qscore_http_responses_total HTTP responses by status code.\n"
	    "# TYPE qscore_http_responses_total counter\n");
	for (i = 0; i < NCODES; i++)
		jbuf_printf(&b, "qscore_http_responses_total{code=\"%u\"} %ju\n", codes[i], (uintmax_t)SUM(s, by_code[i]));
	jbuf_printf(&b, "qscore_http_responses_total{code=\"other\"} %ju\n", (uintmax_t)SUM(s, by_code[NCODES]));
	jbuf_puts(&b, "# HELP qscore_request_duration_seconds Time from the first byte of a POST /v1/score to its response being queued.\n"
	    "# TYPE qscore_request_duration_seconds histogram\n");
	for (i = 0; i <= NBUCKETS; i++) {
		cum += SUM(s, hist[i]);
		if (i < NBUCKETS)
			jbuf_printf(&b, "qscore_request_duration_seconds_bucket{le=\"%g\"} %ju\n", bucket_le[i], (uintmax_t)cum);
		else
			jbuf_printf(&b, "qscore_request_duration_seconds_bucket{le=\"+Inf\"} %ju\n", (uintmax_t)cum);
	}
	jbuf_printf(&b, "qscore_request_duration_seconds_sum %.9f\nqscore_request_duration_seconds_count %ju\n",
	    (double)SUM(s, lat_sum_ns) / 1e9, (uintmax_t)SUM(s, lat_count));
	pthread_mutex_lock(&s->cmu);
	metric(&b, "qscore_connections_open", "gauge", "HTTP connections open.", (double)s->nopen);
	pthread_mutex_unlock(&s->cmu);
	metric(&b, "qscore_slow_connections_closed_total", "counter",
	    "Connections closed because a request did not arrive whole within --read-timeout (or --timeout after an answer).",
	    (double)atomic_load(&s->slow_closed));
	metric(&b, "qscore_connections_evicted_total", "counter",
	    "Connections slow to send a request, closed early to keep an eighth of --max-connections free.",
	    (double)atomic_load(&s->evicted));
	metric(&b, "qscore_model_version", "gauge", "The model version served (0: none).",
	    (double)qs_models_version(s->o.models));
	metric(&b, "qscore_model_swaps_total", "counter", "Model versions swapped in.", (double)qs_models_swaps(s->o.models));
	metric(&b, "qscore_model_refusals_total", "counter", "Model versions refused (corrupt, mismatched, failed warm-up).",
	    (double)qs_models_refusals(s->o.models));
	metric(&b, "qscore_unknown_items_total", "counter", "Candidates scored with the unknown embedding row.",
	    (double)atomic_load(&ct->unknown_items));
	metric(&b, "qscore_feature_row_items_total", "counter",
	    "Candidates not in the embeddings, scored with the row built from their features.",
	    (double)atomic_load(&ct->feature_rows));
	metric(&b, "qscore_unknown_history_items_total", "counter", "History items not in the embeddings.",
	    (double)atomic_load(&ct->unknown_hist));
	if (s->o.cf->history != NULL) {
		qs_events_counts(s->o.events, &lines, &clicks, &bad);
		s->o.cf->history->ops->stats(s->o.cf->history->st, &hs);
		if (!hs.remote) {
			metric(&b, "qscore_history_users", "gauge", "Users whose recent clicks are held.", (double)hs.users);
			metric(&b, "qscore_history_evictions_total", "counter",
			    "Users evicted from the history store (least recently used).", (double)hs.evictions);
		} else {
			metric(&b, "qscore_history_up", "gauge", "1 while Redis answers; 0 while it is reconnected to.",
			    (double)hs.up);
			metric(&b, "qscore_history_fallbacks_total", "counter",
			    "Requests scored with an empty history because Redis did not answer in time.",
			    (double)hs.fallbacks);
			metric(&b, "qscore_history_errors_total", "counter", "History reads that failed or timed out.",
			    (double)hs.errors);
			metric(&b, "qscore_history_reconnects_total", "counter", "Connections to Redis made again after a failure.",
			    (double)hs.reconnects);
			metric(&b, "qscore_history_writes_total", "counter", "Events written to Redis.", (double)hs.writes);
			metric(&b, "qscore_history_write_errors_total", "counter",
			    "Attempts to write events to Redis that failed (the events are written again).",
			    (double)hs.write_errors);
		}
		metric(&b, "qscore_history_requests_total", "counter", "Requests whose history came from the event stream.",
		    (double)atomic_load(&ct->hist_from_store));
		metric(&b, "qscore_events_total", "counter", "Event lines read.", (double)lines);
		metric(&b, "qscore_event_clicks_total", "counter", "Clicks added to histories.", (double)clicks);
		metric(&b, "qscore_events_bad_total", "counter", "Event lines that could not be used.", (double)bad);
	}
	ret = reply(s, c, 200, "text/plain; version=0.0.4", b.p, b.len);
	jbuf_free(&b);
	return ret;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The socket of c, or -1. */
static int
conn_fd(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);

	return ci != NULL ? ci->connect_fd : -1;
}

/* Gives c's request ms from now to arrive whole; ms < 0: no deadline (it is being answered). */
static void
conn_deadline(struct qs_server *s, struct MHD_Connection *c, int64_t ms)
{
	int fd = conn_fd(c);
	int64_t now = mono_ms();

	if (fd < 0 || (size_t)fd >= s->nslots)
		return;
	atomic_store_explicit(&s->slots[fd].since_ms, now, memory_order_relaxed);
	atomic_store_explicit(&s->slots[fd].deadline_ms, ms < 0 ? 0 : now + ms, memory_order_relaxed);
}

/* Records a connection accepted (its first request due within --read-timeout) or closed. */
static void
on_connection(void *cls, struct MHD_Connection *c, void **socket_context, enum MHD_ConnectionNotificationCode code)
{
	struct qs_server *s = cls;
	int64_t now = mono_ms();
	int fd;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		if ((fd = conn_fd(c)) < 0 || (size_t)fd >= s->nslots)
			return;
		*socket_context = (void *)(intptr_t)(fd + 1);
	} else if ((fd = (int)(intptr_t)*socket_context - 1) < 0)
		return;
	pthread_mutex_lock(&s->cmu);
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		s->slots[fd].used = 1;
		atomic_store(&s->slots[fd].since_ms, now);
		atomic_store(&s->slots[fd].deadline_ms, now + (int64_t)s->o.read_timeout_s * 1000);
		s->nopen++;
		if ((size_t)fd >= s->hiwater)
			s->hiwater = (size_t)fd + 1;
	} else if (s->slots[fd].used) {
		/* before libmicrohttpd closes the socket: the reaper never shuts down a number reused */
		s->slots[fd].used = 0;
		s->nopen--;
	}
	pthread_mutex_unlock(&s->cmu);
}

/*
 * Every 100 ms, shuts down the connections whose request has not arrived
 * whole by its deadline; and while the open connections fill more than 7/8
 * of --max-connections, those that have been receiving a request (or idle
 * between two) for a second or more, until they fill 3/4: the rest stays
 * for /healthz and for the clients that send their requests at once.
 * libmicrohttpd sees the end of the socket and closes it.
 */
static void *
reaper_main(void *arg)
{
	struct qs_server *s = arg;
	unsigned high = s->o.max_conns - s->o.max_conns / 8, low = s->o.max_conns - s->o.max_conns / 4, open;
	struct timespec tick = { 0, 100000000 };
	struct conn_slot *sl;
	int64_t now, deadline;
	size_t fd;
	int crowded;

	while (!atomic_load(&s->stopping)) {
		nanosleep(&tick, NULL);
		now = mono_ms();
		pthread_mutex_lock(&s->cmu);
		open = s->nopen;
		crowded = open >= high;
		for (fd = 0; fd < s->hiwater; fd++) {
			sl = &s->slots[fd];
			if (!sl->used || (deadline = atomic_load(&sl->deadline_ms)) == 0)
				continue;
			if (now >= deadline)
				atomic_fetch_add(&s->slow_closed, 1);
			else if (crowded && open > low && now - atomic_load(&sl->since_ms) >= 1000)
				atomic_fetch_add(&s->evicted, 1);
			else
				continue;
			shutdown((int)fd, SHUT_RDWR);
			atomic_store(&sl->deadline_ms, 0);
			open--;
		}
		pthread_mutex_unlock(&s->cmu);
	}
	return NULL;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method, const char *version,
    const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct qs_server *s = cls;
	struct conn *cc = *con_cls;
	const char *cl;

	if (cc == NULL) {
		struct tstats *t = stats(s);
		atomic_fetch_add(&s->inflight, 1);
		if (t->spare != NULL) {
			cc = t->spare;
			t->spare = NULL;
		} else
			cc = xcalloc(1, sizeof *cc);
		clock_gettime(CLOCK_MONOTONIC, &cc->t0);
		*con_cls = cc;
		if (strcmp(url, "/v1/score") == 0) {
			if (strcmp(method, "POST") != 0)
				return reply_not_allowed(s, c, "POST");
			cc->score = 1;
			cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
			if (cl != NULL && strtoull(cl, NULL, 10) > s->o.max_body) {
				char why[128];
				count_refused(stats(s));
				snprintf(why, sizeof why, "request body larger than %zu bytes", s->o.max_body);
				return reply_error(s, c, 413, why);
			}
			return MHD_YES;
		}
		if (strcmp(url, "/v1/models") != 0 && strcmp(url, "/metrics") != 0 && strcmp(url, "/v1/latency") != 0 &&
		    strcmp(url, "/healthz") != 0)
			return reply_error(s, c, 404,
			    "no such resource (try /v1/score, /v1/models, /v1/latency, /metrics, /healthz)");
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return reply_not_allowed(s, c, "GET, HEAD");
		if (strcmp(url, "/v1/models") == 0)
			return handle_models(s, c);
		if (strcmp(url, "/metrics") == 0)
			return handle_metrics(s, c);
		if (strcmp(url, "/v1/latency") == 0)
			return handle_latency(s, c);
		if (strcmp(url, "/healthz") == 0) {
			if (qs_models_version(s->o.models) == 0)
				return reply(s, c, 503, "text/plain", "no model loaded\n", 16);
			return reply(s, c, 200, "text/plain", "ok\n", 3);
		}
		return reply_error(s, c, 404, "no such resource (try /v1/score, /v1/models, /v1/latency, /metrics, /healthz)");
	}
	if (!cc->score)
		return MHD_YES;
	if (*upload_data_size != 0) {
		if (!cc->too_big && cc->body.len + *upload_data_size > s->o.max_body) {
			cc->too_big = 1;
			jbuf_free(&cc->body);
		}
		if (!cc->too_big)
			jbuf_put(&cc->body, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	return handle_score(s, c, cc);
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct qs_server *s = cls;
	struct conn *cc = *con_cls;
	struct tstats *t;

	if (cc == NULL)
		return;
	*con_cls = NULL;
	atomic_fetch_sub(&s->inflight, 1);
	/* a kept-alive connection's next request is due within --timeout */
	conn_deadline(s, c, (int64_t)s->o.timeout_s * 1000);
	/* the thread's next request takes it over, with a body buffer of a usual size */
	t = stats(s);
	if (t->spare == NULL && cc->body.cap <= 64 << 10) {
		cc->body.len = 0;
		cc->too_big = 0;
		cc->score = 0;
		t->spare = cc;
		return;
	}
	jbuf_free(&cc->body);
	free(cc);
}

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	vsnprintf(buf, sizeof buf, fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	diag_info(2, "http: %s", buf);
}

/* Parses "HOST:PORT", "[V6]:PORT" or a bare "PORT" (the loopback) into *addr. 0, or -1 after a diagnostic. */
int
qs_parse_listen(const char *spec, struct sockaddr_storage *addr)
{
	struct addrinfo hints, *res;
	char host[256];
	const char *colon, *h = spec, *port;
	size_t hl;
	int e;

	colon = strrchr(spec, ':');
	if (colon == NULL && spec[0] != '\0' && strspn(spec, "0123456789") == strlen(spec)) {
		snprintf(host, sizeof host, "127.0.0.1");
		port = spec;
	} else {
		if (colon == NULL) {
			diag_warn("--listen %s: expected HOST:PORT or PORT", spec);
			return -1;
		}
		hl = (size_t)(colon - spec);
		if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') {
			h = spec + 1;
			hl -= 2;
		}
		if (hl == 0 || hl >= sizeof host) {
			diag_warn("--listen %s: expected HOST:PORT or PORT", spec);
			return -1;
		}
		memcpy(host, h, hl);
		host[hl] = '\0';
		port = colon + 1;
	}
	if (port[0] == '\0' || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 || atol(port) > 65535) {
		diag_warn("--listen %s: the port must be a number from 0 (any free port) to 65535", spec);
		return -1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		diag_warn("--listen %s: %s", spec, gai_strerror(e));
		return -1;
	}
	memcpy(addr, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

/*
 * A listening socket bound to addr: the address's own family, so that an
 * IPv6 address serves IPv6. -1 after a diagnostic with the system's reason.
 */
static int
listen_on(const char *spec, const struct sockaddr_storage *addr)
{
	socklen_t len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd, on = 1;

	if ((fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		diag_warn("--listen %s: socket:", spec);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	if (addr->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
	if (bind(fd, (const struct sockaddr *)addr, len) != 0) {
		diag_warn("--listen %s: bind:", spec);
		close(fd);
		return -1;
	}
	if (listen(fd, SOMAXCONN) != 0) {
		diag_warn("--listen %s: listen:", spec);
		close(fd);
		return -1;
	}
	return fd;
}

struct qs_server *
qs_server_start(const struct qs_server_opts *o)
{
	struct qs_server *s = xcalloc(1, sizeof *s);
	struct sockaddr_storage bound;
	socklen_t blen = sizeof bound;
	struct rlimit rl;
	char host[NI_MAXHOST], port[NI_MAXSERV];
	int lfd;

	s->o = *o;
	s->serial = atomic_fetch_add(&server_serial, 1) + 1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->cmu, NULL);
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1 << 20)
		rl.rlim_cur = 1 << 20;
	s->nslots = (size_t)rl.rlim_cur;
	s->slots = xcalloc(s->nslots, sizeof *s->slots);
	if (qs_parse_listen(o->listen, &s->addr) != 0 || (lfd = listen_on(o->listen, &s->addr)) < 0)
		goto err;
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG |
	    (s->addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0), 0,
	    NULL, NULL, on_request, s,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
	    MHD_OPTION_LISTEN_SOCKET, (MHD_socket)lfd,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)o->threads,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)o->max_conns,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)o->max_header,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)o->timeout_s,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	    MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
	    MHD_OPTION_END);
	if (s->d == NULL) {
		diag_warn("--listen %s: cannot start the HTTP server (run with -vv for libmicrohttpd's reason)", o->listen);
		close(lfd);
		goto err;
	}
	if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
		diag_warn("cannot start the connection reaper");
		goto err;
	}
	s->reaper_started = 1;
	if (getsockname(lfd, (struct sockaddr *)&bound, &blen) != 0 || getnameinfo((struct sockaddr *)&bound, blen, host,
	    sizeof host, port, sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(host, sizeof host, "?");
		snprintf(port, sizeof port, "0");
	}
	diag_info(1, "listening on %s%s%s:%s (%u threads)", bound.ss_family == AF_INET6 ? "[" : "", host,
	    bound.ss_family == AF_INET6 ? "]" : "", port, o->threads);
	if (o->port_file != NULL) {
		FILE *f = fopen(o->port_file, "w");
		int bad = f == NULL;
		if (f != NULL) {
			bad = fprintf(f, "%s\n", port) < 0;
			bad |= fclose(f) != 0;
		}
		if (bad) {
			diag_warn("%s:", o->port_file);
			goto err;
		}
	}
	return s;
err:
	qs_server_stop(s);
	return NULL;
}

/*
 * Whether every open connection has been idle between two requests for
 * DRAIN_IDLE_MS at least (a client that has just had an answer may be
 * sending its next request on the same connection).
 */
#define DRAIN_IDLE_MS 500
static int
all_idle(struct qs_server *s, int64_t now)
{
	int64_t deadline;
	size_t fd;
	int idle = 1;

	pthread_mutex_lock(&s->cmu);
	for (fd = 0; fd < s->hiwater && idle; fd++)
		if (s->slots[fd].used && ((deadline = atomic_load(&s->slots[fd].deadline_ms)) == 0 ||
		    now - atomic_load(&s->slots[fd].since_ms) < DRAIN_IDLE_MS))
			idle = 0;
	pthread_mutex_unlock(&s->cmu);
	return idle;
}

void
qs_server_drain(struct qs_server *s, unsigned secs)
{
	struct timespec tick = { 0, 10000000 };
	int64_t end = mono_ms() + (int64_t)secs * 1000, now;
	MHD_socket fd;
	unsigned left;

	if (s == NULL || s->d == NULL)
		return;
	atomic_store(&s->draining, 1);
	fd = MHD_quiesce_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	/* every answer now closes its connection: wait until none is busy or about to be */
	while ((now = mono_ms()) < end && (atomic_load(&s->inflight) > 0 || !all_idle(s, now)))
		nanosleep(&tick, NULL);
	if ((left = atomic_load(&s->inflight)) > 0)
		diag_warn("%u requests still in flight after %u s: dropped", left, secs);
}

void
qs_server_stop(struct qs_server *s)
{
	struct qs_worker *w, *next;
	struct tstats *t, *tnext;

	if (s == NULL)
		return;
	atomic_store(&s->stopping, 1);
	if (s->reaper_started)
		pthread_join(s->reaper, NULL);
	if (s->d != NULL)
		MHD_stop_daemon(s->d);
	free(s->slots);
	pthread_mutex_destroy(&s->cmu);
	for (w = s->workers; w != NULL; w = next) {
		next = w->next;
		qs_worker_free(w);
	}
	for (t = s->stats; t != NULL; t = tnext) {
		tnext = t->next;
		if (t->spare != NULL) {
			jbuf_free(&t->spare->body);
			free(t->spare);
		}
		free(t);
	}
	pthread_mutex_destroy(&s->mu);
	free(s);
}
