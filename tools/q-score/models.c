/* models.c: q-score's serving model — a loader thread that watches MODELDIR, validates and warms up new versions, and swaps them in without blocking requests. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "jsonx.h"
#include "modelbus.h"
#include "promote.h"
#include "qscore.h"
#include "sdnotify.h"
#include "xalloc.h"

/*
 * The swap. `cur` points at the serving model, which holds one reference
 * for being current. A request takes a reference in three steps:
 *
 *   m = load(cur); publish m in a free hazard slot; if load(cur) == m: refs++.
 *   then clear the slot.
 *
 * The loader swaps with exchange(cur, new) and then waits until no hazard
 * slot holds the old pointer before it drops the old model's "current"
 * reference. All of these are sequentially consistent, so either the
 * loader's scan sees a reader's slot (and waits for the reader's refs++), or
 * the reader's re-load of cur comes after the exchange and it retries
 * without ever touching the old model. A model whose count reaches zero is
 * pushed on the retired stack and freed by the loader thread, so a request
 * thread never pays for munmap.
 */
#define NHAZARD 64
#define NREFUSALS 16

struct refusal {
	uint32_t version;
	int64_t at_ms;
	char reason[320];
};

struct qs_models {
	struct qs_models_opts o;
	_Atomic(struct qs_model *) cur;
	_Atomic(struct qs_model *) hazard[NHAZARD];
	_Atomic(struct qs_model *) retired;
	atomic_uint_fast64_t swaps, refusals;
	atomic_int stop, recheck;
	int wake[2];
	pthread_t tid;
	int started;
	struct modelbus_follower *bus;	/* -m kafka:TOPIC: assembles versions into the cache, on a thread of its own */
	pthread_t bus_tid;
	int bus_started;
	struct qs_worker *warm;		/* the loader's own scratch for warm-up */
	char **misnamed;		/* directories named as a version in another form, warned about once */
	size_t nmisnamed;
	char promote_err[512];		/* the promotion record's last problem, warned about once */
	char *warm_file;		/* --warmup contents, read once */
	size_t warm_file_len;

	pthread_mutex_t mu;		/* guards what follows */
	struct refusal refused[NREFUSALS];	/* the last ones, a ring */
	size_t nrefused;
	uint32_t *skip;			/* versions refused: not retried until SIGHUP */
	size_t nskip;
};

static _Thread_local unsigned hazard_hint = NHAZARD;

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reads a whole file (at most max bytes) into a malloc'd buffer; NULL when absent or unreadable. */
static char *
slurp(const char *path, size_t max, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL)
		return NULL;
	buf = xmalloc(max + 1);
	n = fread(buf, 1, max, f);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void bus_refused(void *arg, uint32_t version, const char *reason);

struct qs_models *
qs_models_new(const struct qs_models_opts *o)
{
	struct qs_models *ms = xcalloc(1, sizeof *ms);

	ms->o = *o;
	ms->wake[0] = ms->wake[1] = -1;
	if (pipe2(ms->wake, O_NONBLOCK | O_CLOEXEC) != 0)
		diag_fatal(1, "pipe:");
	ms->warm = qs_worker_new(o->cf->seed, 0xffff);
	pthread_mutex_init(&ms->mu, NULL);
	if (o->warmup != NULL) {
		ms->warm_file = slurp(o->warmup, 64u << 20, &ms->warm_file_len);
		if (ms->warm_file == NULL)
			diag_warn("%s:", o->warmup);
	}
	if (o->topic != NULL && (ms->bus = modelbus_follow_open(o->kafka, o->topic, o->dir, bus_refused, ms)) == NULL)
		diag_fatal(1, "kafka:%s: cannot follow the topic", o->topic);
	return ms;
}

/* ---- references ---- */

struct qs_model *
qs_model_acquire(struct qs_models *ms)
{
	struct qs_model *m;
	unsigned i;

	if (hazard_hint >= NHAZARD)
		hazard_hint = (unsigned)(((uintptr_t)&hazard_hint >> 6) % NHAZARD);
	for (;;) {
		m = atomic_load(&ms->cur);
		if (m == NULL)
			return NULL;
		for (i = hazard_hint;; i = (i + 1) % NHAZARD) {
			struct qs_model *expect = NULL;
			if (atomic_compare_exchange_strong(&ms->hazard[i], &expect, m))
				break;
		}
		hazard_hint = i;
		if (atomic_load(&ms->cur) == m) {
			atomic_fetch_add(&m->refs, 1);
			atomic_store(&ms->hazard[i], NULL);
			return m;
		}
		atomic_store(&ms->hazard[i], NULL);
	}
}

