/* qnet-bench: times the Q network's training on data prepared in memory — offline minibatch steps and online head updates. */
#include <getopt.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "qnet.h"
#include "xalloc.h"

/*
 * The problem of bench/qnet_torch.py: n transitions of P items each, a
 * history of up to L items (lengths uniform in 0..L), contexts of C and
 * features of X numbers, a catalogue of N items. Offline: the pretraining
 * step of q-train (full backpropagation through heads, FC, convolutions
 * and embeddings, Adam, sparse Adam on the embedding rows of the batch).
 * Online: q-train's per-transition head update (state and next state
 * forward, double-DQN/slate target, AdaGrad on the heads).
 */

static uint64_t rs = 42;
static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}
static float frnd(void) { return (float)((rnd() >> 40) / 16777216.0) * 2 - 1; }

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char *argv[])
{
	int n = 8192, P = 10, N = 10000, C = 4, X = 2, batch = 256, epochs = 3, online = 0, ch;
	struct qnet_dims dm;
	diag_init(argv[0]);
	qnet_dims_default(&dm, (uint32_t)C, (uint32_t)X);
	while ((ch = getopt(argc, argv, "b:e:n:o")) != -1) {
		switch (ch) {
		case 'b': batch = atoi(optarg); break;
		case 'e': epochs = atoi(optarg); break;
		case 'n': n = atoi(optarg); break;
		case 'o': online = 1; break;
		default:
			fprintf(stderr, "usage: qnet-bench [-o] [-b batch] [-e epochs] [-n transitions]\n");
			return 2;
		}
	}
	size_t d = dm.d, L = dm.L;
	/* the data */
	uint32_t *hist = xcalloc((size_t)n * L, sizeof *hist), *hlen = xcalloc((size_t)n, sizeof *hlen);
	uint32_t *items = xcalloc((size_t)n * P, sizeof *items);
	float *ctx = xcalloc((size_t)n * C, sizeof *ctx), *feat = xcalloc((size_t)n * P * X, sizeof *feat);
	float *r = xcalloc((size_t)n * P, sizeof *r);
	for (int k = 0; k < n; k++) {
		hlen[k] = (uint32_t)(rnd() % (L + 1));
		for (size_t i = 0; i < L; i++)
			hist[k * L + i] = (uint32_t)(rnd() % N);
		for (int c = 0; c < C; c++)
			ctx[k * C + c] = frnd();
		for (int i = 0; i < P; i++) {
			items[k * P + i] = (uint32_t)(rnd() % N);
			r[k * P + i] = rnd() % 5 == 0;
			for (int c = 0; c < X; c++)
				feat[((size_t)k * P + i) * X + c] = frnd();
		}
	}
	float *E = xcalloc((size_t)N * d, sizeof *E);
	for (size_t i = 0; i < (size_t)N * d; i++)
		E[i] = 0.1f * frnd();
	struct qnet *net = qnet_new(&dm);
	qnet_init(net, 1);
	struct qnet *tgt = qnet_clone(net);
	struct qnet_ws *ws = qnet_ws_new(&dm);
	float *g = xcalloc(net->nparam, sizeof *g), *m = xcalloc(net->nparam, sizeof *m), *v = xcalloc(net->nparam, sizeof *v);
	float *em = xcalloc((size_t)N * d, sizeof *em), *ev = xcalloc((size_t)N * d, sizeof *ev);
	float *eg = xcalloc((size_t)N * d, sizeof *eg), *de = xcalloc(d, sizeof *de);
	float *dh = xcalloc(L * d, sizeof *dh);
	uint8_t *touched = xcalloc((size_t)N, 1);
	uint32_t *tl = xcalloc((size_t)N, sizeof *tl);
	const float *hrow[64], *erow[64], *xrow[64];
	struct qnet_adam adam;
	qnet_adam_init(&adam, 0.001f);
	double loss = 0;

	if (!online) {
		double t0 = now();
		for (int ep = 0; ep < epochs; ep++) {
			for (int b = 0; b < n; b += batch) {
				int e = b + batch < n ? b + batch : n;
				size_t nt = 0;
				float scale = 1.0f / (float)((e - b) * P);
				for (int k = b; k < e; k++) {
					uint32_t hn = hlen[k];
					for (uint32_t i = 0; i < hn; i++)
						hrow[i] = E + (size_t)hist[k * L + i] * d;
					qnet_state(net, ws, hrow, hn, ctx + (size_t)k * C);
					for (int i = 0; i < P; i++) {
						uint32_t it = items[k * P + i];
						const float *ea = E + (size_t)it * d, *x = feat + ((size_t)k * P + i) * X;
						float q = qnet_qbar(net, ws, ea, x), c = qnet_click_logit(net, ws, ea, x);
						float y = r[k * P + i];
						loss += 0.5 * (q - y) * (q - y);
						memset(de, 0, d * sizeof *de);
						qnet_item_backward(net, ws, ea, x, scale * (q - y), scale * (qnet_sigmoid(c) - y),
						    QNET_RANGE_HEADS | QNET_RANGE_CLICK, g, de);
						if (!touched[it]) {
							touched[it] = 1;
							tl[nt++] = it;
						}
						for (size_t j = 0; j < d; j++)
							eg[(size_t)it * d + j] += de[j];
					}
					qnet_heads_backward(net, ws, QNET_RANGE_HEADS | QNET_RANGE_CLICK | QNET_RANGE_STATE, g);
					memset(dh, 0, hn * d * sizeof *dh);
					qnet_state_backward(net, ws, g, dh);
					for (uint32_t i = 0; i < hn; i++) {
						uint32_t it = hist[k * L + i];
						if (!touched[it]) {
							touched[it] = 1;
							tl[nt++] = it;
						}
						for (size_t j = 0; j < d; j++)
							eg[(size_t)it * d + j] += dh[i * d + j];
					}
				}
				qnet_adam_begin(&adam);
				qnet_adam_update(&adam, net->p, m, v, g, net->nparam);
				memset(g, 0, net->nparam * sizeof *g);
				for (size_t t = 0; t < nt; t++) {
					size_t o = (size_t)tl[t] * d;
					qnet_adam_update(&adam, E + o, em + o, ev + o, eg + o, d);
					memset(eg + o, 0, d * sizeof *eg);
					touched[tl[t]] = 0;
				}
			}
		}
		double dt = now() - t0;
		printf("{\"mode\":\"offline\",\"transitions\":%d,\"epochs\":%d,\"batch\":%d,\"seconds\":%.3f,"
		    "\"transitions_per_s\":%.0f,\"loss\":%.4f}\n", n, epochs, batch, dt, (double)n * epochs / dt,
		    loss / ((double)n * epochs * P));
	} else {
		size_t lo, hi;
		qnet_range(net, QNET_RANGE_HEADS, &lo, &hi);
		float *acc = xcalloc(hi - lo, sizeof *acc);
		for (size_t i = 0; i < hi - lo; i++)
			acc[i] = 0.1f;
		net->target = tgt->target = QNET_TARGET_SLATE;
		double t0 = now();
		for (int ep = 0; ep < epochs; ep++) {
			for (int k = 0; k + 1 < n; k++) {
				/* next state: this history plus a click, the next page's items */
				int k2 = k + 1;
				uint32_t hn = hlen[k2];
				for (uint32_t i = 0; i < hn; i++)
					hrow[i] = E + (size_t)hist[k2 * L + i] * d;
				qnet_state(net, ws, hrow, hn, ctx + (size_t)k2 * C);
				for (int i = 0; i < P; i++) {
					erow[i] = E + (size_t)items[k2 * P + i] * d;
					xrow[i] = feat + ((size_t)k2 * P + i) * X;
				}
				float fut = qnet_next_value(net, tgt, ws, erow, xrow, (size_t)P);
				hn = hlen[k];
				for (uint32_t i = 0; i < hn; i++)
					hrow[i] = E + (size_t)hist[k * L + i] * d;
				qnet_state(net, ws, hrow, hn, ctx + (size_t)k * C);
				float pred = ws->v, y = 0;
				int nc = 0;
				for (int i = 0; i < P; i++) {
					if (r[k * P + i] == 0)
						continue;
					pred += qnet_a(net, ws, E + (size_t)items[k * P + i] * d, feat + ((size_t)k * P + i) * X);
					y += 1;
					nc++;
				}
				float err = pred - qnet_td_target(y, 0.9f, 0, fut);
				for (int i = 0; i < P; i++)
					if (r[k * P + i] != 0)
						qnet_item_backward(net, ws, E + (size_t)items[k * P + i] * d,
						    feat + ((size_t)k * P + i) * X, err, 0, QNET_RANGE_HEADS, g, NULL);
				qnet_v_backward(ws, err * (1.0f - (float)nc));
				qnet_heads_backward(net, ws, QNET_RANGE_HEADS, g);
				qnet_adagrad_update(net->p + lo, acc, g + lo, hi - lo, 0.01f, 1, 0, 1e-8f);
				memset(g + lo, 0, (hi - lo) * sizeof *g);
				loss += 0.5 * err * err;
				if (k % 1000 == 999)
					qnet_copy_params(tgt, net, QNET_RANGE_HEADS);
			}
		}
		double dt = now() - t0;
		double nt = (double)(n - 1) * epochs;
		printf("{\"mode\":\"online\",\"transitions\":%.0f,\"seconds\":%.3f,\"transitions_per_s\":%.0f,"
		    "\"items_per_s\":%.0f,\"loss\":%.4f}\n", nt, dt, nt / dt, nt * P / dt, loss / nt);
		free(acc);
	}
	qnet_free(net);
	qnet_free(tgt);
	qnet_ws_free(ws);
	free(hist); free(hlen); free(items); free(ctx); free(feat); free(r); free(E);
	free(g); free(m); free(v); free(em); free(ev); free(eg); free(de); free(dh); free(touched); free(tl);
	return 0;
}
