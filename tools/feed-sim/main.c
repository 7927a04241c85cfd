/* feed-sim: a simulated multi-page feed — users browse pages a policy ranks; writes raw events and a report. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "diag.h"
#include "heap.h"
#include "jsonx.h"
#include "kafka.h"
#include "lineio.h"
#include "sig.h"
#include "toolio.h"
#include "xalloc.h"
#include "feedsim.h"

enum { TAG_ARRIVAL = 21, TAG_USER, TAG_GAP, TAG_CLICKT, TAG_PAYT };

enum {
	OPT_ITEMS = TOOL_OPT_FIRST, OPT_WORLD_SEED, OPT_RATINGS, OPT_MOVIES, OPT_RATE, OPT_START,
	OPT_USER_SET, OPT_NO_EVENTS, OPT_CURVE, OPT_CANDIDATES, OPT_LIST_PARAMS, OPT_POLICY_WAIT,
	OPT_W_CLICK, OPT_W_PAY, OPT_HIST_LEN, OPT_REQUESTS, OPT_EVENTS
};

/*
 * The shared options (of which feed-sim takes -b, -F, -o, -q, -V, -v and -X:
 * it writes, and reads no stream), then its own. Aliases kept for one
 * release: --k (--top-k), --hist-len (--history-len).
 */
static const struct option longopts[] = {
	TOOL_LONGOPTS,
	{ "policy-cmd",  required_argument, NULL, 'c' },
	{ "explore",     required_argument, NULL, 'e' },
	{ "help",        no_argument,       NULL, 'h' },
	{ "top-k",       required_argument, NULL, 'k' },
	{ "k",           required_argument, NULL, 'k' },
	{ "sessions",    required_argument, NULL, 'n' },
	{ "param",       required_argument, NULL, 'P' },
	{ "policy",      required_argument, NULL, 'p' },
	{ "report",      required_argument, NULL, 'r' },
	{ "seed",        required_argument, NULL, 's' },
	{ "policy-url",  required_argument, NULL, 'U' },
	{ "users",       required_argument, NULL, 'u' },
	{ "items",       required_argument, NULL, OPT_ITEMS },
	{ "eval-seed",   required_argument, NULL, 's' },
	{ "world-seed",  required_argument, NULL, OPT_WORLD_SEED },
	{ "ratings",     required_argument, NULL, OPT_RATINGS },
	{ "movies",      required_argument, NULL, OPT_MOVIES },
	{ "rate",        required_argument, NULL, OPT_RATE },
	{ "start",       required_argument, NULL, OPT_START },
	{ "user-set",    required_argument, NULL, OPT_USER_SET },
	{ "events",      no_argument,       NULL, OPT_EVENTS },
	{ "no-events",   no_argument,       NULL, OPT_NO_EVENTS },
	{ "curve",       required_argument, NULL, OPT_CURVE },
	{ "candidates",  required_argument, NULL, OPT_CANDIDATES },
	{ "list-params", no_argument,       NULL, OPT_LIST_PARAMS },
	{ "policy-wait", required_argument, NULL, OPT_POLICY_WAIT },
	{ "w-click",     required_argument, NULL, OPT_W_CLICK },
	{ "w-pay",       required_argument, NULL, OPT_W_PAY },
	{ "history-len", required_argument, NULL, OPT_HIST_LEN },
	{ "hist-len",    required_argument, NULL, OPT_HIST_LEN },
	{ "requests",    required_argument, NULL, OPT_REQUESTS },
	{ NULL, 0, NULL, 0 }
};

static _Noreturn void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: feed-sim [-hqVv] [-b brokers] [-c cmd | -U url | -p policy] [-e explore] [-k top-k]\n"
	    "                [-n sessions] [-o output] [-P name=value] [-r report] [-s seed]\n"
	    "                [-u users] [-X key=value] [--items n] [--world-seed n]\n"
	    "                [--ratings file --movies file] [--rate events/s] [--start time]\n"
	    "                [--user-set all|train|heldout] [--events | --no-events] [--curve n]\n"
	    "                [--candidates n] [--list-params] [--policy-wait seconds]\n"
	    "                [--w-click w] [--w-pay w] [--history-len n] [--requests file]\n");
	exit(status);
}