static void
poke(struct qs_models *ms)
{
	char c = 1;
	ssize_t r;

	r = write(ms->wake[1], &c, 1);	/* a full pipe already means "wake up" */
	(void)r;
}

void
qs_model_release(struct qs_models *ms, struct qs_model *qm)
{
	struct qs_model *head;

	if (qm == NULL)
		return;
	if (atomic_fetch_sub(&qm->refs, 1) != 1)
		return;
	head = atomic_load(&ms->retired);
	do
		qm->next_retired = head;
	while (!atomic_compare_exchange_weak(&ms->retired, &head, qm));
	poke(ms);
}

static void
model_destroy(struct qs_model *qm)
{
	model_free(qm->m);
	free(qm);
}

void
qs_models_free_retired(struct qs_models *ms)
{
	struct qs_model *qm = atomic_exchange(&ms->retired, NULL), *next;

	for (; qm != NULL; qm = next) {
		next = qm->next_retired;
		diag_info(2, "version %u freed", qm->m->version);
		model_destroy(qm);
	}
}

void
qs_models_swap_in(struct qs_models *ms, struct qs_model *qm)
{
	struct qs_model *old;
	int i;

	atomic_store(&qm->refs, 1);
	old = atomic_exchange(&ms->cur, qm);
	atomic_fetch_add(&ms->swaps, 1);
	if (old == NULL)
		return;
	for (i = 0; i < NHAZARD; i++)
		while (atomic_load(&ms->hazard[i]) == old)
			sched_yield();
	qs_model_release(ms, old);
}

uint32_t
qs_models_version(struct qs_models *ms)
{
	struct qs_model *qm = qs_model_acquire(ms);
	uint32_t v = qm ? qm->m->version : 0;

	qs_model_release(ms, qm);
	return v;
}

uint64_t
qs_models_swaps(struct qs_models *ms)
{
	return atomic_load(&ms->swaps);
}

uint64_t
qs_models_refusals(struct qs_models *ms)
{
	return atomic_load(&ms->refusals);
}

size_t
qs_models_pending(struct qs_models *ms)
{
	struct qs_model *qm;
	size_t n = 0;
	int i;

	for (i = 0; i < NHAZARD; i++)
		n += atomic_load(&ms->hazard[i]) != NULL;
	for (qm = atomic_load(&ms->retired); qm != NULL; qm = qm->next_retired)
		n++;
	return n;
}

/* ---- loading ---- */

static int
skipped(struct qs_models *ms, uint32_t v)
{
	size_t i;
	int r = 0;

	pthread_mutex_lock(&ms->mu);
	for (i = 0; i < ms->nskip; i++)
		if (ms->skip[i] == v)
			r = 1;
	pthread_mutex_unlock(&ms->mu);
	return r;
}

static void
refuse(struct qs_models *ms, uint32_t v, const char *reason)
{
	struct refusal *r;
	uint32_t serving = qs_models_version(ms);

	if (serving)
		diag_warn("version %u refused, still serving version %u: %s", v, serving, reason);
	else
		diag_warn("version %u refused, no version served: %s", v, reason);
	pthread_mutex_lock(&ms->mu);
	r = &ms->refused[ms->nrefused++ % NREFUSALS];
	r->version = v;
	r->at_ms = now_ms();
	snprintf(r->reason, sizeof r->reason, "%s", reason);
	ms->skip = xreallocarray(ms->skip, ms->nskip + 1, sizeof *ms->skip);
	ms->skip[ms->nskip++] = v;
	pthread_mutex_unlock(&ms->mu);
	atomic_fetch_add(&ms->refusals, 1);
}

/*
 * Touches every page of the mapped embeddings (rows, ids and the id
 * index, by looking every id up) so that no request pays for the first
 * fault on a new mapping (also of a hard-linked, unchanged file).
 */
