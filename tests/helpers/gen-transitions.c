/* gen-transitions: a small generated feed world for q-train's tests — writes logged transitions, or plays a model as the policy and reports the return. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "model.h"
#include "qnet.h"
#include "rng.h"

/*
 * Two worlds:
 *
 * intent    clicks follow a known state-dependent rule: the user's intent is
 *           a distribution over K topics, uniform at the start; each click
 *           moves it halfway towards the clicked item's topic, so the recent
 *           clicks say what is clicked next (and the oracle knows no more
 *           than the history shows). A context flag favours
 *           topic 0. P(click) = σ(−2.5 + appeal_i + 4·p[topic_i] − 0.1·pos
 *           + ctx0·[topic_i = 0]).
 * longterm  a quarter of the items are bait (more clickable; a click lowers the
 *           user's engagement), a quarter are good (less clickable; a click
 *           raises it). Engagement raises both later clicks and the chance to
 *           turn the page. Item feature 1 is a noisy "quality" signal of it.
 *
 * Logged data come from a uniformly random policy (propensity 1/N per
 * slot); session s starts at -T start + 5 s·s (event time, ms), and its
 * pages are a second apart. With -m, the newest model in MODELDIR ranks
 * 3·page-size random candidates per page and the average session return
 * is reported.
 */

#define MAXI 100000
#define MAXP 64
#define MAXHIST 20

static int world_long;
static int n_items = 200, K = 8, page_size = 10, max_pages = 10;
static uint64_t rs;

static double unif(void) { return rng_unit(rng_splitmix64(&rs)); }
static double gauss(void) { return sqrt(-2 * log(unif() + 1e-300)) * cos(2 * M_PI * unif()); }
static double sigm(double z) { return 1 / (1 + exp(-z)); }

static int topic[MAXI], hook[MAXI];
static double appeal[MAXI], feat[MAXI][2];

/* A user in a session. */
struct user {
	double p[64];		/* intent over topics */
	double eng;		/* engagement */
	int hist[MAXHIST], nhist;
	double ctx[2];
};

static void make_items(void)
{
	for (int i = 0; i < n_items; i++) {
		topic[i] = i % K;
		appeal[i] = 0.5 * gauss();
		hook[i] = 0;
		if (world_long)
			hook[i] = i % 4 == 0 ? -1 : i % 4 == 1 ? 1 : 0;
		feat[i][0] = appeal[i] + 0.3 * gauss();
		feat[i][1] = world_long ? 0.6 * hook[i] + 0.4 * gauss() : gauss();
	}
}

static void new_user(struct user *u)
{
	memset(u, 0, sizeof *u);
	for (int k = 0; k < K; k++)
		u->p[k] = 1.0 / K;
}

static void new_context(struct user *u)
{
	u->ctx[0] = unif() < 0.3;
	u->ctx[1] = gauss();
}

static double click_prob(const struct user *u, int i, int pos)
{
	if (world_long)
		return sigm(-1.5 + appeal[i] + 0.5 * (hook[i] < 0) - 0.3 * (hook[i] > 0) - 0.05 * pos + 0.3 * u->eng);
	return sigm(-2.5 + appeal[i] + 4 * u->p[topic[i]] - 0.1 * pos + u->ctx[0] * (topic[i] == 0));
}

/* The user reacts to a click on i. */
static void clicked(struct user *u, int i)
{
	if (world_long) {
		u->eng += hook[i] < 0 ? -1.0 : hook[i] > 0 ? 0.5 : 0;
		if (u->eng > 2)
			u->eng = 2;
	}
	for (int k = 0; k < K; k++)
		u->p[k] = 0.5 * u->p[k] + (k == topic[i] ? 0.5 : 0);
}

static double cont_prob(const struct user *u)
{
	return world_long ? sigm(1.5 + u->eng) : 0.85;
}

static void print_items(FILE *f, const int *items, int n, const int *click, const int *pay)
{
	fputc('[', f);
	for (int j = 0; j < n; j++) {
		int i = items[j];
		fprintf(f, "%s{\"item_id\":\"i%d\"", j ? "," : "", i);
		if (click)
			fprintf(f, ",\"pos\":%d", j);
		fprintf(f, ",\"features\":[%.4f,%.4f]", feat[i][0], feat[i][1]);
		if (click)
			fprintf(f, ",\"propensity\":%.6f,\"click\":%d,\"pay\":%d", 1.0 / n_items, click[j], pay[j]);
		fputc('}', f);
	}
	fputc(']', f);
}

