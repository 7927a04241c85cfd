/* qscore-http.c: a minimal HTTP/1.1 client for q-score's tests — one request, prints the status code, writes the body. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "diag.h"
#include "xalloc.h"

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: qscore-http [-ci] [-o bodyfile] [-w file] [-X method] [-d data | -D file] [-H header]... "
	    "http://host:port/path\n");
	exit(2);
}

/* Writes buf unless the server has already answered (an early 413): then the rest is dropped. */
static void
put(int fd, const char *buf, size_t n)
{
	ssize_t w;
	char c;

	while (n > 0) {
		if (recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0)
			return;
		w = write(fd, buf, n < 4096 ? n : 4096);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;	/* the server may close early (413): read its answer anyway */
		buf += w;
		n -= (size_t)w;
	}
}

static char *
slurp(FILE *f, size_t *len)
{
	size_t cap = 1 << 16, n = 0, r;
	char *buf = xmalloc(cap);

	while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap)
			buf = xrealloc(buf, cap *= 2);
	}
	*len = n;
	return buf;
}

int
main(int argc, char *argv[])
{
	const char *method = NULL, *out = NULL, *headers[16], *url, *p, *slash, *wait = NULL;
	static char req[1 << 18];
	char host[64], *data = NULL, *resp, *body;
	size_t dlen = 0, nh = 0, rlen, i;
	int ch, chunked = 0, headers_too = 0, fd, port, status;
	struct sockaddr_in sa;
	struct sockaddr_in6 sa6;
	FILE *f;

	diag_init(argv[0]);
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "cD:d:H:io:w:X:")) != -1) {
		switch (ch) {
		case 'c': chunked = 1; break;
		case 'D':
			if ((f = strcmp(optarg, "-") ? fopen(optarg, "rb") : stdin) == NULL)
				diag_fatal(1, "%s:", optarg);
			data = slurp(f, &dlen);
			break;
		case 'd': data = xstrdup(optarg); dlen = strlen(optarg); break;
		case 'H': if (nh < 16) headers[nh++] = optarg; break;
		case 'i': headers_too = 1; break;
		case 'o': out = optarg; break;
		case 'w': wait = optarg; break;
		case 'X': method = optarg; break;
		default: usage();
		}
	}
	if (optind + 1 != argc || strncmp(argv[optind], "http://", 7) != 0)
		usage();
	url = argv[optind] + 7;
	slash = strchr(url, '/');
	if (url[0] == '[') {
		/* [V6]:PORT */
		p = strchr(url, ']');
		if (p == NULL || p[1] != ':' || (size_t)(p - url - 1) >= sizeof host)
			usage();
		memcpy(host, url + 1, (size_t)(p - url - 1));
		host[p - url - 1] = '\0';
		p++;
		slash = strchr(p, '/');
	} else {
		p = strchr(url, ':');
		if (p == NULL || (slash && p > slash) || (size_t)(p - url) >= sizeof host)
			usage();
		memcpy(host, url, (size_t)(p - url));
		host[p - url] = '\0';
	}
	port = atoi(p + 1);
	if (method == NULL)
		method = data ? "POST" : "GET";

	memset(&sa, 0, sizeof sa);
	memset(&sa6, 0, sizeof sa6);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa6.sin6_family = AF_INET6;
	sa6.sin6_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) == 1) {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
			diag_fatal(1, "connect %s:%d:", host, port);
	} else if (inet_pton(AF_INET6, host, &sa6.sin6_addr) == 1) {
		if ((fd = socket(AF_INET6, SOCK_STREAM, 0)) < 0 || connect(fd, (struct sockaddr *)&sa6, sizeof sa6) < 0)
			diag_fatal(1, "connect [%s]:%d:", host, port);
	} else
		diag_fatal(2, "%s: expected an IPv4 or IPv6 address", host);
	snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nConnection: close\r\n", method,
	    slash ? slash : "/", strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port);
	for (i = 0; i < nh; i++)
		snprintf(req + strlen(req), sizeof req - strlen(req), "%s\r\n", headers[i]);
	if (data && chunked)
		snprintf(req + strlen(req), sizeof req - strlen(req), "Transfer-Encoding: chunked\r\n\r\n");
	else if (data)
		snprintf(req + strlen(req), sizeof req - strlen(req), "Content-Type: application/json\r\n"
		    "Content-Length: %zu\r\n\r\n", dlen);
	else
		snprintf(req + strlen(req), sizeof req - strlen(req), "\r\n");
	put(fd, req, strlen(req));
	if (data && chunked) {
		for (i = 0; i < dlen; i += 4096) {
			size_t n = dlen - i < 4096 ? dlen - i : 4096;
			char hdr[32];
			snprintf(hdr, sizeof hdr, "%zx\r\n", n);
			put(fd, hdr, strlen(hdr));
			put(fd, data + i, n);
			put(fd, "\r\n", 2);
		}
		put(fd, "0\r\n\r\n", 5);
	} else if (data && wait) {
		/* -w FILE: half the body, then FILE.half made, then the rest once FILE exists (a minute at most) */
		char half[4096];
		put(fd, data, dlen / 2);
		snprintf(half, sizeof half, "%s.half", wait);
		if ((f = fopen(half, "w")) != NULL)
			fclose(f);
		for (i = 0; i < 6000 && access(wait, F_OK) != 0; i++)
			usleep(10000);
		put(fd, data + dlen / 2, dlen - dlen / 2);
	} else if (data)
		put(fd, data, dlen);
	f = fdopen(fd, "rb");
	resp = slurp(f, &rlen);
	fclose(f);
	resp = xrealloc(resp, rlen + 1);
	resp[rlen] = '\0';
	if (rlen < 12 || strncmp(resp, "HTTP/1.", 7) != 0)
		diag_fatal(1, "no HTTP response");
	status = atoi(resp + 9);
	body = strstr(resp, "\r\n\r\n");
	body = body ? body + 4 : resp + rlen;
	if (headers_too)
		body = resp;	/* -i: the status line and headers too */
	if (out != NULL) {
		if ((f = fopen(out, "wb")) == NULL)
			diag_fatal(1, "%s:", out);
		fwrite(body, 1, rlen - (size_t)(body - resp), f);
		if (fclose(f) != 0)
			diag_fatal(1, "%s:", out);
	}
	printf("%d", status);
	free(resp);
	free(data);
	return fflush(stdout) == 0 ? 0 : 1;
}