static float
prefault(const struct emb *e)
{
	uint32_t r, rows = emb_rows(e), d = emb_dim(e), step;
	const char *id;
	size_t len;
	float acc = 0;

	step = d ? (uint32_t)(4096 / (d * sizeof(float))) : 1;
	if (step == 0)
		step = 1;
	for (r = 0; r < rows; r += step)
		acc += emb_row(e, r)[0];
	for (r = 1; r < rows; r++) {
		id = emb_id(e, r, &len);
		acc += (float)emb_find(e, id, len);
	}
	return acc;
}

/*
 * Checks that the network gives finite scores, then scores the recorded
 * requests of buf (at most max). 0, or -1 with a reason: a non-finite score,
 * or recorded requests of which none fit the model.
 */
static int
warm_up(struct qs_models *ms, const struct model *m, const char *buf, size_t len, size_t max,
    size_t *scored, char *err, size_t errlen)
{
	struct qs_worker *w = ms->warm;
	struct qs_counters uncounted = { 0 };
	struct qs_config cf = *ms->o.cf;
	struct jbuf out = { 0 };
	char rerr[256], id[257], first_err[256] = "";
	const char *p = buf, *end = buf + len, *nl;
	size_t tried = 0, ok = 0;
	uint32_t r, rows = emb_rows(m->emb);
	int rc = 0;

	if (w->sc.ws == NULL || memcmp(&w->sc.ws_dims, &m->net->dm, sizeof m->net->dm) != 0) {
		qnet_ws_free(w->sc.ws);
		w->sc.ws_dims = m->net->dm;
		w->sc.ws = qnet_ws_new(&w->sc.ws_dims);
	}
	/* warm-up requests are not served: their counts go nowhere, they read and refresh no user's history */
	cf.counters = &uncounted;
	cf.history = NULL;
	qnet_state(m->net, w->sc.ws, NULL, 0, NULL);
	for (r = 0; r < rows && r < 64; r++)
		if (!isfinite(qnet_q(m->net, w->sc.ws, emb_row(m->emb, r), NULL))) {
			snprintf(err, errlen, "%s: non-finite score for embedding row %u", m->dir, r);
			return -1;
		}
	for (; p < end && tried < max; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (nl == p)
			continue;
		tried++;
		out.len = 0;
		if (qs_score_text(w, &cf, m, p, (size_t)(nl - p), &out, id, rerr, sizeof rerr) == 0)
			ok++;
		else {
			if (first_err[0] == '\0')
				snprintf(first_err, sizeof first_err, "%s", rerr);
			if (strstr(rerr, "non-finite") != NULL) {
				snprintf(err, errlen, "warm-up request %zu: %s", tried, rerr);
				rc = -1;
			}
		}
		if (rc != 0)
			break;
	}
	jbuf_free(&out);
	*scored = ok;
	if (rc == 0 && tried > 0 && ok == 0) {
		snprintf(err, errlen, "warm-up: none of %zu recorded requests fits the model: %s", tried, first_err);
		rc = -1;
	}
	return rc;
}

/* A version the topic's follower refused: counted and shown as the loader's refusals are. */
static void
bus_refused(void *arg, uint32_t version, const char *reason)
{
	char why[320];

	snprintf(why, sizeof why, "kafka:%s: %s", ((struct qs_models *)arg)->o.topic, reason);
	refuse(arg, version, why);
}

