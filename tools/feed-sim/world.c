/* world.c: feed-sim's parameters, randomness, and worlds — synthetic or derived from MovieLens ratings. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "rng.h"
#include "xalloc.h"
#include "feedsim.h"

#define P(name, def, doc) { #name, offsetof(struct fs_params, name), def, doc }
const struct fs_param_doc fs_param_table[] = {
	P(dim, 8, "latent dimension of tastes and items (at most 32)"),
	P(categories, 10, "categories of the synthetic world (at most 64)"),
	P(cat_spread, 0.6, "spread of an item's latent vector around its category centroid"),
	P(effect_cat, 0.8, "weight of the category in an item's hidden long-term effect"),
	P(effect_noise, 0.3, "item-specific spread of the hidden long-term effect"),
	P(tempt, 1.0, "click logit gained per unit of sweetness (minus the effect)"),
	P(tempt_noise, 0.3, "item-specific spread of the temptation"),
	P(quality_sd, 0.5, "spread of an item's general appeal (click logit)"),
	P(drift, 0, "amplitude of each category's swing of appeal over time (click logit; 0: a stationary world)"),
	P(drift_days, 4, "period in days of a category's swing of appeal (each category's in its own phase)"),
	P(pop_quality, 1.5, "log popularity per unit of general appeal"),
	P(pop_tempt, 0.5, "log popularity per unit of temptation"),
	P(price_median, 25, "median price"),
	P(price_sd, 0.5, "spread of log prices"),
	P(content, 1, "1: an item's features end with its latent vector (its content); 0: they carry only two noisy projections of it"),
	P(holdout, 0.2, "fraction of users held out (--user-set heldout)"),
	P(ml_min_ratings, 20, "MovieLens: least ratings for a movie to be an item"),
	P(ml_iters, 8, "MovieLens: ALS iterations"),
	P(ml_lambda, 5, "MovieLens: ALS ridge penalty"),
	P(candidates, 200, "candidates per page from the recall stage"),
	P(recall_pop, 2, "recall weight of normalised log popularity"),
	P(recall_taste, 2, "recall weight of taste . item"),
	P(recall_noise, 1, "recall Gumbel noise scale"),
	P(click_bias, -2.2, "click logit offset"),
	P(w_taste, 1.5, "click logit per unit of long-term taste . item"),
	P(w_intent, 2.5, "click logit per unit of short-term intent . item"),
	P(pos_decay, 0.6, "position bias: examination probability (1+pos)^-pos_decay"),
	P(fatigue, 0.3, "click logit lost per recent exposure of the item's category"),
	P(fatigue_decay, 0.6, "share of category exposure remembered from page to page"),
	P(intent_shift, 0.5, "a click moves the intent this share toward the clicked item"),
	P(pay_bias, -1.5, "pay-after-click logit offset"),
	P(pay_price, 2, "pay logit lost per unit of price sensitivity x log(price/median)"),
	P(pay_taste, 1, "pay logit per unit of taste . item"),
	P(sat_effect, 0.4, "satisfaction change per click x the item's effect"),
	P(sat_max, 3, "satisfaction is kept within +-sat_max"),
	P(turn_bias, 1.2, "page-turn logit offset"),
	P(turn_click, 0.3, "page-turn logit per click on the page"),
	P(turn_sat, 1, "page-turn logit per unit of satisfaction"),
	P(turn_page, 0.05, "page-turn logit lost per page already seen (boredom)"),
	P(turn_repeat, 0.3, "page-turn logit lost per unit of mean category exposure on the page"),
	P(turn_hour, 0.2, "page-turn logit gained in the evening (peak 21:00)"),
	P(patience_sd, 0.3, "per-user spread of the page-turn logit"),
	P(max_pages, 50, "pages at most in a session"),
	P(arrival_gap, 5, "mean seconds between session starts"),
	P(page_gap, 12, "mean seconds between pages, beyond 3 s"),
	P(pay_delay, 90, "mean seconds from click to pay, beyond 20 s"),
	P(w_click, 1, "reward per click"),
	P(w_pay, 1, "reward per pay"),
	P(lt_weight, 4, "lt-oracle: reward value of one unit of satisfaction"),
	P(oracle_intent, 1, "0: the oracles rank without knowing the short-term intent; 2: knowing only what the session's clicks show of it (not the session's starting mood)"),
	P(oracle_taste, 1, "0: the oracles rank without knowing the user's long-term taste"),
};
#undef P
const size_t fs_param_count = sizeof fs_param_table / sizeof fs_param_table[0];

void
fs_params_default(struct fs_params *p)
{
	size_t i;

	memset(p, 0, sizeof *p);
	for (i = 0; i < fs_param_count; i++)
		*(double *)((char *)p + fs_param_table[i].offset) = fs_param_table[i].def;
}

int
fs_params_set(struct fs_params *p, const char *nameval)
{
	const char *eq = strchr(nameval, '=');
	char *end;
	double v;
	size_t i, n;

	if (eq == NULL) {
		diag_warn("--param %s: expected NAME=VALUE", nameval);
		return -1;
	}
	n = (size_t)(eq - nameval);
	for (i = 0; i < fs_param_count; i++)
		if (strlen(fs_param_table[i].name) == n && strncmp(fs_param_table[i].name, nameval, n) == 0)
			break;
	if (i == fs_param_count) {
		diag_warn("--param %.*s: no such parameter (see --list-params)", (int)n, nameval);
		return -1;
	}
	errno = 0;
	v = strtod(eq + 1, &end);
	if (errno != 0 || end == eq + 1 || *end != '\0' || !isfinite(v)) {
		diag_warn("--param %s: not a number", nameval);
		return -1;
	}
	*(double *)((char *)p + fs_param_table[i].offset) = v;
	return 0;
}

uint64_t
fs_mix(uint64_t x)
{
	return rng_splitmix64(&x);
}

uint64_t
fs_rng_next(struct fs_rng *r)
{
	r->s += RNG_GOLDEN;
	return fs_mix(r->s);
}

double
fs_rng_u01(struct fs_rng *r)
{
	return ((double)(fs_rng_next(r) >> 11) + 0.5) * 0x1p-53;
}

double
fs_rng_normal(struct fs_rng *r)
{
	double u = fs_rng_u01(r), v = fs_rng_u01(r);

	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

uint64_t
fs_key_prefix(uint64_t seed, uint64_t a, uint64_t b, uint64_t tag)
{
	uint64_t h = fs_mix(seed ^ fs_mix(tag));

	h = fs_mix(h ^ a);
	return fs_mix(h ^ (b * 0x100000001b3ULL));
}

double
fs_key_u01_at(uint64_t prefix, uint64_t c)
{
	uint64_t h = fs_mix(prefix ^ (c * 0xc2b2ae3d27d4eb4fULL));

	return ((double)(h >> 11) + 0.5) * 0x1p-53;
}

double
fs_key_u01(uint64_t seed, uint64_t a, uint64_t b, uint64_t c, uint64_t tag)
{
	return fs_key_u01_at(fs_key_prefix(seed, a, b, tag), c);
}

static void
unit(float *v, int d)
{
	double n = 0;
	int i;

	for (i = 0; i < d; i++)
		n += (double)v[i] * v[i];
	n = sqrt(n);
	if (n < 1e-12) {
		v[0] = 1;
		return;
	}
	for (i = 0; i < d; i++)
		v[i] = (float)(v[i] / n);
}

static double
dot(const float *a, const float *b, int d)
{
	double s = 0;
	int i;

	for (i = 0; i < d; i++)
		s += (double)a[i] * b[i];
	return s;
}

static double
clampd(double x, double lo, double hi)
{
	return x < lo ? lo : x > hi ? hi : x;
}

/* A world of the given sizes; its items' features are laid out as world_finish() fills them. */
static struct fs_world *
world_alloc(const struct fs_params *p, int dim, int ncat, int nitem, int nuser)
{
	struct fs_world *w = xcalloc(1, sizeof *w);
	int nfeat = 2 + ncat + 2 + (p->content ? dim : 0);

	w->dim = dim;
	w->ncat = ncat;
	w->nitem = nitem;
	w->nuser = nuser;
	w->nfeat = nfeat;
	w->catname = xcalloc((size_t)ncat, sizeof *w->catname);
	w->items = xcalloc((size_t)nitem, sizeof *w->items);
	w->users = xcalloc((size_t)nuser, sizeof *w->users);
	w->feat = xcalloc((size_t)nitem * (size_t)nfeat, sizeof *w->feat);
	return w;
}

