/* lineio.c: newline-delimited records from and to any endpoint — stdio, files (.gz), directories, globs, Kafka. */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "diag.h"
#include "kafka.h"
#include "lineio.h"
#include "sig.h"
#include "xalloc.h"

#define CHUNK (256 * 1024)

struct line_reader {
	char **files;		/* expanded file inputs ("-" for stdin), read in order */
	size_t nfiles, next_file;
	char **topics;		/* Kafka topics, one subscription after the files */
	size_t ntopics;
	struct kafka_opts kopts;
	struct kafka_source *ks;
	int kafka_started;
	size_t max_line;
	int keep_blank;		/* blank lines are records (len 0) */
	int failed;
	uint64_t raw_done;	/* bytes read from the file inputs so far (compressed, for .gz) */
	int sized;		/* raw_total: 1 known, 0 unknown (a pipe, Kafka), -1 not yet asked */
	uint64_t raw_total;

	/* the file being read */
	int fd;			/* -1 when none is open */
	int pollable;		/* a pipe or terminal: poll before reading, for signals */
	const char *name;
	uint64_t lineno;
	int gz;			/* 1 while inflating a gzip stream */
	int gz_mid;		/* inside a gzip member (its end not yet seen) */
	const char *gz_err;	/* inflate failed after some output: said once that output is read */
	z_stream zs;
	unsigned char *in;	/* raw bytes read from fd */
	size_t in_len;
	unsigned char *out;	/* decoded bytes (== in for plain files) */
	size_t out_pos, out_len;
	int eof;

	void (*on_wait)(void *);
	void *on_wait_arg;
	kafka_rebalance_fn *on_rebalance;
	void *on_rebalance_arg;

	char *lbuf;		/* the current line */
	size_t lcap;
	char source[600];
};

/* Writers on stdout (the output and, say, the dead letters with "-"): the last to close closes it. */
static int stdout_writers;

struct line_writer {
	char *spec;
	FILE *fp;
	gzFile gz;
	struct kafka_sink *ks;
	uint64_t count;
	int error;		/* a write failed: reported once, remembered */
	int gone;		/* the pipe's reader has closed it: lines are dropped quietly */
};

static int
is_kafka(const char *spec)
{
	return strncmp(spec, "kafka:", 6) == 0;
}

static void
push(char ***v, size_t *n, const char *s)
{
	*v = xreallocarray(*v, *n + 1, sizeof **v);
	(*v)[(*n)++] = xstrdup(s);
}

static int
skip_name(const char *name)
{
	return name[0] == '.' || name[0] == '_';
}

/* Appends every regular file under dir, recursively, in sorted order. */
static void
expand_dir(struct line_reader *r, const char *dir)
{
	struct dirent **ents;
	struct stat st;
	char *path;
	int n, i;

	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		diag_warn("%s:", dir);
		r->failed = 1;
		return;
	}
	for (i = 0; i < n; i++) {
		if (!skip_name(ents[i]->d_name)) {
			path = xasprintf("%s/%s", dir, ents[i]->d_name);
			if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
				expand_dir(r, path);
			else if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
				push(&r->files, &r->nfiles, path);
			free(path);
		}
		free(ents[i]);
	}
	free(ents);
}

static void
expand_input(struct line_reader *r, const char *spec)
{
	struct stat st;
	glob_t g;
	size_t i;

	if (is_kafka(spec)) {
		push(&r->topics, &r->ntopics, spec + 6);
		return;
	}
	if (strcmp(spec, "-") == 0) {
		push(&r->files, &r->nfiles, spec);
		return;
	}
	if (stat(spec, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			/* As a glob that matches nothing: a directory without a file is an error. */
			i = r->nfiles;
			expand_dir(r, spec);
			if (r->nfiles == i && !r->failed) {
				diag_warn("%s: no input files", spec);
				r->failed = 1;
			}
		} else
			push(&r->files, &r->nfiles, spec);
		return;
	}
	if (strpbrk(spec, "*?[") != NULL && glob(spec, 0, NULL, &g) == 0) {
		for (i = 0; i < g.gl_pathc; i++)
			expand_input(r, g.gl_pathv[i]);
		globfree(&g);
		return;
	}
	/* Reported when reached, so that earlier inputs are read first. */
	push(&r->files, &r->nfiles, spec);
}

