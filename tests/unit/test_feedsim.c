/* test_feedsim.c: unit tests of feed-sim's world, behaviour rules one by one, oracles, policies and HTTP client. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "check.h"
#include "../../tools/feed-sim/world.c"
#include "../../tools/feed-sim/behave.c"
#include "../../tools/feed-sim/policy.c"

/* A world of nitem items, all of category 0 unless said otherwise, no noise in behaviour parameters. */
static struct fs_world *
tiny_world(struct fs_params *p, int nitem, int nuser)
{
	fs_params_default(p);
	p->categories = 4;
	return fs_world_synth(p, nitem, nuser, 7);
}

static void
test_determinism(void)
{
	struct fs_params p;
	struct fs_world *a, *b, *c, *d;
	int i, same = 1, differ = 0;

	fs_params_default(&p);
	a = fs_world_synth(&p, 300, 50, 42);
	b = fs_world_synth(&p, 300, 50, 42);
	c = fs_world_synth(&p, 300, 50, 43);
	for (i = 0; i < 300; i++) {
		same &= memcmp(&a->items[i], &b->items[i], sizeof a->items[i]) == 0;
		differ |= memcmp(&a->items[i], &c->items[i], sizeof a->items[i]) != 0;
	}
	same &= memcmp(a->feat, b->feat, (size_t)a->nitem * (size_t)a->nfeat * sizeof *a->feat) == 0;
	CHECK(same, "same seed, same world");
	CHECK(differ, "another seed, another world");
	CHECK(a->nfeat == 2 + 10 + 2 + 8, "features: price, popularity, 10 categories, 2 projections, the latent vector (%d)",
	    a->nfeat);
	for (i = 0, same = 1; i < 300; i++)
		same &= memcmp(a->feat + (size_t)i * (size_t)a->nfeat + 14, a->items[i].v, 8 * sizeof(float)) == 0;
	CHECK(same, "the features end with each item's latent vector");
	p.content = 0;
	d = fs_world_synth(&p, 300, 50, 42);
	for (i = 0, same = d->nfeat == 14; same && i < 300; i++)
		same &= memcmp(d->feat + (size_t)i * 14, a->feat + (size_t)i * (size_t)a->nfeat, 14 * sizeof(float)) == 0;
	CHECK(same, "content 0: the same first 14 features, no latent vector");
	fs_world_free(d);
	CHECK(fs_world_item(a, "i17") == 17 && fs_world_item(a, "i300") == -1 && fs_world_item(a, "x1") == -1,
	    "item ids");
	fs_world_free(a);
	fs_world_free(b);
	fs_world_free(c);
}

static void
test_keyed_rng(void)
{
	double s = 0, u, lo = 1, hi = 0;
	int i;

	for (i = 0; i < 20000; i++) {
		u = fs_key_u01(1, (uint64_t)i, 2, 3, 4);
		s += u;
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
	}
	CHECK(lo > 0 && hi < 1 && fabs(s / 20000 - 0.5) < 0.01, "keyed uniforms in (0,1), mean %g", s / 20000);
	CHECK(fs_key_u01(1, 2, 3, 4, 5) == fs_key_u01(1, 2, 3, 4, 5), "keyed uniform repeats");
	CHECK(fs_key_u01(1, 2, 3, 4, 5) != fs_key_u01(1, 2, 3, 4, 6), "tags separate streams");
}

static void
test_position_bias(void)
{
	struct fs_params p;
	struct fs_world *w = tiny_world(&p, 50, 5);
	struct fs_session *s = fs_session_new(w, &p, 0, 0, 0, 1);
	double prev = 2, pc;
	int pos, down = 1;

	for (pos = 0; pos < 10; pos++) {
		pc = fs_click_prob(w, &p, s, 3, pos, NULL);
		down &= pc < prev;
		prev = pc;
	}
	CHECK(down, "click probability falls with position");
	CHECK(fabs(fs_click_prob(w, &p, s, 3, 3, NULL) / fs_click_prob(w, &p, s, 3, 0, NULL) -
	    pow(4, -p.pos_decay)) < 1e-9, "position bias is (1+pos)^-pos_decay");
	fs_session_free(s);
	fs_world_free(w);
}