/* Loads, validates, warms up and swaps in version v. 0, or -1 after recording the refusal. */
static int
try_load(struct qs_models *ms, uint32_t v)
{
	char err[512], *path, *vbuf = NULL;
	const char *wbuf = NULL;
	size_t wlen = 0, scored = 0;
	struct qs_model *qm;
	struct model *m;
	int64_t t0, t1, t2;
	volatile float sink;

	t0 = mono_ns();
	m = model_load(ms->o.dir, v, err, sizeof err);
	if (m == NULL) {
		struct stat sb;
		path = model_version_dir(ms->o.dir, v);
		if (stat(path, &sb) != 0 && errno == ENOENT) {
			/* pruned between the listing and the load: not a refusal */
			diag_info(2, "version %u vanished before it was loaded", v);
			free(path);
			return -1;
		}
		free(path);
		refuse(ms, v, err);
		return -1;
	}
	t1 = mono_ns();
	sink = prefault(m->emb);
	(void)sink;
	qm = xcalloc(1, sizeof *qm);
	qm->warm_src = "none";
	if (ms->warm_file != NULL) {
		wbuf = ms->warm_file;
		wlen = ms->warm_file_len;
		qm->warm_src = "file";
	} else {
		path = xasprintf("%s/%s", m->dir, MODEL_WARMUP_FILE);
		vbuf = slurp(path, 16u << 20, &wlen);
		free(path);
		if (vbuf != NULL && wlen > 0) {
			wbuf = vbuf;
			qm->warm_src = "version";
		}
	}
	if (warm_up(ms, m, wbuf ? wbuf : "", wbuf ? wlen : 0, ms->o.warmup_max, &scored, err, sizeof err) != 0) {
		free(vbuf);
		free(qm);
		model_free(m);
		refuse(ms, v, err);
		return -1;
	}
	free(vbuf);
	t2 = mono_ns();
	qm->m = m;
	qm->loaded_at_ms = now_ms();
	qm->load_ms = (double)(t1 - t0) / 1e6;
	qm->warm_ms = (double)(t2 - t1) / 1e6;
	qm->warm_n = scored;
	qs_models_swap_in(ms, qm);
	sdnotify_ready();
	diag_info(1, "serving version %u from %s (load %.1f ms, warm-up %.1f ms, %zu requests)",
	    v, m->dir, qm->load_ms, qm->warm_ms, scored);
	return 0;
}

/*
 * Warns once about each directory of MODELDIR named by a number that is
 * not a version name (10 digits, > 0), as TensorFlow Serving's "7": it is
 * never served, and nothing else would say so.
 */
static void
warn_misnamed(struct qs_models *ms)
{
	DIR *dp = opendir(ms->o.dir);
	struct dirent *de;
	size_t i, len;
	char *path;
	struct stat sb;
	unsigned long long v;

	if (dp == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		len = strlen(de->d_name);
		if (len == 0 || strspn(de->d_name, "0123456789") != len)
			continue;
		v = strtoull(de->d_name, NULL, 10);
		if (len == 10 && v > 0)
			continue;
		for (i = 0; i < ms->nmisnamed && strcmp(ms->misnamed[i], de->d_name) != 0; i++)
			;
		if (i < ms->nmisnamed)
			continue;
		path = xasprintf("%s/%s", ms->o.dir, de->d_name);
		if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
			if (v > 0 && v <= UINT32_MAX)
				diag_warn("%s: not a version directory: expected 10 digits, as %s/%010llu; ignored",
				    path, ms->o.dir, v);
			else
				diag_warn("%s: not a version directory: expected 10 digits from 0000000001 to %u; ignored",
				    path, UINT32_MAX);
		}
		free(path);
		ms->misnamed = xreallocarray(ms->misnamed, ms->nmisnamed + 1, sizeof *ms->misnamed);
		ms->misnamed[ms->nmisnamed++] = xstrdup(de->d_name);
	}
	closedir(dp);
}

/* Looks for a newer version (or the pinned one) and serves it. */
static void
check(struct qs_models *ms)
{
	struct promotion pr;
	char err[512];
	uint32_t *vs = NULL, cur = qs_models_version(ms);
	size_t n = 0, i;

	warn_misnamed(ms);
	if (ms->o.pin) {
		if (cur != ms->o.pin && !skipped(ms, ms->o.pin))
			try_load(ms, ms->o.pin);
		return;
	}
	/* A store with a promotion record serves its promoted version, newer or older than the serving one. */
	switch (promote_read(ms->o.dir, &pr, err, sizeof err)) {
	case 1:
		ms->promote_err[0] = '\0';
		if (cur != pr.version && !skipped(ms, pr.version))
			try_load(ms, pr.version);
		promote_free(&pr);
		return;
	case -1:
		/* The serving version stays; the problem is told once, not at every check. */
		if (strcmp(err, ms->promote_err) != 0 && cur != 0)
			diag_warn("%s; still serving version %u", err, (unsigned)cur);
		else if (strcmp(err, ms->promote_err) != 0)
			diag_warn("%s; serving no version until it is mended", err);
		snprintf(ms->promote_err, sizeof ms->promote_err, "%s", err);
		return;
	}
	ms->promote_err[0] = '\0';
	if (model_versions(ms->o.dir, &vs, &n, err, sizeof err) != 0) {
		diag_warn("%s", err);
		return;
	}
	for (i = n; i-- > 0 && vs[i] > cur;) {
		if (skipped(ms, vs[i]))
			continue;
		if (try_load(ms, vs[i]) == 0)
			break;
	}
	free(vs);
}

