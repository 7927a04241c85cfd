/* tfile.c: the checksummed tensor file — header, directory of named tensors, the tensors, every byte checked. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <zlib.h>

#include "tfile.h"
#include "xalloc.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the model files are little-endian; this port needs byte swapping"
#endif

#define TF_HEADER 64
#define TF_ENTRY 96
#define TF_ALIGN 64

static size_t dt_size(uint32_t dt)
{
	switch (dt) {
	case TFILE_F32: case TFILE_U32: return 4;
	case TFILE_U64: return 8;
	case TFILE_U8: return 1;
	default: return 0;
	}
}

void tfile_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint32_t crc_of(const void *p, size_t n)
{
	return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), p, n);
}

static void put32(unsigned char *b, uint32_t v) { memcpy(b, &v, 4); }
static void put64(unsigned char *b, uint64_t v) { memcpy(b, &v, 8); }
static uint32_t get32(const unsigned char *b) { uint32_t v; memcpy(&v, b, 4); return v; }
static uint64_t get64(const unsigned char *b) { uint64_t v; memcpy(&v, b, 8); return v; }

/* Writes all of buf to fd. 0 or -1 (errno set). */
int tfile_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* fsyncs a directory so that a rename in it is durable. */
int tfile_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	return r;
}

static char *dir_of(const char *path)
{
	const char *sl = strrchr(path, '/');
	if (!sl)
		return xstrdup(".");
	if (sl == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(sl - path));
}

/*
 * Writes a tensor file: the tensors of t (data, dtype, rank, shape set)
 * to path atomically. 0, or -1 with the reason in err.
 */
int tfile_write(const char *path, const char *magic, struct tfile_tensor *t, uint32_t n, char *err, size_t errlen)
{
	char *tmp = xasprintf("%s.tmp-%ld", path, (long)getpid());
	unsigned char hdr[TF_HEADER], *dir = xcalloc(n ? n : 1, TF_ENTRY);
	uint64_t off = TF_HEADER + (uint64_t)n * TF_ENTRY;
	int fd = -1;

	for (uint32_t i = 0; i < n; i++) {
		off = (off + TF_ALIGN - 1) / TF_ALIGN * TF_ALIGN;
		t[i].offset = off;
		uint64_t cnt = t[i].rank ? 1 : 0;
		for (uint32_t r = 0; r < t[i].rank; r++)
			cnt *= t[i].shape[r];
		t[i].nbytes = cnt * dt_size(t[i].dtype);
		t[i].crc = crc_of(t[i].data, t[i].nbytes);
		off += t[i].nbytes;
		unsigned char *e = dir + (size_t)i * TF_ENTRY;
		strncpy((char *)e, t[i].name, TFILE_NAME - 1);
		put32(e + 48, t[i].dtype);
		put32(e + 52, t[i].rank);
		for (int r = 0; r < 4; r++)
			put32(e + 56 + 4 * r, r < (int)t[i].rank ? t[i].shape[r] : 0);
		put64(e + 72, t[i].offset);
		put64(e + 80, t[i].nbytes);
		put32(e + 88, t[i].crc);
	}
	memset(hdr, 0, sizeof hdr);
	memcpy(hdr, magic, 8);
	put32(hdr + 8, TFILE_FORMAT_VERSION);
	put32(hdr + 12, n);
	put64(hdr + 16, off);
	put32(hdr + 24, crc_of(dir, (size_t)n * TF_ENTRY));
	put32(hdr + 28, crc_of(hdr, 28));

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		tfile_errf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto err;
	}
	static const unsigned char zeros[TF_ALIGN];
	uint64_t pos = TF_HEADER + (uint64_t)n * TF_ENTRY;
	if (tfile_write_all(fd, hdr, sizeof hdr) < 0 || tfile_write_all(fd, dir, (size_t)n * TF_ENTRY) < 0)
		goto werr;
	for (uint32_t i = 0; i < n; i++) {
		if (tfile_write_all(fd, zeros, t[i].offset - pos) < 0 || tfile_write_all(fd, t[i].data, t[i].nbytes) < 0)
			goto werr;
		pos = t[i].offset + t[i].nbytes;
	}
	if (fsync(fd) < 0)
		goto werr;
	if (close(fd) < 0) {
		fd = -1;
		goto werr;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		tfile_errf(err, errlen, "%s: rename: %s", path, strerror(errno));
		goto err;
	}
	char *d = dir_of(path);
	tfile_fsync_dir(d);
	free(d);
	free(tmp);
	free(dir);
	return 0;
werr:
	tfile_errf(err, errlen, "%s: write: %s", tmp, strerror(errno));
err:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	free(dir);
	return -1;
}

void tfile_close(struct tfile *f)
{
	if (f->map && f->map != MAP_FAILED)
		munmap(f->map, f->size);
	f->map = NULL;
}