/* drift: each category's click logit swings by drift·sin(2π·days/drift_days + phase); 0 leaves the world still. */
static void
test_drift(void)
{
	struct fs_params p;
	struct fs_world *w = tiny_world(&p, 200, 5);
	int64_t day = 86400000, t0 = 20000 * day;
	struct fs_session *a, *b, *c, *d;
	double worst_half = 0, worst_still = 0, worst_formula = 0, spread = 0;
	int j;

	a = fs_session_new(w, &p, 0, 0, t0, 1);
	b = fs_session_new(w, &p, 0, 0, t0 + 2 * day, 1);
	for (j = 0; j < w->nitem; j++)
		worst_still = fmax(worst_still, fabs(fs_click_base(w, &p, a, j) - fs_click_base(w, &p, b, j)));
	CHECK(worst_still == 0, "drift 0: the click logits do not move with time (%g)", worst_still);
	fs_session_free(a);
	fs_session_free(b);

	p.drift = 1.5;
	p.drift_days = 4;
	/* the same session at t0 and half a period later: every category's trend turns its sign */
	c = fs_session_new(w, &p, 0, 0, t0, 1);
	d = fs_session_new(w, &p, 0, 0, t0 + 2 * day, 1);
	for (j = 0; j < w->nitem; j++) {
		int k = w->items[j].cat;
		double dz = fs_click_base(w, &p, c, j) - fs_click_base(w, &p, d, j);
		double want = 2 * 1.5 * sin(2 * M_PI * 20000.0 / 4 + w->drift_phase[k]);
		worst_half = fmax(worst_half, fabs(dz - 2 * c->trend[k]));
		worst_formula = fmax(worst_formula, fabs(dz - want));
	}
	for (j = 0; j < w->ncat; j++)
		spread = fmax(spread, fabs(c->trend[j] - c->trend[0]));
	CHECK(worst_half < 1e-5, "half a period later each category's trend has turned its sign (%g)", worst_half);
	CHECK(worst_formula < 1e-4, "the trend is drift * sin(2 pi days / drift_days + phase) (%g)", worst_formula);
	CHECK(spread > 0.5, "the categories swing in phases of their own (spread %g)", spread);
	fs_session_free(c);
	fs_session_free(d);
	fs_world_free(w);
}

static void
test_fatigue(void)
{
	struct fs_params p;
	struct fs_world *w = tiny_world(&p, 200, 5);
	struct fs_session *s = fs_session_new(w, &p, 0, 0, 0, 1);
	struct fs_page pg;
	int pagecat[FS_CMAX] = { 0 }, items[10], n = 0, j, c, other = -1;
	double before, after, other_before;

	c = w->items[0].cat;
	for (j = 0; j < w->nitem && n < 10; j++)
		if (w->items[j].cat == c && j != 0)
			items[n++] = j;
		else if (w->items[j].cat != c && other < 0)
			other = j;
	before = fs_click_prob(w, &p, s, 0, 0, NULL);
	pagecat[c] = 3;
	CHECK(fs_click_prob(w, &p, s, 0, 0, pagecat) < before, "same category above on the page lowers clicks");
	other_before = fs_click_prob(w, &p, s, other, 0, NULL);
	p.sat_effect = 0;
	p.intent_shift = 0;
	fs_page_play(w, &p, s, items, n, 1, &pg);
	after = fs_click_prob(w, &p, s, 0, 0, NULL);
	CHECK(after < before, "a page of one category lowers its clicks on the next page (%g < %g)", after, before);
	CHECK(fabs(fs_click_prob(w, &p, s, other, 0, NULL) - other_before) < 1e-12, "other categories unaffected");
	CHECK(fabs(s->fat[c] - n * p.fatigue_decay) < 1e-5, "exposure %g = shown x decay", s->fat[c]);
	fs_session_free(s);
	fs_world_free(w);
}

static void
test_intent_shift(void)
{
	struct fs_params p;
	struct fs_world *w = tiny_world(&p, 200, 5);
	struct fs_session *s;
	struct fs_page pg;
	double before, after;
	int item = 5;

	p.click_bias = 30;	/* every shown item is clicked */
	p.pos_decay = 0;
	s = fs_session_new(w, &p, 0, 0, 0, 1);
	before = vdot(s->z, w->items[item].v, w->dim);
	fs_page_play(w, &p, s, &item, 1, 1, &pg);
	after = vdot(s->z, w->items[item].v, w->dim);
	CHECK(pg.nclick == 1, "the item was clicked");
	CHECK(after > before, "a click moves the intent toward the item (%g > %g)", after, before);
	CHECK(s->nhist == 1 && s->hist[0] == item, "the click enters the history");
	fs_session_free(s);
	p.intent_shift = 0;
	s = fs_session_new(w, &p, 0, 0, 0, 1);
	fs_page_play(w, &p, s, &item, 1, 1, &pg);
	CHECK(fabs(vdot(s->z, w->items[item].v, w->dim) - before) < 1e-6, "intent_shift=0 keeps the intent");
	fs_session_free(s);
	fs_world_free(w);
}

