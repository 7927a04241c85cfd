/* qscore-mkmodel.c: publishes small random model versions for q-score's tests and bench, and scores requests with the bare forward pass as a reference. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "jsonx.h"
#include "model.h"
#include "qnet.h"
#include "sig.h"
#include "xalloc.h"

static _Noreturn void
usage(void)
{
	fprintf(stderr,
	    "usage: qscore-mkmodel -m modeldir [-C ctx] [-X feat] [-d dim] [-L len] [-F filters] [-H hidden]\n"
	    "                      [-n items] [-s seed] [-c count] [-t interval_ms] [-k keep] [-l log] [-w warmup]\n"
	    "       qscore-mkmodel -r -m modeldir [-v version] [-b repeat [-R rate]] < requests\n");
	exit(2);
}

static uint64_t rng_state;

static double
uniform(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng_state >> 11) * 0x1.0p-53;
}

/* Publishes count versions interval_ms apart; each line of log is "version start_ms end_ms" (wall clock around the publish). */
static int
publish(const char *dir, const struct qnet_dims *dm, uint32_t nitems, uint64_t seed, long count, long interval_ms,
    unsigned keep, const char *logpath, const char *warmup)
{
	struct qnet *net = qnet_new(dm);
	struct emb *e = emb_new(dm->d);
	struct model_publication pub = { 0 };
	char err[512], id[32], *link = NULL, *wbuf = NULL;
	FILE *log = NULL, *wf;
	size_t wlen = 0;
	uint32_t i, j, v;
	int64_t t0;
	long k;

	rng_state = seed;
	for (i = 0; i < nitems; i++) {
		snprintf(id, sizeof id, "i%u", i);
		float *row = emb_row_mut(e, emb_add(e, id, strlen(id)));
		for (j = 0; j < dm->d; j++)
			row[j] = (float)(uniform() * 2 - 1);
	}
	if (warmup != NULL) {
		if ((wf = fopen(warmup, "r")) == NULL)
			diag_fatal(1, "%s:", warmup);
		wbuf = xmalloc(1 << 20);
		wlen = fread(wbuf, 1, 1 << 20, wf);
		fclose(wf);
	}
	if (logpath != NULL && (log = fopen(logpath, "a")) == NULL)
		diag_fatal(1, "%s:", logpath);
	for (k = 0; k < count && !sig_stop; k++) {
		qnet_init(net, seed + (uint64_t)k);
		/* a head bias per version so that versions score differently */
		net->p[net->off[QNET_V_B]] = (float)k;
		pub.net = net;
		pub.emb = link ? NULL : e;
		pub.emb_link = link;
		strcpy(pub.info.mode, k ? "online" : "offline");
		strcpy(pub.info.target, "item");
		pub.warmup = wbuf;
		pub.warmup_len = wlen;
		pub.keep = keep;
		t0 = now_ms();
		if (model_publish(dir, &pub, &v, err, sizeof err) != 0)
			diag_fatal(1, "%s", err);
		if (log != NULL) {
			fprintf(log, "%u %lld %lld\n", v, (long long)t0, (long long)now_ms());
			fflush(log);
		}
		free(link);
		link = xasprintf("%s/%010u/%s", dir, v, MODEL_EMB_FILE);
		if (k + 1 < count)
			nanosleep(&(struct timespec){ interval_ms / 1000, (interval_ms % 1000) * 1000000 }, NULL);
	}
	free(link);
	free(wbuf);
	if (log != NULL)
		fclose(log);
	qnet_free(net);
	emb_free(e);
	return 0;
}

static const char *
id_of(const json_t *v, char buf[32], size_t *len)
{
	if (json_is_integer(v)) {
		*len = (size_t)snprintf(buf, 32, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	*len = json_string_length(v);
	return json_string_value(v);
}

/* One request, its rows gathered. */
struct pre {
	char *rid;
	const float **hrow;
	char **hid;		/* the history's ids, looked up again in the timed passes */
	size_t *hlen;
	size_t nh;
	float *ctx;
	const float **crow;
	char **cid;
	size_t *clen;
	float *cx;
	size_t nc;
};

/* The bare scoring of one request: its lookups by id, the state, each candidate's Q; their sum. */
static float
bare_score(const struct model *m, struct qnet_ws *ws, struct pre *p, int64_t *found, const float **rows)
{
	const struct qnet_dims *dm = &m->net->dm;
	float sum = 0;
	size_t ci, b;

	emb_find_many(m->emb, p->nh, (const char *const *)p->hid, p->hlen, found);
	for (ci = 0; ci < p->nh; ci++)
		p->hrow[ci] = emb_row(m->emb, found[ci] >= 0 ? (uint32_t)found[ci] : 0);
	emb_find_many(m->emb, p->nc, (const char *const *)p->cid, p->clen, found);
	for (ci = 0; ci < p->nc; ci++) {
		rows[ci] = emb_row(m->emb, found[ci] >= 0 ? (uint32_t)found[ci] : 0);
		for (b = 0; b < dm->d * sizeof(float); b += 64)
			__builtin_prefetch((const char *)rows[ci] + b);
	}
	qnet_state(m->net, ws, p->hrow, p->nh, p->ctx);
	for (ci = 0; ci < p->nc; ci++)
		sum += qnet_q(m->net, ws, rows[ci], p->cx + ci * dm->X);
	return sum;
}

static double
ns_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec);
}

