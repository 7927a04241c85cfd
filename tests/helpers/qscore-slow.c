/* qscore-slow.c: hostile HTTP clients for q-score's tests — uploads aborted half-way, and connections that dribble their headers. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "diag.h"
#include "xalloc.h"

static _Noreturn void
usage(void)
{
	fprintf(stderr, "usage: qscore-slow -p port (-a n | -s n [-i ms] [-f statsfile] [-T seconds])\n");
	exit(2);
}

static struct sockaddr_in sa;

/* A connected socket, or -1. */
static int
dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Whether the server closed fd (end of file or an error; an answer counts too). */
static int
closed_by_server(int fd)
{
	char buf[512];
	ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);

	if (r == 0 || (r > 0))
		return 1;
	return errno != EAGAIN && errno != EWOULDBLOCK;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* n uploads that send their headers and half of a 2,000-byte body, then close. Returns how many connected. */
static long
aborted(long n)
{
	static const char head[] = "POST /v1/score HTTP/1.1\r\nHost: q\r\nContent-Type: application/json\r\n"
	    "Content-Length: 2000\r\n\r\n";
	char half[1000];
	long i, ok = 0;
	int fd;

	memset(half, ' ', sizeof half);
	half[0] = '[';
	for (i = 0; i < n; i++) {
		if ((fd = dial()) < 0)
			continue;
		if (write(fd, head, sizeof head - 1) > 0 && write(fd, half, sizeof half) > 0)
			ok++;
		close(fd);
	}
	return ok;
}

/*
 * n connections that send a request line and then one byte of a header
 * every ms milliseconds, for secs seconds (0: until killed). A connection the
 * server closes is dialled again. The stats file gets "open N closed M"
 * after each round.
 */
static void
slow(long n, long ms, double secs, const char *stats)
{
	static const char line[] = "POST /v1/score HTTP/1.1\r\nHost: q\r\nX-Slow: ";
	int *fd = xcalloc((size_t)n, sizeof *fd);
	int64_t end = secs > 0 ? now_ms() + (int64_t)(secs * 1000) : INT64_MAX;
	long i, open, closed = 0;
	FILE *f;

	for (i = 0; i < n; i++)
		if ((fd[i] = dial()) >= 0 && write(fd[i], line, sizeof line - 1) < 0) {
			close(fd[i]);
			fd[i] = -1;
		}
	while (now_ms() < end) {
		for (i = 0, open = 0; i < n; i++) {
			if (fd[i] >= 0 && (closed_by_server(fd[i]) || write(fd[i], "a", 1) != 1)) {
				close(fd[i]);
				fd[i] = -1;
				closed++;
			}
			if (fd[i] < 0 && (fd[i] = dial()) >= 0 && write(fd[i], line, sizeof line - 1) < 0) {
				close(fd[i]);
				fd[i] = -1;
			}
			open += fd[i] >= 0;
		}
		if (stats != NULL && (f = fopen(stats, "w")) != NULL) {
			fprintf(f, "open %ld closed %ld\n", open, closed);
			fclose(f);
		}
		poll(NULL, 0, (int)ms);
	}
	free(fd);
}

int
main(int argc, char *argv[])
{
	const char *stats = NULL;
	long nabort = 0, nslow = 0, ms = 200;
	double secs = 0;
	int ch, port = 0;

	diag_init(argv[0]);
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt(argc, argv, "a:f:i:p:s:T:")) != -1) {
		switch (ch) {
		case 'a': nabort = atol(optarg); break;
		case 'f': stats = optarg; break;
		case 'i': ms = atol(optarg); break;
		case 'p': port = atoi(optarg); break;
		case 's': nslow = atol(optarg); break;
		case 'T': secs = atof(optarg); break;
		default: usage();
		}
	}
	if (port <= 0 || (nabort > 0) == (nslow > 0) || ms <= 0)
		usage();
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (nabort > 0) {
		printf("%ld\n", aborted(nabort));
		return fflush(stdout) == 0 ? 0 : 1;
	}
	slow(nslow, ms, secs, stats);
	return 0;
}
