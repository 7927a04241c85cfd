/* redis-rtt.c: the floor of a history read — one thread reading q-score's Redis lists with hiredis, one round trip each, its CPU and wall time per read. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "diag.h"

static double
cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double
wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	redisContext *c;
	redisReply *r;
	double c0, w0;
	long i, n, users;

	diag_init(argv[0]);
	if (argc != 4)
		diag_fatal(2, "usage: redis-rtt port reads users (reads LRANGE pageturn:h:uK 0 -1, K < users)");
	n = atol(argv[2]);
	users = atol(argv[3]);
	if (n < 1 || users < 1)
		diag_fatal(2, "reads and users: positive counts");
	c = redisConnect("127.0.0.1", atoi(argv[1]));
	if (c == NULL || c->err)
		diag_fatal(1, "127.0.0.1:%s: %s", argv[1], c ? c->errstr : "cannot connect");
	c0 = cpu_s();
	w0 = wall_s();
	for (i = 0; i < n; i++) {
		if ((r = redisCommand(c, "LRANGE pageturn:h:u%ld 0 -1", i % users)) == NULL)
			diag_fatal(1, "read: %s", c->errstr);
		freeReplyObject(r);
	}
	printf("reads=%ld cpu_us=%.2f wall_us=%.2f\n", n, (cpu_s() - c0) / n * 1e6, (wall_s() - w0) / n * 1e6);
	redisFree(c);
	return 0;
}