/* The turn probability after one page of items[0..k) under p. */
static double
turn_after(struct fs_world *w, struct fs_params *p, const int *items, int k, int *nclick, float *sat)
{
	struct fs_session *s = fs_session_new(w, p, 0, 0, 0, 1);
	struct fs_page pg;

	fs_page_play(w, p, s, items, k, 1, &pg);
	*nclick = pg.nclick;
	*sat = s->sat;
	fs_session_free(s);
	return pg.turn_p;
}

static void
test_leaving(void)
{
	struct fs_params p;
	struct fs_world *w = tiny_world(&p, 300, 5);
	int sweets[5], veg[5], ns = 0, nv = 0, j, all[5] = { 0, 1, 2, 3, 4 }, n1, n2;
	float s1, s2;
	double t1, t2;

	for (j = 0; j < w->nitem; j++) {
		if (w->items[j].effect < -0.5 && ns < 5)
			sweets[ns++] = j;
		if (w->items[j].effect > 0.5 && nv < 5)
			veg[nv++] = j;
	}
	CHECK(ns == 5 && nv == 5, "the world has sweets and vegetables");
	/* Page quality: the same page, clicked or not. */
	p.sat_effect = 0;
	p.pos_decay = 0;
	p.click_bias = 30;
	t1 = turn_after(w, &p, all, 5, &n1, &s1);
	p.click_bias = -30;
	t2 = turn_after(w, &p, all, 5, &n2, &s2);
	CHECK(n1 == 5 && n2 == 0 && t1 > t2, "a clicked page is turned more often (%g > %g)", t1, t2);
	/* Satisfaction: clicks on vegetables keep the user, sweets lose them. */
	fs_params_default(&p);
	p.categories = 4;
	p.click_bias = 30;
	t1 = turn_after(w, &p, veg, 5, &n1, &s1);
	t2 = turn_after(w, &p, sweets, 5, &n2, &s2);
	CHECK(s1 > 0 && s2 < 0, "vegetables raise satisfaction, sweets lower it (%g, %g)", s1, s2);
	CHECK(t1 > t2, "so the user turns the page more after vegetables (%g > %g)", t1, t2);
	/* Boredom: later pages are left more often. */
	{
		struct fs_session *s = fs_session_new(w, &p, 0, 0, 0, 1);
		struct fs_page pg;
		double first;

		p.sat_effect = 0;
		p.fatigue_decay = 0;
		fs_page_play(w, &p, s, all, 1, 1, &pg);
		first = pg.turn_p;
		s->page = 30;
		fs_page_play(w, &p, s, all + 1, 1, 1, &pg);
		CHECK(pg.turn_p < first, "boredom: page 30 is left more often (%g < %g)", pg.turn_p, first);
		fs_session_free(s);
	}
	/* Temptation: sweets are clicked more than vegetables. */
	fs_params_default(&p);
	{
		struct fs_session *s = fs_session_new(w, &p, 0, 0, 0, 1);
		double cs = 0, cv = 0;

		for (j = 0; j < 5; j++) {
			cs += w->items[sweets[j]].tempt;
			cv += w->items[veg[j]].tempt;
		}
		CHECK(cs > cv, "sweets tempt more than vegetables");
		fs_session_free(s);
	}
	fs_world_free(w);
}