struct line_reader *
line_reader_open(char *const *specs, size_t nspecs, const struct kafka_opts *kopts, size_t max_line)
{
	struct line_reader *r = xcalloc(1, sizeof *r);
	size_t i;

	r->max_line = max_line ? max_line : LINE_MAX_DEFAULT;
	if (kopts != NULL)
		r->kopts = *kopts;
	for (i = 0; i < nspecs; i++)
		expand_input(r, specs[i]);
	if (nspecs == 0)
		push(&r->files, &r->nfiles, "-");
	r->fd = -1;
	r->sized = -1;
	r->in = xmalloc(CHUNK);
	r->out = xmalloc(CHUNK);
	r->lcap = 4096;
	r->lbuf = xmalloc(r->lcap);
	return r;
}

static void
close_file(struct line_reader *r)
{
	if (r->fd > 0)
		close(r->fd);
	if (r->gz)
		inflateEnd(&r->zs);
	r->fd = -1;
	r->gz = 0;
}

/* Opens the next file input. 1 when one is open, 0 when none is left. */
static int
open_next_file(struct line_reader *r)
{
	struct stat st;
	const char *name;
	int fd;

	while (r->next_file < r->nfiles) {
		name = r->files[r->next_file++];
		if (strcmp(name, "-") == 0)
			fd = 0;
		else if ((fd = open(name, O_RDONLY | O_CLOEXEC)) < 0) {
			diag_warn("%s:", name);
			r->failed = 1;
			continue;
		}
		r->fd = fd;
		r->name = name;
		r->pollable = fstat(fd, &st) == 0 && !S_ISREG(st.st_mode);
		r->lineno = 0;
		r->in_len = r->out_pos = r->out_len = 0;
		r->eof = 0;
		r->gz = -1;	/* undecided until the first bytes are seen */
		r->gz_err = NULL;
		return 1;
	}
	return 0;
}

/* Reads raw bytes into r->in. >0 bytes, 0 at EOF, -1 on error or interruption (errno EINTR). */
static ssize_t
read_raw(struct line_reader *r)
{
	struct pollfd pfd;
	ssize_t n;
	int pr;

	for (;;) {
		if (sig_stop) {
			errno = EINTR;
			return -1;
		}
		if (r->pollable) {
			pfd.fd = r->fd;
			pfd.events = POLLIN;
			pr = poll(&pfd, 1, 0);
			if (pr == 0) {
				if (r->on_wait != NULL)
					r->on_wait(r->on_wait_arg);
				pr = poll(&pfd, 1, 250);
			}
			if (pr == 0 || (pr < 0 && errno == EINTR))
				continue;
		}
		n = read(r->fd, r->in, CHUNK);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n > 0)
			r->raw_done += (uint64_t)n;
		return n;
	}
}

/*
 * Refills r->out with decoded bytes. 1 when bytes are there, 0 at the end of
 * the file, -1 on error (reported; the file is abandoned) or interruption.
 */