/* Category centroids (mean item vector), popularity range, the id index and the features. */
static void
world_finish(struct fs_world *w, const struct fs_params *p, const float *catfeat, int ncatfeat,
    const int *num, uint64_t seed)
{
	struct fs_rng rng = { fs_mix(seed ^ 0xfea7) };
	float r1[FS_DMAX], r2[FS_DMAX];
	double sum[FS_CMAX][FS_DMAX];
	int i, c, d, f;

	memset(sum, 0, sizeof sum);
	for (i = 0; i < w->nitem; i++)
		for (d = 0; d < w->dim; d++)
			sum[w->items[i].cat][d] += w->items[i].v[d];
	for (c = 0; c < w->ncat; c++) {
		for (d = 0; d < w->dim; d++)
			w->centroid[c][d] = (float)sum[c][d];
		unit(w->centroid[c], w->dim);
		/* keyed, not drawn from rng: the features below stay as they were */
		w->drift_phase[c] = (float)(2 * M_PI * fs_key_u01(seed, (uint64_t)c, 0, 0, 0xd21f7));
	}
	w->logpop_min = w->logpop_max = w->items[0].logpop;
	w->max_num = 0;
	for (i = 0; i < w->nitem; i++) {
		if (w->items[i].logpop < w->logpop_min)
			w->logpop_min = w->items[i].logpop;
		if (w->items[i].logpop > w->logpop_max)
			w->logpop_max = w->items[i].logpop;
		if (num[i] > w->max_num)
			w->max_num = num[i];
	}
	if (w->logpop_max <= w->logpop_min)
		w->logpop_max = w->logpop_min + 1;
	w->by_num = xmalloc(((size_t)w->max_num + 1) * sizeof *w->by_num);
	for (i = 0; i <= w->max_num; i++)
		w->by_num[i] = -1;
	for (i = 0; i < w->nitem; i++) {
		w->by_num[num[i]] = i;
		snprintf(w->items[i].id, sizeof w->items[i].id, "i%d", num[i]);
	}
	for (d = 0; d < w->dim; d++) {
		r1[d] = (float)fs_rng_normal(&rng);
		r2[d] = (float)fs_rng_normal(&rng);
	}
	unit(r1, w->dim);
	unit(r2, w->dim);
	for (i = 0; i < w->nitem; i++) {
		struct fs_item *it = &w->items[i];
		float *ft = w->feat + (size_t)i * (size_t)w->nfeat;

		ft[0] = (float)(log(it->price / p->price_median) / (2 * (p->price_sd > 0 ? p->price_sd : 1)));
		ft[1] = (it->logpop - w->logpop_min) / (w->logpop_max - w->logpop_min);
		for (f = 0; f < ncatfeat; f++)
			ft[2 + f] = catfeat[(size_t)i * (size_t)ncatfeat + f];
		ft[2 + ncatfeat] = (float)(dot(it->v, r1, w->dim) + 0.3 * fs_rng_normal(&rng));
		ft[3 + ncatfeat] = (float)(dot(it->v, r2, w->dim) + 0.3 * fs_rng_normal(&rng));
		if (p->content)
			for (d = 0; d < w->dim; d++)
				ft[4 + ncatfeat + d] = it->v[d];
	}
}