static void
test_recall_and_oracles(void)
{
	struct fs_params p;
	struct fs_world *w;
	struct fs_session *s;
	struct fs_policy *pol;
	int cand[200], out[10], out2[10], n, i, dup = 0, okshown = 1;
	double prop[10], er0, best = 0, eg = 0, el = 0;

	fs_params_default(&p);
	w = fs_world_synth(&p, 500, 20, 3);
	s = fs_session_new(w, &p, 0, 0, 0, 1);
	s->shown[10] = 1;
	n = fs_recall(w, &p, s, 1, 200, cand);
	CHECK(n == 200, "recall gives 200 candidates");
	for (i = 0; i < n; i++) {
		okshown &= cand[i] != 10;
		dup += i > 0 && cand[i] == cand[i - 1];
	}
	CHECK(okshown && dup == 0, "recall skips shown items");
	fs_oracle_rank(w, &p, s, cand, n, 10, 0, out);
	er0 = fs_expected_reward(w, &p, s, out[0], 0, NULL);
	for (i = 0; i < n; i++)
		if (fs_expected_reward(w, &p, s, cand[i], 0, NULL) > best)
			best = fs_expected_reward(w, &p, s, cand[i], 0, NULL);
	CHECK(fabs(er0 - best) < 1e-12, "greedy-oracle puts the best expected reward first");
	pol = fs_policy_builtin(FS_GREEDY, FS_EXPLORE_NONE, 0);
	fs_policy_rank(pol, w, &p, s, "r", NULL, 0, cand, n, 10, 1, out2, prop);
	CHECK(memcmp(out, out2, sizeof out) == 0 && prop[0] == 1 && prop[9] == 1, "the greedy policy is the oracle");
	fs_policy_free(pol);
	fs_oracle_rank(w, &p, s, cand, n, 10, 1, out2);
	for (i = 0; i < 10; i++) {
		eg += w->items[out[i]].effect;
		el += w->items[out2[i]].effect;
	}
	CHECK(el > eg, "lt-oracle shows healthier items than greedy (%g > %g)", el / 10, eg / 10);

	pol = fs_policy_builtin(FS_RANDOM, FS_EXPLORE_NONE, 0);
	fs_policy_rank(pol, w, &p, s, "r", NULL, 0, cand, n, 10, 1, out, prop);
	CHECK(fabs(prop[0] - 1.0 / 200) < 1e-12 && fabs(prop[9] - 1.0 / 191) < 1e-12, "random propensities");
	fs_policy_free(pol);
	pol = fs_policy_builtin(FS_POPULAR, FS_EXPLORE_EPSILON, 0.5);
	{
		int sawtop = 0, sawexp = 0, t;

		for (t = 0; t < 20; t++) {
			s->page = t;
			fs_policy_rank(pol, w, &p, s, "r", NULL, 0, cand, n, 10, 1, out, prop);
			for (i = 0; i < 10; i++) {
				if (fabs(prop[i] - (0.5 + 0.5 / (200 - i))) < 1e-12)
					sawtop++;
				else if (fabs(prop[i] - 0.5 / (200 - i)) < 1e-12)
					sawexp++;
			}
		}
		CHECK(sawtop + sawexp == 200 && sawtop > 50 && sawexp > 50, "epsilon propensities (%d, %d)", sawtop, sawexp);
	}
	CHECK(strcmp(fs_policy_name(pol), "popular/epsilon:0.5") == 0, "policy name %s", fs_policy_name(pol));
	fs_policy_free(pol);
	pol = fs_policy_builtin(FS_POPULAR, FS_EXPLORE_SOFTMAX, 0.3);
	fs_policy_rank(pol, w, &p, s, "r", NULL, 0, cand, n, 10, 1, out, prop);
	{
		double z = 0;

		for (i = 0; i < n; i++)
			z += exp(w->items[cand[i]].logpop / 0.3);
		CHECK(fabs(prop[0] - exp(w->items[out[0]].logpop / 0.3) / z) < 1e-9, "softmax propensity");
	}
	fs_policy_free(pol);
	fs_session_free(s);
	fs_world_free(w);
}

/* A tiny HTTP scorer: answers each POST with the last k candidates, reversed. */
struct server {
	int lfd;
	int served;
};

static int
read_request(int fd, char *buf, size_t cap, size_t *bodyat, size_t *bodylen)
{
	size_t len = 0;
	ssize_t n;
	char *e, *cl;

	for (;;) {
		n = recv(fd, buf + len, cap - len - 1, 0);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		buf[len] = '\0';
		if ((e = strstr(buf, "\r\n\r\n")) == NULL)
			continue;
		cl = strcasestr(buf, "Content-Length:");
		if (cl == NULL)
			return -1;
		*bodyat = (size_t)(e - buf) + 4;
		*bodylen = (size_t)strtoul(cl + 15, NULL, 10);
		while (len < *bodyat + *bodylen) {
			n = recv(fd, buf + len, cap - len - 1, 0);
			if (n <= 0)
				return -1;
			len += (size_t)n;
		}
		return 0;
	}
}