int
qs_models_load_now(struct qs_models *ms)
{
	check(ms);
	return qs_models_version(ms) ? 0 : -1;
}

void
qs_models_poke(struct qs_models *ms)
{
	atomic_store(&ms->recheck, 1);
	poke(ms);
}

static void *
loader_main(void *arg)
{
	struct qs_models *ms = arg;
	struct pollfd pfd[2];
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	sigset_t all;
	int ino, nfd, wd = -1;
	int64_t last = 0, now;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	/* The loader yields to request threads: a swap must not raise their latency. */
	setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10);
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino >= 0)
		wd = inotify_add_watch(ino, ms->o.dir, IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ONLYDIR);
	if (wd < 0) {
		diag_info(1, "%s: no inotify watch (%s): polling every %lld ms", ms->o.dir, strerror(errno),
		    (long long)ms->o.poll_ms);
		if (ino >= 0)
			close(ino);
		ino = -1;
	}
	pfd[0].fd = ms->wake[0];
	pfd[0].events = POLLIN;
	pfd[1].fd = ino;
	pfd[1].events = POLLIN;
	nfd = ino >= 0 ? 2 : 1;
	while (!atomic_load(&ms->stop)) {
		int r = poll(pfd, (nfds_t)nfd, (int)ms->o.poll_ms);
		int changed = r == 0;
		if (r > 0 && (pfd[0].revents & POLLIN))
			while (read(ms->wake[0], buf, sizeof buf) > 0)
				;
		if (r > 0 && nfd == 2 && (pfd[1].revents & POLLIN)) {
			while (read(ino, buf, sizeof buf) > 0)
				;
			changed = 1;
		}
		qs_models_free_retired(ms);
		if (atomic_load(&ms->stop))
			break;
		if (atomic_exchange(&ms->recheck, 0)) {
			diag_info(1, "SIGHUP: checking %s, retrying refused versions", ms->o.dir);
			pthread_mutex_lock(&ms->mu);
			ms->nskip = 0;
			pthread_mutex_unlock(&ms->mu);
			changed = 1;
		}
		now = mono_ns();
		if (!changed && now - last >= ms->o.poll_ms * 1000000)
			changed = 1;	/* the polling fallback, also for a watch that missed an event */
		if (changed) {
			last = now;
			check(ms);
		}
	}
	if (ino >= 0)
		close(ino);
	return NULL;
}

/* The follower of -m kafka:TOPIC: reads the topic until the models stop; the brokers down only stall it. */
static void *
bus_main(void *arg)
{
	struct qs_models *ms = arg;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (!atomic_load(&ms->stop))
		modelbus_follow_step(ms->bus, 200);
	return NULL;
}

int
qs_models_start(struct qs_models *ms)
{
	int e;

	if (ms->bus != NULL) {
		if ((e = pthread_create(&ms->bus_tid, NULL, bus_main, ms)) != 0) {
			diag_warn("kafka follower thread: %s", strerror(e));
			return -1;
		}
		ms->bus_started = 1;
	}
	if ((e = pthread_create(&ms->tid, NULL, loader_main, ms)) != 0) {
		diag_warn("loader thread: %s", strerror(e));
		return -1;
	}
	ms->started = 1;
	return 0;
}

static void
rfc3339(int64_t ms, char out[80])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 80, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
	    tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

