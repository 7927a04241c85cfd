/* behave.c: feed-sim's user behaviour — sessions, recall, clicks, pays, intent, satisfaction, leaving; the oracles. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"
#include "feedsim.h"

/* Tags that keep the keyed random streams apart. */
enum { TAG_MOOD = 1, TAG_RECALL, TAG_CLICK, TAG_PAY, TAG_TURN };

static double
sigmoid(double x)
{
	return 1 / (1 + exp(-x));
}

static double
vdot(const float *a, const float *b, int d)
{
	double s = 0;
	int i;

	for (i = 0; i < d; i++)
		s += (double)a[i] * b[i];
	return s;
}

struct fs_session *
fs_session_new(const struct fs_world *w, const struct fs_params *p, uint64_t n, int user, int64_t t,
    uint64_t seed)
{
	struct fs_session *s = xcalloc(1, sizeof *s);
	int64_t day = t / 86400000;
	int mood, j;

	s->n = n;
	s->user = user;
	s->t = t;
	s->hour = (int)((t / 3600000) % 24);
	s->weekend = ((day + 4) % 7 == 0 || (day + 4) % 7 == 6);	/* 1970-01-01 was a Thursday */
	/* Today's mood: the centroid of one category, unknown to the recall stage. */
	mood = (int)(fs_key_u01(seed, n, 0, 0, TAG_MOOD) * w->ncat);
	if (mood >= w->ncat)
		mood = w->ncat - 1;
	memcpy(s->z, w->centroid[mood], sizeof s->z);
	/* The categories' appeal at the session's start: it moves over days, not within a session. */
	if (p->drift != 0)
		for (j = 0; j < w->ncat; j++)
			s->trend[j] = (float)(p->drift * sin(2 * M_PI * ((double)t / 86400000) / p->drift_days +
			    w->drift_phase[j]));
	s->shown = xcalloc((size_t)w->nitem, 1);
	s->taste_dot = xmalloc((size_t)w->nitem * sizeof *s->taste_dot);
	s->recall_w = xmalloc((size_t)w->nitem * sizeof *s->recall_w);
	for (j = 0; j < w->nitem; j++) {
		double a;

		s->taste_dot[j] = (float)vdot(w->users[user].taste, w->items[j].v, w->dim);
		a = p->recall_pop * (w->items[j].logpop - w->logpop_min) / (w->logpop_max - w->logpop_min) +
		    p->recall_taste * s->taste_dot[j];
		/* exp() is kept from overflowing by the bound recall_pop + recall_taste of a. */
		s->recall_w[j] = p->recall_noise >= 0.05 ?
		    exp((a - fabs(p->recall_pop) - fabs(p->recall_taste)) / p->recall_noise) : a;
	}
	return s;
}

void
fs_session_free(struct fs_session *s)
{
	if (s == NULL)
		return;
	free(s->shown);
	free(s->taste_dot);
	free(s->recall_w);
	free(s->hist);
	free(s);
}

int
fs_context(const struct fs_world *w, const struct fs_session *s, float *ctx)
{
	double ps = w->users[s->user].price_sens;

	ctx[0] = (float)sin(2 * M_PI * s->hour / 24);
	ctx[1] = (float)cos(2 * M_PI * s->hour / 24);
	ctx[2] = (float)s->weekend;
	ctx[3] = (float)(s->page < 20 ? s->page / 20.0 : 1.0);
	ctx[4] = ps < 1.0 / 3 ? 0.0f : ps < 2.0 / 3 ? 0.5f : 1.0f;
	return FS_NCTX;
}

/* A min-heap of (score, item) for the top-n selection. */
struct scored {
	double score;
	int item;
};

static int
scored_less(const struct scored *a, const struct scored *b)
{
	return a->score < b->score || (a->score == b->score && a->item > b->item);
}