static void *
serve(void *arg)
{
	struct server *sv = arg;
	static char buf[1 << 20];
	struct jbuf body = { 0 }, resp = { 0 };
	size_t at, blen, i;
	json_t *req, *cands;
	int fd = -1, k, round;

	/* Not ready at first: 503, then answers. */
	if ((fd = accept(sv->lfd, NULL, NULL)) < 0 || read_request(fd, buf, sizeof buf, &at, &blen) < 0)
		return NULL;
	{
		static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";

		send_request(fd, busy, sizeof busy - 1, "", 0);
	}
	for (round = 0; round < 4; round++) {
		if (fd < 0 && (fd = accept(sv->lfd, NULL, NULL)) < 0)
			break;
		if (read_request(fd, buf, sizeof buf, &at, &blen) < 0)
			break;
		req = json_loadb(buf + at, blen, 0, NULL);
		cands = json_object_get(req, "candidates");
		k = (int)json_integer_value(json_object_get(req, "k"));
		body.len = 0;
		jbuf_printf(&body, "{\"request_id\":\"%s\",\"model_version\":%d,\"items\":[",
		    json_string_value(json_object_get(req, "request_id")), 40 + round);
		for (i = 0; i < (size_t)k; i++)
			jbuf_printf(&body, "%s{\"item_id\":\"%s\",\"q\":%zu,\"propensity\":0.5}", i ? "," : "",
			    json_string_value(json_object_get(json_array_get(cands, json_array_size(cands) - 1 - i),
			    "item_id")), i);
		jbuf_puts(&body, "]}");
		resp.len = 0;
		if (round == 1) {	/* chunked, in two chunks */
			size_t half = body.len / 2;

			jbuf_printf(&resp, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n", half);
			jbuf_put(&resp, body.p, half);
			jbuf_printf(&resp, "\r\n%zx\r\n", body.len - half);
			jbuf_put(&resp, body.p + half, body.len - half);
			jbuf_puts(&resp, "\r\n0\r\n\r\n");
		} else {
			jbuf_printf(&resp, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n%s\r\n", body.len,
			    round == 2 ? "Connection: close\r\n" : "");
			jbuf_put(&resp, body.p, body.len);
		}
		send_request(fd, resp.p, resp.len, "", 0);
		sv->served++;
		json_decref(req);
		if (round == 2) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	jbuf_free(&body);
	jbuf_free(&resp);
	return NULL;
}

static void
test_http(void)
{
	struct fs_params p;
	struct fs_world *w;
	struct fs_session *s;
	struct fs_policy *pol;
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	struct server sv = { 0 };
	pthread_t th;
	char url[128];
	float ctx[FS_NCTX];
	int cand[50], out[5], n, round, ok = 1;
	double prop[5];

	fs_params_default(&p);
	w = fs_world_synth(&p, 100, 5, 3);
	s = fs_session_new(w, &p, 0, 0, 0, 1);
	n = fs_recall(w, &p, s, 1, 50, cand);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sv.lfd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(bind(sv.lfd, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(sv.lfd, 4) == 0, "listen");
	getsockname(sv.lfd, (struct sockaddr *)&sa, &sl);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/score", ntohs(sa.sin_port));
	pthread_create(&th, NULL, serve, &sv);
	pol = fs_policy_url(url, 5);
	CHECK(pol != NULL, "policy url parsed");
	fs_context(w, s, ctx);
	for (round = 0; round < 4; round++) {
		int rc = fs_policy_rank(pol, w, &p, s, "r9", ctx, FS_NCTX, cand, n, 5, 1, out, prop);

		ok &= rc == 0 && out[0] == cand[n - 1] && out[4] == cand[n - 5] && prop[2] == 0.5;
		ok &= fs_policy_version(pol) == 40 + round;
	}
	CHECK(ok, "HTTP: 503 waited out, content-length, chunked, keep-alive and reconnect after close");
	CHECK(strcmp(fs_policy_name(pol), "v43") == 0, "the served model version names the policy (%s)",
	    fs_policy_name(pol));
	pthread_join(th, NULL);
	CHECK(sv.served == 4, "four requests served");
	/* The server is gone: a clear failure after the wait, not a hang. */
	close(sv.lfd);
	pol->wait_ms = 300;
	CHECK(fs_policy_rank(pol, w, &p, s, "r10", ctx, FS_NCTX, cand, n, 5, 1, out, prop) < 0,
	    "a vanished server is an error");
	fs_policy_free(pol);
	CHECK(fs_policy_url("ftp://x/", 0) == NULL, "only http URLs");
	fs_session_free(s);
	fs_world_free(w);
}

static void
test_movielens(void)
{
	const char *R = "tests/data/feed-sim/ratings.csv", *M = "tests/data/feed-sim/movies.csv";
	struct fs_params p;
	struct fs_world *w;
	int i1, i2, i10, g, comedy = -1, users = 0, u;

	fs_params_default(&p);
	p.ml_min_ratings = 2;
	w = fs_world_movielens(&p, R, M, 0, 1);
	CHECK(w != NULL, "the MovieLens fixture loads");
	if (w == NULL)
		return;
	CHECK(w->nitem == 4 && w->nuser == 7, "movies with 2+ ratings, every rater (%d items, %d users)", w->nitem, w->nuser);
	CHECK(w->ncat == 10 && w->nfeat == 2 + 10 + 2 + 8, "10 genres of the kept movies (%d), features %d", w->ncat, w->nfeat);
	i1 = fs_world_item(w, "i1");
	i2 = fs_world_item(w, "i2");
	i10 = fs_world_item(w, "i10");
	CHECK(i1 >= 0 && i2 >= 0 && i10 >= 0 && fs_world_item(w, "i5") < 0 && fs_world_item(w, "i11") < 0,
	    "ids are movie ids; rare movies are left out");
	if (i1 < 0 || i2 < 0 || i10 < 0)
		goto out;
	CHECK(w->items[i1].effect > 0 && w->items[i10].effect < 0, "well rated movies are vegetables, badly rated sweets (%g, %g)",
	    w->items[i1].effect, w->items[i10].effect);
	CHECK(fabs(w->items[i1].logpop - log(8.0)) < 1e-5, "popularity is the count of ratings");
	CHECK(strcmp(w->catname[w->items[i2].cat], "Drama") == 0, "the category is the rarest genre (%s)",
	    w->catname[w->items[i2].cat]);
	for (g = 0; g < w->ncat; g++)
		if (strcmp(w->catname[g], "Comedy") == 0)
			comedy = g;
	CHECK(comedy >= 0 && w->feat[(size_t)i2 * (size_t)w->nfeat + 2 + (size_t)comedy] == 1, "features carry every genre");
	CHECK(w->items[i2].price > 5.1 && w->items[i2].price < 5.7, "a quoted title's year sets the price (%g)",
	    (double)w->items[i2].price);
	for (u = 0; u < w->nuser; u++)
		users += strcmp(w->users[u].id, "u7") == 0 || strcmp(w->users[u].id, "u1") == 0;
	CHECK(users == 2, "user ids are rater ids");
out:
	fs_world_free(w);
	w = fs_world_movielens(&p, R, M, 2, 1);
	CHECK(w != NULL && w->nitem == 2 && fs_world_item(w, "i1") == 0, "--items keeps the most rated");
	fs_world_free(w);
	diag_verbosity = 0;
	CHECK(fs_world_movielens(&p, "tests/data/feed-sim/nonexistent.csv", M, 0, 1) == NULL, "a missing file fails");
	p.ml_min_ratings = 100;
	CHECK(fs_world_movielens(&p, R, M, 0, 1) == NULL, "no movie with enough ratings fails");
	diag_verbosity = 1;
}

static void
test_params(void)
{
	struct fs_params p;

	fs_params_default(&p);
	CHECK(p.w_click == 1 && p.w_pay == 1, "reward weights default to 1 and 1");
	CHECK(fs_params_set(&p, "fatigue=0.75") == 0 && p.fatigue == 0.75, "set a parameter");
	diag_verbosity = 0;
	CHECK(fs_params_set(&p, "nosuch=1") < 0, "unknown parameter refused");
	CHECK(fs_params_set(&p, "fatigue=abc") < 0, "non-number refused");
	CHECK(fs_params_set(&p, "fatigue") < 0, "missing value refused");
	fs_params_default(&p);
	p.drift_days = 0;
	CHECK(fs_world_synth(&p, 100, 5, 1) == NULL, "drift_days 0 refused");
	diag_verbosity = 1;
}

int
main(void)
{
	test_determinism();
	test_keyed_rng();
	test_position_bias();
	test_drift();
	test_fatigue();
	test_intent_shift();
	test_leaving();
	test_recall_and_oracles();
	test_http();
	test_movielens();
	test_params();
	return check_done();
}
