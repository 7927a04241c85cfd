/* tcp-floor.c: the least an HTTP server can do per request — a one-thread epoll responder that answers every request with the same bytes; q-score's benchmark measures its CPU time as the transport's floor. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "diag.h"
#include "xalloc.h"

/*
 * It reads a request's head and its Content-Length body, and sends a
 * fixed answer: a status line and headers as q-score's server writes them,
 * then the body given (-b FILE: a recorded answer of q-score's, so that the
 * same bytes cross the loopback). No parsing beyond finding the request's
 * end, no JSON, no scoring: what remains is the system calls, the TCP/IP
 * stack, the wake-ups and the copies that any server over TCP pays. A
 * request longer than the buffer closes its connection.
 */

#define CONN_BUF (256 << 10)

struct conn {
	int fd;
	size_t len;
	char buf[CONN_BUF];
};

static void
usage(void)
{
	fprintf(stderr, "usage: tcp-floor [-p port] [-f port-file] [-b answer-body-file]\n");
	exit(2);
}

/* The length of the complete request at the start of buf[0..len), or 0 if it is not all there yet; -1 if it cannot be read. */
static long
request_len(const char *buf, size_t len)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4), *p;
	size_t head, body = 0;

	if (end == NULL)
		return len >= CONN_BUF ? -1 : 0;
	head = (size_t)(end + 4 - buf);
	for (p = buf; p < end; p++) {
		if ((*p == '\n') && end - p > 16 && strncasecmp(p + 1, "content-length:", 15) == 0) {
			body = strtoul(p + 16, NULL, 10);
			break;
		}
	}
	if (head + body > CONN_BUF)
		return -1;
	return len >= head + body ? (long)(head + body) : 0;
}

int
main(int argc, char **argv)
{
	const char *port_file = NULL, *body_file = NULL;
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct epoll_event ev, evs[64];
	socklen_t alen = sizeof a;
	char *answer, *body = xstrdup("{}\n");
	size_t blen = 3, alen2;
	int c, port = 0, ls, ep, one = 1, n, i;
	FILE *f;

	diag_init("tcp-floor");
	while ((c = getopt(argc, argv, "p:f:b:")) != -1) {
		switch (c) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'f':
			port_file = optarg;
			break;
		case 'b':
			body_file = optarg;
			break;
		default:
			usage();
		}
	}
	if (body_file != NULL) {
		if ((f = fopen(body_file, "rb")) == NULL)
			diag_fatal(1, "%s: %s", body_file, strerror(errno));
		free(body);
		body = xmalloc(1 << 20);
		blen = fread(body, 1, 1 << 20, f);
		fclose(f);
	}
	answer = xmalloc(blen + 256);
	alen2 = (size_t)snprintf(answer, 256, "HTTP/1.1 200 OK\r\nDate: Mon, 23 Nov 2026 00:00:00 GMT\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n", blen);
	memcpy(answer + alen2, body, blen);
	alen2 += blen;
	signal(SIGPIPE, SIG_IGN);

	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 128) != 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) != 0)
		diag_fatal(1, "listen on 127.0.0.1:%d: %s", port, strerror(errno));
	if (port_file != NULL) {
		if ((f = fopen(port_file, "w")) == NULL)
			diag_fatal(1, "%s: %s", port_file, strerror(errno));
		fprintf(f, "%d\n", ntohs(a.sin_port));
		fclose(f);
	}
	if ((ep = epoll_create1(0)) < 0)
		diag_fatal(1, "epoll: %s", strerror(errno));
	ev.events = EPOLLIN;
	ev.data.ptr = NULL;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 64, -1);
		for (i = 0; i < n; i++) {
			struct conn *cn = evs[i].data.ptr;
			ssize_t r;
			long want;

			if (cn == NULL) {
				int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
				if (fd < 0)
					continue;
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
				cn = xcalloc(1, sizeof *cn);
				cn->fd = fd;
				ev.events = EPOLLIN;
				ev.data.ptr = cn;
				epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				continue;
			}
			r = recv(cn->fd, cn->buf + cn->len, CONN_BUF - cn->len, 0);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0) {
				close(cn->fd);
				free(cn);
				continue;
			}
			cn->len += (size_t)r;
			while ((want = request_len(cn->buf, cn->len)) > 0) {
				/* answers of a few KB: the socket's send buffer takes them whole */
				if (send(cn->fd, answer, alen2, MSG_NOSIGNAL) != (ssize_t)alen2)
					break;
				memmove(cn->buf, cn->buf + want, cn->len - (size_t)want);
				cn->len -= (size_t)want;
			}
			if (want < 0) {
				close(cn->fd);
				free(cn);
			}
		}
	}
}
