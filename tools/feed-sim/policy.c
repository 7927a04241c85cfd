/* policy.c: feed-sim's policies — random, popular, the oracles, and external scorers (coprocess or HTTP). */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "diag.h"
#include "jsonx.h"
#include "sig.h"
#include "xalloc.h"
#include "feedsim.h"

enum { TAG_POLICY = 11, TAG_POLICY2 };

struct fs_policy {
	enum fs_policy_kind kind;
	enum fs_explore ex;
	double exparam;
	char name[64];
	long version;
	int hist_len;		/* the last items of hist sent in a request */
	/* coprocess */
	pid_t pid;
	FILE *to, *from;
	char *line;
	size_t linecap;
	/* HTTP */
	char *host, *port, *path;
	int fd;
	int64_t wait_ms;	/* how long a server that is not ready is waited for */
	char *resp;
	size_t resplen, respcap;
	struct jbuf req;
	char *mark;		/* per item: 1 + position among the candidates, 0 when not one */
	int nmark;
	FILE *reqlog;		/* --requests */
};

static struct fs_policy *
policy_new(enum fs_policy_kind kind)
{
	struct fs_policy *pol = xcalloc(1, sizeof *pol);

	pol->kind = kind;
	pol->version = -1;
	pol->fd = -1;
	pol->pid = -1;
	pol->hist_len = 20;
	return pol;
}

struct fs_policy *
fs_policy_builtin(enum fs_policy_kind kind, enum fs_explore ex, double exparam)
{
	static const char *names[] = { "random", "popular", "greedy-oracle", "lt-oracle" };
	struct fs_policy *pol = policy_new(kind);

	pol->ex = kind == FS_RANDOM ? FS_EXPLORE_NONE : ex;
	pol->exparam = exparam;
	if (pol->ex == FS_EXPLORE_EPSILON)
		snprintf(pol->name, sizeof pol->name, "%s/epsilon:%g", names[kind], exparam);
	else if (pol->ex == FS_EXPLORE_SOFTMAX)
		snprintf(pol->name, sizeof pol->name, "%s/softmax:%g", names[kind], exparam);
	else
		snprintf(pol->name, sizeof pol->name, "%s", names[kind]);
	return pol;
}

