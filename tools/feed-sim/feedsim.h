/* feedsim.h: the simulated feed — world (catalogue, users), user behaviour, built-in and external policies. */
#ifndef FEEDSIM_H
#define FEEDSIM_H
#include <stddef.h>
#include <stdint.h>

#include "jbuf.h"

#define FS_DMAX 32		/* largest latent dimension */
#define FS_CMAX 64		/* most categories */
#define FS_KMAX 100		/* largest page */

/*
 * Parameters of the world and of the behaviour model. Every field is also a
 * --param NAME=VALUE option; fs_param_table lists names, defaults and docs.
 */
struct fs_params {
	/* world */
	double dim;		/* latent dimension */
	double categories;	/* categories of the synthetic world */
	double cat_spread;	/* item latent noise around its category centroid */
	double effect_cat;	/* weight of the category in an item's long-term effect */
	double effect_noise;	/* item-specific part of the long-term effect */
	double tempt;		/* temptation: click logit added per unit of "sweetness" (-effect) */
	double tempt_noise;
	double quality_sd;	/* spread of an item's general appeal (click logit) */
	double drift;		/* amplitude of each category's swing of appeal over time (click logit) */
	double drift_days;	/* period of that swing, days */
	double pop_quality;	/* log popularity per unit of appeal */
	double pop_tempt;	/* log popularity per unit of temptation */
	double price_median;
	double price_sd;	/* log-price spread */
	double holdout;		/* fraction of users held out for evaluation */
	double content;		/* 1: features end with the item latent vector */
	double ml_min_ratings;	/* MovieLens: movies with fewer ratings are left out */
	double ml_iters;	/* MovieLens: ALS iterations */
	double ml_lambda;	/* MovieLens: ALS ridge */
	/* recall */
	double candidates;	/* candidates per page */
	double recall_pop;
	double recall_taste;
	double recall_noise;	/* Gumbel noise scale */
	/* clicks */
	double click_bias;
	double w_taste;		/* long-term taste . item */
	double w_intent;	/* short-term intent . item */
	double pos_decay;	/* examination probability (1+pos)^-pos_decay */
	double fatigue;		/* logit penalty per recent exposure of the item's category */
	double fatigue_decay;	/* exposure memory kept from one page to the next */
	double intent_shift;	/* a click moves the intent this far toward the item */
	/* pays */
	double pay_bias;
	double pay_price;	/* price sensitivity x log(price / median) */
	double pay_taste;
	/* satisfaction and leaving */
	double sat_effect;	/* satisfaction change per click x item effect */
	double sat_max;		/* satisfaction is kept in [-sat_max, sat_max] */
	double turn_bias;
	double turn_click;	/* per click on the page */
	double turn_sat;	/* per unit of satisfaction */
	double turn_page;	/* boredom per page already seen */
	double turn_repeat;	/* boredom per unit of mean category exposure on the page */
	double turn_hour;	/* evening sessions run longer */
	double patience_sd;	/* per-user spread of the turn logit */
	double max_pages;
	/* time (seconds) */
	double arrival_gap;	/* mean time between session starts */
	double page_gap;	/* mean extra time between pages (plus 3 s) */
	double pay_delay;	/* mean extra delay from click to pay (plus 20 s) */
	/* reward and oracles */
	double w_click;
	double w_pay;
	double lt_weight;	/* lt-oracle: value of one unit of satisfaction, in reward */
	double oracle_intent;	/* 0: the oracles do not know the short-term intent */
	double oracle_taste;	/* 0: the oracles do not know the user's long-term taste */
};

struct fs_param_doc {
	const char *name;
	size_t offset;
	double def;
	const char *doc;
};
extern const struct fs_param_doc fs_param_table[];
extern const size_t fs_param_count;

/* Fills p with the defaults. */
void fs_params_default(struct fs_params *p);
/* Sets "NAME=VALUE"; 0 on success, -1 (with a diagnostic) when unknown or invalid. */
int fs_params_set(struct fs_params *p, const char *nameval);