/* A pending output line, written when simulated time reaches ts. */
struct pending {
	int64_t ts;
	uint64_t seq;
	char *line;
	size_t len;
	int user;
};

struct sim {
	const struct fs_world *w;
	const struct fs_params *p;
	struct fs_policy *pol;
	struct line_writer *out;
	uint64_t seed;		/* the sessions' seed */
	int k, ncand;
	double rate;
	struct timespec t0;
	/* pending output, a min-heap by (ts, seq) */
	struct pending *pend;
	size_t npend, cappend;
	uint64_t seq;
	/* active sessions, a min-heap by (t, n) */
	struct heap act;
	/* results */
	uint64_t nret;		/* sessions ended */
	double ret_mean, ret_m2;	/* running mean and sum of squared deviations of their returns */
	long curve;		/* sessions per block of the learning curve, 0 for none */
	double *blk_sum;	/* per block of session numbers: sum of returns */
	uint64_t *blk_n;	/* ... and sessions ended */
	double *blk_sq;		/* ... and sum of squared returns, for each block's interval */
	long version;		/* the model version that answered last (-1: none yet) */
	json_t *swaps;		/* {session, version} where a new version first answered */
	uint64_t sessions, pages, impressions, clicks, pays, sweet, events;
	double amount;
	int failed;
	int64_t tmax;
};

static int
pend_less(const struct pending *a, const struct pending *b)
{
	return a->ts < b->ts || (a->ts == b->ts && a->seq < b->seq);
}

