/* test_qeval_version.c: a model version as q-eval's target gives each logged page the probabilities q-score served it with — the same forward pass, the same Plackett–Luce ranking — and the same Q. */
/* test-links: q-eval q-score */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

#include "check.h"
#include "log.h"
#include "policy.h"
#include "qscore.h"
#include "reader.h"

#define NREQ 40
#define NC 12
#define K 5

static char md[64];

/* A version with context and features, published to md; items i0 .. i19 have rows, i20 .. are unknown. */
static void
publish(void)
{
	struct qnet_dims dm = { .d = 4, .L = 3, .nkern = 2, .kw = { 1, 2 }, .F = 3, .C = 2, .X = 2, .H = 5 };
	struct model_publication pub = { 0 };
	struct qnet *net = qnet_new(&dm);
	struct emb *e = emb_new(dm.d);
	char id[16], err[256];
	uint32_t v;

	qnet_init(net, 7);
	/* heads large enough that the scores spread and softmax is far from uniform */
	for (size_t i = net->off[QNET_C_W]; i < net->nparam; i++)
		net->p[i] *= 30;
	for (int i = 0; i < 20; i++) {
		float *row;

		snprintf(id, sizeof id, "i%d", i);
		row = emb_row_mut(e, emb_add(e, id, strlen(id)));
		for (uint32_t k = 0; k < dm.d; k++)
			row[k] = sinf((float)(i * 7 + k * 3));
	}
	pub.net = net;
	pub.emb = e;
	strcpy(pub.info.mode, "offline");
	strcpy(pub.info.target, "slateq");
	pub.info.gamma = 0.9;
	CHECK(model_publish(md, &pub, &v, err, sizeof err) == 0, "publish: %s", err);
	qnet_free(net);
	emb_free(e);
}

/* Request r: a history of up to 4 items, a context, NC candidates with features (some unknown to the model). */
static void
request(int r, struct jbuf *b)
{
	int i, c;

	b->len = 0;
	jbuf_printf(b, "{\"request_id\":\"r%d\",\"hist\":[", r);
	for (i = 0; i < r % 5; i++)
		jbuf_printf(b, i ? ",\"i%d\"" : "\"i%d\"", (r * 3 + i * 5) % 24);
	jbuf_printf(b, "],\"context\":[%.3f,%.3f],\"candidates\":[", 0.1 * (r % 7), 1.0 - 0.05 * r);
	for (i = 0; i < NC; i++) {
		c = (r * 5 + i * 7) % 26;
		jbuf_printf(b, "%s{\"item_id\":\"i%d\",\"features\":[%.4f,%.4f]}", i ? "," : "", c, cos(c * 1.3),
		    0.01 * c * c - 1);
	}
	jbuf_printf(b, "],\"k\":%d}", K);
}

