/* archive.c: online-join's offline archive — hourly event-time partitions of gzip NDJSON, completed atomically. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "archive.h"
#include "diag.h"
#include "xalloc.h"

#define HOUR_MS 3600000LL

/* The oldest input offset of one partition in a part. */
struct part_off {
	int32_t partition;
	int64_t offset;
};

struct part {
	int64_t hour;		/* ts / HOUR_MS */
	gzFile gz;
	char *dir, *tmp, *final;
	uint64_t bytes;
	int64_t opened;		/* monotonic ms */
	int late;		/* opened after the watermark had completed its hour */
	int bad;		/* a write into it failed: it will not be completed */
	uint64_t records;	/* records written into it, lost with it if it fails */
	struct part_off *offs;
	size_t noffs;
};

struct archive {
	char *dir;
	int64_t hold, roll;
	uint64_t max_bytes;
	int level;
	char stem[160];		/* "<host>-<pid>-<start ms>" */
	uint64_t seq, completed;
	int64_t wm;		/* the last watermark seen */
	struct part **parts;
	size_t nparts, cap;
	int failed;		/* a write failed: the first failure is said, the others counted */
	uint64_t lost;		/* records that could not be archived */
	char host[64];
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* mkdir -p: 0 when path is a directory after it, or -1 with errno set (ENOTDIR when path is another file). */
static int
mkdirs(const char *path)
{
	char *p = xstrdup(path), *s;
	struct stat sb;
	int rv = 0;

	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0777) == -1 && errno != EEXIST) {
			rv = -1;
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	if (rv == 0 && stat(path, &sb) == -1)
		rv = -1;
	else if (rv == 0 && !S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		rv = -1;
	}
	return rv;
}

/*
 * Nonzero when name is a part in progress of this host whose writer is gone:
 * ".part-<host>-<pid>-<start>-<n>.ndjson.gz.tmp" with <pid> not running, or
 * this process's own pid from an earlier start (a restart in a container).
 */