static void
user_traits(struct fs_user *u, const struct fs_params *p, uint64_t seed, int idx, struct fs_rng *rng)
{
	u->price_sens = (float)fs_rng_u01(rng);
	u->patience = (float)(p->patience_sd * fs_rng_normal(rng));
	u->heldout = fs_key_u01(seed, (uint64_t)idx, 0, 0, 0x401d) < p->holdout;
}

static int
check_dims(const struct fs_params *p)
{
	if (p->dim < 1 || p->dim > FS_DMAX) {
		diag_warn("--param dim: must be within 1..%d", FS_DMAX);
		return -1;
	}
	if (p->categories < 1 || p->categories > FS_CMAX) {
		diag_warn("--param categories: must be within 1..%d", FS_CMAX);
		return -1;
	}
	if (p->oracle_intent != 0 && p->oracle_intent != 1 && p->oracle_intent != 2) {
		diag_warn("--param oracle_intent: must be 0, 1 or 2");
		return -1;
	}
	if (p->content != 0 && p->content != 1) {
		diag_warn("--param content: must be 0 or 1");
		return -1;
	}
	if (!(p->drift_days > 0)) {
		diag_warn("--param drift_days: must be above 0");
		return -1;
	}
	return 0;
}

struct fs_world *
fs_world_synth(const struct fs_params *p, int nitem, int nuser, uint64_t seed)
{
	struct fs_rng rng = { fs_mix(seed ^ 0x5e7) };
	struct fs_world *w;
	float cent[FS_CMAX][FS_DMAX], mean[FS_DMAX], *catfeat;
	double ceff[FS_CMAX], cprice[FS_CMAX];
	int *num, i, c, d, a, b, dim, ncat;

	if (check_dims(p) < 0)
		return NULL;
	dim = (int)p->dim;
	ncat = (int)p->categories;
	w = world_alloc(p, dim, ncat, nitem, nuser);
	for (c = 0; c < ncat; c++) {
		for (d = 0; d < dim; d++)
			cent[c][d] = (float)fs_rng_normal(&rng);
		unit(cent[c], dim);
		/* Spread the categories' effects evenly from sweets (-1) to vegetables (+1). */
		ceff[c] = ncat > 1 ? -1 + 2.0 * c / (ncat - 1) : 0;
		cprice[c] = 0.3 * fs_rng_normal(&rng);
		w->catname[c] = xasprintf("c%d", c);
	}
	memset(mean, 0, sizeof mean);
	for (i = 0; i < nuser; i++) {
		struct fs_user *u = &w->users[i];

		a = (int)(fs_rng_next(&rng) % (uint64_t)ncat);
		b = (int)(fs_rng_next(&rng) % (uint64_t)ncat);
		for (d = 0; d < dim; d++)
			u->taste[d] = (float)(cent[a][d] + 0.6 * cent[b][d] + 0.5 * fs_rng_normal(&rng) / sqrt(dim));
		unit(u->taste, dim);
		for (d = 0; d < dim; d++)
			mean[d] += u->taste[d] / (float)nuser;
		user_traits(u, p, seed, i, &rng);
		snprintf(u->id, sizeof u->id, "u%d", i);
	}
	num = xmalloc((size_t)nitem * sizeof *num);
	catfeat = xcalloc((size_t)nitem * (size_t)ncat, sizeof *catfeat);
	for (i = 0; i < nitem; i++) {
		struct fs_item *it = &w->items[i];

		c = (int)(fs_rng_next(&rng) % (uint64_t)ncat);
		it->cat = c;
		for (d = 0; d < dim; d++)
			it->v[d] = (float)(cent[c][d] + p->cat_spread * fs_rng_normal(&rng) / sqrt(dim));
		unit(it->v, dim);
		it->effect = (float)clampd(p->effect_cat * ceff[c] + p->effect_noise * fs_rng_normal(&rng), -1, 1);
		it->tempt = (float)(-p->tempt * it->effect + p->tempt_noise * fs_rng_normal(&rng));
		it->price = (float)(p->price_median * exp(cprice[c] + p->price_sd * fs_rng_normal(&rng)));
		it->quality = (float)(p->quality_sd * fs_rng_normal(&rng));
		it->logpop = (float)clampd(4 + p->pop_quality * it->quality + p->pop_tempt * it->tempt +
		    1.5 * dot(mean, it->v, dim) + 0.5 * fs_rng_normal(&rng), 0, 20);
		num[i] = i;
		catfeat[(size_t)i * (size_t)ncat + c] = 1;
	}
	w->price_median = p->price_median;
	world_finish(w, p, catfeat, ncat, num, seed);
	free(catfeat);
	free(num);
	return w;
}

