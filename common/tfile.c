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

/* Bytes of one element of type dt, 0 for an unknown type. */
static size_t
dt_size(uint32_t dt)
{
	switch (dt) {
	case TFILE_F32:
	case TFILE_U32:
		return 4;
	case TFILE_U64:
		return 8;
	case TFILE_U8:
		return 1;
	default:
		return 0;
	}
}

void
tfile_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static uint32_t
crc_of(const void *p, size_t n)
{
	return (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), p, n);
}

static void
put32(unsigned char *b, uint32_t v)
{
	memcpy(b, &v, 4);
}

static void
put64(unsigned char *b, uint64_t v)
{
	memcpy(b, &v, 8);
}

static uint32_t
get32(const unsigned char *b)
{
	uint32_t v;

	memcpy(&v, b, 4);
	return v;
}

static uint64_t
get64(const unsigned char *b)
{
	uint64_t v;

	memcpy(&v, b, 8);
	return v;
}

int
tfile_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
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

int
tfile_fsync_dir(const char *dir)
{
	int fd, r;

	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* malloc'd directory part of path ("." when it has none). */
static char *
dir_of(const char *path)
{
	const char *sl = strrchr(path, '/');

	if (!sl)
		return xstrdup(".");
	if (sl == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(sl - path));
}

/*
 * Lays the tensors out (offsets, sizes, checksums filled in t) and encodes
 * the header and the directory into hdr and dir. Returns the file size.
 */
static uint64_t
layout(const char *magic, struct tfile_tensor *t, uint32_t n, unsigned char *hdr, unsigned char *dir)
{
	uint64_t off = TF_HEADER + (uint64_t)n * TF_ENTRY, cnt;
	unsigned char *e;
	uint32_t i, r;

	for (i = 0; i < n; i++) {
		off = (off + TF_ALIGN - 1) / TF_ALIGN * TF_ALIGN;
		t[i].offset = off;
		cnt = t[i].rank ? 1 : 0;
		for (r = 0; r < t[i].rank; r++)
			cnt *= t[i].shape[r];
		t[i].nbytes = cnt * dt_size(t[i].dtype);
		t[i].crc = crc_of(t[i].data, t[i].nbytes);
		off += t[i].nbytes;
		e = dir + (size_t)i * TF_ENTRY;
		strncpy((char *)e, t[i].name, TFILE_NAME - 1);
		put32(e + 48, t[i].dtype);
		put32(e + 52, t[i].rank);
		for (r = 0; r < 4; r++)
			put32(e + 56 + 4 * r, r < t[i].rank ? t[i].shape[r] : 0);
		put64(e + 72, t[i].offset);
		put64(e + 80, t[i].nbytes);
		put32(e + 88, t[i].crc);
	}
	memset(hdr, 0, TF_HEADER);
	memcpy(hdr, magic, 8);
	put32(hdr + 8, TFILE_FORMAT_VERSION);
	put32(hdr + 12, n);
	put64(hdr + 16, off);
	put32(hdr + 24, crc_of(dir, (size_t)n * TF_ENTRY));
	put32(hdr + 28, crc_of(hdr, 28));
	return off;
}

int
tfile_write(const char *path, const char *magic, struct tfile_tensor *t, uint32_t n, char *err, size_t errlen)
{
	static const unsigned char zeros[TF_ALIGN];
	char *tmp = xasprintf("%s.tmp-%ld", path, (long)getpid()), *d;
	unsigned char hdr[TF_HEADER], *dir = xcalloc(n ? n : 1, TF_ENTRY);
	uint64_t pos;
	uint32_t i;
	int fd = -1;

	layout(magic, t, n, hdr, dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		tfile_errf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto err;
	}
	pos = TF_HEADER + (uint64_t)n * TF_ENTRY;
	if (tfile_write_all(fd, hdr, sizeof hdr) < 0 || tfile_write_all(fd, dir, (size_t)n * TF_ENTRY) < 0)
		goto werr;
	for (i = 0; i < n; i++) {
		if (tfile_write_all(fd, zeros, t[i].offset - pos) < 0 ||
		    tfile_write_all(fd, t[i].data, t[i].nbytes) < 0)
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
	d = dir_of(path);
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

void
tfile_close(struct tfile *f)
{
	if (f->buf)
		munmap(f->buf, f->size);
	f->buf = NULL;
}

/* Checks the header of f, read. 0, or -1 with the reason in err. */
static int
check_header(struct tfile *f, const char *magic, const char *kind, char *err, size_t errlen)
{
	const unsigned char *b = f->buf;
	uint64_t want;
	int k;

	if (memcmp(b, magic, 8) != 0) {
		tfile_errf(err, errlen, "%s: bad magic: not a pageturn %s file", f->path, kind);
		return -1;
	}
	if (get32(b + 28) != crc_of(b, 28)) {
		tfile_errf(err, errlen, "%s: header checksum mismatch", f->path);
		return -1;
	}
	for (k = 32; k < TF_HEADER; k++) {
		if (b[k] != 0) {
			tfile_errf(err, errlen, "%s: nonzero reserved header bytes", f->path);
			return -1;
		}
	}
	if (get32(b + 8) != TFILE_FORMAT_VERSION) {
		tfile_errf(err, errlen, "%s: format version %u, this build reads %d", f->path, get32(b + 8),
		    TFILE_FORMAT_VERSION);
		return -1;
	}
	want = get64(b + 16);
	if (want != f->size) {
		tfile_errf(err, errlen, "%s: %s: %zu bytes, header says %llu", f->path,
		    f->size < want ? "truncated" : "trailing bytes", f->size, (unsigned long long)want);
		return -1;
	}
	f->n = get32(b + 12);
	if (f->n > TFILE_MAXT || TF_HEADER + (uint64_t)f->n * TF_ENTRY > f->size) {
		tfile_errf(err, errlen, "%s: bad tensor count %u", f->path, f->n);
		return -1;
	}
	if (get32(b + 24) != crc_of(b + TF_HEADER, (size_t)f->n * TF_ENTRY)) {
		tfile_errf(err, errlen, "%s: tensor directory checksum mismatch", f->path);
		return -1;
	}
	return 0;
}

/* Reads and checks directory entry i of f, read: its place, padding and checksum. 0, or -1 with err. */
static int
check_tensor(struct tfile *f, uint32_t i, char *err, size_t errlen)
{
	const unsigned char *b = f->buf, *e = b + TF_HEADER + (size_t)i * TF_ENTRY;
	struct tfile_tensor *t = &f->t[i];
	uint64_t cnt = 1, prev, k;
	uint32_t r;

	memcpy(t->name, e, TFILE_NAME);
	t->name[TFILE_NAME - 1] = 0;
	t->dtype = get32(e + 48);
	t->rank = get32(e + 52);
	for (r = 0; r < 4; r++)
		t->shape[r] = get32(e + 56 + 4 * r);
	t->offset = get64(e + 72);
	t->nbytes = get64(e + 80);
	t->crc = get32(e + 88);
	for (r = 0; r < t->rank && r < 4; r++)
		cnt *= t->shape[r];
	if (dt_size(t->dtype) == 0 || t->rank < 1 || t->rank > 4 || cnt * dt_size(t->dtype) != t->nbytes) {
		tfile_errf(err, errlen, "%s: tensor '%s': bad type or shape", f->path, t->name);
		return -1;
	}
	if (t->offset % TF_ALIGN || t->offset > f->size || t->nbytes > f->size - t->offset) {
		tfile_errf(err, errlen, "%s: tensor '%s': outside the file", f->path, t->name);
		return -1;
	}
	/* tensors follow each other in order; the padding between them is zero, so every byte is checked */
	prev = i ? f->t[i - 1].offset + f->t[i - 1].nbytes : TF_HEADER + (uint64_t)f->n * TF_ENTRY;
	if (t->offset < prev || t->offset - prev >= TF_ALIGN) {
		tfile_errf(err, errlen, "%s: tensor '%s': misplaced", f->path, t->name);
		return -1;
	}
	for (k = prev; k < t->offset; k++) {
		if (b[k] != 0) {
			tfile_errf(err, errlen, "%s: nonzero padding before tensor '%s'", f->path, t->name);
			return -1;
		}
	}
	if (i + 1 == f->n && t->offset + t->nbytes != f->size) {
		tfile_errf(err, errlen, "%s: trailing bytes after tensor '%s'", f->path, t->name);
		return -1;
	}
	t->data = b + t->offset;
	if (crc_of(t->data, t->nbytes) != t->crc) {
		tfile_errf(err, errlen, "%s: tensor '%s': checksum mismatch", f->path, t->name);
		return -1;
	}
	return 0;
}

/* Reads the size bytes of fd into buf. 0, or -1 (errno set; 0 when the file ended early). */
static int
read_all(int fd, unsigned char *buf, size_t size)
{
	size_t got = 0;
	ssize_t r;

	while (got < size) {
		r = pread(fd, buf + got, size - got, (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = 0;
			return -1;
		}
		got += (size_t)r;
	}
	return 0;
}

int
tfile_open(struct tfile *f, const char *path, const char *magic, const char *kind, char *err, size_t errlen)
{
	struct stat st;
	uint32_t i;
	int fd;

	memset(f, 0, sizeof *f);
	f->path = path;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		tfile_errf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		tfile_errf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	f->size = (size_t)st.st_size;
	if (f->size < TF_HEADER) {
		close(fd);
		tfile_errf(err, errlen, "%s: truncated: %zu bytes, shorter than the header", path, f->size);
		return -1;
	}
	/*
	 * Private memory, not a mapping of the file: a file cut short later
	 * cannot fault its reader. Populated at once (one fault a page costs
	 * more than the read), read-only once read.
	 */
	f->buf = mmap(NULL, f->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (f->buf == MAP_FAILED) {
		f->buf = NULL;
		tfile_errf(err, errlen, "%s: %zu bytes: %s", path, f->size, strerror(errno));
		close(fd);
		return -1;
	}
	if (read_all(fd, f->buf, f->size) < 0) {
		tfile_errf(err, errlen, "%s: %s", path, errno ? strerror(errno) : "truncated while being read");
		close(fd);
		goto err;
	}
	close(fd);
	mprotect(f->buf, f->size, PROT_READ);
	if (check_header(f, magic, kind, err, errlen) < 0)
		goto err;
	for (i = 0; i < f->n; i++)
		if (check_tensor(f, i, err, errlen) < 0)
			goto err;
	return 0;
err:
	tfile_close(f);
	return -1;
}

const struct tfile_tensor *
tfile_get(const struct tfile *f, const char *name, uint32_t dtype, uint32_t rank, char *err, size_t errlen)
{
	const struct tfile_tensor *t;
	uint32_t i;

	for (i = 0; i < f->n; i++) {
		t = &f->t[i];
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