static void print_state(FILE *f, const int *hist, int nh, const double *ctx)
{
	fputs("{\"hist\":[", f);
	for (int j = 0; j < nh; j++)
		fprintf(f, "%s\"i%d\"", j ? "," : "", hist[j]);
	fprintf(f, "],\"context\":[%g,%.4f]}", ctx[0], ctx[1]);
}

static void random_page(int *items, int n)
{
	for (int j = 0; j < n; j++) {
		int i, dup;
		do {
			i = (int)(unif() * n_items);
			dup = 0;
			for (int k = 0; k < j; k++)
				dup |= items[k] == i;
		} while (dup);
		items[j] = i;
	}
}

/* AUC of the true click probabilities against the clicks of one page; -1 when one class is missing. */
static double page_auc(const double *p, const int *y, int n)
{
	double pairs = 0, good = 0;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			if (y[i] && !y[j]) {
				pairs++;
				good += p[i] > p[j] ? 1 : p[i] == p[j] ? 0.5 : 0;
			}
	return pairs ? good / pairs : -1;
}

/* Scores by the model: orders cand (n) by qnet_q, best first. */
static void model_rank(struct model *m, struct qnet_ws *ws, const struct user *u, int *cand, int n)
{
	const float *h[MAXHIST];
	char id[32];
	float ctx[2] = { (float)u->ctx[0], (float)u->ctx[1] }, x[2];
	double q[MAXP * 3];
	for (int j = 0; j < u->nhist; j++) {
		snprintf(id, sizeof id, "i%d", u->hist[j]);
		h[j] = emb_lookup(m->emb, id, strlen(id), NULL);
	}
	qnet_state(m->net, ws, h, (size_t)u->nhist, m->net->dm.C >= 2 ? ctx : NULL);
	for (int j = 0; j < n; j++) {
		snprintf(id, sizeof id, "i%d", cand[j]);
		x[0] = (float)feat[cand[j]][0];
		x[1] = (float)feat[cand[j]][1];
		q[j] = qnet_q(m->net, ws, emb_lookup(m->emb, id, strlen(id), NULL), m->net->dm.X >= 2 ? x : NULL);
	}
	for (int a = 1; a < n; a++)
		for (int b = a; b > 0 && q[b] > q[b - 1]; b--) {
			double tq = q[b]; q[b] = q[b - 1]; q[b - 1] = tq;
			int ti = cand[b]; cand[b] = cand[b - 1]; cand[b - 1] = ti;
		}
}

/* The built-in reference policies: 'm' myopic (true click probability), 'l' that minus a penalty on bait. */
static int ref_policy;

static void ref_rank(const struct user *u, int *cand, int n)
{
	double q[MAXP * 3];
	for (int j = 0; j < n; j++) {
		q[j] = click_prob(u, cand[j], 0);
		if (ref_policy == 'l')
			q[j] += 0.3 * hook[cand[j]];
	}
	for (int a = 1; a < n; a++)
		for (int b = a; b > 0 && q[b] > q[b - 1]; b--) {
			double tq = q[b]; q[b] = q[b - 1]; q[b - 1] = tq;
			int ti = cand[b]; cand[b] = cand[b - 1]; cand[b - 1] = ti;
		}
}

static void usage(void)
{
	fprintf(stderr, "usage: gen-transitions [-l] [-n sessions] [-s seed] [-W world-seed] [-I items] [-m modeldir]\n"
	    "                       [-O oracle.json] [-T start-ms]\n");
	exit(2);
}