/* Deterministic randomness: a sequential generator and a keyed (counter-based) one. */
struct fs_rng {
	uint64_t s;
};
uint64_t fs_mix(uint64_t x);
uint64_t fs_rng_next(struct fs_rng *r);
double fs_rng_u01(struct fs_rng *r);		/* in (0, 1) */
double fs_rng_normal(struct fs_rng *r);
/* A uniform in (0, 1) that depends only on its five keys. */
double fs_key_u01(uint64_t seed, uint64_t a, uint64_t b, uint64_t c, uint64_t tag);
/* The same in two steps, for many values of c: fs_key_u01_at(fs_key_prefix(seed, a, b, tag), c). */
uint64_t fs_key_prefix(uint64_t seed, uint64_t a, uint64_t b, uint64_t tag);
double fs_key_u01_at(uint64_t prefix, uint64_t c);

struct fs_item {
	char id[24];
	int cat;
	float v[FS_DMAX];	/* unit latent vector */
	float price;
	float logpop;		/* log popularity (observable) */
	float effect;		/* hidden long-term effect in [-1, 1]: < 0 sweets, > 0 vegetables */
	float tempt;		/* hidden click temptation */
	float quality;		/* hidden general appeal */
};

struct fs_user {
	char id[24];
	float taste[FS_DMAX];	/* unit long-term taste */
	float price_sens;	/* in [0, 1] */
	float patience;		/* added to the turn logit */
	int heldout;
};

struct fs_world {
	int dim, ncat, nitem, nuser, nfeat;
	char **catname;		/* ncat names */
	float centroid[FS_CMAX][FS_DMAX];
	float drift_phase[FS_CMAX];	/* where each category's swing of appeal starts, radians */
	struct fs_item *items;
	struct fs_user *users;
	float *feat;		/* nitem x nfeat observable item features */
	float logpop_min, logpop_max;
	double price_median;	/* the pay model's reference price */
	int *by_num;		/* item number (the digits of its id) -> index, or -1 */
	int max_num;
};

/*
 * A synthetic world of nitem items and nuser users, generated from seed.
 * Never fails (out of memory exits).
 */
struct fs_world *fs_world_synth(const struct fs_params *p, int nitem, int nuser, uint64_t seed);
/*
 * A world from MovieLens CSV files: movies with at least ml_min_ratings
 * ratings (at most nitem of the most rated when nitem > 0), every rater a
 * user, tastes from an ALS factorisation. NULL after a diagnostic when a
 * file cannot be read or holds nothing usable.
 */
struct fs_world *fs_world_movielens(const struct fs_params *p, const char *ratings,
    const char *movies, int nitem, uint64_t seed);
void fs_world_free(struct fs_world *w);
/* The index of item id ("i123"), or -1. */
int fs_world_item(const struct fs_world *w, const char *id);

/* One user's session in progress. */
struct fs_session {
	uint64_t n;		/* session number */
	int user;
	int page;
	int64_t t;		/* time of the next page, ms */
	int hour;
	int weekend;
	float z[FS_DMAX];	/* short-term intent */
	float zc[FS_DMAX];	/* the intent as the session's clicks show it: no mood, the same shifts */
	float sat;		/* satisfaction */
	float fat[FS_CMAX];	/* recent exposure per category */
	float trend[FS_CMAX];	/* each category's appeal at the session's start (click logit; drift) */
	uint8_t *shown;		/* one byte per item: already shown in this session */
	float *taste_dot;	/* per item: the user's long-term taste . item */
	double *recall_w;	/* per item: the recall weight exp(score / noise) */
	int *hist;		/* clicked items, oldest first */
	int nhist, caphist;
	int clicks, pays, pages, sweet_clicks;
	double ret;
};

/* Starts session n of user at time t (ms); the session's mood comes from (seed, n). */
struct fs_session *fs_session_new(const struct fs_world *w, const struct fs_params *p,
    uint64_t n, int user, int64_t t, uint64_t seed);
void fs_session_free(struct fs_session *s);

/* The context vector of the session's next page; returns its length (FS_NCTX). */
#define FS_NCTX 5
int fs_context(const struct fs_world *w, const struct fs_session *s, float *ctx);

/*
 * The recall stage: up to ncand items not yet shown in the session, drawn by
 * popularity and taste with Gumbel noise keyed by (seed, session, page).
 * Returns the count, into cand (caller-sized, ncand entries).
 */
int fs_recall(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s,
    uint64_t seed, int ncand, int *cand);

/* The click logit of item j before fatigue: taste, intent, temptation, appeal. */
double fs_click_base(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s, int j);
/*
 * Click probability of item j shown at position pos, when pagecat[c] items
 * of category c were shown above it on this page (NULL: none).
 */
double fs_click_prob(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s,
    int j, int pos, const int *pagecat);