static int
stale_part(const struct archive *a, const char *name)
{
	size_t hl = strlen(a->host), sl = strlen(".ndjson.gz.tmp"), n = strlen(name);
	const char *s;
	char *end;
	long pid;

	if (strncmp(name, ".part-", 6) != 0 || n < 6 + hl + sl ||
	    strcmp(name + n - sl, ".ndjson.gz.tmp") != 0)
		return 0;
	s = name + 6;
	if (strncmp(s, a->host, hl) != 0 || s[hl] != '-')
		return 0;
	errno = 0;
	pid = strtol(s + hl + 1, &end, 10);
	if (errno != 0 || *end != '-' || pid <= 0)
		return 0;
	if (pid == (long)getpid())
		return strncmp(s, a->stem, strlen(a->stem)) != 0 || s[strlen(a->stem)] != '-';
	return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

/* Removes the stale parts (see stale_part) under dir/dt=.../hour=...; their count. */
static uint64_t
remove_stale(const struct archive *a)
{
	DIR *d1, *d2, *d3;
	struct dirent *e1, *e2, *e3;
	uint64_t n = 0;
	char *p1, *p2, *f;

	if ((d1 = opendir(a->dir)) == NULL)
		return 0;
	while ((e1 = readdir(d1)) != NULL) {
		if (strncmp(e1->d_name, "dt=", 3) != 0)
			continue;
		p1 = xasprintf("%s/%s", a->dir, e1->d_name);
		if ((d2 = opendir(p1)) != NULL) {
			while ((e2 = readdir(d2)) != NULL) {
				if (strncmp(e2->d_name, "hour=", 5) != 0)
					continue;
				p2 = xasprintf("%s/%s", p1, e2->d_name);
				if ((d3 = opendir(p2)) != NULL) {
					while ((e3 = readdir(d3)) != NULL) {
						if (!stale_part(a, e3->d_name))
							continue;
						f = xasprintf("%s/%s", p2, e3->d_name);
						if (unlink(f) == 0)
							n++;
						else
							diag_warn("%s:", f);
						free(f);
					}
					closedir(d3);
				}
				free(p2);
			}
			closedir(d2);
		}
		free(p1);
	}
	closedir(d1);
	return n;
}

struct archive *
archive_open(const char *dir, int64_t hold_ms, uint64_t max_bytes, int64_t roll_ms, int level)
{
	struct archive *a;
	struct timespec now;
	char *host;
	uint64_t n;
	size_t i;

	if (mkdirs(dir) == -1) {
		diag_warn("%s:", dir);
		return NULL;
	}
	a = xcalloc(1, sizeof *a);
	a->dir = xstrdup(dir);
	a->hold = hold_ms;
	a->roll = roll_ms;
	a->max_bytes = max_bytes;
	a->level = level;
	a->wm = INT64_MIN;
	host = a->host;
	if (gethostname(host, sizeof a->host) == -1)
		strcpy(host, "host");
	host[sizeof a->host - 1] = '\0';
	for (i = 0; host[i] != '\0'; i++)
		if (!((host[i] >= 'a' && host[i] <= 'z') || (host[i] >= 'A' && host[i] <= 'Z') ||
		    (host[i] >= '0' && host[i] <= '9')))
			host[i] = '_';
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(a->stem, sizeof a->stem, "%s-%ld-%" PRId64, host, (long)getpid(),
	    (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
	if ((n = remove_stale(a)) > 0)
		diag_info(1, "%s: removed %" PRIu64 " part(s) left unfinished by an earlier run", dir, n);
	return a;
}

static struct part *
part_open(struct archive *a, int64_t hour)
{
	time_t t = (time_t)(hour * 3600);
	struct part *p;
	struct tm tm;
	char mode[8];

	gmtime_r(&t, &tm);
	p = xcalloc(1, sizeof *p);
	p->hour = hour;
	p->dir = xasprintf("%s/dt=%04d-%02d-%02d/hour=%02d", a->dir, tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday, tm.tm_hour);
	p->final = xasprintf("%s/part-%s-%" PRIu64 ".ndjson.gz", p->dir, a->stem, a->seq);
	p->tmp = xasprintf("%s/.part-%s-%" PRIu64 ".ndjson.gz.tmp", p->dir, a->stem, a->seq);
	a->seq++;
	snprintf(mode, sizeof mode, "wb%d", a->level);
	if (mkdirs(p->dir) == -1 || (p->gz = gzopen(p->tmp, mode)) == NULL) {
		if (!a->failed)
			diag_warn("%s:", p->tmp);
		free(p->dir);
		free(p->tmp);
		free(p->final);
		free(p);
		return NULL;
	}
	gzbuffer(p->gz, 128 * 1024);
	p->opened = mono_ms();
	p->late = a->wm != INT64_MIN && a->wm >= (hour + 1) * HOUR_MS + a->hold;
	return p;
}

/* fsync of a path (a file or a directory). */
static int
sync_path(const char *path)
{
	int fd = open(path, O_RDONLY), rv;

	if (fd == -1)
		return -1;
	rv = fsync(fd);
	close(fd);
	return rv;
}

/* Closes p: finished and durable under its final name, or (after an error) removed. Frees p. */
static int
part_complete(struct archive *a, struct part *p)
{
	int rv = 0, zerr;

	if (p->bad) {
		gzclose(p->gz);
		rv = -1;
	} else if ((zerr = gzclose(p->gz)) != Z_OK) {
		diag_warn("%s: %s", p->tmp, zerr == Z_ERRNO ? strerror(errno) : "gzip error");
		rv = -1;
	} else if (sync_path(p->tmp) == -1 || rename(p->tmp, p->final) == -1) {
		diag_warn("%s:", p->final);
		rv = -1;
	} else {
		sync_path(p->dir);
		a->completed++;
	}
	if (rv == -1) {
		unlink(p->tmp);
		a->failed = 1;
		a->lost += p->records;
	}
	free(p->dir);
	free(p->tmp);
	free(p->final);
	free(p->offs);
	free(p);
	return rv;
}

static void
part_remove(struct archive *a, size_t i)
{
	a->parts[i] = a->parts[--a->nparts];
}

int
archive_put(struct archive *a, int64_t ts, const char *buf, size_t len, int32_t partition,
    int64_t offset)
{
	int64_t hour = ts >= 0 ? ts / HOUR_MS : (ts - HOUR_MS + 1) / HOUR_MS;
	struct part *p = NULL;
	size_t i;

	for (i = 0; i < a->nparts; i++)
		if (a->parts[i]->hour == hour) {
			p = a->parts[i];
			break;
		}
	if (p == NULL) {
		if ((p = part_open(a, hour)) == NULL) {
			a->failed = 1;
			a->lost++;
			return -1;
		}
		if (a->nparts == a->cap) {
			a->cap = a->cap ? a->cap * 2 : 8;
			a->parts = xreallocarray(a->parts, a->cap, sizeof *a->parts);
		}
		a->parts[a->nparts++] = p;
	}
	if (offset >= 0) {
		for (i = 0; i < p->noffs && p->offs[i].partition != partition; i++)
			;
		if (i == p->noffs) {
			p->offs = xreallocarray(p->offs, p->noffs + 1, sizeof *p->offs);
			p->offs[p->noffs].partition = partition;
			p->offs[p->noffs++].offset = offset;
		} else if (offset < p->offs[i].offset)
			p->offs[i].offset = offset;
	}
	if (p->bad || (len > 0 && gzwrite(p->gz, buf, (unsigned)len) == 0) ||
	    gzputc(p->gz, '\n') == -1) {
		int zerr;

		if (!a->failed)
			diag_warn("%s: %s", p->tmp, gzerror(p->gz, &zerr));
		/* The part is lost with what it holds; it is removed when it completes. */
		p->bad = 1;
		a->failed = 1;
		a->lost++;
		return -1;
	}
	p->bytes += len + 1;
	p->records++;
	if (p->bytes >= a->max_bytes) {
		for (i = 0; a->parts[i] != p; i++)
			;
		part_remove(a, i);
		return part_complete(a, p);
	}
	return 0;
}

int
archive_advance(struct archive *a, int64_t wm)
{
	int64_t now = a->roll > 0 ? mono_ms() : 0;
	struct part *p;
	size_t i = 0;
	int rv = 0;

	if (wm > a->wm)
		a->wm = wm;
	while (i < a->nparts) {
		p = a->parts[i];
		/* A late part (replayed or late samples) waits for the roll, not to be one file per sample. */
		if ((!p->late && a->wm != INT64_MIN && a->wm >= (p->hour + 1) * HOUR_MS + a->hold) ||
		    (a->roll > 0 && now - p->opened >= a->roll)) {
			part_remove(a, i);
			if (part_complete(a, p) == -1)
				rv = -1;
			continue;
		}
		i++;
	}
	return rv;
}

int64_t
archive_oldest_offset(const struct archive *a, int32_t partition)
{
	int64_t lo = -1;
	size_t i, k;

	for (i = 0; i < a->nparts; i++)
		for (k = 0; k < a->parts[i]->noffs; k++)
			if (a->parts[i]->offs[k].partition == partition &&
			    (lo < 0 || a->parts[i]->offs[k].offset < lo))
				lo = a->parts[i]->offs[k].offset;
	return lo;
}

uint64_t
archive_parts(const struct archive *a)
{
	return a->completed;
}

int
archive_close(struct archive *a)
{
	int rv;

	if (a == NULL)
		return 0;
	while (a->nparts > 0)
		part_complete(a, a->parts[--a->nparts]);
	if (a->lost > 0)
		diag_warn("%s: %" PRIu64 " record(s) could not be archived", a->dir, a->lost);
	rv = a->failed ? -1 : 0;
	free(a->parts);
	free(a->dir);
	free(a);
	return rv;
}