json_t *
qs_models_status(struct qs_models *ms)
{
	struct qs_model *qm = qs_model_acquire(ms);
	json_t *o = json_object(), *s, *arr;
	struct promotion pr;
	char ts[80], err[512];
	size_t i, n;

	json_object_set_new(o, "model_dir", json_string(ms->o.dir));
	if (qm != NULL) {
		const struct model *m = qm->m;
		s = json_object();
		json_object_set_new(s, "version", json_integer(m->version));
		json_object_set_new(s, "dir", json_string(m->dir));
		rfc3339(qm->loaded_at_ms, ts);
		json_object_set_new(s, "loaded_at", json_string(ts));
		json_object_set_new(s, "load_ms", json_real(qm->load_ms));
		json_object_set_new(s, "warmup_ms", json_real(qm->warm_ms));
		json_object_set_new(s, "warmup_requests", json_integer((json_int_t)qm->warm_n));
		json_object_set_new(s, "warmup_source", json_string(qm->warm_src));
		json_object_set_new(s, "mode", json_string(m->info.mode));
		json_object_set_new(s, "parent", json_integer(m->info.parent));
		rfc3339(m->info.created_ms, ts);
		json_object_set_new(s, "created_at", json_string(ts));
		json_object_set_new(s, "items", json_integer((json_int_t)emb_rows(m->emb) - 1));
		json_object_set_new(o, "serving", s);
	} else
		json_object_set_new(o, "serving", json_null());
	qs_model_release(ms, qm);
	json_object_set_new(o, "pinned", ms->o.pin ? json_integer(ms->o.pin) : json_null());
	if (ms->bus != NULL) {
		struct modelbus_stats bs;
		modelbus_follow_stats(ms->bus, &bs);
		json_object_set_new(o, "kafka", json_pack("{s:s,s:b,s:b,s:I,s:I,s:I,s:I,s:I,s:I}", "topic", ms->o.topic,
		    "up", bs.up, "caught_up", bs.caught_up, "newest", (json_int_t)bs.newest,
		    "records", (json_int_t)bs.records, "assembled", (json_int_t)bs.installed,
		    "refused", (json_int_t)bs.refused, "bad_records", (json_int_t)bs.bad_records,
		    "unavailable", (json_int_t)bs.downs));
	}
	if (promote_read(ms->o.dir, &pr, err, sizeof err) == 1) {
		json_object_set_new(o, "promoted", json_integer(pr.version));
		json_object_set(o, "gate", json_object_get(pr.doc, "last"));
		promote_free(&pr);
	} else {
		json_object_set_new(o, "promoted", json_null());
		json_object_set_new(o, "gate", json_null());
	}
	json_object_set_new(o, "swaps", json_integer((json_int_t)qs_models_swaps(ms)));
	json_object_set_new(o, "refusals_total", json_integer((json_int_t)qs_models_refusals(ms)));
	arr = json_array();
	pthread_mutex_lock(&ms->mu);
	n = ms->nrefused < NREFUSALS ? ms->nrefused : NREFUSALS;
	for (i = 0; i < n; i++) {
		const struct refusal *r = &ms->refused[(ms->nrefused - 1 - i) % NREFUSALS];
		json_t *e = json_object();
		json_object_set_new(e, "version", json_integer(r->version));
		rfc3339(r->at_ms, ts);
		json_object_set_new(e, "at", json_string(ts));
		json_object_set_new(e, "reason", json_string(r->reason));
		json_array_append_new(arr, e);
	}
	pthread_mutex_unlock(&ms->mu);
	json_object_set_new(o, "refusals", arr);
	return o;
}

void
qs_models_free(struct qs_models *ms)
{
	struct qs_model *qm;
	int i;

	if (ms == NULL)
		return;
	atomic_store(&ms->stop, 1);
	poke(ms);
	if (ms->started)
		pthread_join(ms->tid, NULL);
	if (ms->bus_started)
		pthread_join(ms->bus_tid, NULL);
	modelbus_follow_close(ms->bus);
	qm = atomic_exchange(&ms->cur, NULL);
	if (qm != NULL) {
		for (i = 0; i < NHAZARD; i++)
			while (atomic_load(&ms->hazard[i]) == qm)
				sched_yield();
		qs_model_release(ms, qm);
	}
	qs_models_free_retired(ms);
	qs_worker_free(ms->warm);
	free(ms->warm_file);
	free(ms->skip);
	for (i = 0; i < (int)ms->nmisnamed; i++)
		free(ms->misnamed[i]);
	free(ms->misnamed);
	close(ms->wake[0]);
	close(ms->wake[1]);
	pthread_mutex_destroy(&ms->mu);
	free(ms);
}