/*
 * The reference: for each request, "request_id<TAB>item_id<TAB>q" per
 * candidate in input order, straight from qnet_state()/qnet_q(). With
 * repeat > 1, only times the bare scoring instead: the requests are read
 * first, then repeat passes over all of them are timed — the history's and
 * the candidates' embedding lookups by id (at once, the candidates' rows
 * prefetched, as q-score does), the state from the history rows, and each
 * candidate's Q; CPU ns per request on stderr. With rate > 0, repeat
 * requests (cycling over those read) are scored at that rate instead.
 */
static int
reference(const char *dir, uint32_t version, long repeat, double rate)
{
	char err[512], *line = NULL, idb[32];
	struct model *m = model_load(dir, version, err, sizeof err);
	const struct qnet_dims *dm;
	struct qnet_ws *ws;
	struct pre *pr = NULL;
	size_t npr = 0, linecap = 0, i, k, n, len, first, ci;
	json_t *j, *cands, *hist, *c, *f, *ctxv;
	struct timespec t0, t1;
	volatile float sink = 0;
	ssize_t got;
	long r;

	if (m == NULL)
		diag_fatal(1, "%s", err);
	dm = &m->net->dm;
	ws = qnet_ws_new(dm);
	while ((got = getline(&line, &linecap, stdin)) > 0) {
		if ((j = jsonx_parse(line, (size_t)got, err, sizeof err)) == NULL)
			continue;
		pr = xreallocarray(pr, npr + 1, sizeof *pr);
		struct pre *p = &pr[npr++];
		p->rid = xstrdup(json_string_value(json_object_get(j, "request_id")));
		hist = json_object_get(j, "hist");
		n = hist ? json_array_size(hist) : 0;
		first = n > dm->L ? n - dm->L : 0;
		p->hrow = xcalloc(dm->L + 1, sizeof *p->hrow);
		p->hid = xcalloc(dm->L + 1, sizeof *p->hid);
		p->hlen = xcalloc(dm->L + 1, sizeof *p->hlen);
		for (p->nh = 0, i = first; i < n; i++) {
			const char *s = id_of(json_array_get(hist, i), idb, &len);
			p->hid[p->nh] = xstrndup(s, len);
			p->hlen[p->nh] = len;
			p->hrow[p->nh++] = emb_lookup(m->emb, s, len, NULL);
		}
		p->ctx = xcalloc(dm->C + 1, sizeof *p->ctx);
		ctxv = json_object_get(j, "context");
		for (i = 0; i < dm->C; i++)
			p->ctx[i] = (float)json_number_value(json_array_get(ctxv, i));
		cands = json_object_get(j, "candidates");
		p->nc = json_array_size(cands);
		p->crow = xcalloc(p->nc + 1, sizeof *p->crow);
		p->cid = xcalloc(p->nc + 1, sizeof *p->cid);
		p->clen = xcalloc(p->nc + 1, sizeof *p->clen);
		p->cx = xcalloc(p->nc * dm->X + 1, sizeof *p->cx);
		for (ci = 0; ci < p->nc; ci++) {
			c = json_array_get(cands, ci);
			const char *s = id_of(json_object_get(c, "item_id"), idb, &len);
			p->cid[ci] = xstrndup(s, len);
			p->clen[ci] = len;
			f = json_object_get(c, "features");
			for (i = 0; i < dm->X; i++)
				p->cx[ci * dm->X + i] = (float)json_number_value(json_array_get(f, i));
			p->crow[ci] = emb_lookup(m->emb, s, len, NULL);
		}
		json_decref(j);
	}
	free(line);
	if (repeat <= 1) {
		for (k = 0; k < npr; k++) {
			qnet_state(m->net, ws, pr[k].hrow, pr[k].nh, pr[k].ctx);
			for (ci = 0; ci < pr[k].nc; ci++)
				printf("%s\t%s\t%.9g\n", pr[k].rid, pr[k].cid[ci],
				    qnet_q(m->net, ws, pr[k].crow[ci], pr[k].cx + ci * dm->X));
		}
	} else if (npr > 0) {
		size_t maxc = dm->L + 1;
		for (k = 0; k < npr; k++)
			maxc = pr[k].nc > maxc ? pr[k].nc : maxc;
		int64_t *found = xcalloc(maxc, sizeof *found);
		const float **rows = xcalloc(maxc, sizeof *rows);
		if (rate <= 0) {
			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
			for (r = 0; r < repeat; r++)
				for (k = 0; k < npr; k++)
					sink += bare_score(m, ws, &pr[k], found, rows);
			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
			fprintf(stderr, "bare scoring: %.0f ns per request\n", ns_between(&t0, &t1) /
			    (double)(repeat * (long)npr));
		} else {
			/*
			 * Paced: one request every 1/rate s, the thread asleep in
			 * between, as a server's is at a fixed request rate (its
			 * caches cool meanwhile). Only the scoring is timed, less
			 * the cost of reading the clock.
			 */
			struct timespec next, c0, c1;
			double cpu = 0, clk;
			long step = (long)(1e9 / rate);

			clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
			for (r = 0; r < 1000; r++)
				clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
			clk = ns_between(&c0, &c1) / 1000;
			clock_gettime(CLOCK_MONOTONIC, &next);
			for (r = 0; r < repeat; r++) {
				next.tv_nsec += step;
				while (next.tv_nsec >= 1000000000L) {
					next.tv_nsec -= 1000000000L;
					next.tv_sec++;
				}
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
				clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
				sink += bare_score(m, ws, &pr[r % (long)npr], found, rows);
				clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
				cpu += ns_between(&t0, &t1) - clk;
			}
			fprintf(stderr, "bare scoring at %g/s: %.0f ns per request\n", rate, cpu / (double)repeat);
		}
		free(found);
		free(rows);
	}
	for (k = 0; k < npr; k++) {
		for (ci = 0; ci < pr[k].nc; ci++)
			free(pr[k].cid[ci]);
		for (ci = 0; ci < pr[k].nh; ci++)
			free(pr[k].hid[ci]);
		free(pr[k].rid);
		free(pr[k].hrow);
		free(pr[k].hid);
		free(pr[k].hlen);
		free(pr[k].ctx);
		free(pr[k].crow);
		free(pr[k].cid);
		free(pr[k].clen);
		free(pr[k].cx);
	}
	free(pr);
	qnet_ws_free(ws);
	model_free(m);
	return fflush(stdout) == 0 ? 0 : 1;
}