static int
fill(struct line_reader *r)
{
	ssize_t n;
	int zr;

	r->out_pos = r->out_len = 0;
	if (r->gz_err != NULL) {
		diag_warn("%s: corrupt gzip data: %s (after %llu line(s) read)", r->name, r->gz_err,
		    (unsigned long long)r->lineno);
		r->gz_err = NULL;
		r->failed = 1;
		return -1;
	}
	for (;;) {
		if (r->gz == 1 && r->zs.avail_in > 0) {
			r->zs.next_out = r->out;
			r->zs.avail_out = CHUNK;
			zr = inflate(&r->zs, Z_NO_FLUSH);
			r->out_len = CHUNK - r->zs.avail_out;
			if (zr == Z_STREAM_END) {
				/* Concatenated gzip members (appended archives) follow on. */
				inflateReset(&r->zs);
				r->gz_mid = 0;
			} else if (zr != Z_OK && zr != Z_BUF_ERROR) {
				/* What inflated before the fault (a bad check comes after all the data) is read first. */
				r->gz_err = r->zs.msg ? r->zs.msg : "inflate failed";
				if (r->out_len > 0)
					return 1;
				return fill(r);
			} else
				r->gz_mid = 1;
			if (r->out_len > 0)
				return 1;
			continue;
		}
		if (r->eof)
			return 0;
		n = read_raw(r);
		if (n < 0) {
			if (errno == EINTR)
				return -1;
			diag_warn("%s:", r->name);
			r->failed = 1;
			return -1;
		}
		if (n == 0) {
			r->eof = 1;
			if (r->gz == 1 && r->gz_mid) {
				diag_warn("%s: truncated gzip data", r->name);
				r->failed = 1;
			}
			continue;
		}
		if (r->gz == -1) {
			r->gz = n >= 2 && r->in[0] == 0x1f && r->in[1] == 0x8b;
			if (r->gz) {
				memset(&r->zs, 0, sizeof r->zs);
				if (inflateInit2(&r->zs, 16 + MAX_WBITS) != Z_OK)
					diag_fatal(1, "zlib: inflateInit2 failed");
			}
		}
		if (r->gz == 1) {
			r->zs.next_in = r->in;
			r->zs.avail_in = (uInt)n;
			r->gz_mid = 1;
			continue;
		}
		memcpy(r->out, r->in, (size_t)n);
		r->out_len = (size_t)n;
		return 1;
	}
}

static void
lbuf_append(struct line_reader *r, size_t *len, const unsigned char *p, size_t n)
{
	if (*len + n + 1 > r->lcap) {
		while (*len + n + 1 > r->lcap)
			r->lcap *= 2;
		r->lbuf = xrealloc(r->lbuf, r->lcap);
	}
	memcpy(r->lbuf + *len, p, n);
	*len += n;
}

/*
 * Reads one line of the open file. 1 with a line, 0 at the end of the file,
 * -1 when interrupted or on a read error.
 */
static int
read_file_line(struct line_reader *r, struct line *ln)
{
	size_t len = 0, full = 0, take, n;
	unsigned char *nl;
	int fr;

	for (;;) {
		if (r->out_pos == r->out_len) {
			fr = fill(r);
			if (fr < 0)
				return -1;
			if (fr == 0) {
				if (full == 0)
					return 0;
				break;	/* a last line without its newline */
			}
		}
		n = r->out_len - r->out_pos;
		nl = memchr(r->out + r->out_pos, '\n', n);
		if (nl != NULL)
			n = (size_t)(nl - (r->out + r->out_pos));
		take = full < r->max_line ? r->max_line - full : 0;
		if (take > n)
			take = n;
		lbuf_append(r, &len, r->out + r->out_pos, take);
		full += n;
		r->out_pos += n;
		if (nl != NULL) {
			r->out_pos++;
			r->lineno++;
			if (full == 0 && !r->keep_blank) {
				len = 0;
				continue;	/* blank lines carry no record */
			}
			goto done;
		}
	}
	r->lineno++;
done:
	if (len > 0 && r->lbuf[len - 1] == '\r' && full <= r->max_line) {
		len--;
		full--;
	}
	r->lbuf[len] = '\0';
	ln->buf = r->lbuf;
	ln->len = len;
	ln->full_len = full;
	ln->too_long = full > r->max_line;
	snprintf(r->source, sizeof r->source, "%s:%llu", r->name, (unsigned long long)r->lineno);
	ln->source = r->source;
	ln->topic = NULL;
	ln->partition = -1;
	ln->offset = -1;
	ln->key = NULL;
	ln->keylen = 0;
	return 1;
}

