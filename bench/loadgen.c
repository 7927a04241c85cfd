/* loadgen.c: an HTTP load generator for q-score — fixed request rate on loopback, latency percentiles, and checks of the model versions answered. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "xalloc.h"

/*
 * Open loop: request i is due at t0 + i/rate and its latency counts from
 * then, so a stalled server is charged for the requests it delayed (no
 * coordinated omission). Each connection carries one request at a time.
 * With rate 0 the loop is closed: every connection sends its next request as
 * soon as the last one is answered.
 *
 * With -S the generator polls for answers without sleeping while a request
 * is in flight. On loopback the server's send of an answer runs the client's
 * receive path too, and when the client sleeps, waking it (an inter-processor
 * interrupt, dear in a virtual machine) is charged to the server's CPU time;
 * a client on another host costs the server no such thing. -S takes that
 * cost out of the server's figures, at the price of a busy core here.
 *
 * With -U the requests carry no "hist": the server reads each user's
 * (u0 to u999) from its history store.
 */

struct conn {
	int fd;
	int busy;
	long req;		/* request index in flight */
	int64_t due_ns;		/* when it was due (open loop) or sent (closed loop) */
	size_t woff;		/* bytes of the request written */
	char *rbuf;
	size_t rlen, rcap;
	long last_version;	/* the last version this connection was answered with */
};

static struct {
	const char *host;
	int port;
	double rate;
	long count;
	double seconds;
	int nconns;
	int ncand, nitems, nfeat, nctx, nhist;
	int batch;
	long seed;
	const char *log;
	const char *dump;
	const char *path;
	int quiet;
	int spin;
	int no_hist;		/* -U: no "hist": the server reads the user's history from its store */
} opt = { "127.0.0.1", 8500, 1000, 1000, 10, 8, 100, 1000, 2, 4, 20, 0, 1, NULL, NULL, "/v1/score", 0, 0, 0 };

static char **bodies;		/* a pool of request bodies, cycled */
static size_t *bodylen;
#define NBODIES 64
static char **reqs;		/* the full HTTP requests */
static size_t *reqlen;

static uint64_t rs;

static double
uni(void)
{
	rs = rs * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(rs >> 11) * 0x1.0p-53;
}

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
make_bodies(void)
{
	size_t cap = 1 << 16, len;
	char *b;
	int i, j, k, n, r;

	bodies = xcalloc(NBODIES, sizeof *bodies);
	bodylen = xcalloc(NBODIES, sizeof *bodylen);
	reqs = xcalloc(NBODIES, sizeof *reqs);
	reqlen = xcalloc(NBODIES, sizeof *reqlen);
	for (i = 0; i < NBODIES; i++) {
		b = xmalloc(cap);
		len = 0;
		n = opt.batch > 0 ? opt.batch : 1;
		if (opt.batch > 0)
			b[len++] = '[';
		for (r = 0; r < n; r++) {
			if (r)
				b[len++] = ',';
			len += (size_t)snprintf(b + len, cap - len, "{\"request_id\":\"lg%d-%d\",\"user_id\":\"u%d\",",
			    i, r, (int)(uni() * 1000));
			if (!opt.no_hist) {
				len += (size_t)snprintf(b + len, cap - len, "\"hist\":[");
				for (j = 0; j < opt.nhist; j++)
					len += (size_t)snprintf(b + len, cap - len, "%s\"i%d\"", j ? "," : "",
					    (int)(uni() * opt.nitems));
				len += (size_t)snprintf(b + len, cap - len, "],");
			}
			len += (size_t)snprintf(b + len, cap - len, "\"context\":[");
			for (j = 0; j < opt.nctx; j++)
				len += (size_t)snprintf(b + len, cap - len, "%s%.3f", j ? "," : "", uni());
			len += (size_t)snprintf(b + len, cap - len, "],\"candidates\":[");
			for (j = 0; j < opt.ncand; j++) {
				len += (size_t)snprintf(b + len, cap - len, "%s{\"item_id\":\"i%d\",\"features\":[", j ? "," : "",
				    (int)(uni() * opt.nitems));
				for (k = 0; k < opt.nfeat; k++)
					len += (size_t)snprintf(b + len, cap - len, "%s%.3f", k ? "," : "", uni() * 5);
				len += (size_t)snprintf(b + len, cap - len, "]}");
				if (len + 4096 > cap) {
					cap *= 2;
					b = xrealloc(b, cap);
				}
			}
			len += (size_t)snprintf(b + len, cap - len, "],\"k\":10}");
			if (len + 65536 > cap) {
				cap *= 2;
				b = xrealloc(b, cap);
			}
		}
		if (opt.batch > 0)
			b[len++] = ']';
		b[len] = '\0';
		bodies[i] = b;
		bodylen[i] = len;
		reqs[i] = xasprintf("POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
		    "Content-Length: %zu\r\n\r\n%s", opt.path, opt.host, opt.port, len, b);
		reqlen[i] = strlen(reqs[i]);
	}
}

