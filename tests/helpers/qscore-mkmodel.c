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
	    "       qscore-mkmodel -r -m modeldir [-v version] [-b repeat] < requests\n");
	exit(2);
}

static uint64_t rng_state;

static double
uniform(void)
{
	rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rng_state >> 11) * 0x1.0p-53;
}

/* Publishes count versions interval_ms apart; each line of log is "version wall_ms". */
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
		if (model_publish(dir, &pub, &v, err, sizeof err) != 0)
			diag_fatal(1, "%s", err);
		if (log != NULL) {
			fprintf(log, "%u %lld\n", v, (long long)now_ms());
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

/*
 * The reference: for each request, "request_id<TAB>item_id<TAB>q" per
 * candidate in input order (at most 16384), straight from
 * qnet_state()/qnet_q(). With repeat > 1, only times the forward pass of
 * each request (state and every candidate, rows gathered beforehand): CPU ns
 * per request on stderr.
 */
static int
reference(const char *dir, uint32_t version, long repeat)
{
	char err[512], line[1 << 20], idb[32];
	struct model *m = model_load(dir, version, err, sizeof err);
	const struct qnet_dims *dm;
	struct qnet_ws *ws;
	const float *hrow[1024];
	float ctx[QNET_MAX_DIM], qs[16384], *cx = NULL;
	const float **crow = NULL;
	size_t nc, capc = 0;
	json_t *j, *cands, *hist, *c, *f;
	size_t i, n, len, nh, first, ci;
	long r;
	struct timespec t0, t1;
	double total_ns = 0;
	long timed = 0;

	if (m == NULL)
		diag_fatal(1, "%s", err);
	dm = &m->net->dm;
	ws = qnet_ws_new(dm);
	while (fgets(line, sizeof line, stdin) != NULL) {
		if ((j = jsonx_parse(line, strlen(line), err, sizeof err)) == NULL)
			continue;
		cands = json_object_get(j, "candidates");
		if (json_array_size(cands) > 16384) {
			json_decref(j);
			continue;
		}
		hist = json_object_get(j, "hist");
		n = hist ? json_array_size(hist) : 0;
		first = n > dm->L ? n - dm->L : 0;
		for (nh = 0, i = first; i < n; i++) {
			const char *s = id_of(json_array_get(hist, i), idb, &len);
			hrow[nh++] = emb_lookup(m->emb, s, len, NULL);
		}
		for (i = 0; i < dm->C; i++)
			ctx[i] = (float)json_number_value(json_array_get(json_object_get(j, "context"), i));
		/* gather the candidates' rows and features first: only the network is timed */
		nc = json_array_size(cands);
		if (nc > capc) {
			capc = nc;
			crow = xreallocarray(crow, capc, sizeof *crow);
			cx = xreallocarray(cx, capc * (dm->X ? dm->X : 1), sizeof *cx);
		}
		for (ci = 0; ci < nc; ci++) {
			c = json_array_get(cands, ci);
			const char *s = id_of(json_object_get(c, "item_id"), idb, &len);
			f = json_object_get(c, "features");
			for (i = 0; i < dm->X; i++)
				cx[ci * dm->X + i] = (float)json_number_value(json_array_get(f, i));
			crow[ci] = emb_lookup(m->emb, s, len, NULL);
		}
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
		for (r = 0; r < (repeat > 0 ? repeat : 1); r++) {
			qnet_state(m->net, ws, hrow, nh, ctx);
			for (ci = 0; ci < nc; ci++)
				qs[ci] = qnet_q(m->net, ws, crow[ci], cx + ci * dm->X);
		}
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
		if (repeat <= 1)
			for (ci = 0; ci < nc; ci++) {
				const char *s = id_of(json_object_get(json_array_get(cands, ci), "item_id"), idb, &len);
				printf("%s\t%.*s\t%.9g\n", json_string_value(json_object_get(j, "request_id")), (int)len, s,
				    qs[ci]);
			}
		total_ns += (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
		timed += repeat > 0 ? repeat : 1;
		json_decref(j);
	}
	if (repeat > 1 && timed > 0)
		fprintf(stderr, "forward pass: %.0f ns per request\n", total_ns / (double)timed);
	free(crow);
	free(cx);
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
	int ch, ref = 0;
	char err[256];

	diag_init(argv[0]);
	while ((ch = getopt(argc, argv, "b:C:c:d:F:H:k:L:l:m:n:rs:t:v:w:X:")) != -1) {
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
		return reference(dir, (uint32_t)ver, rep);
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