int main(int argc, char *argv[])
{
	long sessions = 1000;
	uint64_t seed = 1, world_seed = 7;
	long long start = 1732492800000LL;	/* 2024-11-25T00:00Z */
	const char *modeldir = NULL, *oracle = NULL;
	int ch;
	diag_init(argv[0]);
	while ((ch = getopt(argc, argv, "I:ln:m:O:P:s:T:W:")) != -1) {
		switch (ch) {
		case 'I': n_items = atoi(optarg); break;
		case 'l': world_long = 1; max_pages = 20; break;
		case 'n': sessions = atol(optarg); break;
		case 'm': modeldir = optarg; break;
		case 'O': oracle = optarg; break;
		case 'P': ref_policy = optarg[0]; break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'T': start = strtoll(optarg, NULL, 10); break;
		case 'W': world_seed = strtoull(optarg, NULL, 10); break;	/* another world: its items' topics and appeal */
		default: usage();
		}
	}
	if (n_items < 3 * page_size || n_items > MAXI)
		usage();
	rs = world_seed;
	make_items();	/* the same world for every seed (-s) */
	rs = seed * 0x9e3779b97f4a7c15ULL + 12345;

	struct model *m = NULL;
	struct qnet_ws *ws = NULL;
	char err[512];
	if (modeldir) {
		if (!(m = model_load(modeldir, 0, err, sizeof err)))
			diag_fatal(1, "%s", err);
		ws = qnet_ws_new(&m->net->dm);
	}

	double ret = 0, auc_sum = 0;
	long pages = 0, shown = 0, clicks = 0, auc_n = 0;
	for (long s = 0; s < sessions; s++) {
		struct user u;
		new_user(&u);
		new_context(&u);
		int items[MAXP * 3], next[MAXP * 3], click[MAXP], pay[MAXP];
		int ncand = m || ref_policy ? 3 * page_size : page_size;
		random_page(items, ncand);
		if (m)
			model_rank(m, ws, &u, items, ncand);
		else if (ref_policy)
			ref_rank(&u, items, ncand);
		for (int pg = 0; pg < max_pages; pg++) {
			int oldhist[MAXHIST], oldn = u.nhist;
			double oldctx[2] = { u.ctx[0], u.ctx[1] }, p[MAXP];
			memcpy(oldhist, u.hist, sizeof oldhist);
			double r = 0;
			for (int j = 0; j < page_size; j++)
				p[j] = click_prob(&u, items[j], j);
			for (int j = 0; j < page_size; j++) {
				click[j] = unif() < p[j];
				pay[j] = click[j] && unif() < 0.3;
				r += click[j] + pay[j];
			}
			/* the oracle ranks by what a ranker can know: the rule without the position bias */
			double pr[MAXP];
			for (int j = 0; j < page_size; j++)
				pr[j] = click_prob(&u, items[j], 0);
			double a = page_auc(pr, click, page_size);
			if (a >= 0) {
				auc_sum += a;
				auc_n++;
			}
			for (int j = 0; j < page_size; j++) {
				if (!click[j])
					continue;
				clicked(&u, items[j]);
				if (u.nhist == MAXHIST) {
					memmove(u.hist, u.hist + 1, (MAXHIST - 1) * sizeof *u.hist);
					u.nhist--;
				}
				u.hist[u.nhist++] = items[j];
				clicks++;
			}
			ret += r;
			pages++;
			shown += page_size;
			int done = pg + 1 == max_pages || unif() >= cont_prob(&u);
			if (!done) {
				new_context(&u);
				random_page(next, ncand);
				if (m)
					model_rank(m, ws, &u, next, ncand);
				else if (ref_policy)
					ref_rank(&u, next, ncand);
			}
			if (!m && !ref_policy) {
				printf("{\"mdp_id\":\"u%ld/s%ld\",\"seq\":%d,\"user_id\":\"u%ld\",\"ts\":%lld,\"state\":", s, s, pg,
				    s, start + 5000LL * s + 1000LL * pg);
				print_state(stdout, oldhist, oldn, oldctx);
				fputs(",\"action\":", stdout);
				print_items(stdout, items, page_size, click, pay);
				printf(",\"reward\":%g,\"next_state\":", r);
				if (done) {
					fputs("null,\"next_action\":[],\"done\":true,\"end\":\"session_gap\"}\n", stdout);
				} else {
					print_state(stdout, u.hist, u.nhist, u.ctx);
					fputs(",\"next_action\":", stdout);
					print_items(stdout, next, page_size, NULL, NULL);
					fputs(",\"done\":false}\n", stdout);
				}
			}
			if (done)
				break;
			memcpy(items, next, sizeof items);
		}
	}
	if (ref_policy) {
		printf("{\"policy\":\"%c\",\"sessions\":%ld,\"avg_return\":%.4f,\"pages_per_session\":%.3f}\n", ref_policy,
		    sessions, ret / (double)sessions, (double)pages / (double)sessions);
	} else if (m) {
		printf("{\"model_version\":%u,\"sessions\":%ld,\"avg_return\":%.4f,\"pages_per_session\":%.3f,\"ctr\":%.4f}\n",
		    m->version, sessions, ret / (double)sessions, (double)pages / (double)sessions,
		    (double)clicks / (double)(shown ? shown : 1));
		qnet_ws_free(ws);
		model_free(m);
	} else if (oracle) {
		FILE *f = fopen(oracle, "w");
		if (!f)
			diag_fatal(1, "%s:", oracle);
		fprintf(f, "{\"oracle_gauc\":%.4f,\"pages\":%ld,\"avg_return\":%.4f}\n", auc_n ? auc_sum / (double)auc_n : 0,
		    pages, ret / (double)sessions);
		fclose(f);
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		diag_fatal(1, "stdout:");
	return 0;
}