int
main(void)
{
	struct qs_counters ct = { 0 };
	struct qs_config cf = { .max_candidates = 1000, .counters = &ct, .seed = 11 };
	struct qe_log_opts lo = { { QE_LOG_PL, 0, 0 }, 1, 1, 1 };
	struct qe_log *log = qe_log_new(&lo);
	struct qe_reader *rd = qe_reader_new();
	struct qs_worker *w;
	struct model *m;
	struct jbuf req = { 0 }, resp = { 0 }, tr = { 0 };
	struct qe_rrequest rq;
	struct qe_record rec;
	struct qe_policy *p;
	struct qe_policy_env env = { log, NULL, 0, 64, 0, "softmax:0.4sd" };
	double served[NREQ][K], qserved[NREQ][K], worst = 0, worstq = 0, rowsum = 0;
	char err[512], id[257];
	int r, j, judged = 0, drawn_below_one = 0;

	snprintf(md, sizeof md, "/tmp/test_qeval_version.XXXXXX");
	CHECK(mkdtemp(md) != NULL, "a temporary directory");
	publish();
	CHECK((m = model_load(md, 0, err, sizeof err)) != NULL, "load: %s", err);
	CHECK(rank_explore_parse("softmax:0.4sd", &cf.explore) == 0, "q-score's exploration");
	w = qs_worker_new(cf.seed, 0);

	/* q-score serves each request; its answer is logged as the page, with its propensities */
	for (r = 0; r < NREQ; r++) {
		json_t *o, *items;

		request(r, &req);
		resp.len = 0;
		CHECK(qs_score_text(w, &cf, m, req.p, req.len, &resp, id, err, sizeof err) == 0, "q-score r%d: %s", r,
		    err);
		CHECK(qe_read_request(rd, req.p, req.len, &rq, err, sizeof err) == 0 &&
		    qe_log_add_request(log, &rq, err, sizeof err) == 0, "q-eval reads r%d: %s", r, err);
		o = json_loadb(resp.p, resp.len, 0, NULL);
		items = json_object_get(o, "items");
		tr.len = 0;
		jbuf_printf(&tr, "{\"mdp_id\":\"s%d\",\"seq\":0,\"request_id\":\"r%d\",\"action\":[", r, r);
		for (j = 0; j < K; j++) {
			json_t *it = json_array_get(items, (size_t)j);

			served[r][j] = json_number_value(json_object_get(it, "propensity"));
			qserved[r][j] = json_number_value(json_object_get(it, "q"));
			drawn_below_one += served[r][j] < 0.9;
			jbuf_printf(&tr, "%s{\"item_id\":\"%s\",\"pos\":%d,\"propensity\":%.9g,\"click\":0,\"pay\":0}",
			    j ? "," : "", json_string_value(json_object_get(it, "item_id")), j, served[r][j]);
		}
		jbuf_puts(&tr, "]}");
		json_decref(o);
		CHECK(qe_read_record(rd, tr.p, tr.len, &rec, err, sizeof err) == 0 &&
		    qe_log_add(log, &rec, NULL, err, sizeof err) == 0, "the page of r%d is logged: %s", r, err);
	}
	qe_log_finish(log, NULL, NULL);
	CHECK(drawn_below_one > NREQ, "the exploration is far from greedy (%d of %d propensities below 0.9)",
	    drawn_below_one, NREQ * K);

	/* q-eval's model target on each logged page: the slot-by-slot probabilities of the logged items */
	snprintf(err, sizeof err, "model:%s", md);
	p = qe_policy_new(err, &env, err, sizeof err);
	CHECK(p != NULL, "the model target: %s", p ? "" : err);
	for (size_t i = 0; p != NULL && i < log->npages; i++) {
		const struct qe_page *pg = &log->pages[i];
		struct qe_view v = { 0 };
		struct qe_dist d = { 0 };
		uint32_t lidx[K];
		double cond[K * NC], marg[K * NC];
		float q[NC];
		size_t n, c;

		v.log = log;
		v.page = pg;
		v.items = log->it + pg->first;
		v.cand = qe_log_candidates(log, pg, &n);
		v.ncand = n;
		for (j = 0; j < K; j++)
			for (c = 0; c < n; c++)
				if (v.cand[c] == v.items[j].item)
					lidx[j] = (uint32_t)c;
		v.lidx = lidx;
		v.depth = K;
		v.contiguous = 1;
		v.need = QE_NEED_COND | QE_NEED_MARG;
		v.seed = 5;
		d.cond = cond;
		d.marg = marg;
		if (p->ops->judge(p, &v, &d) != QE_JUDGED || d.cond == NULL || d.vq == NULL)
			continue;
		judged++;
		r = atoi(qe_ids_name(log->req.ids, pg->req) + 1);
		for (j = 0; j < K; j++) {
			double e = fabs(cond[j * NC + lidx[j]] - served[r][j]) / served[r][j];

			if (e > worst)
				worst = e;
		}
		for (c = 0; c < NC; c++)
			rowsum += marg[c];
		CHECK(qe_version_score(p, log, pg->req, q, n, NULL) == 0, "the model's Q of r%d", r);
		for (j = 0; j < K; j++) {
			double e = fabs(q[lidx[j]] - qserved[r][j]) / (fabs(qserved[r][j]) + 1e-6);

			if (e > worstq)
				worstq = e;
		}
	}
	CHECK(judged == NREQ, "every logged page judged (%d of %d)", judged, NREQ);
	/* q-score writes 7 significant digits */
	CHECK(worst < 1e-6, "q-eval's probability of each served item equals q-score's propensity (worst relative "
	    "difference %.3g)", worst);
	CHECK(worstq < 1e-6, "q-eval's Q equals q-score's (worst relative difference %.3g)", worstq);
	CHECK(fabs(rowsum - judged) < 1e-9, "the first slot's marginals sum to 1 on every page");

	/* a request that does not fit the model is refused, never scored with garbage */
	{
		float q[NC];
		const char *bad = "{\"request_id\":\"short\",\"context\":[1],\"candidates\":[{\"item_id\":\"i1\","
		    "\"features\":[0,0]}]}";

		CHECK(qe_read_request(rd, bad, strlen(bad), &rq, err, sizeof err) == 0 &&
		    qe_log_add_request(log, &rq, err, sizeof err) == 0, "a short context is read");
		CHECK(p == NULL || qe_version_score(p, log, qe_ids_find(log->req.ids, "short", 5), q, 1, NULL) == -1,
		    "a context of the wrong size is refused");
	}
	qe_policy_free(p);
	qs_worker_free(w);
	model_free(m);
	qe_reader_free(rd);
	qe_log_free(log);
	jbuf_free(&req);
	jbuf_free(&resp);
	jbuf_free(&tr);
	snprintf(err, sizeof err, "rm -rf '%s'", md);
	if (system(err) != 0)
		fprintf(stderr, "cannot remove %s\n", md);
	return check_done();
}