int
main(int argc, char *argv[])
{
	struct qnet_dims dm;
	const char *dir = NULL, *log = NULL, *warmup = NULL;
	long C = 4, X = 2, d = 8, L = 5, F = 4, H = 8, n = 50, count = 1, interval = 100, keep = 0, ver = 0, rep = 1;
	long seed = 1;
	double rate = 0;
	int ch, ref = 0;
	char err[256];

	diag_init(argv[0]);
	while ((ch = getopt(argc, argv, "b:C:c:d:F:H:k:L:l:m:n:R:rs:t:v:w:X:")) != -1) {
		switch (ch) {
		case 'b': rep = atol(optarg); break;
		case 'C': C = atol(optarg); break;
		case 'c': count = atol(optarg); break;
		case 'd': d = atol(optarg); break;
		case 'F': F = atol(optarg); break;
		case 'H': H = atol(optarg); break;
		case 'k': keep = atol(optarg); break;
		case 'L': L = atol(optarg); break;
		case 'l': log = optarg; break;
		case 'm': dir = optarg; break;
		case 'n': n = atol(optarg); break;
		case 'R': rate = atof(optarg); break;
		case 'r': ref = 1; break;
		case 's': seed = atol(optarg); break;
		case 't': interval = atol(optarg); break;
		case 'v': ver = atol(optarg); break;
		case 'w': warmup = optarg; break;
		case 'X': X = atol(optarg); break;
		default: usage();
		}
	}
	if (dir == NULL || optind != argc)
		usage();
	if (ref)
		return reference(dir, (uint32_t)ver, rep, rate);
	sig_install();
	qnet_dims_default(&dm, (uint32_t)C, (uint32_t)X);
	dm.d = (uint32_t)d;
	dm.L = (uint32_t)L;
	dm.F = (uint32_t)F;
	dm.H = (uint32_t)H;
	if (qnet_dims_check(&dm, err, sizeof err) != 0)
		diag_fatal(2, "%s", err);
	return publish(dir, &dm, (uint32_t)n, (uint64_t)seed, count, interval, (unsigned)keep, log, warmup);
}