static void
pend_push(struct sim *sm, int64_t ts, int user, struct jbuf *b)
{
	size_t i;

	if (sm->out == NULL)
		return;
	if (sm->npend == sm->cappend) {
		sm->cappend = sm->cappend ? 2 * sm->cappend : 256;
		sm->pend = xreallocarray(sm->pend, sm->cappend, sizeof *sm->pend);
	}
	i = sm->npend++;
	sm->pend[i].ts = ts;
	sm->pend[i].seq = sm->seq++;
	sm->pend[i].line = xstrndup(b->p, b->len);
	sm->pend[i].len = b->len;
	sm->pend[i].user = user;
	while (i > 0 && pend_less(&sm->pend[i], &sm->pend[(i - 1) / 2])) {
		struct pending t = sm->pend[i];

		sm->pend[i] = sm->pend[(i - 1) / 2];
		sm->pend[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

static void
pace(struct sim *sm)
{
	struct timespec now, d;
	double due, el;

	if (sm->rate <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	el = (double)(now.tv_sec - sm->t0.tv_sec) + (now.tv_nsec - sm->t0.tv_nsec) / 1e9;
	due = (double)sm->events / sm->rate;
	if (due > el) {
		d.tv_sec = (time_t)(due - el);
		d.tv_nsec = (long)((due - el - (double)d.tv_sec) * 1e9);
		nanosleep(&d, NULL);
	}
}

static void
emit(struct sim *sm, int user, const char *line, size_t len)
{
	const char *uid = sm->w->users[user].id;

	if (line_writer_put(sm->out, uid, strlen(uid), line, len) < 0)
		sm->failed = 1;
	sm->events++;
	pace(sm);
}

/* Writes every pending line with ts <= t (all of them when t is INT64_MAX). */
static void
pend_flush(struct sim *sm, int64_t t)
{
	while (sm->npend > 0 && sm->pend[0].ts <= t) {
		struct pending top = sm->pend[0];
		size_t i = 0, n;

		emit(sm, top.user, top.line, top.len);
		free(top.line);
		sm->pend[0] = sm->pend[--sm->npend];
		n = sm->npend;
		for (;;) {
			size_t l = 2 * i + 1, r = l + 1, m = i;
			struct pending t2;

			if (l < n && pend_less(&sm->pend[l], &sm->pend[m]))
				m = l;
			if (r < n && pend_less(&sm->pend[r], &sm->pend[m]))
				m = r;
			if (m == i)
				break;
			t2 = sm->pend[i];
			sm->pend[i] = sm->pend[m];
			sm->pend[m] = t2;
			i = m;
		}
	}
}

static int
act_before(const void *x, const void *y)
{
	const struct fs_session *a = x, *b = y;

	return a->t < b->t || (a->t == b->t && a->n < b->n);
}

static double
expo(double u, double mean)
{
	return -log(u) * mean;
}

/*
 * Plays the next page of s at s->t: asks the policy, writes the impression,
 * schedules clicks and pays. Returns 1 when the session goes on, 0 when it
 * ended, -1 when the policy failed.
 */
static int
play_page(struct sim *sm, struct fs_session *s, int *cand, int *shown, double *prop)
{
	const struct fs_world *w = sm->w;
	const struct fs_params *p = sm->p;
	struct fs_page pg;
	struct jbuf b = { 0 };
	float ctx[FS_NCTX];
	char rid[64];
	int64_t t = s->t, gap, ct;
	int ncand, k, i, nctx;
	const char *uid = w->users[s->user].id;

	nctx = fs_context(w, s, ctx);
	ncand = fs_recall(w, p, s, sm->seed, sm->ncand, cand);
	k = sm->k < ncand ? sm->k : ncand;
	if (k == 0)
		return 0;
	snprintf(rid, sizeof rid, "r%llu-%llu-%d", (unsigned long long)sm->seed, (unsigned long long)s->n,
	    s->page);
	if (fs_policy_rank(sm->pol, w, p, s, rid, ctx, nctx, cand, ncand, k, sm->seed, shown, prop) < 0)
		return -1;
	if (fs_policy_version(sm->pol) != sm->version) {	/* a hot swap, for the learning curve */
		if (sm->version >= 0)
			json_array_append_new(sm->swaps, json_pack("{sIsI}", "session", (json_int_t)s->n,
			    "version", (json_int_t)fs_policy_version(sm->pol)));
		sm->version = fs_policy_version(sm->pol);
	}
	fs_page_play(w, p, s, shown, k, sm->seed, &pg);
	gap = 3000 + (int64_t)expo(fs_key_u01(sm->seed, s->n, (uint64_t)s->page, 0, TAG_GAP), p->page_gap * 1000);
	if (gap > 90000)
		gap = 90000;

	pend_flush(sm, t);
	if (sm->out != NULL) {
		jbuf_printf(&b, "{\"type\":\"impression\",\"ts\":%lld,\"request_id\":\"%s\",\"user_id\":\"%s\","
		    "\"session_id\":\"s%llu-%llu\",\"page\":%d,\"context\":", (long long)t, rid, uid,
		    (unsigned long long)sm->seed, (unsigned long long)s->n, s->page - 1);
		jbuf_floats(&b, ctx, (size_t)nctx);
		jbuf_printf(&b, ",\"policy\":\"%s\",\"items\":[", fs_policy_name(sm->pol));
		for (i = 0; i < k; i++) {
			jbuf_printf(&b, "%s{\"item_id\":\"%s\",\"pos\":%d,\"propensity\":%.6g,\"features\":",
			    i ? "," : "", w->items[shown[i]].id, i, prop[i]);
			jbuf_floats(&b, w->feat + (size_t)shown[i] * (size_t)w->nfeat, (size_t)w->nfeat);
			jbuf_put(&b, "}", 1);
		}
		jbuf_put(&b, "]}", 2);
		emit(sm, s->user, b.p, b.len);
		for (i = 0; i < k; i++) {
			if (!pg.click[i])
				continue;
			/* The user reads top-down: clicks come in page order, so hist is in click order. */
			ct = t + 1000 + (int64_t)((i + fs_key_u01(sm->seed, s->n, (uint64_t)s->page, (uint64_t)shown[i],
			    TAG_CLICKT)) / k * (double)(gap - 2000));
			b.len = 0;
			jbuf_printf(&b, "{\"type\":\"click\",\"ts\":%lld,\"request_id\":\"%s\",\"user_id\":\"%s\","
			    "\"item_id\":\"%s\"}", (long long)ct, rid, uid, w->items[shown[i]].id);
			pend_push(sm, ct, s->user, &b);
			if (!pg.pay[i])
				continue;
			ct += 20000 + (int64_t)expo(fs_key_u01(sm->seed, s->n, (uint64_t)s->page,
			    (uint64_t)shown[i], TAG_PAYT), p->pay_delay * 1000);
			b.len = 0;
			jbuf_printf(&b, "{\"type\":\"pay\",\"ts\":%lld,\"request_id\":\"%s\",\"user_id\":\"%s\","
			    "\"item_id\":\"%s\",\"amount\":%.2f}", (long long)ct, rid, uid, w->items[shown[i]].id,
			    (double)w->items[shown[i]].price);
			pend_push(sm, ct, s->user, &b);
			if (ct > sm->tmax)
				sm->tmax = ct;
		}
	}
	for (i = 0; i < k; i++)
		if (pg.pay[i])
			sm->amount += w->items[shown[i]].price;
	jbuf_free(&b);
	sm->pages++;
	sm->impressions += (uint64_t)k;
	if (t + gap > sm->tmax)
		sm->tmax = t + gap;
	if (!pg.turn)
		return 0;
	s->t = t + gap;
	return 1;
}

static void
session_end(struct sim *sm, struct fs_session *s)
{
	double d = s->ret - sm->ret_mean;

	sm->nret++;
	sm->ret_mean += d / (double)sm->nret;
	sm->ret_m2 += d * (s->ret - sm->ret_mean);
	if (sm->curve > 0) {
		sm->blk_sum[s->n / (uint64_t)sm->curve] += s->ret;
		sm->blk_n[s->n / (uint64_t)sm->curve]++;
		sm->blk_sq[s->n / (uint64_t)sm->curve] += s->ret * s->ret;
	}
	sm->sessions++;
	sm->clicks += (uint64_t)s->clicks;
	sm->pays += (uint64_t)s->pays;
	sm->sweet += (uint64_t)s->sweet_clicks;
	fs_session_free(s);
}

static int
parse_u64(const char *s, unsigned long long *out)
{
	char *end;

	if (*s == '-' || *s == '\0')
		return -1;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

static void
list_params(void)
{
	size_t i;

	for (i = 0; i < fs_param_count; i++)
		printf("%-16s %-8g %s\n", fs_param_table[i].name, fs_param_table[i].def, fs_param_table[i].doc);
}

/*
 * Whether the report could be written at the end: path not a directory, and
 * its directory one this process may write. 0, or -1 after a diagnostic.
 */
static int
report_check(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash == NULL ? xstrdup(".") : slash == path ? xstrdup("/") :
	    xstrndup(path, (size_t)(slash - path));
	struct stat sb;
	int rc = 0;

	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		diag_warn("%s: cannot write the report: a directory", path);
		rc = -1;
	} else if (stat(dir, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
		diag_warn("%s: cannot write the report: %s is not a directory", path, dir);
		rc = -1;
	} else if (stat(dir, &sb) != 0 || access(dir, W_OK | X_OK) != 0) {
		diag_warn("%s: cannot write the report: %s:", path, dir);
		rc = -1;
	}
	free(dir);
	return rc;
}

/* Writes the JSON report and the summary line; returns 0 or -1. */
static int
report(struct sim *sm, const char *path, const char *world, const char *userset, unsigned long long wseed,
    unsigned long long nsess, long curve, int64_t start)
{
	double mean = sm->ret_mean, var, half, ppp, ctr, payr;
	json_t *o, *c, *pa;
	uint64_t n = sm->nret, i;
	size_t q;
	int rc = 0;

	var = n > 1 ? sm->ret_m2 / (double)(n - 1) : 0;
	half = n ? 1.96 * sqrt(var / (double)n) : 0;
	ppp = n ? (double)sm->pages / (double)n : 0;
	ctr = sm->impressions ? (double)sm->clicks / (double)sm->impressions : 0;
	payr = sm->clicks ? (double)sm->pays / (double)sm->clicks : 0;
	diag_info(1, "%s: %llu sessions, %.2f pages/session, CTR %.4f, pays/click %.3f, return %.3f +- %.3f (95%% CI)",
	    fs_policy_name(sm->pol), (unsigned long long)n, ppp, ctr, payr, mean, half);
	if (path == NULL)
		return 0;
	o = json_object();
	json_object_set_new(o, "policy", json_string(fs_policy_name(sm->pol)));
	if (fs_policy_version(sm->pol) >= 0)
		json_object_set_new(o, "model_version", json_integer(fs_policy_version(sm->pol)));
	json_object_set_new(o, "world", json_string(world));
	json_object_set_new(o, "items", json_integer(sm->w->nitem));
	json_object_set_new(o, "users", json_integer(sm->w->nuser));
	json_object_set_new(o, "user_set", json_string(userset));
	json_object_set_new(o, "world_seed", json_integer((json_int_t)wseed));
	json_object_set_new(o, "seed", json_integer((json_int_t)sm->seed));
	json_object_set_new(o, "k", json_integer(sm->k));
	json_object_set_new(o, "sessions", json_integer((json_int_t)n));
	json_object_set_new(o, "pages", json_integer((json_int_t)sm->pages));
	json_object_set_new(o, "pages_per_session", json_real(ppp));
	json_object_set_new(o, "impressions", json_integer((json_int_t)sm->impressions));
	json_object_set_new(o, "clicks", json_integer((json_int_t)sm->clicks));
	json_object_set_new(o, "pays", json_integer((json_int_t)sm->pays));
	json_object_set_new(o, "ctr", json_real(ctr));
	json_object_set_new(o, "pay_rate", json_real(payr));
	json_object_set_new(o, "amount", json_real(sm->amount));
	json_object_set_new(o, "sweet_click_share", json_real(sm->clicks ? (double)sm->sweet / (double)sm->clicks : 0));
	json_object_set_new(o, "w_click", json_real(sm->p->w_click));
	json_object_set_new(o, "w_pay", json_real(sm->p->w_pay));
	json_object_set_new(o, "return_mean", json_real(mean));
	json_object_set_new(o, "return_sd", json_real(sqrt(var)));
	json_object_set_new(o, "return_ci95", json_pack("[ff]", mean - half, mean + half));
	json_object_set_new(o, "events", json_integer((json_int_t)sm->events));
	json_object_set_new(o, "start_ms", json_integer(start));
	json_object_set_new(o, "end_ms", json_integer(sm->tmax));
	c = json_array();
	for (i = 0; curve > 0 && i < (nsess + (uint64_t)curve - 1) / (uint64_t)curve; i++)
		if (sm->blk_n[i] > 0)
			json_array_append_new(c, json_real(sm->blk_sum[i] / (double)sm->blk_n[i]));
	json_object_set_new(o, "curve_block", json_integer(curve));
	json_object_set_new(o, "curve", c);
	/* Each block's 95% interval half-width (normal approximation; 0 for a block of one session). */
	c = json_array();
	for (i = 0; curve > 0 && i < (nsess + (uint64_t)curve - 1) / (uint64_t)curve; i++)
		if (sm->blk_n[i] > 0) {
			double bn = (double)sm->blk_n[i], bm = sm->blk_sum[i] / bn;
			double bv = bn > 1 ? (sm->blk_sq[i] - bn * bm * bm) / (bn - 1) : 0;

			json_array_append_new(c, json_real(bn > 1 && bv > 0 ? 1.96 * sqrt(bv / bn) : 0));
		}
	json_object_set_new(o, "curve_ci95", c);
	json_object_set(o, "swaps", sm->swaps);
	pa = json_object();
	for (q = 0; q < fs_param_count; q++)
		json_object_set_new(pa, fs_param_table[q].name,
		    json_real(*(const double *)((const char *)sm->p + fs_param_table[q].offset)));
	json_object_set_new(o, "params", pa);
	if (json_dump_file(o, path, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) < 0) {
		diag_warn("%s: cannot write the report", path);
		rc = -1;
	}
	json_decref(o);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct fs_params par;
	struct tool_opts topts = { 0 };
	struct sim sm;
	struct fs_world *w = NULL;
	struct fs_policy *pol = NULL;
	const char *reportpath = NULL, *cmd = NULL, *url = NULL, *ratings = NULL, *movies = NULL;
	const char *reqpath = NULL;
	FILE *reqlog = NULL;
	const char *pname = "popular", *exspec = NULL, *userset = "all";
	unsigned long long wseed = 1, seed = 1, nsess = 1000, n;
	long nusers = 1000, nitems = -1, k = 10, curve = 1000, lv, histlen = 20;
	int no_events = 0, li, ch, status = 0, *uset = NULL, nset = 0, i, r;
	int *cand = NULL, *shown = NULL;
	double *prop = NULL, rate = 0, exparam = 0, t_arr, pwait = 10, pv;
	enum fs_policy_kind kind = FS_POPULAR;
	enum fs_explore ex = FS_EXPLORE_NONE;
	int64_t start = 1732320000000LL;	/* 2024-11-23T00:00:00Z */
	char *end;

	diag_init(argv[0]);
	fs_params_default(&par);
	while ((li = -1, ch = getopt_long(argc, argv, TOOL_SHORTOPTS "c:e:hk:n:P:p:r:s:U:u:", longopts, &li)) != -1) {
		if (ch < 0x80 && strchr("bFoqVvX", ch) != NULL) {
			if (tool_opts_handle(&topts, ch, optarg) < 0)
				usage(2);
			continue;
		}
		switch (ch) {
		case 'c':
			cmd = optarg;
			break;
		case 'e':
			exspec = optarg;
			break;
		case 'k':
			if (tool_opt_count("--top-k", optarg, 1, FS_KMAX, &k) != 0)
				exit(2);
			break;
		case 'n':
			if (tool_opt_count("--sessions", optarg, 0, 1000000000000L, &lv) != 0)
				exit(2);
			nsess = (unsigned long long)lv;
			break;
		case 'P':
			if (fs_params_set(&par, optarg) < 0)
				exit(2);
			break;
		case 'p':
			pname = optarg;
			break;
		case 'r':
			reportpath = optarg;
			break;
		case 's':
			if (parse_u64(optarg, &seed) < 0) {
				tool_opt_bad("--seed", optarg, "a seed between 0 and %llu", ULLONG_MAX);
				exit(2);
			}
			break;
		case OPT_WORLD_SEED:
			if (parse_u64(optarg, &wseed) < 0) {
				tool_opt_bad("--world-seed", optarg, "a seed between 0 and %llu", ULLONG_MAX);
				exit(2);
			}
			break;
		case 'U':
			url = optarg;
			break;
		case 'u':
			if (tool_opt_count("--users", optarg, 1, 10000000, &nusers) != 0)
				exit(2);
			break;
		case OPT_ITEMS:
			if (tool_opt_count("--items", optarg, 1, 10000000, &nitems) != 0)
				exit(2);
			break;
		case OPT_RATINGS:
			ratings = optarg;
			break;
		case OPT_MOVIES:
			movies = optarg;
			break;
		case OPT_RATE:
			if (parse_double(optarg, 0, INFINITY, &rate) != 0 || rate == 0) {
				tool_opt_bad("--rate", optarg, "a number of events per second above 0");
				exit(2);
			}
			break;
		case OPT_START:
			if (parse_rfc3339_ms(optarg, &start) < 0) {
				errno = 0;
				start = strtoll(optarg, &end, 10);
				if (errno != 0 || end == optarg || *end != '\0' || start < 0) {
					tool_opt_bad("--start", optarg, "ms since the epoch or an RFC 3339 time");
					exit(2);
				}
			}
			break;
		case OPT_USER_SET:
			if (strcmp(optarg, "all") != 0 && strcmp(optarg, "train") != 0 && strcmp(optarg, "heldout") != 0) {
				tool_opt_bad("--user-set", optarg, "one of all, train or heldout");
				exit(2);
			}
			userset = optarg;
			break;
		case OPT_EVENTS:
		case OPT_NO_EVENTS:
			no_events = ch == OPT_NO_EVENTS;
			break;
		case OPT_CURVE:
			if (tool_opt_count("--curve", optarg, 0, 100000000, &curve) != 0)
				exit(2);
			break;
		case OPT_CANDIDATES:
			if (tool_opt_count("--candidates", optarg, 1, 1000000, &lv) != 0)
				exit(2);
			par.candidates = (double)lv;
			break;
		case OPT_POLICY_WAIT:
			if (tool_opt_real("--policy-wait", optarg, 0, 86400, &pwait) != 0)
				exit(2);
			break;
		case OPT_W_CLICK:
		case OPT_W_PAY:
			if (tool_opt_real(ch == OPT_W_CLICK ? "--w-click" : "--w-pay", optarg, -INFINITY, INFINITY, &pv) != 0)
				exit(2);
			*(ch == OPT_W_CLICK ? &par.w_click : &par.w_pay) = pv;
			break;
		case OPT_HIST_LEN:
			if (tool_opt_count("--history-len", optarg, 0, 10000, &histlen) != 0)
				exit(2);
			break;
		case OPT_REQUESTS:
			reqpath = optarg;
			break;
		case OPT_LIST_PARAMS:
			list_params();
			return 0;	/* standard output is checked at exit */
		case 'h':
			usage(0);
		default:
			if (ch == 'i' || ch == 'G' || (ch >= OPT_DEAD_LETTER && ch < TOOL_OPT_FIRST))
				diag_warn("%s%s: not an option of feed-sim, which reads no stream",
				    li >= 0 ? "--" : "-", li >= 0 ? longopts[li].name : (char[]){ (char)ch, '\0' });
			usage(2);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 0)
		usage(2);
	if ((cmd != NULL) + (url != NULL) > 1)
		diag_fatal(2, "--policy-cmd and --policy-url exclude each other");
	if ((ratings == NULL) != (movies == NULL))
		diag_fatal(2, "--ratings and --movies go together");
	if (strcmp(pname, "random") == 0)
		kind = FS_RANDOM;
	else if (strcmp(pname, "popular") == 0)
		kind = FS_POPULAR;
	else if (strcmp(pname, "greedy-oracle") == 0)
		kind = FS_GREEDY;
	else if (strcmp(pname, "lt-oracle") == 0)
		kind = FS_LT;
	else {
		tool_opt_bad("--policy", pname, "one of random, popular, greedy-oracle or lt-oracle");
		exit(2);
	}
	if (exspec != NULL) {
		if (strncmp(exspec, "epsilon:", 8) == 0) {
			ex = FS_EXPLORE_EPSILON;
			exparam = strtod(exspec + 8, &end);
			if (*end != '\0' || end == exspec + 8 || !(exparam >= 0 && exparam <= 1)) {
				tool_opt_bad("--explore", exspec, "epsilon:E with E between 0 and 1");
				exit(2);
			}
		} else if (strncmp(exspec, "softmax:", 8) == 0) {
			ex = FS_EXPLORE_SOFTMAX;
			exparam = strtod(exspec + 8, &end);
			if (*end != '\0' || end == exspec + 8 || !(exparam > 0 && isfinite(exparam))) {
				tool_opt_bad("--explore", exspec, "softmax:T with T above 0");
				exit(2);
			}
		} else {
			tool_opt_bad("--explore", exspec, "epsilon:E or softmax:T");
			exit(2);
		}
	}
	if (curve > 0 && nsess / (unsigned long long)curve > 10000000ULL)
		diag_fatal(2, "--curve %ld: more than 10000000 blocks of sessions", curve);
	if (par.candidates < 1 || par.candidates > 1000000)
		diag_fatal(2, "--param candidates: want 1..1000000");

	/* A report that could not be written is said now, not after the sessions. */
	if (reportpath != NULL && report_check(reportpath) != 0)
		exit(1);
	if (ratings != NULL)
		w = fs_world_movielens(&par, ratings, movies, nitems > 0 ? (int)nitems : 0, wseed);
	else
		w = fs_world_synth(&par, nitems > 0 ? (int)nitems : 2000, (int)nusers, wseed);
	if (w == NULL)
		exit(ratings != NULL ? 1 : 2);
	uset = xmalloc((size_t)w->nuser * sizeof *uset);
	for (i = 0; i < w->nuser; i++)
		if (strcmp(userset, "all") == 0 || (strcmp(userset, "heldout") == 0) == w->users[i].heldout)
			uset[nset++] = i;
	if (nset == 0)
		diag_fatal(1, "--user-set %s: no such users (see --param holdout)", userset);

	sig_install();
	if (cmd != NULL)
		pol = fs_policy_cmd(cmd);
	else if (url != NULL)
		pol = fs_policy_url(url, pwait);
	else
		pol = fs_policy_builtin(kind, ex, exparam);
	if (pol == NULL)
		exit(url != NULL ? 2 : 1);
	fs_policy_set_hist_len(pol, (int)histlen);
	if (reqpath != NULL) {
		if ((reqlog = fopen(reqpath, "w")) == NULL)
			diag_fatal(1, "%s:", reqpath);
		fs_policy_set_requests(pol, reqlog);
	}

	memset(&sm, 0, sizeof sm);
	sm.w = w;
	sm.p = &par;
	heap_init(&sm.act, act_before, NULL);
	sm.pol = pol;
	sm.seed = seed;
	sm.k = (int)k;
	sm.ncand = (int)par.candidates;
	sm.rate = rate;
	sm.tmax = start;
	clock_gettime(CLOCK_MONOTONIC, &sm.t0);
	if (!no_events && (sm.out = line_writer_open(topts.output != NULL ? topts.output : "-", &topts.kafka)) == NULL)
		exit(1);
	sm.curve = curve;
	sm.version = -1;
	sm.swaps = json_array();
	if (curve > 0) {
		size_t nblk = (size_t)((nsess + (unsigned long long)curve - 1) / (unsigned long long)curve) + 1;

		sm.blk_sum = xcalloc(nblk, sizeof *sm.blk_sum);
		sm.blk_n = xcalloc(nblk, sizeof *sm.blk_n);
		sm.blk_sq = xcalloc(nblk, sizeof *sm.blk_sq);
	}
	cand = xmalloc((size_t)sm.ncand * sizeof *cand);
	shown = xmalloc((size_t)FS_KMAX * sizeof *shown);
	prop = xmalloc((size_t)FS_KMAX * sizeof *prop);

	/* The event loop: session arrivals and pages in simulated time order. */
	n = 0;
	t_arr = (double)start;
	while (!sig_stop && !sm.failed && (n < nsess || sm.act.n > 0)) {
		struct fs_session *s;

		if (n < nsess && (sm.act.n == 0 || (int64_t)t_arr <= ((struct fs_session *)heap_top(&sm.act))->t)) {
			int user = uset[(int)(fs_key_u01(seed, n, 0, 0, TAG_USER) * nset) % nset];

			heap_push(&sm.act, fs_session_new(w, &par, n, user, (int64_t)t_arr, seed));
			n++;
			t_arr += expo(fs_key_u01(seed, n, 0, 0, TAG_ARRIVAL), par.arrival_gap * 1000);
			continue;
		}
		s = heap_pop(&sm.act);
		r = play_page(&sm, s, cand, shown, prop);
		if (r < 0) {
			status = sig_stop ? 0 : 1;	/* an interrupt may have ended the policy too */
			fs_session_free(s);
			break;
		}
		if (r > 0)
			heap_push(&sm.act, s);
		else
			session_end(&sm, s);
		if (diag_verbosity >= 2 && r == 0 && sm.sessions % 1000 == 0)
			diag_info(2, "%llu sessions", (unsigned long long)sm.sessions);
	}
	while (sm.act.n > 0)
		fs_session_free(heap_pop(&sm.act));
	pend_flush(&sm, INT64_MAX);
	if (sm.out != NULL && line_writer_close(sm.out) != 0)
		status = 1;
	if (sm.failed)
		status = 1;
	if (report(&sm, reportpath, ratings ? "movielens" : "synthetic", userset, wseed, nsess, curve, start) < 0)
		status = 1;
	if (fs_policy_free(pol) < 0)
		status = 1;
	if (reqlog != NULL && (ferror(reqlog) | fclose(reqlog)) != 0) {
		diag_warn("%s:", reqpath);
		status = 1;
	}
	free(sm.pend);
	heap_free(&sm.act);
	free(sm.blk_sum);
	free(sm.blk_n);
	free(sm.blk_sq);
	json_decref(sm.swaps);
	free(cand);
	free(shown);
	free(prop);
	free(uset);
	fs_world_free(w);
	tool_opts_free(&topts);
	return status;
}