static int
conn_open(struct conn *c, int ep)
{
	struct sockaddr_in sa;
	struct epoll_event ev;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)opt.port);
	if (inet_pton(AF_INET, opt.host, &sa.sin_addr) != 1)
		diag_fatal(2, "%s: expected an IPv4 address", opt.host);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
	ev.data.ptr = c;
	epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	c->busy = 0;
	c->rlen = 0;
	return 0;
}

/* Whether the response head in buf (len bytes, the whole response) says "Connection: close". */
static int
says_close(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *p;

	for (p = buf; end != NULL && (p = memmem(p, (size_t)(end - p), "\r\n", 2)) != NULL && p < end; p += 2)
		if (strncasecmp(p + 2, "connection: close", 17) == 0)
			return 1;
	return 0;
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->busy = 0;
}

static void
conn_write(struct conn *c)
{
	const char *r = reqs[c->req % NBODIES];
	size_t len = reqlen[c->req % NBODIES];
	ssize_t n;

	while (c->busy && c->woff < len) {
		n = write(c->fd, r + c->woff, len - c->woff);
		if (n <= 0)
			return;
		c->woff += (size_t)n;
	}
}

/* Stats. */
static double *lat_us;
static long nlat, nok, nfail, nbackwards, nunfinished;
static long vmin = -1, vmax = -1;
static long codes[600];
static FILE *logfp;

/* A response is complete in c->rbuf: returns its total length, 0 when more is needed, -1 when malformed. */
static long
response_len(struct conn *c, int *status, const char **body, size_t *blen)
{
	char *end, *p;
	size_t hlen, cl = 0;

	if (c->rlen < 12)
		return 0;
	c->rbuf[c->rlen] = '\0';
	end = strstr(c->rbuf, "\r\n\r\n");
	if (end == NULL)
		return 0;
	hlen = (size_t)(end - c->rbuf) + 4;
	if (strncmp(c->rbuf, "HTTP/1.", 7) != 0)
		return -1;
	*status = atoi(c->rbuf + 9);
	for (p = c->rbuf; p < end; p = strstr(p, "\r\n") + 2) {
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			cl = strtoul(p + 15, NULL, 10);
		if (strstr(p, "\r\n") == NULL)
			break;
	}
	if (c->rlen < hlen + cl)
		return 0;
	*body = c->rbuf + hlen;
	*blen = cl;
	return (long)(hlen + cl);
}

static void
record(struct conn *c, int status, const char *body, size_t blen, int64_t now)
{
	const char *p;
	long v = -1;
	char save;