/* Pay probability after a click on j. */
double fs_pay_prob(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s, int j);
/* Expected immediate reward of j at pos: P(click) (w_click + w_pay P(pay)). */
double fs_expected_reward(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s,
    int j, int pos, const int *pagecat);

/* What the user did on one page. */
struct fs_page {
	int k;
	int items[FS_KMAX];
	int click[FS_KMAX], pay[FS_KMAX];
	double pclick[FS_KMAX];
	int nclick, npay;
	double reward;
	double turn_p;		/* probability of turning to the next page */
	int turn;
};

/*
 * Plays one page of k items for session s: draws clicks and pays (keyed by
 * seed, session, page, item), then moves the intent toward the clicked
 * items, updates satisfaction, fatigue, history and counters, and decides
 * whether the user turns the page. Advances s->page.
 */
void fs_page_play(const struct fs_world *w, const struct fs_params *p, struct fs_session *s,
    const int *items, int k, uint64_t seed, struct fs_page *out);

/*
 * The oracles. fs_oracle_prepare computes, for each candidate, what stays
 * fixed on a page: base[i], the click logit before fatigue (without the
 * intent when oracle_intent is 0, without the taste when oracle_taste is
 * 0), and value[i], the worth of a click:
 * w_click + w_pay P(pay), plus for lt lt_weight x sat_effect x effect (the
 * hidden long-term effect). fs_oracle_score is then P(click at pos) x value.
 * fs_oracle_rank fills out[0..k) position by position with the best score.
 */
void fs_oracle_prepare(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s,
    const int *cand, int ncand, int lt, double *base, double *value);
double fs_oracle_score(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s,
    int j, double base, double value, int pos, const int *pagecat);
void fs_oracle_rank(const struct fs_world *w, const struct fs_params *p, const struct fs_session *s,
    const int *cand, int ncand, int k, int lt, int *out);

/* Policies. */
enum fs_policy_kind { FS_RANDOM, FS_POPULAR, FS_GREEDY, FS_LT, FS_EXTERNAL };
enum fs_explore { FS_EXPLORE_NONE, FS_EXPLORE_EPSILON, FS_EXPLORE_SOFTMAX };

struct fs_policy;
#include <stdio.h>

/* A built-in policy; explore applies to popular, greedy-oracle and lt-oracle. */
struct fs_policy *fs_policy_builtin(enum fs_policy_kind kind, enum fs_explore ex, double exparam);
/* A coprocess "sh -c cmd" speaking score requests/responses, one line each. NULL after a diagnostic. */
struct fs_policy *fs_policy_cmd(const char *cmd);
/*
 * An HTTP endpoint http://HOST:PORT/PATH taking a score request as a POST; a
 * server that does not listen yet or answers 503 is waited for up to wait
 * seconds at each request. NULL after a diagnostic.
 */
struct fs_policy *fs_policy_url(const char *url, double wait);
/* The last n clicked items are sent as hist in requests (default 20, as experience-collect keeps). */
void fs_policy_set_hist_len(struct fs_policy *pol, int n);
/*
 * After each page is ranked, writes its score request to f (NULL: none) as
 * one line, with "targets": for each deterministic built-in kind (popular,
 * greedy-oracle, lt-oracle), "cond", the candidate it would place at each
 * shown position given the items shown above it, and "list", the page it
 * would show — what an off-policy evaluation of those kinds needs of a page
 * whose choices depend on the simulator's hidden state.
 */
void fs_policy_set_requests(struct fs_policy *pol, FILE *f);
/* The name logged in impressions ("popular", "v13" for a served model version). */
const char *fs_policy_name(const struct fs_policy *pol);
/* The last model version an external policy reported, or -1. */
long fs_policy_version(const struct fs_policy *pol);

/*
 * Ranks a page: fills out[0..k) with item indices and prop[0..k) with the
 * probability of each choice given the ones above it. request_id and ctx are
 * for external policies. Returns 0, or -1 after a diagnostic when an external
 * policy failed or answered nonsense.
 */
int fs_policy_rank(struct fs_policy *pol, const struct fs_world *w, const struct fs_params *p,
    const struct fs_session *s, const char *request_id, const float *ctx, int nctx,
    const int *cand, int ncand, int k, uint64_t seed, int *out, double *prop);

/* Ends the policy (waits for a coprocess). Returns 0, or -1 when it failed. NULL is a no-op. */
int fs_policy_free(struct fs_policy *pol);


#endif
