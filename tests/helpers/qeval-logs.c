/* qeval-logs: a small logged world for q-eval's tests — transitions with their requests' candidates, logged by softmax, epsilon-greedy or uniform ranking; or the uniform policy's true values. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "rng.h"

/*
 * NI items of appeal a_i; each page's request offers NC candidates drawn
 * uniformly, of which K are shown. P(click) = σ(−1.5 + a_i − 0.3·pos),
 * whatever came before, so that a page's value depends on its items only;
 * the session goes on after a page with probability 0.8 when something was
 * clicked, else 0.45, for at most MAXP pages. A paid click (a third of
 * them) earns a second unit. The logging policy ranks the candidates by
 * appeal: softmax:T, epsilon:E (greedy by appeal otherwise) or uniform, and
 * logs each shown item's probability given the items above it.
 *
 *   qeval-logs [-n sessions] [-s seed] [-L softmax:T|epsilon:E|uniform] [-R requests]
 *              writes the transitions, and with -R the requests
 *   qeval-logs -T [-n sessions] [-s seed] [-g gamma]
 *              the uniform policy's true values: mean discounted return per session, page value, item value
 */

#define NI 60
#define NC 12
#define K 4
#define MAXP 8

static uint64_t rs;
static double appeal[NI];

static double
unif(void)
{
	return rng_unit(rng_splitmix64(&rs));
}

/* A start far from every other seed's (seeds that differ by k would otherwise be k draws apart). */
static uint64_t
mix(uint64_t z)
{
	return rng_mix64(z);
}

static double
gauss(void)
{
	return sqrt(-2 * log(unif() + 1e-300)) * cos(2 * M_PI * unif());
}

static double
click_prob(int i, int pos)
{
	return 1 / (1 + exp(1.5 - appeal[i] + 0.3 * pos));
}

/* Draws NC distinct candidates. */
static void
candidates(int *c)
{
	int j, k, dup;

	for (j = 0; j < NC; j++)
		do {
			c[j] = (int)(unif() * NI);
			for (dup = 0, k = 0; k < j; k++)
				dup |= c[k] == c[j];
		} while (dup);
}

/* Ranks K of the candidates: shown[] (indices into c) with their conditional propensities. */
static void
rank(const int *c, char kind, double param, int *shown, double *prop)
{
	double w[NC], tot, u, acc;
	int used[NC] = { 0 }, j, i, best, m;

	for (j = 0; j < K; j++) {
		m = NC - j;
		best = -1;
		for (i = 0; i < NC; i++)
			if (!used[i] && (best < 0 || appeal[c[i]] > appeal[c[best]]))
				best = i;
		if (kind == 's') {
			tot = 0;
			for (i = 0; i < NC; i++)
				tot += w[i] = used[i] ? 0 : exp((appeal[c[i]] - appeal[c[best]]) / param);
			u = unif() * tot;
			acc = 0;
			for (i = 0; i < NC; i++) {
				if (used[i])
					continue;
				shown[j] = i;
				acc += w[i];
				if (u < acc)
					break;
			}
			prop[j] = w[shown[j]] / tot;
		} else {
			double eps = kind == 'u' ? 1 : param;
			int r = (int)(unif() * m);

			shown[j] = best;
			if (unif() < eps)
				for (i = 0; i < NC; i++)
					if (!used[i] && r-- == 0) {
						shown[j] = i;
						break;
					}
			prop[j] = eps / m + (shown[j] == best ? 1 - eps : 0);
		}
		used[shown[j]] = 1;
	}
}

static void
write_request(FILE *f, long s, int t, const int *c)
{
	int j;

	fprintf(f, "{\"request_id\":\"r%ld-%d\",\"user_id\":\"u%ld\",\"hist\":[],\"context\":[],\"candidates\":[", s, t, s);
	for (j = 0; j < NC; j++)
		fprintf(f, "%s{\"item_id\":\"i%d\"}", j ? "," : "", c[j]);
	fprintf(f, "],\"k\":%d}\n", K);
}