static void
heap_down(struct scored *h, int n, int i)
{
	for (;;) {
		int l = 2 * i + 1, r = l + 1, m = i;
		struct scored t;

		if (l < n && scored_less(&h[l], &h[m]))
			m = l;
		if (r < n && scored_less(&h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static int
scored_cmp_desc(const void *a, const void *b)
{
	const struct scored *x = a, *y = b;

	if (scored_less(x, y))
		return 1;
	if (scored_less(y, x))
		return -1;
	return 0;
}

int
fs_recall(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s,
    uint64_t seed, int ncand, int *cand)
{
	struct scored *h;
	uint64_t key = fs_key_prefix(seed, s->n, (uint64_t)s->page, TAG_RECALL);
	int j, n = 0;

	if (ncand <= 0)
		return 0;
	h = xmalloc((size_t)ncand * sizeof *h);
	for (j = 0; j < w->nitem; j++) {
		struct scored e;

		if (s->shown[j])
			continue;
		/*
		 * Gumbel top-n: a + noise x -log(-log u) ranks as exp(a / noise) / -log u,
		 * with exp(a / noise) computed once per session (in the log domain for tiny noise).
		 */
		if (p->recall_noise >= 0.05) {
			double u = fs_key_u01_at(key, (uint64_t)j);

			/*
			 * Once the heap is full, u < 1 - w/min implies a score below its
			 * minimum (exp(-x) >= 1 - x): skipped without the logarithm.
			 */
			if (n == ncand && u < 1 - s->recall_w[j] / h[0].score)
				continue;
			e.score = s->recall_w[j] / -log(u);
		}
		else if (p->recall_noise > 0)
			e.score = s->recall_w[j] - p->recall_noise * log(-log(fs_key_u01_at(key, (uint64_t)j)));
		else
			e.score = s->recall_w[j];
		e.item = j;
		if (n < ncand) {
			int i = n++;

			h[i] = e;
			while (i > 0 && scored_less(&h[i], &h[(i - 1) / 2])) {
				struct scored t = h[i];

				h[i] = h[(i - 1) / 2];
				h[(i - 1) / 2] = t;
				i = (i - 1) / 2;
			}
		} else if (scored_less(&h[0], &e)) {
			h[0] = e;
			heap_down(h, n, 0);
		}
	}
	qsort(h, (size_t)n, sizeof *h, scored_cmp_desc);
	for (j = 0; j < n; j++)
		cand[j] = h[j].item;
	free(h);
	return n;
}

double
fs_click_base(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s, int j)
{
	const struct fs_item *it = &w->items[j];

	return p->click_bias + p->w_taste * s->taste_dot[j] +
	    p->w_intent * vdot(s->z, it->v, w->dim) + it->tempt + it->quality + s->trend[it->cat];
}

/* The examination probability (1+pos)^-pos_decay, remembered for the last pos_decay seen. */
static double
position_bias(const struct fs_params *p, int pos)
{
	static double decay = NAN, table[FS_KMAX];
	int i;

	if (pos >= FS_KMAX)
		return pow(1.0 + pos, -p->pos_decay);
	if (!(decay == p->pos_decay)) {
		for (i = 0; i < FS_KMAX; i++)
			table[i] = pow(1.0 + i, -p->pos_decay);
		decay = p->pos_decay;
	}
	return table[pos];
}

/* Click probability from the base logit, the item's category exposure and its position. */
static double
click_from_base(const struct fs_params *p, double base, double expo, int pos)
{
	return position_bias(p, pos) * sigmoid(base - p->fatigue * expo);
}

double
fs_click_prob(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s,
    int j, int pos, const int *pagecat)
{
	int c = w->items[j].cat;

	return click_from_base(p, fs_click_base(w, p, s, j), s->fat[c] + (pagecat ? pagecat[c] : 0), pos);
}

double
fs_pay_prob(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s, int j)
{
	const struct fs_item *it = &w->items[j];
	const struct fs_user *u = &w->users[s->user];
	double median = w->price_median > 0 ? w->price_median : 1;

	return sigmoid(p->pay_bias - p->pay_price * u->price_sens * log(it->price / median) +
	    p->pay_taste * s->taste_dot[j]);
}

double
fs_expected_reward(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s,
    int j, int pos, const int *pagecat)
{
	return fs_click_prob(w, p, s, j, pos, pagecat) * (p->w_click + p->w_pay * fs_pay_prob(w, p, s, j));
}

/* Moves z the share a of the way toward v (dim floats): a click's effect on the intent. */
static void
shift_toward(float *z, const float *v, int dim, double a)
{
	int d;

	for (d = 0; d < dim; d++)
		z[d] = (float)((1 - a) * z[d] + a * v[d]);
}

void
fs_page_play(const struct fs_world *w, const struct fs_params *p, struct fs_session *s,
    const int *items, int k, uint64_t seed, struct fs_page *out)
{
	const struct fs_user *u = &w->users[s->user];
	int pagecat[FS_CMAX], i, c, j;
	double expo = 0, l;

	memset(pagecat, 0, sizeof pagecat);
	memset(out, 0, sizeof *out);
	if (k > FS_KMAX)
		k = FS_KMAX;
	out->k = k;
	for (i = 0; i < k; i++) {
		j = items[i];
		out->items[i] = j;
		out->pclick[i] = fs_click_prob(w, p, s, j, i, pagecat);
		expo += s->fat[w->items[j].cat] + pagecat[w->items[j].cat];
		out->click[i] = fs_key_u01(seed, s->n, (uint64_t)s->page, (uint64_t)j, TAG_CLICK) < out->pclick[i];
		if (out->click[i])
			out->pay[i] = fs_key_u01(seed, s->n, (uint64_t)s->page, (uint64_t)j, TAG_PAY) <
			    fs_pay_prob(w, p, s, j);
		pagecat[w->items[j].cat]++;
		s->shown[j] = 1;
		out->nclick += out->click[i];
		out->npay += out->pay[i];
	}
	/* After the page: the clicks, in page order, move intent and satisfaction. */
	for (i = 0; i < k; i++) {
		if (!out->click[i])
			continue;
		j = items[i];
		shift_toward(s->z, w->items[j].v, w->dim, p->intent_shift);
		shift_toward(s->zc, w->items[j].v, w->dim, p->intent_shift);
		s->sat += (float)(p->sat_effect * w->items[j].effect);
		if (s->sat > p->sat_max)
			s->sat = (float)p->sat_max;
		if (s->sat < -p->sat_max)
			s->sat = (float)-p->sat_max;
		if (w->items[j].effect < 0)
			s->sweet_clicks++;
		if (s->nhist == s->caphist) {
			s->caphist = s->caphist ? 2 * s->caphist : 16;
			s->hist = xreallocarray(s->hist, (size_t)s->caphist, sizeof *s->hist);
		}
		s->hist[s->nhist++] = j;
	}
	for (c = 0; c < w->ncat; c++)
		s->fat[c] = (float)((s->fat[c] + pagecat[c]) * p->fatigue_decay);
	out->reward = p->w_click * out->nclick + p->w_pay * out->npay;
	l = p->turn_bias + p->turn_click * out->nclick + p->turn_sat * s->sat -
	    p->turn_page * s->page - p->turn_repeat * (k > 0 ? expo / k : 0) +
	    p->turn_hour * cos(2 * M_PI * (s->hour - 21) / 24) + u->patience;
	out->turn_p = k > 0 ? sigmoid(l) : 0;
	out->turn = s->page + 1 < (int)p->max_pages &&
	    fs_key_u01(seed, s->n, (uint64_t)s->page, 0, TAG_TURN) < out->turn_p;
	s->clicks += out->nclick;
	s->pays += out->npay;
	s->pages++;
	s->ret += out->reward;
	s->page++;
}

void
fs_oracle_prepare(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s,
    const int *cand, int ncand, int lt, double *base, double *value)
{
	struct fs_session blind;
	struct fs_params q;
	int i, j;

	if (p->oracle_intent != 1 || p->oracle_taste == 0) {
		blind = *s;
		if (p->oracle_intent == 0)
			memset(blind.z, 0, sizeof blind.z);
		else if (p->oracle_intent == 2)
			memcpy(blind.z, s->zc, sizeof blind.z);
		s = &blind;
	}
	if (p->oracle_taste == 0) {
		/* Without the user's taste: the click and pay models of a user of neutral taste. */
		q = *p;
		q.w_taste = 0;
		q.pay_taste = 0;
		p = &q;
	}
	for (i = 0; i < ncand; i++) {
		j = cand[i];
		base[i] = fs_click_base(w, p, s, j);
		value[i] = p->w_click + p->w_pay * fs_pay_prob(w, p, s, j);
		if (lt)
			value[i] += p->lt_weight * p->sat_effect * w->items[j].effect;
	}
}

double
fs_oracle_score(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s,
    int j, double base, double value, int pos, const int *pagecat)
{
	int c = w->items[j].cat;

	return click_from_base(p, base, s->fat[c] + pagecat[c], pos) * value;
}

void
fs_oracle_rank(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s,
    const int *cand, int ncand, int k, int lt, int *out)
{
	int pagecat[FS_CMAX], pos, i, best;
	char *used = xcalloc((size_t)(ncand > 0 ? ncand : 1), 1);
	double *base = xmalloc((size_t)(ncand > 0 ? ncand : 1) * sizeof *base);
	double *value = xmalloc((size_t)(ncand > 0 ? ncand : 1) * sizeof *value);
	double sc, bestsc;

	fs_oracle_prepare(w, p, s, cand, ncand, lt, base, value);
	memset(pagecat, 0, sizeof pagecat);
	for (pos = 0; pos < k && pos < ncand; pos++) {
		best = -1;
		bestsc = 0;
		for (i = 0; i < ncand; i++) {
			if (used[i])
				continue;
			sc = fs_oracle_score(w, p, s, cand[i], base[i], value[i], pos, pagecat);
			if (best < 0 || sc > bestsc) {
				best = i;
				bestsc = sc;
			}
		}
		used[best] = 1;
		out[pos] = cand[best];
		pagecat[w->items[cand[best]].cat]++;
	}
	free(used);
	free(base);
	free(value);
}