int
line_reader_next(struct line_reader *r, struct line *ln)
{
	int rv;

	for (;;) {
		if (r->fd < 0 && !r->kafka_started) {
			if (!open_next_file(r)) {
				if (r->ntopics == 0)
					return 0;
				r->kafka_started = 1;
				r->ks = kafka_source_open(&r->kopts, r->topics, r->ntopics, r->max_line);
				if (r->ks == NULL) {
					r->failed = 1;
					return -1;
				}
				if (r->on_rebalance != NULL)
					kafka_source_on_rebalance(r->ks, r->on_rebalance, r->on_rebalance_arg);
				continue;
			}
		}
		if (r->kafka_started) {
			rv = kafka_source_next(r->ks, ln, 100);
			if (rv < 0)
				r->failed = 1;
			if (rv == 0)
				return sig_stop ? -1 : LINE_IDLE;
			return rv;
		}
		rv = read_file_line(r, ln);
		if (rv == 1)
			return 1;
		if (rv < 0 && sig_stop)
			return -1;
		close_file(r);
	}
}

void
line_reader_on_wait(struct line_reader *r, void (*fn)(void *), void *arg)
{
	r->on_wait = fn;
	r->on_wait_arg = arg;
}

void
line_reader_keep_blank(struct line_reader *r, int keep)
{
	r->keep_blank = keep;
}

void
line_reader_on_rebalance(struct line_reader *r, kafka_rebalance_fn *fn, void *arg)
{
	r->on_rebalance = fn;
	r->on_rebalance_arg = arg;
	if (r->ks != NULL)
		kafka_source_on_rebalance(r->ks, fn, arg);
}

void
line_reader_store(struct line_reader *r, const char *topic, int32_t partition, int64_t next_offset)
{
	if (r->ks != NULL && topic != NULL)
		kafka_source_store(r->ks, topic, partition, next_offset);
}

void
line_reader_store_meta(struct line_reader *r, const char *topic, int32_t partition, int64_t next_offset,
    const char *meta, size_t metalen)
{
	if (r->ks != NULL && topic != NULL)
		kafka_source_store_meta(r->ks, topic, partition, next_offset, meta, metalen);
}

const char *
line_reader_start(struct line_reader *r, const char *topic, int32_t partition, int64_t *offset,
    size_t *metalen)
{
	return r->ks != NULL ? kafka_source_started(r->ks, topic, partition, offset, metalen) : NULL;
}

int
line_reader_commit(struct line_reader *r)
{
	return r->ks != NULL ? kafka_source_commit(r->ks) : 0;
}

int64_t
line_reader_lag(struct line_reader *r)
{
	return r->ks != NULL ? kafka_source_lag(r->ks) : -1;
}

struct kafka_source *
line_reader_kafka(struct line_reader *r)
{
	return r->ks;
}

int
line_reader_failed(const struct line_reader *r)
{
	return r->failed;
}