static void
write_transition(long s, int t, const int *c, const int *shown, const double *prop, const int *click,
    const int *pay, int done)
{
	int j;
	double r = 0;

	printf("{\"mdp_id\":\"u%ld/s%ld\",\"seq\":%d,\"user_id\":\"u%ld\",\"request_id\":\"r%ld-%d\",\"ts\":%lld,"
	    "\"state\":{\"hist\":[],\"context\":[]},\"action\":[", s, s, t, s, s, t, 1732492800000LL + 60000LL * s + 1000 * t);
	for (j = 0; j < K; j++) {
		printf("%s{\"item_id\":\"i%d\",\"pos\":%d,\"propensity\":%.7g,\"click\":%d,\"pay\":%d}", j ? "," : "",
		    c[shown[j]], j, prop[j], click[j], pay[j]);
		r += click[j] + pay[j];
	}
	printf("],\"reward\":%g,\"next_state\":%s,\"next_action\":[],\"done\":%s}\n", r,
	    done ? "null" : "{\"hist\":[],\"context\":[]}", done ? "true" : "false");
}

int
main(int argc, char *argv[])
{
	long sessions = 2000, s;
	uint64_t seed = 1;
	const char *reqpath = NULL;
	char kind = 's';
	double param = 1, gamma = 0.9, ret = 0, pages = 0, preward = 0, disc, pr;
	int ch, truth = 0, t, j, c[NC], shown[K], click[K], pay[K], any;
	double prop[K];
	FILE *rf = NULL;

	diag_init(argv[0]);
	while ((ch = getopt(argc, argv, "g:L:n:R:s:T")) != -1) {
		switch (ch) {
		case 'g': gamma = atof(optarg); break;
		case 'L':
			kind = optarg[0];
			if (strncmp(optarg, "softmax:", 8) == 0)
				param = atof(optarg + 8);
			else if (strncmp(optarg, "epsilon:", 8) == 0)
				param = atof(optarg + 8);
			else if (strcmp(optarg, "uniform") != 0)
				diag_fatal(2, "-L %s: softmax:T, epsilon:E or uniform", optarg);
			break;
		case 'n': sessions = atol(optarg); break;
		case 'R': reqpath = optarg; break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'T': truth = 1; break;
		default:
			fprintf(stderr, "usage: qeval-logs [-T] [-g gamma] [-L logging] [-n sessions] [-R requests] [-s seed]\n");
			return 2;
		}
	}
	rs = 7;
	for (j = 0; j < NI; j++)
		appeal[j] = 0.8 * gauss();
	rs = mix(seed + 99);
	if (reqpath != NULL && (rf = fopen(reqpath, "w")) == NULL)
		diag_fatal(1, "%s:", reqpath);
	for (s = 0; s < sessions; s++) {
		disc = 1;
		for (t = 0; t < MAXP; t++) {
			candidates(c);
			rank(c, truth ? 'u' : kind, param, shown, prop);
			any = 0;
			pr = 0;
			for (j = 0; j < K; j++) {
				click[j] = unif() < click_prob(c[shown[j]], j);
				pay[j] = click[j] && unif() < 1.0 / 3;
				any |= click[j];
				pr += click[j] + pay[j];
			}
			int done = t + 1 == MAXP || unif() >= (any ? 0.8 : 0.45);

			ret += disc * pr;
			preward += pr;
			pages++;
			disc *= gamma;
			if (!truth) {
				if (rf != NULL)
					write_request(rf, s, t, c);
				write_transition(s, t, c, shown, prop, click, pay, done);
			}
			if (done)
				break;
		}
	}
	if (truth)
		printf("{\"return\":%.6f,\"page\":%.6f,\"item\":%.6f}\n", ret / (double)sessions, preward / pages,
		    preward / pages / K);
	if (rf != NULL && fclose(rf) != 0)
		diag_fatal(1, "%s:", reqpath);
	return fflush(stdout) != 0 || ferror(stdout);
}