struct fs_policy *
fs_policy_cmd(const char *cmd)
{
	struct fs_policy *pol;
	int in[2], out[2];
	pid_t pid;

	if (pipe(in) < 0 || pipe(out) < 0) {
		diag_warn("pipe:");
		return NULL;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		diag_warn("fork:");
		return NULL;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(127);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	pol = policy_new(FS_EXTERNAL);
	pol->pid = pid;
	pol->to = fdopen(in[1], "w");
	pol->from = fdopen(out[0], "r");
	if (pol->to == NULL || pol->from == NULL)
		diag_fatal(1, "fdopen:");
	snprintf(pol->name, sizeof pol->name, "external");
	return pol;
}

struct fs_policy *
fs_policy_url(const char *url, double wait)
{
	const char *h, *colon, *slash;
	struct fs_policy *pol;

	if (strncmp(url, "http://", 7) != 0) {
		diag_warn("--policy-url %s: only http://HOST:PORT/PATH is supported", url);
		return NULL;
	}
	h = url + 7;
	slash = strchr(h, '/');
	if (slash == NULL)
		slash = h + strlen(h);
	colon = memchr(h, ':', (size_t)(slash - h));
	if (colon == h || (colon == NULL && slash == h)) {
		diag_warn("--policy-url %s: no host", url);
		return NULL;
	}
	pol = policy_new(FS_EXTERNAL);
	pol->host = xstrndup(h, (size_t)((colon ? colon : slash) - h));
	pol->port = colon ? xstrndup(colon + 1, (size_t)(slash - colon - 1)) : xstrdup("80");
	pol->path = xstrdup(*slash ? slash : "/");
	pol->wait_ms = (int64_t)(wait * 1000);
	snprintf(pol->name, sizeof pol->name, "external");
	return pol;
}

void
fs_policy_set_hist_len(struct fs_policy *pol, int n)
{
	pol->hist_len = n;
}

const char *
fs_policy_name(const struct fs_policy *pol)
{
	return pol->name;
}

long
fs_policy_version(const struct fs_policy *pol)
{
	return pol->version;
}

/* Built-in ranking, position by position, with optional exploration. */
static void
builtin_rank(struct fs_policy *pol, const struct fs_world *w, const struct fs_params *p,
    const struct fs_session *s, const int *cand, int ncand, int k, uint64_t seed, int *out, double *prop)
{
	int pagecat[FS_CMAX], pos, i, best, rem, pick;
	char *used = xcalloc((size_t)ncand + 1, 1);
	double *sc = xmalloc(((size_t)ncand + 1) * sizeof *sc), u, u2, z, acc, mx;
	double *base = NULL, *value = NULL;

	if (pol->kind == FS_GREEDY || pol->kind == FS_LT) {
		base = xmalloc(((size_t)ncand + 1) * sizeof *base);
		value = xmalloc(((size_t)ncand + 1) * sizeof *value);
		fs_oracle_prepare(w, p, s, cand, ncand, pol->kind == FS_LT, base, value);
	}
	memset(pagecat, 0, sizeof pagecat);
	for (pos = 0; pos < k && pos < ncand; pos++) {
		rem = ncand - pos;
		u = fs_key_u01(seed, s->n, (uint64_t)s->page, (uint64_t)pos, TAG_POLICY);
		u2 = fs_key_u01(seed, s->n, (uint64_t)s->page, (uint64_t)pos, TAG_POLICY2);
		if (pol->kind == FS_RANDOM) {
			pick = (int)(u * rem);
			for (i = 0; i < ncand; i++)
				if (!used[i] && pick-- == 0)
					break;
			used[i] = 1;
			out[pos] = cand[i];
			prop[pos] = 1.0 / rem;
			continue;
		}
		best = -1;
		for (i = 0; i < ncand; i++) {
			if (used[i])
				continue;
			if (pol->kind == FS_POPULAR)
				sc[i] = w->items[cand[i]].logpop;
			else
				sc[i] = fs_oracle_score(w, p, s, cand[i], base[i], value[i], pos, pagecat);
			if (best < 0 || sc[i] > sc[best])
				best = i;
		}
		pick = best;
		if (pol->ex == FS_EXPLORE_EPSILON) {
			if (u < pol->exparam) {
				int r = (int)(u2 * rem);

				for (i = 0; i < ncand; i++)
					if (!used[i] && r-- == 0)
						break;
				pick = i;
			}
			prop[pos] = pol->exparam / rem + (pick == best ? 1 - pol->exparam : 0);
		} else if (pol->ex == FS_EXPLORE_SOFTMAX) {
			mx = sc[best];
			z = 0;
			for (i = 0; i < ncand; i++)
				if (!used[i])
					z += exp((sc[i] - mx) / pol->exparam);
			acc = 0;
			pick = -1;
			for (i = 0; i < ncand; i++) {
				if (used[i])
					continue;
				pick = i;
				acc += exp((sc[i] - mx) / pol->exparam) / z;
				if (u < acc)
					break;
			}
			prop[pos] = exp((sc[pick] - mx) / pol->exparam) / z;
		} else {
			prop[pos] = 1;
		}
		used[pick] = 1;
		out[pos] = cand[pick];
		pagecat[w->items[cand[pick]].cat]++;
	}
	free(used);
	free(sc);
	free(base);
	free(value);
}

/* The built-in kinds whose choices a request log records, with their names. */
static const struct {
	enum fs_policy_kind kind;
	const char *name;
} targets[] = { { FS_POPULAR, "popular" }, { FS_GREEDY, "greedy-oracle" }, { FS_LT, "lt-oracle" } };

/*
 * A deterministic built-in kind's choice at each position pos < k given that
 * shown[0 .. pos) hold the positions above (into cond), as builtin_rank()
 * chooses: the best score, the first of equals.
 */
static void
choices_given(enum fs_policy_kind kind, const struct fs_world *w, const struct fs_params *p,
    const struct fs_session *s, const int *cand, int ncand, int k, const int *shown, int *cond)
{
	int pagecat[FS_CMAX], pos, i, best, j;
	char *used = xcalloc((size_t)ncand + 1, 1);
	double *sc = xmalloc(((size_t)ncand + 1) * sizeof *sc);
	double *base = NULL, *value = NULL;

	if (kind == FS_GREEDY || kind == FS_LT) {
		base = xmalloc(((size_t)ncand + 1) * sizeof *base);
		value = xmalloc(((size_t)ncand + 1) * sizeof *value);
		fs_oracle_prepare(w, p, s, cand, ncand, kind == FS_LT, base, value);
	}
	memset(pagecat, 0, sizeof pagecat);
	for (pos = 0; pos < k; pos++) {
		best = -1;
		for (i = 0; i < ncand; i++) {
			if (used[i])
				continue;
			sc[i] = kind == FS_POPULAR ? w->items[cand[i]].logpop :
			    fs_oracle_score(w, p, s, cand[i], base[i], value[i], pos, pagecat);
			if (best < 0 || sc[i] > sc[best])
				best = i;
		}
		cond[pos] = cand[best];
		for (j = 0; j < ncand; j++)
			if (cand[j] == shown[pos])
				used[j] = 1;
		pagecat[w->items[shown[pos]].cat]++;
	}
	free(used);
	free(sc);
	free(base);
	free(value);
}

static void builtin_rank(struct fs_policy *pol, const struct fs_world *w, const struct fs_params *p,
    const struct fs_session *s, const int *cand, int ncand, int k, uint64_t seed, int *out, double *prop);

/* Appends the ids of items[0 .. k) as a JSON array. */
static void
put_ids(struct jbuf *b, const struct fs_world *w, const int *items, int k)
{
	int i;

	jbuf_puts(b, "[");
	for (i = 0; i < k; i++)
		jbuf_printf(b, i ? ",\"%s\"" : "\"%s\"", w->items[items[i]].id);
	jbuf_puts(b, "]");
}

/* The request of the page just ranked (in pol->req), with the targets' choices, as one line of the request log. */
static void
log_request(struct fs_policy *pol, const struct fs_world *w, const struct fs_params *p, const struct fs_session *s,
    const int *cand, int ncand, int k, uint64_t seed, const int *shown)
{
	struct fs_policy det = { 0 };
	struct jbuf *b = &pol->req;
	int *cond = xmalloc(((size_t)k + 1) * sizeof *cond), *list = xmalloc(((size_t)k + 1) * sizeof *list);
	double *prop = xmalloc(((size_t)k + 1) * sizeof *prop);
	size_t t;

	b->len--;	/* the closing brace */
	jbuf_puts(b, ",\"targets\":{");
	for (t = 0; t < sizeof targets / sizeof *targets; t++) {
		choices_given(targets[t].kind, w, p, s, cand, ncand, k, shown, cond);
		det.kind = targets[t].kind;
		det.ex = FS_EXPLORE_NONE;
		builtin_rank(&det, w, p, s, cand, ncand, k, seed, list, prop);
		jbuf_printf(b, "%s\"%s\":{\"cond\":", t ? "," : "", targets[t].name);
		put_ids(b, w, cond, k);
		jbuf_puts(b, ",\"list\":");
		put_ids(b, w, list, k);
		jbuf_puts(b, "}");
	}
	jbuf_puts(b, "}}\n");
	fwrite(b->p, 1, b->len, pol->reqlog);
	free(cond);
	free(list);
	free(prop);
}

void
fs_policy_set_requests(struct fs_policy *pol, FILE *f)
{
	pol->reqlog = f;
}

static void
build_request(struct fs_policy *pol, const struct fs_world *w, const struct fs_session *s,
    const char *request_id, const float *ctx, int nctx, const int *cand, int ncand, int k)
{
	struct jbuf *b = &pol->req;
	int i, first;

	b->len = 0;
	jbuf_printf(b, "{\"request_id\":\"%s\",\"user_id\":\"%s\",\"hist\":[", request_id,
	    w->users[s->user].id);
	first = s->nhist > pol->hist_len ? s->nhist - pol->hist_len : 0;
	for (i = first; i < s->nhist; i++)
		jbuf_printf(b, i > first ? ",\"%s\"" : "\"%s\"", w->items[s->hist[i]].id);
	jbuf_puts(b, "],\"context\":");
	jbuf_floats(b, ctx, (size_t)nctx);
	jbuf_puts(b, ",\"candidates\":[");
	for (i = 0; i < ncand; i++) {
		jbuf_printf(b, i ? ",{\"item_id\":\"%s\",\"features\":" : "{\"item_id\":\"%s\",\"features\":",
		    w->items[cand[i]].id);
		jbuf_floats(b, w->feat + (size_t)cand[i] * (size_t)w->nfeat, (size_t)w->nfeat);
		jbuf_put(b, "}", 1);
	}
	jbuf_printf(b, "],\"k\":%d}", k);
}

/* Reads and checks a response; fills out/prop with k candidates. */
static int
parse_response(struct fs_policy *pol, const struct fs_world *w, const char *request_id,
    const char *buf, size_t len, const int *cand, int ncand, int k, int *out, double *prop)
{
	json_error_t jerr;
	json_t *root, *items, *e, *v;
	char idbuf[64];
	const char *id;
	size_t i;
	int n = 0, j, rc = -1;

	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL || !json_is_object(root)) {
		diag_warn("policy: response to %s: not a JSON object%s%s", request_id,
		    root ? "" : ": ", root ? "" : jerr.text);
		goto err;
	}
	v = json_object_get(root, "error");
	if (json_is_string(v)) {
		diag_warn("policy: response to %s: error: %s", request_id, json_string_value(v));
		goto err;
	}
	v = json_object_get(root, "request_id");
	if (!json_is_string(v) || strcmp(json_string_value(v), request_id) != 0) {
		diag_warn("policy: response to %s: wrong or missing request_id", request_id);
		goto err;
	}
	v = json_object_get(root, "model_version");
	if (json_is_integer(v) && json_integer_value(v) != pol->version) {
		pol->version = (long)json_integer_value(v);
		snprintf(pol->name, sizeof pol->name, "v%ld", pol->version);
	}
	items = json_object_get(root, "items");
	if (!json_is_array(items)) {
		diag_warn("policy: response to %s: no items array", request_id);
		goto err;
	}
	for (i = 0; i < (size_t)ncand; i++)
		pol->mark[cand[i]] = 1;
	json_array_foreach(items, i, e) {
		if (n == k)
			break;
		v = json_object_get(e, "item_id");
		if (json_is_string(v)) {
			id = json_string_value(v);
		} else if (json_is_integer(v)) {
			snprintf(idbuf, sizeof idbuf, "i%" JSON_INTEGER_FORMAT, json_integer_value(v));
			id = idbuf;
		} else {
			diag_warn("policy: response to %s: item %zu has no item_id", request_id, i);
			goto err;
		}
		j = fs_world_item(w, id);
		if (j < 0 || pol->mark[j] != 1) {
			diag_warn("policy: response to %s: item %s is not a candidate or comes twice", request_id, id);
			goto err;
		}
		pol->mark[j] = 2;
		out[n] = j;
		v = json_object_get(e, "propensity");
		prop[n] = json_is_number(v) ? json_number_value(v) : 1.0;
		if (!(prop[n] > 0 && prop[n] <= 1)) {
			diag_warn("policy: response to %s: item %s: propensity outside (0, 1]", request_id, id);
			goto err;
		}
		n++;
	}
	if (n < k) {
		diag_warn("policy: response to %s: %d items, want %d", request_id, n, k);
		goto err;
	}
	rc = 0;
err:
	for (i = 0; i < (size_t)ncand; i++)
		pol->mark[cand[i]] = 0;
	json_decref(root);
	return rc;
}