/* Maps and validates a tensor file. 0, or -1 with the reason (naming path and problem) in err. */
int tfile_open(struct tfile *f, const char *path, const char *magic, const char *kind, char *err, size_t errlen)
{
	memset(f, 0, sizeof *f);
	f->path = path;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return tfile_errf(err, errlen, "%s: %s", path, strerror(errno)), -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		tfile_errf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	f->size = (size_t)st.st_size;
	if (f->size < TF_HEADER) {
		close(fd);
		return tfile_errf(err, errlen, "%s: truncated: %zu bytes, shorter than the header", path, f->size), -1;
	}
	f->map = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (f->map == MAP_FAILED) {
		f->map = NULL;
		return tfile_errf(err, errlen, "%s: mmap: %s", path, strerror(errno)), -1;
	}
	const unsigned char *b = f->map;
	if (memcmp(b, magic, 8) != 0) {
		tfile_errf(err, errlen, "%s: bad magic: not a pageturn %s file", path, kind);
		goto err;
	}
	if (get32(b + 28) != crc_of(b, 28)) {
		tfile_errf(err, errlen, "%s: header checksum mismatch", path);
		goto err;
	}
	for (int k = 32; k < TF_HEADER; k++) {
		if (b[k] != 0) {
			tfile_errf(err, errlen, "%s: nonzero reserved header bytes", path);
			goto err;
		}
	}
	if (get32(b + 8) != TFILE_FORMAT_VERSION) {
		tfile_errf(err, errlen, "%s: format version %u, this build reads %d", path, get32(b + 8), TFILE_FORMAT_VERSION);
		goto err;
	}
	uint64_t want = get64(b + 16);
	if (want != f->size) {
		tfile_errf(err, errlen, "%s: %s: %zu bytes, header says %llu", path,
		    f->size < want ? "truncated" : "trailing bytes", f->size, (unsigned long long)want);
		goto err;
	}
	f->n = get32(b + 12);
	if (f->n > TFILE_MAXT || TF_HEADER + (uint64_t)f->n * TF_ENTRY > f->size) {
		tfile_errf(err, errlen, "%s: bad tensor count %u", path, f->n);
		goto err;
	}
	if (get32(b + 24) != crc_of(b + TF_HEADER, (size_t)f->n * TF_ENTRY)) {
		tfile_errf(err, errlen, "%s: tensor directory checksum mismatch", path);
		goto err;
	}
	for (uint32_t i = 0; i < f->n; i++) {
		const unsigned char *e = b + TF_HEADER + (size_t)i * TF_ENTRY;
		struct tfile_tensor *t = &f->t[i];
		memcpy(t->name, e, TFILE_NAME);
		t->name[TFILE_NAME - 1] = 0;
		t->dtype = get32(e + 48);
		t->rank = get32(e + 52);
		for (int r = 0; r < 4; r++)
			t->shape[r] = get32(e + 56 + 4 * r);
		t->offset = get64(e + 72);
		t->nbytes = get64(e + 80);
		t->crc = get32(e + 88);
		uint64_t cnt = 1;
		for (uint32_t r = 0; r < t->rank && r < 4; r++)
			cnt *= t->shape[r];
		if (dt_size(t->dtype) == 0 || t->rank < 1 || t->rank > 4 || cnt * dt_size(t->dtype) != t->nbytes) {
			tfile_errf(err, errlen, "%s: tensor '%s': bad type or shape", path, t->name);
			goto err;
		}
		if (t->offset % TF_ALIGN || t->offset > f->size || t->nbytes > f->size - t->offset) {
			tfile_errf(err, errlen, "%s: tensor '%s': outside the file", path, t->name);
			goto err;
		}
		/* tensors follow each other in order; the padding between them is zero, so every byte is checked */
		uint64_t prev = i ? f->t[i - 1].offset + f->t[i - 1].nbytes : TF_HEADER + (uint64_t)f->n * TF_ENTRY;
		if (t->offset < prev || t->offset - prev >= TF_ALIGN) {
			tfile_errf(err, errlen, "%s: tensor '%s': misplaced", path, t->name);
			goto err;
		}
		for (uint64_t k = prev; k < t->offset; k++) {
			if (b[k] != 0) {
				tfile_errf(err, errlen, "%s: nonzero padding before tensor '%s'", path, t->name);
				goto err;
			}
		}
		if (i + 1 == f->n && t->offset + t->nbytes != f->size) {
			tfile_errf(err, errlen, "%s: trailing bytes after tensor '%s'", path, t->name);
			goto err;
		}
		t->data = b + t->offset;
		if (crc_of(t->data, t->nbytes) != t->crc) {
			tfile_errf(err, errlen, "%s: tensor '%s': checksum mismatch", path, t->name);
			goto err;
		}
	}
	return 0;
err:
	tfile_close(f);
	return -1;
}

/* The tensor called name with the given type and rank, or NULL with the reason in err. */
const struct tfile_tensor *tfile_get(const struct tfile *f, const char *name, uint32_t dtype, uint32_t rank,
    char *err, size_t errlen)
{
	for (uint32_t i = 0; i < f->n; i++) {
		const struct tfile_tensor *t = &f->t[i];
		if (strcmp(t->name, name) != 0)
			continue;
		if (t->dtype != dtype || t->rank != rank) {
			tfile_errf(err, errlen, "%s: tensor '%s': wrong type or rank", f->path, name);
			return NULL;
		}
		return t;
	}
	tfile_errf(err, errlen, "%s: tensor '%s' missing", f->path, name);
	return NULL;
}
