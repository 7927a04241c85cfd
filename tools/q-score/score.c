/* score.c: q-score's request path — parse a score request, gather its history, score every candidate by Q, rank, answer. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "qscore.h"
#include "xalloc.h"

#define HIST_MAX 1024		/* longest "hist" accepted (only the model's last L are used) */

/* ---- output buffer ---- */

void
qs_buf_reserve(struct qs_buf *b, size_t more)
{
	size_t cap;

	if (b->len + more + 1 <= b->cap)
		return;
	for (cap = b->cap ? b->cap : 256; cap < b->len + more + 1; cap *= 2)
		;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

void
qs_buf_add(struct qs_buf *b, const char *s, size_t n)
{
	qs_buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
qs_buf_str(struct qs_buf *b, const char *s)
{
	qs_buf_add(b, s, strlen(s));
}

void
qs_buf_json_str(struct qs_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	char *o;

	qs_buf_reserve(b, 6 * n + 2);
	o = b->p + b->len;
	*o++ = '"';
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			*o++ = '\\';
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		} else
			*o++ = (char)c;
	}
	*o++ = '"';
	*o = '\0';
	b->len = (size_t)(o - b->p);
}

void
qs_buf_printf(struct qs_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	qs_buf_reserve(b, 64);
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		qs_buf_reserve(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

void
qs_buf_free(struct qs_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* Appends v with 7 significant digits, trailing zeros dropped (as printf's %.7g, faster in [1e-3, 1e7)). */
static void
buf_float(struct qs_buf *b, double v)
{
	char tmp[32], *o;
	uint64_t ip, fp;
	int neg, i, n, fd;
	double a, scaled;

	a = fabs(v);
	if (!(a >= 1e-3 && a < 1e7)) {
		if (a == 0) {
			qs_buf_add(b, "0", 1);
			return;
		}
		qs_buf_printf(b, "%.7g", v);
		return;
	}
	/* fd fractional digits so that the total is 7 significant digits */
	fd = a >= 1e6 ? 0 : a >= 1e5 ? 1 : a >= 1e4 ? 2 : a >= 1e3 ? 3 : a >= 100 ? 4 : a >= 10 ? 5 : a >= 1 ? 6 :
	    a >= 0.1 ? 7 : a >= 0.01 ? 8 : 9;
	scaled = a;
	for (i = 0; i < fd; i++)
		scaled *= 10;
	fp = (uint64_t)llround(scaled);
	neg = v < 0;
	for (ip = 1, i = 0; i < fd; i++)
		ip *= 10;
	n = 0;
	o = tmp + sizeof tmp;
	{
		uint64_t whole = fp / ip, frac = fp % ip;
		int digits = fd;
		while (digits > 0 && frac % 10 == 0) {
			frac /= 10;
			digits--;
		}
		if (digits > 0) {
			for (i = 0; i < digits; i++) {
				*--o = (char)('0' + frac % 10);
				frac /= 10;
			}
			*--o = '.';
		}
		do {
			*--o = (char)('0' + whole % 10);
			whole /= 10;
		} while (whole > 0);
	}
	if (neg)
		*--o = '-';
	n = (int)(tmp + sizeof tmp - o);
	qs_buf_add(b, o, (size_t)n);
}

void
qs_error_response(struct qs_buf *out, const char *id, const char *reason)
{
	qs_buf_str(out, "{\"request_id\":");
	if (id && *id)
		qs_buf_json_str(out, id, strlen(id));
	else
		qs_buf_str(out, "null");
	qs_buf_str(out, ",\"error\":");
	qs_buf_json_str(out, reason, strlen(reason));
	qs_buf_str(out, "}");
}

/* ---- worker ---- */

struct qs_worker *
qs_worker_new(uint64_t seed, uint64_t index)
{
	struct qs_worker *w = xcalloc(1, sizeof *w);

	qs_rng_seed(&w->rng, seed * 0x9e3779b97f4a7c15ULL + index);
	return w;
}

void
qs_worker_free(struct qs_worker *w)
{
	if (w == NULL)
		return;
	qnet_ws_free(w->ws);
	qs_rank_ws_free(&w->rank);
	free(w->q);
	free(w->order);
	free(w->prop);
	free(w->erow);
	free(w->xrow);
	free(w->cid);
	free(w->cidlen);
	free(w->fbuf);
	free(w->hrow);
	free(w->hid);
	free(w->hidlen);
	free(w->histbuf);
	free(w->idbuf);
	free(w);
}

static void
worker_reserve(struct qs_worker *w, size_t ncand, size_t nfloat)
{
	if (ncand > w->cap) {
		w->q = xreallocarray(w->q, ncand, sizeof *w->q);
		w->order = xreallocarray(w->order, ncand, sizeof *w->order);
		w->prop = xreallocarray(w->prop, ncand, sizeof *w->prop);
		w->erow = xreallocarray(w->erow, ncand, sizeof *w->erow);
		w->xrow = xreallocarray(w->xrow, ncand, sizeof *w->xrow);
		w->cid = xreallocarray(w->cid, ncand, sizeof *w->cid);
		w->cidlen = xreallocarray(w->cidlen, ncand, sizeof *w->cidlen);
		w->cap = ncand;
	}
	if (nfloat > w->fcap) {
		w->fbuf = xreallocarray(w->fbuf, nfloat, sizeof *w->fbuf);
		w->fcap = nfloat;
	}
	if (w->hrow == NULL) {
		w->hrow = xcalloc(HIST_MAX, sizeof *w->hrow);
		w->hid = xcalloc(HIST_MAX, sizeof *w->hid);
		w->hidlen = xcalloc(HIST_MAX, sizeof *w->hidlen);
		w->hcap = HIST_MAX * (MODEL_ID_MAX + 1);
		w->histbuf = xmalloc(w->hcap);
	}
	if ((ncand + HIST_MAX) * 24 > w->idcap) {
		w->idcap = (ncand + HIST_MAX) * 24;
		w->idbuf = xrealloc(w->idbuf, w->idcap);
	}
}

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* An id value (string or integer) as a pointer and length; integers are formatted into w->idbuf. */
static int
id_value(struct qs_worker *w, const json_t *v, const char **s, size_t *len)
{
	size_t i, n;
	const char *p;

	if (json_is_string(v)) {
		p = json_string_value(v);
		n = json_string_length(v);
		if (n == 0 || n > MODEL_ID_MAX)
			return -1;
		for (i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return -1;
		*s = p;
		*len = n;
		return 0;
	}
	if (json_is_integer(v)) {
		if (w->idlen + 24 > w->idcap)
			return -1;
		n = (size_t)snprintf(w->idbuf + w->idlen, 24, "%lld", (long long)json_integer_value(v));
		*s = w->idbuf + w->idlen;
		*len = n;
		w->idlen += n + 1;
		return 0;
	}
	return -1;
}

/* Reads a number array of exactly want floats into out. */
static int
get_floats(const json_t *v, size_t want, float *out, const char *what, char *err, size_t errlen)
{
	size_t i, n;
	double d;

	if (!json_is_array(v))
		return fail(err, errlen, "%s: expected an array of numbers", what);
	n = json_array_size(v);
	if (n != want)
		return fail(err, errlen, "%s: %zu numbers, the model wants %zu", what, n, want);
	for (i = 0; i < n; i++) {
		const json_t *e = json_array_get(v, i);
		if (!json_is_number(e))
			return fail(err, errlen, "%s[%zu]: expected a number", what, i);
		d = json_number_value(e);
		if (!isfinite(d) || fabs(d) > 3.4e38)
			return fail(err, errlen, "%s[%zu]: not a finite float", what, i);
		out[i] = (float)d;
	}
	return 0;
}

int
qs_score(struct qs_worker *w, const struct qs_config *cf, const struct model *m, const json_t *req,
    struct qs_buf *out, char id[257], char *err, size_t errlen)
{
	const struct qnet *net;
	const struct qnet_dims *dm;
	const json_t *hist, *ctxv, *cands, *c, *v;
	char user[257];
	size_t i, n, nh = 0, ncand, k, X, C, first;
	float *ctx = NULL;
	int64_t kk;
	int known, has_user;
	uint64_t unknown = 0;

	id[0] = '\0';
	if (!json_is_object(req))
		return fail(err, errlen, "not a JSON object");
	if (jsonx_get_id(req, "request_id", id, err, errlen) != 0) {
		id[0] = '\0';
		return -1;
	}
	if (m == NULL) {
		atomic_fetch_add(&cf->counters->no_model, 1);
		return fail(err, errlen, "no model loaded");
	}
	net = m->net;
	dm = &net->dm;
	X = dm->X;
	C = dm->C;

	has_user = json_object_get(req, "user_id") != NULL;
	if (has_user && jsonx_get_id(req, "user_id", user, err, errlen) != 0)
		return -1;
	cands = json_object_get(req, "candidates");
	if (cands == NULL)
		return fail(err, errlen, "missing field 'candidates'");
	if (!json_is_array(cands))
		return fail(err, errlen, "field 'candidates': expected an array");
	ncand = json_array_size(cands);
	if (ncand > cf->max_candidates)
		return fail(err, errlen, "field 'candidates': %zu candidates, at most %zu", ncand, cf->max_candidates);
	k = cf->default_k;
	if (json_object_get(req, "k") != NULL) {
		if (jsonx_get_int(req, "k", 1, 1000000000, &kk, err, errlen) != 0)
			return -1;
		k = (size_t)kk;
	}
	if (k == 0 || k > ncand)
		k = ncand;

	worker_reserve(w, ncand ? ncand : 1, ncand * X + C + 1);
	w->idlen = 0;

	/* context */
	ctxv = json_object_get(req, "context");
	if (ctxv != NULL) {
		ctx = w->fbuf + ncand * X;
		if (get_floats(ctxv, C, ctx, "field 'context'", err, errlen) != 0)
			return -1;
	} else if (C > 0)
		return fail(err, errlen, "missing field 'context' (the model wants %u numbers)", C);

	/* history: the request's own wins; else the event stream's */
	hist = json_object_get(req, "hist");
	if (hist != NULL) {
		if (!json_is_array(hist))
			return fail(err, errlen, "field 'hist': expected an array of ids");
		n = json_array_size(hist);
		if (n > HIST_MAX)
			return fail(err, errlen, "field 'hist': more than %d ids", HIST_MAX);
		first = n > dm->L ? n - dm->L : 0;
		for (i = 0; i < n; i++) {
			const char *s;
			size_t len;
			if (i < first) {
				v = json_array_get(hist, i);
				if (!json_is_string(v) && !json_is_integer(v))
					return fail(err, errlen, "field 'hist'[%zu]: expected an id", i);
				continue;
			}
			if (id_value(w, json_array_get(hist, i), &s, &len) != 0)
				return fail(err, errlen, "field 'hist'[%zu]: expected an id", i);
			w->hid[nh] = s;
			w->hidlen[nh] = len;
			nh++;
		}
	} else if (has_user && cf->history != NULL) {
		nh = qs_history_get(cf->history, user, w->histbuf, w->hcap, w->hid, dm->L);
		for (i = 0; i < nh; i++)
			w->hidlen[i] = strlen(w->hid[i]);
		atomic_fetch_add(&cf->counters->hist_from_store, 1);
	}

	/* candidates */
	for (i = 0; i < ncand; i++) {
		c = json_array_get(cands, i);
		if (!json_is_object(c))
			return fail(err, errlen, "candidates[%zu]: not an object", i);
		v = json_object_get(c, "item_id");
		if (v == NULL)
			return fail(err, errlen, "candidates[%zu]: missing field 'item_id'", i);
		if (id_value(w, v, &w->cid[i], &w->cidlen[i]) != 0)
			return fail(err, errlen, "candidates[%zu]: field 'item_id': expected an id", i);
		v = json_object_get(c, "features");
		if (v != NULL) {
			char what[64];
			snprintf(what, sizeof what, "candidates[%zu]: field 'features'", i);
			if (get_floats(v, X, w->fbuf + i * X, what, err, errlen) != 0)
				return -1;
			w->xrow[i] = w->fbuf + i * X;
		} else if (X > 0)
			return fail(err, errlen, "candidates[%zu]: missing field 'features' (the model wants %u numbers)", i, X);
		else
			w->xrow[i] = NULL;
	}

	/* the forward pass */
	if (w->ws == NULL || memcmp(&w->ws_dims, dm, sizeof *dm) != 0) {
		qnet_ws_free(w->ws);
		w->ws_dims = *dm;
		w->ws = qnet_ws_new(&w->ws_dims);
	}
	for (i = 0; i < nh; i++) {
		w->hrow[i] = emb_lookup(m->emb, w->hid[i], w->hidlen[i], &known);
		if (!known)
			atomic_fetch_add(&cf->counters->unknown_hist, 1);
	}
	qnet_state(net, w->ws, w->hrow, nh, ctx);
	for (i = 0; i < ncand; i++) {
		const float *e = emb_lookup(m->emb, w->cid[i], w->cidlen[i], &known);
		unknown += !known;
		w->q[i] = qnet_q(net, w->ws, e, w->xrow[i]);
		if (!isfinite(w->q[i]))
			return fail(err, errlen, "candidates[%zu]: the model gave a non-finite score", i);
	}
	if (unknown)
		atomic_fetch_add(&cf->counters->unknown_items, unknown);
	qs_rank(&cf->explore, w->q, ncand, k, &w->rng, &w->rank, w->order, w->prop);

	/* the answer */
	qs_buf_reserve(out, 64 + k * 96);
	qs_buf_str(out, "{\"request_id\":");
	qs_buf_json_str(out, id, strlen(id));
	qs_buf_printf(out, ",\"model_version\":%u,\"items\":[", m->version);
	for (i = 0; i < k; i++) {
		uint32_t j = w->order[i];
		qs_buf_str(out, i ? ",{\"item_id\":" : "{\"item_id\":");
		qs_buf_json_str(out, w->cid[j], w->cidlen[j]);
		qs_buf_str(out, ",\"q\":");
		buf_float(out, w->q[j]);
		qs_buf_str(out, ",\"propensity\":");
		buf_float(out, w->prop[i]);
		qs_buf_str(out, "}");
	}
	qs_buf_str(out, "]}");
	return 0;
}