static int
cmd_exchange(struct fs_policy *pol, const char *request_id, const char **resp, size_t *resplen)
{
	ssize_t n;

	if (fwrite(pol->req.p, 1, pol->req.len, pol->to) != pol->req.len || putc('\n', pol->to) == EOF ||
	    fflush(pol->to) == EOF) {
		diag_warn("policy: writing request %s:", request_id);
		return -1;
	}
	errno = 0;
	n = getline(&pol->line, &pol->linecap, pol->from);
	if (n <= 0) {
		if (errno)
			diag_warn("policy: reading the response to %s:", request_id);
		else
			diag_warn("policy: the policy command ended before answering %s", request_id);
		return -1;
	}
	while (n > 0 && (pol->line[n - 1] == '\n' || pol->line[n - 1] == '\r'))
		pol->line[--n] = '\0';
	*resp = pol->line;
	*resplen = (size_t)n;
	return 0;
}

/* Connects to the server: 0, -1 after a diagnostic, -2 when nobody listens (errno set). */
static int
http_connect(struct fs_policy *pol)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1, e;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((e = getaddrinfo(pol->host, pol->port, &hints, &res)) != 0) {
		diag_warn("policy: %s:%s: %s", pol->host, pol->port, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			int one = 1;

			/* Requests are small and answered at once: no Nagle delay. */
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			break;
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return -2;	/* not listening (yet) */
	pol->fd = fd;
	return 0;
}

/* Sends the head and the body, in one segment train when they fit. 0 or -1. */
static int
send_request(int fd, const char *head, size_t hlen, const char *body, size_t blen)
{
	struct iovec iov[2];
	struct msghdr msg;
	ssize_t w;
	int i = 0;

	iov[0].iov_base = (void *)head;
	iov[0].iov_len = hlen;
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = blen;
	while (i < 2) {
		memset(&msg, 0, sizeof msg);
		msg.msg_iov = iov + i;
		msg.msg_iovlen = (size_t)(2 - i);
		w = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		while (i < 2 && (size_t)w >= iov[i].iov_len) {
			w -= (ssize_t)iov[i].iov_len;
			iov[i].iov_len = 0;
			i++;
		}
		if (i < 2) {
			iov[i].iov_base = (char *)iov[i].iov_base + w;
			iov[i].iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Reads more bytes into pol->resp; returns the count, 0 at EOF, -1 on error. */
static ssize_t
read_more(struct fs_policy *pol)
{
	ssize_t n;

	if (pol->resplen + 4096 + 1 > pol->respcap) {
		pol->respcap = pol->respcap ? 2 * pol->respcap : 65536;
		while (pol->resplen + 4096 + 1 > pol->respcap)
			pol->respcap *= 2;
		pol->resp = xrealloc(pol->resp, pol->respcap);
	}
	do
		n = recv(pol->fd, pol->resp + pol->resplen, pol->respcap - pol->resplen - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		pol->resplen += (size_t)n;
		pol->resp[pol->resplen] = '\0';
	}
	return n;
}

/* Case-insensitive search for a header's value in the header block; NULL when absent. */
static const char *
header_value(const char *hdr, size_t hlen, const char *name)
{
	size_t nl = strlen(name);
	const char *p = hdr, *end = hdr + hlen;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
		p = eol + 1;
	}
	return NULL;
}

/*
 * One POST over the kept-alive connection; the body (decoded) is returned in
 * *resp. On a connection the server closed before answering, one retry.
 * Returns 0, -1 after a diagnostic, or -2 without one when the server is not
 * ready: nobody listens, or it answered 503.
 */
static int
http_exchange(struct fs_policy *pol, const char *request_id, const char **resp, size_t *resplen)
{
	char head[512];
	const char *hend, *v;
	size_t hlen, body, need;
	int attempt, status, hn, closing, rc;
	ssize_t n;

	for (attempt = 0; attempt < 2; attempt++) {
		if (pol->fd < 0 && (rc = http_connect(pol)) < 0)
			return rc;
		hn = snprintf(head, sizeof head,
		    "POST %s HTTP/1.1\r\nHost: %s:%s\r\nContent-Type: application/json\r\n"
		    "Content-Length: %zu\r\n\r\n", pol->path, pol->host, pol->port, pol->req.len);
		pol->resplen = 0;
		if (send_request(pol->fd, head, (size_t)hn, pol->req.p, pol->req.len) < 0)
			n = -1;
		else
			while ((n = read_more(pol)) > 0 && strstr(pol->resp, "\r\n\r\n") == NULL)
				;
		if (n > 0)
			break;
		close(pol->fd);
		pol->fd = -1;
		if (attempt == 1 || pol->resplen > 0) {
			diag_warn("policy: %s:%s: no response to %s", pol->host, pol->port, request_id);
			return -1;
		}
	}
	hend = strstr(pol->resp, "\r\n\r\n");
	hlen = (size_t)(hend - pol->resp);
	if (sscanf(pol->resp, "HTTP/1.%*d %d", &status) != 1) {
		diag_warn("policy: %s:%s: not an HTTP response to %s", pol->host, pol->port, request_id);
		goto fail;
	}
	v = header_value(pol->resp, hlen, "Connection");
	closing = v != NULL && strncasecmp(v, "close", 5) == 0;
	body = hlen + 4;
	if ((v = header_value(pol->resp, hlen, "Content-Length")) != NULL) {
		need = (size_t)strtoull(v, NULL, 10);
		while (pol->resplen < body + need)
			if (read_more(pol) <= 0) {
				diag_warn("policy: %s:%s: short response to %s", pol->host, pol->port, request_id);
				goto fail;
			}
		*resp = pol->resp + body;
		*resplen = need;
	} else if ((v = header_value(pol->resp, hlen, "Transfer-Encoding")) != NULL &&
	    strncasecmp(v, "chunked", 7) == 0) {
		size_t out = body, at = body, sz;
		char *e;

		for (;;) {
			while ((e = strstr(pol->resp + at, "\r\n")) == NULL)
				if (read_more(pol) <= 0)
					goto shortchunk;
			sz = (size_t)strtoull(pol->resp + at, NULL, 16);
			at = (size_t)(e - pol->resp) + 2;
			while (pol->resplen < at + sz + 2)
				if (read_more(pol) <= 0)
					goto shortchunk;
			if (sz == 0)
				break;
			memmove(pol->resp + out, pol->resp + at, sz);
			out += sz;
			at += sz + 2;
		}
		*resp = pol->resp + body;
		*resplen = out - body;
	} else {
		while ((n = read_more(pol)) > 0)
			;
		closing = 1;
		*resp = pol->resp + body;
		*resplen = pol->resplen - body;
	}
	if (closing) {
		close(pol->fd);
		pol->fd = -1;
	}
	if (status == 503)
		return -2;
	if (status != 200) {
		diag_warn("policy: %s:%s: status %d for %s: %.*s", pol->host, pol->port, status, request_id,
		    (int)(*resplen > 200 ? 200 : *resplen), *resp);
		return -1;
	}
	return 0;
shortchunk:
	diag_warn("policy: %s:%s: short chunked response to %s", pol->host, pol->port, request_id);
fail:
	close(pol->fd);
	pol->fd = -1;
	return -1;
}

int
fs_policy_rank(struct fs_policy *pol, const struct fs_world *w, const struct fs_params *p,
    const struct fs_session *s, const char *request_id, const float *ctx, int nctx,
    const int *cand, int ncand, int k, uint64_t seed, int *out, double *prop)
{
	const char *resp;
	size_t resplen;

	if (k > ncand)
		k = ncand;
	if (pol->kind != FS_EXTERNAL) {
		builtin_rank(pol, w, p, s, cand, ncand, k, seed, out, prop);
		if (pol->reqlog != NULL) {
			build_request(pol, w, s, request_id, ctx, nctx, cand, ncand, k);
			log_request(pol, w, p, s, cand, ncand, k, seed, out);
		}
		return 0;
	}
	if (pol->nmark < w->nitem) {
		free(pol->mark);
		pol->mark = xcalloc((size_t)w->nitem, 1);
		pol->nmark = w->nitem;
	}
	build_request(pol, w, s, request_id, ctx, nctx, cand, ncand, k);
	if (pol->to != NULL) {
		if (cmd_exchange(pol, request_id, &resp, &resplen) < 0)
			return -1;
	} else {
		int64_t deadline = now_ms() + pol->wait_ms;
		int rc;

		/* A server that is starting (not listening, or 503 before its first model) is waited for. */
		while ((rc = http_exchange(pol, request_id, &resp, &resplen)) == -2 && now_ms() < deadline &&
		    !sig_stop) {
			struct timespec ts = { 0, 100 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
		if (rc == -2)
			diag_warn("policy: %s:%s: not ready for %s (nobody listens, or 503) after %.1f s",
			    pol->host, pol->port, request_id, pol->wait_ms / 1000.0);
		if (rc < 0)
			return -1;
	}
	if (parse_response(pol, w, request_id, resp, resplen, cand, ncand, k, out, prop) != 0)
		return -1;
	if (pol->reqlog != NULL) {
		build_request(pol, w, s, request_id, ctx, nctx, cand, ncand, k);
		log_request(pol, w, p, s, cand, ncand, k, seed, out);
	}
	return 0;
}

int
fs_policy_free(struct fs_policy *pol)
{
	int rc = 0, st;

	if (pol == NULL)
		return 0;
	if (pol->to != NULL)
		fclose(pol->to);
	if (pol->from != NULL)
		fclose(pol->from);
	if (pol->pid > 0) {
		while (waitpid(pol->pid, &st, 0) < 0)
			if (errno != EINTR) {
				st = 0;
				break;
			}
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			diag_warn("policy command %s %d", WIFEXITED(st) ? "exited with status" : "killed by signal",
			    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			rc = -1;
		}
	}
	if (pol->fd >= 0)
		close(pol->fd);
	free(pol->line);
	free(pol->host);
	free(pol->port);
	free(pol->path);
	free(pol->resp);
	free(pol->mark);
	jbuf_free(&pol->req);
	free(pol);
	return rc;
}