	lat_us[nlat++] = (double)(now - c->due_ns) / 1e3;
	if (status >= 0 && status < 600)
		codes[status]++;
	save = ((char *)body)[blen];
	((char *)body)[blen] = '\0';
	if (status == 200 && strstr(body, "\"error\"") == NULL) {
		nok++;
		for (p = body; (p = strstr(p, "\"model_version\":")) != NULL; p += 16) {
			long pv = strtol(p + 16, NULL, 10);
			if (v < 0 || pv != v) {
				if (v >= 0 && pv < v)
					nbackwards++;	/* a batch answered with two versions */
				v = pv;
			}
		}
		if (v >= 0) {
			if (c->last_version > v)
				nbackwards++;
			c->last_version = v;
			if (vmin < 0 || v < vmin)
				vmin = v;
			if (v > vmax)
				vmax = v;
		}
	} else {
		nfail++;
		if (!opt.quiet && nfail <= 5)
			fprintf(stderr, "loadgen: HTTP %d: %.200s\n", status, body);
	}
	((char *)body)[blen] = save;
	if (logfp != NULL)
		fprintf(logfp, "%lld %ld %d %.1f\n", (long long)wall_ms(), v, status, lat_us[nlat - 1]);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(double p)
{
	size_t i;

	if (nlat == 0)
		return 0;
	i = (size_t)(p * (double)(nlat - 1) + 0.5);
	return lat_us[i];
}

static _Noreturn void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen [-qSU] [-h host] [-p port] [-r rate] [-n count] [-T seconds] [-c conns]\n"
	    "               [-m candidates] [-I items] [-X features] [-C context] [-L hist] [-B batch]\n"
	    "               [-s seed] [-l log] [-d dump] [-P path]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	struct epoll_event evs[64];
	struct conn *conns;
	int ep, tfd, ch, i, n, status, inflight;
	long next = 0, done = 0;
	int64_t t0, now, deadline, due;
	double elapsed;
	const char *body;
	size_t blen;
	ssize_t r;
	long len;