void
line_reader_close(struct line_reader *r)
{
	size_t i;

	if (r == NULL)
		return;
	close_file(r);
	kafka_source_close(r->ks);
	for (i = 0; i < r->nfiles; i++)
		free(r->files[i]);
	for (i = 0; i < r->ntopics; i++)
		free(r->topics[i]);
	free(r->files);
	free(r->topics);
	free(r->in);
	free(r->out);
	free(r->lbuf);
	free(r);
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Opens (or reopens, appending) the file of a writer. 0 or -1 after a diagnostic. */
static int
writer_open_file(struct line_writer *w, int append)
{
	if (ends_with(w->spec, ".gz")) {
		w->gz = gzopen(w->spec, append ? "ab" : "wb");
		if (w->gz == NULL) {
			diag_warn("%s:", w->spec);
			return -1;
		}
		gzbuffer(w->gz, CHUNK);
		return 0;
	}
	w->fp = fopen(w->spec, append ? "a" : "w");
	if (w->fp == NULL) {
		diag_warn("%s:", w->spec);
		return -1;
	}
	setvbuf(w->fp, NULL, _IOFBF, CHUNK);
	return 0;
}

struct line_writer *
line_writer_open(const char *spec, const struct kafka_opts *kopts)
{
	struct line_writer *w = xcalloc(1, sizeof *w);
	struct kafka_opts none = { 0 };

	w->spec = xstrdup(spec);
	if (is_kafka(spec)) {
		w->ks = kafka_sink_open(kopts ? kopts : &none, spec + 6);
		if (w->ks == NULL)
			goto err;
	} else if (strcmp(spec, "-") == 0) {
		w->fp = stdout;
		if (stdout_writers++ == 0)
			setvbuf(stdout, NULL, _IOFBF, CHUNK);
	} else if (writer_open_file(w, 0) != 0)
		goto err;
	return w;
err:
	free(w->spec);
	free(w);
	return NULL;
}

/*
 * A write failed: said once, and the writer fails from then on. A pipe whose reader
 * has gone (tool | head -1) is no failure: the writer drops what follows, and the
 * tool stops reading as on SIGTERM (sig_stop) and exits 0.
 */
static int
write_failed(struct line_writer *w)
{
	if (w->gone || errno == EPIPE) {
		w->gone = 1;
		sig_stop = sig_pipe = 1;
		return 0;
	}
	if (!w->error)
		diag_warn("%s: write error:", w->spec);
	w->error = 1;
	return -1;
}

int
line_writer_put(struct line_writer *w, const char *key, size_t keylen, const char *buf, size_t len)
{
	if (w->error)
		return -1;
	if (w->gone)
		return 0;
	w->count++;
	if (w->ks != NULL)
		return kafka_sink_put(w->ks, key, keylen, buf, len) == 0 ? 0 : (w->error = 1, -1);
	if (w->gz != NULL) {
		if ((len > 0 && gzwrite(w->gz, buf, (unsigned)len) == 0) || gzputc(w->gz, '\n') < 0)
			return write_failed(w);
		return 0;
	}
	if (fwrite(buf, 1, len, w->fp) != len || putc('\n', w->fp) == EOF)
		return write_failed(w);
	return 0;
}

int
line_writer_flush(struct line_writer *w)
{
	if (w->ks != NULL) {
		if (kafka_sink_flush(w->ks) != 0)
			w->error = 1;
	} else if (w->gz != NULL) {
		if (gzflush(w->gz, Z_SYNC_FLUSH) != Z_OK)
			return write_failed(w);
	} else if (fflush(w->fp) != 0)
		return write_failed(w);
	return w->error ? -1 : 0;
}

int
line_writer_reopen(struct line_writer *w)
{
	if (w->ks != NULL || w->fp == stdout)
		return 0;
	if (w->gz != NULL) {
		if (gzclose(w->gz) != Z_OK)
			write_failed(w);
		w->gz = NULL;
	} else if (w->fp != NULL) {
		if (fclose(w->fp) != 0)
			write_failed(w);
		w->fp = NULL;
	}
	if (writer_open_file(w, 1) != 0) {
		w->error = 1;
		return -1;
	}
	return w->error ? -1 : 0;
}

uint64_t
line_writer_count(const struct line_writer *w)
{
	return w->count;
}

const char *
line_writer_spec(const struct line_writer *w)
{
	return w->spec;
}

int
line_writer_close(struct line_writer *w)
{
	int rv;

	if (w == NULL)
		return 0;
	if (w->ks != NULL) {
		if (kafka_sink_close(w->ks) != 0)
			w->error = 1;
	} else if (w->gz != NULL) {
		if (gzclose(w->gz) != Z_OK)
			write_failed(w);
	} else if (w->fp != NULL) {
		if (fflush(w->fp) != 0 || ferror(w->fp))
			write_failed(w);
		/* stdout stays open: diag checks it at exit, after whatever else was printed. */
		if (w->fp == stdout)
			stdout_writers--;
		else if (fclose(w->fp) != 0)
			write_failed(w);
	}
	rv = w->error ? -1 : 0;
	free(w->spec);
	free(w);
	return rv;
}

int
line_reader_size(struct line_reader *r, uint64_t *done, uint64_t *total)
{
	struct stat st;
	size_t i;

	if (r->sized < 0) {
		r->sized = r->ntopics == 0;
		r->raw_total = 0;
		for (i = 0; i < r->nfiles && r->sized; i++) {
			if (strcmp(r->files[i], "-") == 0 || stat(r->files[i], &st) != 0 || !S_ISREG(st.st_mode))
				r->sized = 0;
			else
				r->raw_total += (uint64_t)st.st_size;
		}
	}
	if (!r->sized)
		return 0;
	*done = r->raw_done;
	*total = r->raw_total;
	return 1;
}