/* MovieLens ----------------------------------------------------------------- */

struct rating {
	int user, movie;	/* dense indices */
	float r;
};

/*
 * Ids of movies and users are indices of arrays sized by the largest one: ids
 * beyond this bound (MovieLens's are below a million) leave their lines out.
 */
#define ML_MAX_ID 9999999

/* Lines of a MovieLens file left out: how many, and the first with its reason. */
struct ml_skips {
	long n, first;
	const char *why;
};

static void
ml_skip(struct ml_skips *sk, long lineno, const char *why)
{
	if (sk->n++ == 0) {
		sk->first = lineno;
		sk->why = why;
	}
}

/* Reports the left-out lines of PATH once, on stderr: never silently. */
static void
ml_skips_report(const struct ml_skips *sk, const char *path)
{
	if (sk->n > 0)
		diag_warn("%s: %ld line(s) left out; the first, line %ld: %s", path, sk->n,
		    sk->first, sk->why);
}

/*
 * Reads "movieId,title,genres" lines; title may be quoted and hold commas.
 * Lines without an id in 0..ML_MAX_ID are left out, counted and reported.
 */
static int
read_movies(const char *path, int **ids, char ***genres, int *n)
{
	FILE *f = fopen(path, "r");
	char *line = NULL, *c1, *c2, *end;
	size_t cap = 0, na = 0;
	ssize_t len;
	long lineno = 0, id;
	struct ml_skips sk = { 0, 0, NULL };

	if (f == NULL) {
		diag_warn("%s:", path);
		return -1;
	}
	*n = 0;
	*ids = NULL;
	*genres = NULL;
	while ((len = getline(&line, &cap, f)) > 0) {
		lineno++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (lineno == 1 && strncmp(line, "movieId", 7) == 0)
			continue;
		c1 = strchr(line, ',');
		c2 = strrchr(line, ',');
		if (c1 == NULL || c2 == c1) {
			ml_skip(&sk, lineno, "not movieId,title,genres");
			continue;
		}
		errno = 0;
		id = strtol(line, &end, 10);
		if (end == line || end != c1 || errno != 0) {
			ml_skip(&sk, lineno, "movieId is not a number");
			continue;
		}
		if (id < 0 || id > ML_MAX_ID) {
			ml_skip(&sk, lineno, "movieId outside 0..9999999");
			continue;
		}
		if ((size_t)*n == na) {
			na = na ? 2 * na : 1024;
			*ids = xreallocarray(*ids, na, sizeof **ids);
			*genres = xreallocarray(*genres, na, sizeof **genres);
		}
		(*ids)[*n] = (int)id;
		(*genres)[*n] = xasprintf("%s\x1f%.*s", c2 + 1, (int)(c2 - c1 - 1), c1 + 1);
		(*n)++;
	}
	free(line);
	ml_skips_report(&sk, path);
	if (ferror(f)) {
		diag_warn("%s:", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

/* Solves the d x d symmetric positive definite system A x = b in place (Cholesky); x in b. */
static void
spd_solve(double *A, double *b, int d)
{
	int i, j, k;

	for (j = 0; j < d; j++) {
		double s = A[j * d + j];

		for (k = 0; k < j; k++)
			s -= A[j * d + k] * A[j * d + k];
		A[j * d + j] = sqrt(s > 1e-12 ? s : 1e-12);
		for (i = j + 1; i < d; i++) {
			double t = A[i * d + j];

			for (k = 0; k < j; k++)
				t -= A[i * d + k] * A[j * d + k];
			A[i * d + j] = t / A[j * d + j];
		}
	}
	for (i = 0; i < d; i++) {
		for (k = 0; k < i; k++)
			b[i] -= A[i * d + k] * b[k];
		b[i] /= A[i * d + i];
	}
	for (i = d - 1; i >= 0; i--) {
		for (k = i + 1; k < d; k++)
			b[i] -= A[k * d + i] * b[k];
		b[i] /= A[i * d + i];
	}
}

/*
 * One ALS half-step: for each row r of X (nrow x d), the ridge solution of
 * the ratings grouped by row (start[r]..start[r+1] in order, column col[],
 * value val[]) against Y.
 */
static void
als_half(float *X, int nrow, const float *Y, const int *start, const int *col, const float *val,
    int d, double lambda)
{
	double A[FS_DMAX * FS_DMAX], b[FS_DMAX];
	int r, e, i, j;

	for (r = 0; r < nrow; r++) {
		memset(A, 0, sizeof A);
		memset(b, 0, sizeof b);
		for (i = 0; i < d; i++)
			A[i * d + i] = lambda;
		for (e = start[r]; e < start[r + 1]; e++) {
			const float *y = Y + (size_t)col[e] * (size_t)d;

			for (i = 0; i < d; i++) {
				b[i] += (double)val[e] * y[i];
				for (j = 0; j < d; j++)
					A[i * d + j] += (double)y[i] * y[j];
			}
		}
		spd_solve(A, b, d);
		for (i = 0; i < d; i++)
			X[(size_t)r * (size_t)d + i] = (float)b[i];
	}
}

/* Groups ratings by key (user or movie) into start/col/val arrays. */
static void
group_by(const struct rating *rt, size_t nr, int nkey, int by_user, int **start, int **col, float **val)
{
	int *pos, k;
	size_t i;

	*start = xcalloc((size_t)nkey + 1, sizeof **start);
	*col = xmalloc(nr * sizeof **col);
	*val = xmalloc(nr * sizeof **val);
	for (i = 0; i < nr; i++)
		(*start)[(by_user ? rt[i].user : rt[i].movie) + 1]++;
	for (k = 0; k < nkey; k++)
		(*start)[k + 1] += (*start)[k];
	pos = xmalloc((size_t)nkey * sizeof *pos);
	memcpy(pos, *start, (size_t)nkey * sizeof *pos);
	for (i = 0; i < nr; i++) {
		k = by_user ? rt[i].user : rt[i].movie;
		(*col)[pos[k]] = by_user ? rt[i].movie : rt[i].user;
		(*val)[pos[k]] = rt[i].r;
		pos[k]++;
	}
	free(pos);
}

static int
cmp_count_desc(const void *a, const void *b, void *arg)
{
	const int *cnt = arg;
	int x = *(const int *)a, y = *(const int *)b;

	if (cnt[x] != cnt[y])
		return cnt[x] > cnt[y] ? -1 : 1;
	return x < y ? -1 : x > y;
}

struct fs_world *
fs_world_movielens(const struct fs_params *p, const char *ratings_path, const char *movies_path,
    int nitem, uint64_t seed)
{
	struct fs_rng rng = { fs_mix(seed ^ 0x3117) };
	struct fs_world *w = NULL;
	struct rating *rt = NULL;
	FILE *f = NULL;
	char *line = NULL, **mgen = NULL, *gnames[FS_CMAX], *tok, *save;
	size_t cap = 0, nr = 0, na = 0, i;
	ssize_t len;
	int *mids = NULL, nmovies = 0, maxmid = 0, *midx = NULL, *cnt = NULL, *order = NULL, *keep = NULL;
	int *uidmap = NULL, maxuid = 0, nuser = 0, *uids = NULL, nkeep, ngen = 0, dim, j, k, d, g, it;
	int *ust = NULL, *ucol = NULL, *mst = NULL, *mcol = NULL, *num = NULL, gcount[FS_CMAX];
	float *uval = NULL, *mval = NULL, *U = NULL, *V = NULL, *catfeat = NULL;
	double *rsum = NULL, *usum = NULL, mu = 0;
	int *ucnt = NULL;
	long lineno = 0;
	struct ml_skips sk = { 0, 0, NULL };

	if (check_dims(p) < 0)
		return NULL;
	dim = (int)p->dim;
	if (read_movies(movies_path, &mids, &mgen, &nmovies) < 0)
		return NULL;
	for (j = 0; j < nmovies; j++)
		if (mids[j] > maxmid)
			maxmid = mids[j];
	midx = xmalloc(((size_t)maxmid + 1) * sizeof *midx);
	for (j = 0; j <= maxmid; j++)
		midx[j] = -1;
	/* A movieId listed twice: its first line counts. */
	for (j = 0; j < nmovies; j++)
		if (midx[mids[j]] < 0)
			midx[mids[j]] = j;
	for (j = k = 0; j < nmovies; j++) {
		if (midx[mids[j]] != j) {
			free(mgen[j]);
			continue;
		}
		mids[k] = mids[j];
		mgen[k] = mgen[j];
		midx[mids[k]] = k;
		k++;
	}
	nmovies = k;

	if ((f = fopen(ratings_path, "r")) == NULL) {
		diag_warn("%s:", ratings_path);
		goto err;
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		int uid, mid;
		char *e1, *e2;
		double r;

		long luid, lmid;

		lineno++;
		errno = 0;
		luid = strtol(line, &e1, 10);
		if (e1 == line || *e1 != ',') {
			if (lineno > 1 || strncmp(line, "userId", 6) != 0)
				ml_skip(&sk, lineno, "not userId,movieId,rating,...");
			continue;
		}
		lmid = strtol(e1 + 1, &e2, 10);
		if (e2 == e1 + 1 || *e2 != ',' || errno != 0) {
			ml_skip(&sk, lineno, "not userId,movieId,rating,...");
			continue;
		}
		r = strtod(e2 + 1, NULL);
		if (luid < 0 || luid > ML_MAX_ID) {
			ml_skip(&sk, lineno, "userId outside 0..9999999");
			continue;
		}
		if (lmid < 0 || lmid > maxmid || midx[lmid] < 0) {
			ml_skip(&sk, lineno, "movieId not in the movies file");
			continue;
		}
		if (!(r > 0 && r <= 10)) {
			ml_skip(&sk, lineno, "rating not in (0, 10]");
			continue;
		}
		uid = (int)luid;
		mid = (int)lmid;
		if (nr == na) {
			na = na ? 2 * na : 65536;
			rt = xreallocarray(rt, na, sizeof *rt);
		}
		rt[nr].user = uid;
		rt[nr].movie = midx[mid];
		rt[nr].r = (float)r;
		if (uid > maxuid)
			maxuid = uid;
		nr++;
	}
	ml_skips_report(&sk, ratings_path);
	if (ferror(f)) {
		diag_warn("%s:", ratings_path);
		goto err;
	}
	fclose(f);
	f = NULL;

	/* Keep the movies with enough ratings, the most rated first. */
	cnt = xcalloc((size_t)nmovies, sizeof *cnt);
	for (i = 0; i < nr; i++)
		cnt[rt[i].movie]++;
	order = xmalloc((size_t)nmovies * sizeof *order);
	for (j = 0; j < nmovies; j++)
		order[j] = j;
	qsort_r(order, (size_t)nmovies, sizeof *order, cmp_count_desc, cnt);
	for (nkeep = 0; nkeep < nmovies && cnt[order[nkeep]] >= p->ml_min_ratings; nkeep++)
		;
	if (nitem > 0 && nkeep > nitem)
		nkeep = nitem;
	if (nkeep < 2) {
		diag_warn("%s: fewer than 2 movies with %g ratings", ratings_path, p->ml_min_ratings);
		goto err;
	}
	keep = xmalloc((size_t)nmovies * sizeof *keep);
	for (j = 0; j < nmovies; j++)
		keep[j] = -1;
	for (j = 0; j < nkeep; j++)
		keep[order[j]] = j;
	/* Dense users and ratings of kept movies only. */
	uidmap = xmalloc(((size_t)maxuid + 1) * sizeof *uidmap);
	for (j = 0; j <= maxuid; j++)
		uidmap[j] = -1;
	uids = xmalloc(((size_t)maxuid + 1) * sizeof *uids);
	na = 0;
	for (i = 0; i < nr; i++) {
		if (keep[rt[i].movie] < 0)
			continue;
		if (uidmap[rt[i].user] < 0) {
			uids[nuser] = rt[i].user;
			uidmap[rt[i].user] = nuser++;
		}
		rt[na].user = uidmap[rt[i].user];
		rt[na].movie = keep[rt[i].movie];
		rt[na].r = rt[i].r;
		na++;
	}
	nr = na;
	/* Centre by each user's mean rating; remember each movie's shrunk mean. */
	usum = xcalloc((size_t)nuser, sizeof *usum);
	ucnt = xcalloc((size_t)nuser, sizeof *ucnt);
	rsum = xcalloc((size_t)nkeep, sizeof *rsum);
	for (i = 0; i < nr; i++) {
		usum[rt[i].user] += rt[i].r;
		ucnt[rt[i].user]++;
		rsum[rt[i].movie] += rt[i].r;
		mu += rt[i].r;
	}
	mu /= (double)nr;
	for (i = 0; i < nr; i++)
		rt[i].r -= (float)(usum[rt[i].user] / ucnt[rt[i].user]);

	/* Genres: the categories, named in order of first appearance among kept movies. */
	memset(gcount, 0, sizeof gcount);
	catfeat = NULL;
	for (j = 0; j < nkeep; j++) {
		const char *sep = strchr(mgen[order[j]], '\x1f');
		char *copy = xstrndup(mgen[order[j]], (size_t)(sep - mgen[order[j]]));

		tok = strtok_r(copy, "|", &save);
		for (; tok != NULL; tok = strtok_r(NULL, "|", &save)) {
			for (g = 0; g < ngen && strcmp(gnames[g], tok) != 0; g++)
				;
			if (g == ngen && ngen < FS_CMAX)
				gnames[ngen++] = xstrdup(tok);
			if (g < ngen)
				gcount[g]++;
		}
		free(copy);
	}

	w = world_alloc(p, dim, ngen, nkeep, nuser);
	for (g = 0; g < ngen; g++)
		w->catname[g] = gnames[g];
	catfeat = xcalloc((size_t)nkeep * (size_t)ngen, sizeof *catfeat);
	num = xmalloc((size_t)nkeep * sizeof *num);

	/* ALS: U (nuser x dim), V (nkeep x dim). */
	U = xcalloc((size_t)nuser * (size_t)dim, sizeof *U);
	V = xmalloc((size_t)nkeep * (size_t)dim * sizeof *V);
	for (i = 0; i < (size_t)nkeep * (size_t)dim; i++)
		V[i] = (float)(0.3 * fs_rng_normal(&rng));
	group_by(rt, nr, nuser, 1, &ust, &ucol, &uval);
	group_by(rt, nr, nkeep, 0, &mst, &mcol, &mval);
	for (it = 0; it < (int)p->ml_iters; it++) {
		als_half(U, nuser, V, ust, ucol, uval, dim, p->ml_lambda);
		als_half(V, nkeep, U, mst, mcol, mval, dim, p->ml_lambda);
	}

	for (j = 0; j < nkeep; j++) {
		struct fs_item *itm = &w->items[j];
		const char *gs = mgen[order[j]], *title = strchr(gs, '\x1f');
		char *copy;
		double shrunk, year = 1995;
		int best = -1;

		copy = xstrndup(gs, (size_t)(title ? title - gs : (ptrdiff_t)strlen(gs)));
		for (tok = strtok_r(copy, "|", &save); tok != NULL; tok = strtok_r(NULL, "|", &save)) {
			/* The rarest of the movie's genres is its category. */
			for (g = 0; g < ngen && strcmp(gnames[g], tok) != 0; g++)
				;
			if (g == ngen)
				continue;
			catfeat[(size_t)j * (size_t)ngen + g] = 1;
			if (best < 0 || gcount[g] < gcount[best])
				best = g;
		}
		free(copy);
		itm->cat = best < 0 ? 0 : best;
		for (d = 0; d < dim; d++)
			itm->v[d] = V[(size_t)j * (size_t)dim + d];
		unit(itm->v, dim);
		/* Disappointing (below the shrunk mean) movies are sweets, rewarding ones vegetables. */
		shrunk = (rsum[j] + 10 * mu) / (cnt[order[j]] + 10);
		itm->effect = (float)shrunk;	/* standardised below */
		if (title != NULL) {
			const char *y = strrchr(title, '(');

			if (y != NULL && atoi(y + 1) > 1800)
				year = atoi(y + 1);
		}
		itm->price = (float)(2.99 + 3.0 * clampd((year - 1930) / 90, 0, 1) + 0.5 * fs_rng_u01(&rng));
		itm->logpop = (float)log(1.0 + cnt[order[j]]);
		num[j] = mids[order[j]];
	}
	{
		/* General appeal follows the popularity observed in the data. */
		double m = 0, sd = 0;

		for (j = 0; j < nkeep; j++)
			m += w->items[j].logpop / nkeep;
		for (j = 0; j < nkeep; j++)
			sd += (w->items[j].logpop - m) * (w->items[j].logpop - m) / nkeep;
		sd = sqrt(sd) > 1e-6 ? sqrt(sd) : 1;
		for (j = 0; j < nkeep; j++)
			w->items[j].quality = (float)(p->quality_sd * (w->items[j].logpop - m) / sd);
		/* Effects: standardised shrunk mean ratings, spread like the synthetic world's. */
		m = sd = 0;
		for (j = 0; j < nkeep; j++)
			m += w->items[j].effect / nkeep;
		for (j = 0; j < nkeep; j++)
			sd += (w->items[j].effect - m) * (w->items[j].effect - m) / nkeep;
		sd = sqrt(sd) > 1e-6 ? sqrt(sd) : 1;
		for (j = 0; j < nkeep; j++) {
			struct fs_item *itm = &w->items[j];

			itm->effect = (float)clampd(0.6 * (itm->effect - m) / sd, -1, 1);
			itm->tempt = (float)(-p->tempt * itm->effect + p->tempt_noise * fs_rng_normal(&rng));
		}
	}
	for (j = 0; j < nuser; j++) {
		struct fs_user *u = &w->users[j];

		for (d = 0; d < dim; d++)
			u->taste[d] = U[(size_t)j * (size_t)dim + d];
		unit(u->taste, dim);
		user_traits(u, p, seed, j, &rng);
		snprintf(u->id, sizeof u->id, "u%d", uids[j]);
	}
	{
		/* Prices are in the data's own range: normalise the price feature around their median. */
		struct fs_params q = *p;

		q.price_median = 4.5;
		q.price_sd = 0.25;
		w->price_median = q.price_median;
		world_finish(w, &q, catfeat, ngen, num, seed);
	}
	ngen = 0;	/* the names now belong to w */
err:
	for (g = 0; g < ngen; g++)
		free(gnames[g]);
	if (f != NULL)
		fclose(f);
	free(line);
	for (j = 0; j < nmovies; j++)
		free(mgen[j]);
	free(mgen);
	free(mids);
	free(midx);
	free(rt);
	free(cnt);
	free(order);
	free(keep);
	free(uidmap);
	free(uids);
	free(usum);
	free(ucnt);
	free(rsum);
	free(ust);
	free(ucol);
	free(uval);
	free(mst);
	free(mcol);
	free(mval);
	free(U);
	free(V);
	free(catfeat);
	free(num);
	return w;
}

void
fs_world_free(struct fs_world *w)
{
	int c;

	if (w == NULL)
		return;
	for (c = 0; c < w->ncat; c++)
		free(w->catname[c]);
	free(w->catname);
	free(w->items);
	free(w->users);
	free(w->feat);
	free(w->by_num);
	free(w);
}

int
fs_world_item(const struct fs_world *w, const char *id)
{
	char *end;
	long n;

	if (id[0] != 'i' || id[1] < '0' || id[1] > '9')
		return -1;
	errno = 0;
	n = strtol(id + 1, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0 || n > w->max_num)
		return -1;
	return w->by_num[n];
}