	diag_init(argv[0]);
	while ((ch = getopt(argc, argv, "B:C:c:d:h:I:L:l:m:n:P:p:qr:Ss:T:UX:")) != -1) {
		switch (ch) {
		case 'B': opt.batch = atoi(optarg); break;
		case 'C': opt.nctx = atoi(optarg); break;
		case 'c': opt.nconns = atoi(optarg); break;
		case 'd': opt.dump = optarg; break;
		case 'h': opt.host = optarg; break;
		case 'I': opt.nitems = atoi(optarg); break;
		case 'L': opt.nhist = atoi(optarg); break;
		case 'l': opt.log = optarg; break;
		case 'm': opt.ncand = atoi(optarg); break;
		case 'n': opt.count = atol(optarg); break;
		case 'P': opt.path = optarg; break;
		case 'p': opt.port = atoi(optarg); break;
		case 'q': opt.quiet = 1; break;
		case 'r': opt.rate = atof(optarg); break;
		case 'S': opt.spin = 1; break;
		case 's': opt.seed = atol(optarg); break;
		case 'T': opt.seconds = atof(optarg); break;
		case 'U': opt.no_hist = 1; break;
		case 'X': opt.nfeat = atoi(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || opt.nconns < 1 || opt.count < 0 || opt.nitems < 1 || (opt.count == 0 && opt.dump == NULL))
		usage();
	rs = (uint64_t)opt.seed;
	make_bodies();
	if (opt.dump != NULL) {
		FILE *f = fopen(opt.dump, "w");
		if (f == NULL)
			diag_fatal(1, "%s:", opt.dump);
		for (i = 0; i < NBODIES; i++)
			fprintf(f, "%s\n", bodies[i]);
		if (fclose(f) != 0)
			diag_fatal(1, "%s:", opt.dump);
		if (opt.count == 0)
			return 0;	/* -n 0: only write the requests */
	}
	if (opt.log != NULL && (logfp = fopen(opt.log, "w")) == NULL)
		diag_fatal(1, "%s:", opt.log);
	lat_us = xcalloc((size_t)opt.count, sizeof *lat_us);
	ep = epoll_create1(EPOLL_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	{
		struct epoll_event tev = { .events = EPOLLIN, .data.ptr = NULL };
		epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
	}
	conns = xcalloc((size_t)opt.nconns, sizeof *conns);
	for (i = 0; i < opt.nconns; i++) {
		conns[i].rcap = 1 << 16;
		conns[i].rbuf = xmalloc(conns[i].rcap + 1);
		conns[i].last_version = -1;
		if (conn_open(&conns[i], ep) != 0)
			diag_fatal(1, "connect %s:%d:", opt.host, opt.port);
	}
	t0 = mono_ns();
	deadline = t0 + (int64_t)(opt.seconds * 1e9);
	while (done < opt.count) {
		now = mono_ns();
		if (now >= deadline)
			break;
		/* dispatch what is due onto idle connections */
		for (i = 0; i < opt.nconns && next < opt.count; i++) {
			struct conn *c = &conns[i];
			if (c->busy)
				continue;
			if (c->fd < 0 && conn_open(c, ep) != 0)
				continue;
			due = opt.rate > 0 ? t0 + (int64_t)((double)next * 1e9 / opt.rate) : now;
			if (due > now)
				break;
			c->busy = 1;
			c->req = next++;
			c->due_ns = due;
			c->woff = 0;
			c->rlen = 0;
			conn_write(c);
		}
		if (opt.rate > 0 && next < opt.count) {
			/* wake exactly when the next request is due */
			struct itimerspec its = { { 0, 0 }, { 0, 0 } };
			due = t0 + (int64_t)((double)next * 1e9 / opt.rate);
			if (due <= now)
				due = now + 1000;
			its.it_value.tv_sec = due / 1000000000;
			its.it_value.tv_nsec = due % 1000000000;
			timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
		}
		for (inflight = 0, i = 0; opt.spin && i < opt.nconns; i++)
			inflight += conns[i].busy;
		n = epoll_wait(ep, evs, 64, inflight ? 0 : 10);
		now = mono_ns();
		for (i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c == NULL) {
				uint64_t ticks;
				r = read(tfd, &ticks, sizeof ticks);
				continue;
			}
			if (c->fd < 0)
				continue;
			if (evs[i].events & EPOLLOUT)
				conn_write(c);
			if (!(evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)))
				continue;
			for (;;) {
				if (c->rlen + 4096 > c->rcap) {
					c->rcap *= 2;
					c->rbuf = xrealloc(c->rbuf, c->rcap + 1);
				}
				r = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
				if (r > 0) {
					c->rlen += (size_t)r;
					continue;
				}
				if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
					if (c->busy) {
						lat_us[nlat++] = (double)(now - c->due_ns) / 1e3;
						nfail++;
						done++;
						if (!opt.quiet)
							fprintf(stderr, "loadgen: %s\n", r < 0 && errno == ECONNREFUSED ?
							    "connection refused" : "connection closed with a request in flight");
					}
					epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
					conn_close(c);
				}
				break;
			}
			if (c->fd < 0 || !c->busy)
				continue;
			len = response_len(c, &status, &body, &blen);
			if (len < 0) {
				nfail++;
				done++;
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				conn_close(c);
				continue;
			}
			if (len == 0)
				continue;
			record(c, status, body, blen, now);
			done++;
			c->busy = 0;
			if (says_close(c->rbuf, (size_t)len)) {
				/* the server closes this one after its answer: the next request goes on a new one */
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				conn_close(c);
				continue;
			}
			memmove(c->rbuf, c->rbuf + len, c->rlen - (size_t)len);
			c->rlen -= (size_t)len;
		}
	}
	elapsed = (double)(mono_ns() - t0) / 1e9;
	for (i = 0; i < opt.nconns; i++)
		if (conns[i].busy)
			nunfinished++;
	qsort(lat_us, (size_t)nlat, sizeof *lat_us, cmp_double);
	printf("sent=%ld done=%ld ok=%ld failed=%ld unfinished=%ld backwards=%ld versions=%ld-%ld "
	    "seconds=%.2f rps=%.1f p50_us=%.0f p90_us=%.0f p99_us=%.0f p999_us=%.0f max_us=%.0f\n",
	    next, done, nok, nfail, nunfinished, nbackwards, vmin, vmax, elapsed, (double)done / elapsed,
	    pct(0.5), pct(0.9), pct(0.99), pct(0.999), nlat ? lat_us[nlat - 1] : 0.0);
	if (logfp != NULL && fclose(logfp) != 0)
		diag_fatal(1, "%s:", opt.log);
	for (i = 0; i < opt.nconns; i++) {
		conn_close(&conns[i]);
		free(conns[i].rbuf);
	}
	free(conns);
	for (i = 0; i < NBODIES; i++) {
		free(bodies[i]);
		free(reqs[i]);
	}
	free(bodies);
	free(bodylen);
	free(reqs);
	free(reqlen);
	free(lat_us);
	close(tfd);
	close(ep);
	if (fflush(stdout) != 0)
		return 1;
	return nfail || nbackwards || nunfinished || done < opt.count ? 1 : 0;
}
