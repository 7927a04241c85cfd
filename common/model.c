/* model.c: the model store — tensor files with checksums, the mapped embedding table, versions, atomic publish, pruning. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <zlib.h>

#include "hash.h"
#include "model.h"
#include "xalloc.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the model files are little-endian; this port needs byte swapping"
#endif

/* ---- Tensor files ---- */

#define TF_HEADER 64
#define TF_ENTRY 96
#define TF_ALIGN 64
#define TF_NAME 48
#define TF_MAXT 64

enum { DT_F32 = 1, DT_U32 = 2, DT_U64 = 3, DT_U8 = 4 };

static size_t dt_size(uint32_t dt)
{
	switch (dt) {
	case DT_F32: case DT_U32: return 4;
	case DT_U64: return 8;
	case DT_U8: return 1;
	default: return 0;
	}
}

/* One tensor of a file: on write, data points at the bytes; on read, into the mapping. */
struct tensor {
	char name[TF_NAME];
	uint32_t dtype, rank;
	uint32_t shape[4];
	uint64_t offset, nbytes;
	uint32_t crc;
	const void *data;
};

struct tfile {
	const char *path;
	void *map;
	size_t size;
	uint32_t n;
	struct tensor t[TF_MAXT];
};

static void errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
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

static void shape_str(const uint32_t *shape, uint32_t rank, char *out, size_t n)
{
	size_t k = 0;
	out[0] = 0;
	for (uint32_t i = 0; i < rank && k < n; i++)
		k += snprintf(out + k, n - k, i ? "×%u" : "%u", shape[i]);
}

/* Writes all of buf to fd. 0 or -1 (errno set). */
static int write_all(int fd, const void *buf, size_t n)
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
static int fsync_dir(const char *dir)
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
static int tfile_write(const char *path, const char *magic, struct tensor *t, uint32_t n, char *err, size_t errlen)
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
		strncpy((char *)e, t[i].name, TF_NAME - 1);
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
	put32(hdr + 8, MODEL_FORMAT_VERSION);
	put32(hdr + 12, n);
	put64(hdr + 16, off);
	put32(hdr + 24, crc_of(dir, (size_t)n * TF_ENTRY));
	put32(hdr + 28, crc_of(hdr, 28));

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		errf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto err;
	}
	static const unsigned char zeros[TF_ALIGN];
	uint64_t pos = TF_HEADER + (uint64_t)n * TF_ENTRY;
	if (write_all(fd, hdr, sizeof hdr) < 0 || write_all(fd, dir, (size_t)n * TF_ENTRY) < 0)
		goto werr;
	for (uint32_t i = 0; i < n; i++) {
		if (write_all(fd, zeros, t[i].offset - pos) < 0 || write_all(fd, t[i].data, t[i].nbytes) < 0)
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
		errf(err, errlen, "%s: rename: %s", path, strerror(errno));
		goto err;
	}
	char *d = dir_of(path);
	fsync_dir(d);
	free(d);
	free(tmp);
	free(dir);
	return 0;
werr:
	errf(err, errlen, "%s: write: %s", tmp, strerror(errno));
err:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	free(dir);
	return -1;
}

static void tfile_close(struct tfile *f)
{
	if (f->map && f->map != MAP_FAILED)
		munmap(f->map, f->size);
	f->map = NULL;
}

/* Maps and validates a tensor file. 0, or -1 with the reason (naming path and problem) in err. */
static int tfile_open(struct tfile *f, const char *path, const char *magic, const char *kind, char *err, size_t errlen)
{
	memset(f, 0, sizeof *f);
	f->path = path;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errf(err, errlen, "%s: %s", path, strerror(errno)), -1;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	f->size = (size_t)st.st_size;
	if (f->size < TF_HEADER) {
		close(fd);
		return errf(err, errlen, "%s: truncated: %zu bytes, shorter than the header", path, f->size), -1;
	}
	f->map = mmap(NULL, f->size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (f->map == MAP_FAILED) {
		f->map = NULL;
		return errf(err, errlen, "%s: mmap: %s", path, strerror(errno)), -1;
	}
	const unsigned char *b = f->map;
	if (memcmp(b, magic, 8) != 0) {
		errf(err, errlen, "%s: bad magic: not a pageturn %s file", path, kind);
		goto err;
	}
	if (get32(b + 28) != crc_of(b, 28)) {
		errf(err, errlen, "%s: header checksum mismatch", path);
		goto err;
	}
	for (int k = 32; k < TF_HEADER; k++) {
		if (b[k] != 0) {
			errf(err, errlen, "%s: nonzero reserved header bytes", path);
			goto err;
		}
	}
	if (get32(b + 8) != MODEL_FORMAT_VERSION) {
		errf(err, errlen, "%s: format version %u, this build reads %d", path, get32(b + 8), MODEL_FORMAT_VERSION);
		goto err;
	}
	uint64_t want = get64(b + 16);
	if (want != f->size) {
		errf(err, errlen, "%s: %s: %zu bytes, header says %llu", path,
		    f->size < want ? "truncated" : "trailing bytes", f->size, (unsigned long long)want);
		goto err;
	}
	f->n = get32(b + 12);
	if (f->n > TF_MAXT || TF_HEADER + (uint64_t)f->n * TF_ENTRY > f->size) {
		errf(err, errlen, "%s: bad tensor count %u", path, f->n);
		goto err;
	}
	if (get32(b + 24) != crc_of(b + TF_HEADER, (size_t)f->n * TF_ENTRY)) {
		errf(err, errlen, "%s: tensor directory checksum mismatch", path);
		goto err;
	}
	for (uint32_t i = 0; i < f->n; i++) {
		const unsigned char *e = b + TF_HEADER + (size_t)i * TF_ENTRY;
		struct tensor *t = &f->t[i];
		memcpy(t->name, e, TF_NAME);
		t->name[TF_NAME - 1] = 0;
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
			errf(err, errlen, "%s: tensor '%s': bad type or shape", path, t->name);
			goto err;
		}
		if (t->offset % TF_ALIGN || t->offset > f->size || t->nbytes > f->size - t->offset) {
			errf(err, errlen, "%s: tensor '%s': outside the file", path, t->name);
			goto err;
		}
		/* tensors follow each other in order; the padding between them is zero, so every byte is checked */
		uint64_t prev = i ? f->t[i - 1].offset + f->t[i - 1].nbytes : TF_HEADER + (uint64_t)f->n * TF_ENTRY;
		if (t->offset < prev || t->offset - prev >= TF_ALIGN) {
			errf(err, errlen, "%s: tensor '%s': misplaced", path, t->name);
			goto err;
		}
		for (uint64_t k = prev; k < t->offset; k++) {
			if (b[k] != 0) {
				errf(err, errlen, "%s: nonzero padding before tensor '%s'", path, t->name);
				goto err;
			}
		}
		if (i + 1 == f->n && t->offset + t->nbytes != f->size) {
			errf(err, errlen, "%s: trailing bytes after tensor '%s'", path, t->name);
			goto err;
		}
		t->data = b + t->offset;
		if (crc_of(t->data, t->nbytes) != t->crc) {
			errf(err, errlen, "%s: tensor '%s': checksum mismatch", path, t->name);
			goto err;
		}
	}
	return 0;
err:
	tfile_close(f);
	return -1;
}

/* The tensor called name with the given type and rank, or NULL with the reason in err. */
static const struct tensor *tfile_get(const struct tfile *f, const char *name, uint32_t dtype, uint32_t rank,
    char *err, size_t errlen)
{
	for (uint32_t i = 0; i < f->n; i++) {
		const struct tensor *t = &f->t[i];
		if (strcmp(t->name, name) != 0)
			continue;
		if (t->dtype != dtype || t->rank != rank) {
			errf(err, errlen, "%s: tensor '%s': wrong type or rank", f->path, name);
			return NULL;
		}
		return t;
	}
	errf(err, errlen, "%s: tensor '%s' missing", f->path, name);
	return NULL;
}

/* ---- The network file ---- */

#define NET_DIMS 13	/* d, L, nkern, kw[4], F, C, X, H, target, reserved */

int model_net_write(const struct qnet *net, const char *path, char *err, size_t errlen)
{
	struct tensor t[QNET_NTENSORS + 1];
	uint32_t dims[NET_DIMS] = {
		net->dm.d, net->dm.L, net->dm.nkern, net->dm.kw[0], net->dm.kw[1], net->dm.kw[2], net->dm.kw[3],
		net->dm.F, net->dm.C, net->dm.X, net->dm.H, net->target, 0
	};
	uint32_t n = 0;
	memset(t, 0, sizeof t);
	strcpy(t[0].name, "dims");
	t[0].dtype = DT_U32;
	t[0].rank = 1;
	t[0].shape[0] = NET_DIMS;
	t[0].data = dims;
	n = 1;
	for (int k = 0; k < QNET_NTENSORS; k++) {
		if (qnet_tensor_size(&net->dm, k) == 0)
			continue;
		strcpy(t[n].name, qnet_tensor_name(k));
		t[n].dtype = DT_F32;
		t[n].rank = (uint32_t)qnet_tensor_shape(&net->dm, k, t[n].shape);
		t[n].data = net->p + net->off[k];
		n++;
	}
	return tfile_write(path, MODEL_NET_MAGIC, t, n, err, errlen);
}

struct qnet *model_net_load(const char *path, const struct qnet_dims *want, char *err, size_t errlen)
{
	struct tfile f;
	struct qnet *net = NULL;
	char why[200];
	if (tfile_open(&f, path, MODEL_NET_MAGIC, "network", err, errlen) < 0)
		return NULL;
	const struct tensor *td = tfile_get(&f, "dims", DT_U32, 1, err, errlen);
	if (!td)
		goto err;
	if (td->shape[0] != NET_DIMS) {
		errf(err, errlen, "%s: tensor 'dims': %u entries, want %d", path, td->shape[0], NET_DIMS);
		goto err;
	}
	const uint32_t *v = td->data;
	struct qnet_dims dm = { .d = v[0], .L = v[1], .nkern = v[2], .kw = { v[3], v[4], v[5], v[6] },
		.F = v[7], .C = v[8], .X = v[9], .H = v[10] };
	if (qnet_dims_check(&dm, why, sizeof why) < 0) {
		errf(err, errlen, "%s: bad dims: %s", path, why);
		goto err;
	}
	if (v[11] > QNET_TARGET_SLATE) {
		errf(err, errlen, "%s: unknown target kind %u", path, v[11]);
		goto err;
	}
	if (want) {
		static const char *const names[] = { "d", "L", "nkern", "kw0", "kw1", "kw2", "kw3", "F", "C", "X", "H" };
		const uint32_t w[11] = { want->d, want->L, want->nkern, want->kw[0], want->kw[1], want->kw[2],
			want->kw[3], want->F, want->C, want->X, want->H };
		for (int i = 0; i < 11; i++) {
			if (w[i] != v[i]) {
				errf(err, errlen, "%s: wrong dims: %s is %u, want %u", path, names[i], v[i], w[i]);
				goto err;
			}
		}
	}
	net = qnet_new(&dm);
	net->target = v[11];
	for (int k = 0; k < QNET_NTENSORS; k++) {
		uint32_t sh[3];
		int rank = qnet_tensor_shape(&dm, k, sh);
		if (qnet_tensor_size(&dm, k) == 0)
			continue;
		const struct tensor *t = tfile_get(&f, qnet_tensor_name(k), DT_F32, (uint32_t)rank, err, errlen);
		if (!t)
			goto err;
		if (memcmp(t->shape, sh, (size_t)rank * sizeof *sh) != 0) {
			char got[64], exp[64];
			shape_str(t->shape, t->rank, got, sizeof got);
			shape_str(sh, (uint32_t)rank, exp, sizeof exp);
			errf(err, errlen, "%s: tensor '%s': shape %s, want %s", path, t->name, got, exp);
			goto err;
		}
		memcpy(net->p + net->off[k], t->data, t->nbytes);
	}
	tfile_close(&f);
	return net;
err:
	qnet_free(net);
	tfile_close(&f);
	return NULL;
}

/* ---- The embedding table ---- */

struct emb {
	uint32_t d, n;		/* dimension, rows */
	float *rows;		/* n × d */
	uint64_t *id_off;	/* n + 1 */
	char *ids;		/* id bytes, id r at [id_off[r], id_off[r+1]) */
	uint32_t *index;	/* nslots entries: row + 1, 0 empty */
	uint32_t nslots;	/* power of two */
	/* growable tables */
	size_t cap_rows, cap_ids;
	/* mapped tables */
	struct tfile *file;
};

static uint64_t id_hash(const char *id, size_t len)
{
	return hash64(id, len, 0x656d62);
}

int64_t emb_find(const struct emb *e, const char *id, size_t len)
{
	if (len == 0)
		return -1;
	uint32_t mask = e->nslots - 1;
	for (uint32_t s = (uint32_t)id_hash(id, len) & mask, probes = 0; probes < e->nslots; s = (s + 1) & mask, probes++) {
		uint32_t r = e->index[s];
		if (r == 0)
			return -1;
		r--;
		uint64_t a = e->id_off[r], b = e->id_off[r + 1];
		if (b - a == len && memcmp(e->ids + a, id, len) == 0)
			return r;
	}
	return -1;
}

/*
 * Each stage touches what the one before requested; a chunk this long keeps
 * enough misses in flight without scratch memory beyond the stack.
 */
#define EMB_BATCH 32

void emb_find_many(const struct emb *e, size_t n, const char *const *ids, const size_t *lens, int64_t *rows)
{
	uint32_t mask = e->nslots - 1, slot[EMB_BATCH];

	for (size_t b = 0; b < n; b += EMB_BATCH) {
		size_t m = n - b < EMB_BATCH ? n - b : EMB_BATCH, i;
		for (i = 0; i < m; i++) {
			slot[i] = (uint32_t)id_hash(ids[b + i], lens[b + i]) & mask;
			__builtin_prefetch(&e->index[slot[i]]);
		}
		for (i = 0; i < m; i++) {
			uint32_t r = e->index[slot[i]];
			if (r != 0)
				__builtin_prefetch(&e->id_off[r - 1]);
		}
		for (i = 0; i < m; i++) {
			uint32_t r = e->index[slot[i]];
			if (r != 0)
				__builtin_prefetch(e->ids + e->id_off[r - 1]);
		}
		/* the probes themselves, as emb_find's, now mostly on lines already fetched */
		for (i = 0; i < m; i++) {
			const char *id = ids[b + i];
			size_t len = lens[b + i];
			int64_t found = -1;
			if (len > 0)
				for (uint32_t s = slot[i], probes = 0; probes < e->nslots; s = (s + 1) & mask, probes++) {
					uint32_t r = e->index[s];
					if (r == 0)
						break;
					r--;
					uint64_t a = e->id_off[r];
					if (e->id_off[r + 1] - a == len && memcmp(e->ids + a, id, len) == 0) {
						found = r;
						break;
					}
				}
			rows[b + i] = found;
		}
	}
}

static void index_put(uint32_t *index, uint32_t nslots, const char *id, size_t len, uint32_t row)
{
	uint32_t mask = nslots - 1, s = (uint32_t)id_hash(id, len) & mask;
	while (index[s])
		s = (s + 1) & mask;
	index[s] = row + 1;
}

struct emb *emb_new(uint32_t d)
{
	struct emb *e = xcalloc(1, sizeof *e);
	e->d = d;
	e->n = 1;
	e->cap_rows = 64;
	e->rows = xcalloc(e->cap_rows * d, sizeof(float));
	e->id_off = xcalloc(e->cap_rows + 1, sizeof(uint64_t));
	e->cap_ids = 1024;
	e->ids = xmalloc(e->cap_ids);
	e->nslots = 128;
	e->index = xcalloc(e->nslots, sizeof(uint32_t));
	return e;
}

int emb_feature_row(float *row, uint32_t d, const float *x, uint32_t nx)
{
	/* the features themselves: the state network and the heads read the item's categories */
	if (nx != d)
		return -1;
	memcpy(row, x, (size_t)d * sizeof *row);
	return 0;
}

uint32_t emb_add(struct emb *e, const char *id, size_t len)
{
	if (e->file || len == 0 || len > MODEL_ID_MAX)
		return 0;
	int64_t r = emb_find(e, id, len);
	if (r >= 0)
		return (uint32_t)r;
	if (e->n == UINT32_MAX - 1)
		return 0;
	if (e->n == e->cap_rows) {
		e->cap_rows *= 2;
		e->rows = xreallocarray(e->rows, e->cap_rows * e->d, sizeof(float));
		e->id_off = xreallocarray(e->id_off, e->cap_rows + 1, sizeof(uint64_t));
	}
	uint64_t end = e->id_off[e->n];
	if (end + len > e->cap_ids) {
		while (end + len > e->cap_ids)
			e->cap_ids *= 2;
		e->ids = xrealloc(e->ids, e->cap_ids);
	}
	memcpy(e->ids + end, id, len);
	uint32_t row = e->n++;
	e->id_off[e->n] = end + len;
	memset(e->rows + (size_t)row * e->d, 0, e->d * sizeof(float));
	if ((uint64_t)e->n * 2 > e->nslots) {
		uint32_t ns = e->nslots * 2;
		uint32_t *ix = xcalloc(ns, sizeof *ix);
		for (uint32_t i = 1; i < e->n; i++)
			index_put(ix, ns, e->ids + e->id_off[i], e->id_off[i + 1] - e->id_off[i], i);
		free(e->index);
		e->index = ix;
		e->nslots = ns;
	} else {
		index_put(e->index, e->nslots, id, len, row);
	}
	return row;
}

struct emb *emb_dup(const struct emb *src)
{
	struct emb *e = emb_new(src->d);
	for (uint32_t r = 1; r < src->n; r++) {
		size_t len;
		const char *id = emb_id(src, r, &len);
		emb_add(e, id, len);
	}
	memcpy(e->rows, src->rows, (size_t)src->n * src->d * sizeof(float));
	return e;
}

void emb_free(struct emb *e)
{
	if (!e)
		return;
	if (e->file) {
		tfile_close(e->file);
		free(e->file);
	} else {
		free(e->rows);
		free(e->id_off);
		free(e->ids);
		free(e->index);
	}
	free(e);
}

uint32_t emb_dim(const struct emb *e) { return e->d; }
uint32_t emb_rows(const struct emb *e) { return e->n; }
const float *emb_row(const struct emb *e, uint32_t r) { return e->rows + (size_t)r * e->d; }
float *emb_row_mut(struct emb *e, uint32_t r) { return e->file ? NULL : e->rows + (size_t)r * e->d; }

const float *emb_lookup(const struct emb *e, const char *id, size_t len, int *known)
{
	int64_t r = emb_find(e, id, len);
	if (known)
		*known = r >= 0;
	return emb_row(e, r >= 0 ? (uint32_t)r : 0);
}

const char *emb_id(const struct emb *e, uint32_t r, size_t *len)
{
	*len = e->id_off[r + 1] - e->id_off[r];
	return e->ids + e->id_off[r];
}

int emb_write(const struct emb *e, const char *path, char *err, size_t errlen)
{
	uint32_t meta[4] = { e->d, e->n, e->nslots, 0 };
	struct tensor t[5];
	memset(t, 0, sizeof t);
	strcpy(t[0].name, "meta");
	t[0].dtype = DT_U32; t[0].rank = 1; t[0].shape[0] = 4; t[0].data = meta;
	strcpy(t[1].name, "rows");
	t[1].dtype = DT_F32; t[1].rank = 2; t[1].shape[0] = e->n; t[1].shape[1] = e->d; t[1].data = e->rows;
	strcpy(t[2].name, "id_off");
	t[2].dtype = DT_U64; t[2].rank = 1; t[2].shape[0] = e->n + 1; t[2].data = e->id_off;
	strcpy(t[3].name, "ids");
	t[3].dtype = DT_U8; t[3].rank = 1; t[3].shape[0] = (uint32_t)e->id_off[e->n]; t[3].data = e->ids;
	strcpy(t[4].name, "index");
	t[4].dtype = DT_U32; t[4].rank = 1; t[4].shape[0] = e->nslots; t[4].data = e->index;
	if (e->id_off[e->n] > UINT32_MAX)
		return errf(err, errlen, "%s: ids too large", path), -1;
	return tfile_write(path, MODEL_EMB_MAGIC, t, 5, err, errlen);
}

struct emb *emb_load(const char *path, uint32_t want_d, char *err, size_t errlen)
{
	struct tfile *f = xcalloc(1, sizeof *f);
	struct emb *e = NULL;
	if (tfile_open(f, path, MODEL_EMB_MAGIC, "embedding", err, errlen) < 0) {
		free(f);
		return NULL;
	}
	const struct tensor *tm = tfile_get(f, "meta", DT_U32, 1, err, errlen);
	const struct tensor *tr = tm ? tfile_get(f, "rows", DT_F32, 2, err, errlen) : NULL;
	const struct tensor *to = tr ? tfile_get(f, "id_off", DT_U64, 1, err, errlen) : NULL;
	const struct tensor *ti = to ? tfile_get(f, "ids", DT_U8, 1, err, errlen) : NULL;
	const struct tensor *tx = ti ? tfile_get(f, "index", DT_U32, 1, err, errlen) : NULL;
	if (!tx)
		goto err;
	if (tm->shape[0] != 4) {
		errf(err, errlen, "%s: tensor 'meta': bad size", path);
		goto err;
	}
	const uint32_t *meta = tm->data;
	uint32_t d = meta[0], n = meta[1], ns = meta[2];
	if (d < 1 || d > QNET_MAX_DIM || n < 1) {
		errf(err, errlen, "%s: bad dims: d %u, %u rows", path, d, n);
		goto err;
	}
	if (want_d && d != want_d) {
		errf(err, errlen, "%s: wrong dims: d is %u, want %u", path, d, want_d);
		goto err;
	}
	if (tr->shape[0] != n || tr->shape[1] != d) {
		errf(err, errlen, "%s: tensor 'rows': shape %u×%u, want %u×%u", path, tr->shape[0], tr->shape[1], n, d);
		goto err;
	}
	if (to->shape[0] != (uint64_t)n + 1 || tx->shape[0] != ns || ns == 0 || (ns & (ns - 1)) || ns < n) {
		errf(err, errlen, "%s: bad index sizes", path);
		goto err;
	}
	const uint64_t *off = to->data;
	if (off[0] != 0 || off[n] != ti->shape[0]) {
		errf(err, errlen, "%s: bad id offsets", path);
		goto err;
	}
	for (uint32_t r = 0; r < n; r++) {
		if (off[r + 1] < off[r] || off[r + 1] - off[r] > MODEL_ID_MAX || (r > 0 && off[r + 1] == off[r])) {
			errf(err, errlen, "%s: bad id offsets at row %u", path, r);
			goto err;
		}
	}
	const uint32_t *ix = tx->data;
	uint32_t used = 0;
	for (uint32_t s = 0; s < ns; s++) {
		if (ix[s] > n || ix[s] == 1) {
			errf(err, errlen, "%s: bad index entry %u", path, s);
			goto err;
		}
		used += ix[s] != 0;
	}
	if (used != n - 1 || used == ns) {
		errf(err, errlen, "%s: index holds %u ids, want %u", path, used, n - 1);
		goto err;
	}
	e = xcalloc(1, sizeof *e);
	e->d = d;
	e->n = n;
	e->rows = (float *)tr->data;
	e->id_off = (uint64_t *)off;
	e->ids = (char *)ti->data;
	e->index = (uint32_t *)ix;
	e->nslots = ns;
	e->file = f;
	for (uint32_t r = 1; r < n; r++) {
		size_t len;
		const char *id = emb_id(e, r, &len);
		if (emb_find(e, id, len) != r) {
			errf(err, errlen, "%s: index does not find row %u", path, r);
			e->file = NULL;
			free(e);
			goto err;
		}
	}
	return e;
err:
	tfile_close(f);
	free(f);
	return NULL;
}

/* ---- Versions ---- */

char *model_version_dir(const char *modeldir, uint32_t version)
{
	return xasprintf("%s/%010u", modeldir, version);
}

/* A version directory name: exactly 10 digits, > 0. */
static int parse_version(const char *name, uint32_t *v)
{
	if (strlen(name) != 10)
		return 0;
	uint64_t x = 0;
	for (int i = 0; i < 10; i++) {
		if (name[i] < '0' || name[i] > '9')
			return 0;
		x = x * 10 + (uint64_t)(name[i] - '0');
	}
	if (x == 0 || x > UINT32_MAX)
		return 0;
	*v = (uint32_t)x;
	return 1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int model_versions(const char *modeldir, uint32_t **out, size_t *n, char *err, size_t errlen)
{
	*out = NULL;
	*n = 0;
	DIR *dp = opendir(modeldir);
	if (!dp) {
		if (errno == ENOENT)
			return 0;
		return errf(err, errlen, "%s: %s", modeldir, strerror(errno)), -1;
	}
	size_t cap = 0;
	struct dirent *de;
	while ((de = readdir(dp))) {
		uint32_t v;
		if (!parse_version(de->d_name, &v))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*out = xreallocarray(*out, cap, sizeof **out);
		}
		(*out)[(*n)++] = v;
	}
	closedir(dp);
	if (*n)
		qsort(*out, *n, sizeof **out, cmp_u32);
	return 0;
}

int model_latest(const char *modeldir, uint32_t *version, char *err, size_t errlen)
{
	uint32_t *v;
	size_t n;
	if (model_versions(modeldir, &v, &n, err, errlen) < 0)
		return -1;
	if (n == 0)
		return 0;
	*version = v[n - 1];
	free(v);
	return 1;
}

static int info_get_u64(json_t *o, const char *k, uint64_t *out)
{
	json_t *v = json_object_get(o, k);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int info_get_num(json_t *o, const char *k, double *out)
{
	json_t *v = json_object_get(o, k);
	if (!v)
		return 0;
	if (!json_is_number(v))
		return -1;
	*out = json_number_value(v);
	return 0;
}

static int info_get_str(json_t *o, const char *k, char *out, size_t n)
{
	json_t *v = json_object_get(o, k);
	if (!v)
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) >= n)
		return -1;
	strcpy(out, json_string_value(v));
	return 0;
}

/* The manifest at path, parsed; NULL with the reason in err. */
static json_t *manifest_load(const char *path, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		errf(err, errlen, "%s: %s", path, je.text);
	return o;
}

/* The manifest's fields (o, read from path) into info. 0, or -1 with the reason in err. */
static int info_parse(json_t *o, const char *path, struct model_info *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof *info);
	uint64_t fmt = 0, version = 0, parent = 0, created = 0;
	int bad = !json_is_object(o) ||
	    info_get_u64(o, "format", &fmt) < 0 || info_get_u64(o, "version", &version) < 0 ||
	    info_get_u64(o, "parent", &parent) < 0 || info_get_u64(o, "created_ms", &created) < 0 ||
	    info_get_str(o, "mode", info->mode, sizeof info->mode) < 0 ||
	    info_get_str(o, "target", info->target, sizeof info->target) < 0 ||
	    info_get_str(o, "rows", info->rows, sizeof info->rows) < 0 ||
	    info_get_num(o, "gamma", &info->gamma) < 0 || info_get_num(o, "w_click", &info->w_click) < 0 ||
	    info_get_num(o, "w_pay", &info->w_pay) < 0 ||
	    info_get_u64(o, "transitions", &info->transitions) < 0 || info_get_u64(o, "items", &info->items) < 0 ||
	    info_get_u64(o, "unknown", &info->unknown) < 0 || info_get_u64(o, "updates", &info->updates) < 0;
	if (bad)
		return errf(err, errlen, "%s: a field has the wrong type", path), -1;
	if (fmt != MODEL_FORMAT_VERSION)
		return errf(err, errlen, "%s: format %llu, this build reads %d", path, (unsigned long long)fmt,
		    MODEL_FORMAT_VERSION), -1;
	if (info->rows[0] == '\0')
		strcpy(info->rows, MODEL_ROWS_LEARNED);
	if (strcmp(info->rows, MODEL_ROWS_LEARNED) != 0 && strcmp(info->rows, MODEL_ROWS_FEATURES) != 0 &&
	    strcmp(info->rows, MODEL_ROWS_INIT_FEATURES) != 0 && strcmp(info->rows, MODEL_ROWS_INIT) != 0)
		return errf(err, errlen, "%s: rows \"%s\": want \"%s\", \"%s\", \"%s\" or \"%s\"", path, info->rows,
		    MODEL_ROWS_LEARNED, MODEL_ROWS_FEATURES, MODEL_ROWS_INIT_FEATURES, MODEL_ROWS_INIT), -1;
	if (version == 0 || version > UINT32_MAX || parent > UINT32_MAX)
		return errf(err, errlen, "%s: bad version", path), -1;
	info->version = (uint32_t)version;
	info->parent = (uint32_t)parent;
	info->created_ms = (int64_t)created;
	return 0;
}

int model_info_read(const char *path, struct model_info *info, char *err, size_t errlen)
{
	json_t *o = manifest_load(path, err, errlen);
	if (!o)
		return memset(info, 0, sizeof *info), -1;
	int r = info_parse(o, path, info, err, errlen);
	json_decref(o);
	return r;
}

/* The manifest's "input" (o, read from path) into a malloc'd array. 0, or -1 with the reason in err. */
static int input_parse(json_t *o, const char *path, struct model_input_pos **in, size_t *n,
    char *err, size_t errlen)
{
	*in = NULL;
	*n = 0;
	json_t *a = json_is_object(o) ? json_object_get(o, "input") : NULL;
	if (!json_is_object(o) || (a && !json_is_array(a)))
		return errf(err, errlen, "%s: %s", path,
		    json_is_object(o) ? "\"input\" is not an array" : "not an object"), -1;
	size_t k;
	json_t *e;
	json_array_foreach(a, k, e) {
		json_t *t = json_object_get(e, "topic"), *p = json_object_get(e, "partition"),
		    *off = json_object_get(e, "offset");
		if (!json_is_string(t) || !json_is_integer(p) || !json_is_integer(off) ||
		    json_integer_value(p) < 0 || json_integer_value(p) > INT32_MAX || json_integer_value(off) < 0) {
			errf(err, errlen, "%s: input %zu: want a topic, a partition and an offset", path, k);
			model_input_free(*in, *n);
			*in = NULL;
			*n = 0;
			return -1;
		}
		*in = xreallocarray(*in, *n + 1, sizeof **in);
		(*in)[(*n)++] = (struct model_input_pos){ .topic = xstrdup(json_string_value(t)),
			.partition = (int32_t)json_integer_value(p), .offset = json_integer_value(off) };
	}
	return 0;
}

int model_input_read(const char *path, struct model_input_pos **in, size_t *n, char *err, size_t errlen)
{
	json_t *o = manifest_load(path, err, errlen);
	if (!o)
		return *in = NULL, *n = 0, -1;
	int r = input_parse(o, path, in, n, err, errlen);
	json_decref(o);
	return r;
}

void model_input_free(struct model_input_pos *in, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free((char *)in[i].topic);
	free(in);
}

/* Writes the manifest of info (and the dims of net, the input positions of pub) to path, fsynced. */
static int info_write(const char *path, const struct model_info *info, const struct qnet *net,
    const struct model_publication *pub, char *err, size_t errlen)
{
	json_t *o = json_object(), *dims = json_object(), *kw = json_array(), *files = json_object();
	for (uint32_t k = 0; k < net->dm.nkern; k++)
		json_array_append_new(kw, json_integer(net->dm.kw[k]));
	json_object_set_new(dims, "d", json_integer(net->dm.d));
	json_object_set_new(dims, "L", json_integer(net->dm.L));
	json_object_set_new(dims, "kernels", kw);
	json_object_set_new(dims, "F", json_integer(net->dm.F));
	json_object_set_new(dims, "C", json_integer(net->dm.C));
	json_object_set_new(dims, "X", json_integer(net->dm.X));
	json_object_set_new(dims, "H", json_integer(net->dm.H));
	json_object_set_new(files, "net", json_string(MODEL_NET_FILE));
	json_object_set_new(files, "emb", json_string(MODEL_EMB_FILE));
	json_object_set_new(files, "warmup", json_string(MODEL_WARMUP_FILE));
	json_object_set_new(o, "format", json_integer(MODEL_FORMAT_VERSION));
	json_object_set_new(o, "version", json_integer(info->version));
	json_object_set_new(o, "parent", json_integer(info->parent));
	json_object_set_new(o, "mode", json_string(info->mode));
	json_object_set_new(o, "target", json_string(info->target));
	json_object_set_new(o, "rows", json_string(info->rows[0] ? info->rows : MODEL_ROWS_LEARNED));
	json_object_set_new(o, "created_ms", json_integer(info->created_ms));
	json_object_set_new(o, "gamma", json_real(info->gamma));
	json_object_set_new(o, "w_click", json_real(info->w_click));
	json_object_set_new(o, "w_pay", json_real(info->w_pay));
	json_object_set_new(o, "transitions", json_integer((json_int_t)info->transitions));
	json_object_set_new(o, "items", json_integer((json_int_t)info->items));
	json_object_set_new(o, "unknown", json_integer((json_int_t)info->unknown));
	json_object_set_new(o, "updates", json_integer((json_int_t)info->updates));
	json_object_set_new(o, "dims", dims);
	json_object_set_new(o, "files", files);
	if (pub->ninput > 0) {
		json_t *in = json_array();
		for (size_t i = 0; i < pub->ninput; i++)
			json_array_append_new(in, json_pack("{s:s,s:i,s:I}", "topic", pub->input[i].topic,
			    "partition", (int)pub->input[i].partition, "offset", (json_int_t)pub->input[i].offset));
		json_object_set_new(o, "input", in);
	}
	char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
	json_decref(o);
	int r = -1, fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0 && write_all(fd, s, strlen(s)) == 0 && write_all(fd, "\n", 1) == 0 && fsync(fd) == 0)
		r = 0;
	if (r < 0)
		errf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd >= 0 && close(fd) < 0 && r == 0) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		r = -1;
	}
	free(s);
	return r;
}

/* Writes buf to path, fsynced. 0 or -1 with err. */
static int write_file(const char *path, const void *buf, size_t n, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write_all(fd, buf, n) < 0 || fsync(fd) < 0) {
		errf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (close(fd) < 0)
		return errf(err, errlen, "%s: %s", path, strerror(errno)), -1;
	return 0;
}

/* Copies a file (when a hard link is impossible), fsynced. */
static int copy_file(const char *from, const char *to, char *err, size_t errlen)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return errf(err, errlen, "%s: %s", from, strerror(errno)), -1;
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0) {
		errf(err, errlen, "%s: %s", to, strerror(errno));
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t r;
	int st = 0;
	while ((r = read(in, buf, sizeof buf)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			st = -1;
			break;
		}
		if (write_all(out, buf, (size_t)r) < 0) {
			st = -1;
			break;
		}
	}
	if (st == 0 && fsync(out) < 0)
		st = -1;
	if (st < 0)
		errf(err, errlen, "%s: %s", to, strerror(errno));
	close(in);
	if (close(out) < 0 && st == 0) {
		errf(err, errlen, "%s: %s", to, strerror(errno));
		st = -1;
	}
	return st;
}

/* Removes a directory of plain files. */
static int remove_tree(const char *dir)
{
	DIR *dp = opendir(dir);
	if (!dp)
		return errno == ENOENT ? 0 : -1;
	struct dirent *de;
	while ((de = readdir(dp))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *p = xasprintf("%s/%s", dir, de->d_name);
		unlink(p);
		free(p);
	}
	closedir(dp);
	return rmdir(dir);
}

int model_prune(const char *modeldir, unsigned keep, char *err, size_t errlen)
{
	int st = 0;
	DIR *dp = opendir(modeldir);
	if (dp) {
		struct dirent *de;
		while ((de = readdir(dp))) {
			long pid;
			if (sscanf(de->d_name, ".tmp-%ld-", &pid) != 1 || pid <= 0)
				continue;
			if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
				continue;
			char *p = xasprintf("%s/%s", modeldir, de->d_name);
			remove_tree(p);
			free(p);
		}
		closedir(dp);
	}
	if (keep == 0)
		return 0;
	uint32_t *v;
	size_t n;
	if (model_versions(modeldir, &v, &n, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i + keep < n; i++) {
		char *p = model_version_dir(modeldir, v[i]);
		if (remove_tree(p) < 0 && errno != ENOENT) {
			errf(err, errlen, "%s: %s", p, strerror(errno));
			st = -1;
		}
		free(p);
	}
	free(v);
	return st;
}

int model_store_check(const char *modeldir, char *err, size_t errlen)
{
	struct stat sb;
	char *parent, *slash;
	int rv = 0;

	if (stat(modeldir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode))
			return errf(err, errlen, "%s: not a directory", modeldir), -1;
		if (access(modeldir, W_OK | X_OK) < 0)
			return errf(err, errlen, "%s: %s", modeldir, strerror(errno)), -1;
		return 0;
	}
	if (errno != ENOENT)
		return errf(err, errlen, "%s: %s", modeldir, strerror(errno)), -1;
	parent = xstrdup(modeldir);
	while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0' && slash != parent)
		*slash = '\0';	/* trailing slashes */
	slash = strrchr(parent, '/');
	if (slash == NULL)
		strcpy(parent, ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	if (stat(parent, &sb) < 0 || (S_ISDIR(sb.st_mode) && access(parent, W_OK | X_OK) < 0)) {
		errf(err, errlen, "%s: cannot be created: %s: %s", modeldir, parent, strerror(errno));
		rv = -1;
	} else if (!S_ISDIR(sb.st_mode)) {
		errf(err, errlen, "%s: cannot be created: %s is not a directory", modeldir, parent);
		rv = -1;
	}
	free(parent);
	return rv;
}

int model_publish(const char *modeldir, const struct model_publication *pub, uint32_t *version,
    char *err, size_t errlen)
{
	static unsigned seq;
	char *tmp = NULL, *p = NULL, *final = NULL;
	struct model_info info = pub->info;

	if (mkdir(modeldir, 0755) < 0 && errno != EEXIST)
		return errf(err, errlen, "%s: %s", modeldir, strerror(errno)), -1;
	uint32_t latest = 0;
	if (model_latest(modeldir, &latest, err, errlen) < 0)
		return -1;
	tmp = xasprintf("%s/.tmp-%ld-%u-%u", modeldir, (long)getpid(), latest + 1, seq++);
	if (mkdir(tmp, 0755) < 0) {
		errf(err, errlen, "%s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	p = xasprintf("%s/%s", tmp, MODEL_NET_FILE);
	if (model_net_write(pub->net, p, err, errlen) < 0)
		goto err;
	free(p);
	p = xasprintf("%s/%s", tmp, MODEL_EMB_FILE);
	if (pub->emb_link) {
		if (link(pub->emb_link, p) < 0) {
			int linkerr = errno;
			if (pub->emb ? emb_write(pub->emb, p, err, errlen) < 0 : copy_file(pub->emb_link, p, err, errlen) < 0) {
				size_t k = strlen(err);
				snprintf(err + k, errlen - k, " (after link %s: %s)", pub->emb_link, strerror(linkerr));
				goto err;
			}
		}
	} else if (!pub->emb || emb_write(pub->emb, p, err, errlen) < 0) {
		if (!pub->emb)
			errf(err, errlen, "no embeddings to publish");
		goto err;
	}
	free(p);
	p = xasprintf("%s/%s", tmp, MODEL_WARMUP_FILE);
	if (write_file(p, pub->warmup ? pub->warmup : "", pub->warmup ? pub->warmup_len : 0, err, errlen) < 0)
		goto err;
	free(p);
	p = NULL;
	info.created_ms = (int64_t)time(NULL) * 1000;
	{
		struct timespec ts;
		if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
			info.created_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	for (int attempt = 0; attempt < 100; attempt++) {
		info.version = latest + 1;
		p = xasprintf("%s/%s", tmp, MODEL_MANIFEST_FILE);
		if (info_write(p, &info, pub->net, pub, err, errlen) < 0)
			goto err;
		free(p);
		p = NULL;
		fsync_dir(tmp);
		final = model_version_dir(modeldir, info.version);
		if (rename(tmp, final) == 0)
			break;
		if (errno != EEXIST && errno != ENOTEMPTY) {
			errf(err, errlen, "%s: rename: %s", final, strerror(errno));
			goto err;
		}
		/* another writer took that number: take the next */
		free(final);
		final = NULL;
		if (model_latest(modeldir, &latest, err, errlen) < 0)
			goto err;
	}
	if (!final) {
		errf(err, errlen, "%s: no free version number", modeldir);
		goto err;
	}
	fsync_dir(modeldir);
	*version = info.version;
	free(final);
	free(tmp);
	if (pub->keep && model_prune(modeldir, pub->keep, err, errlen) < 0)
		return -1;
	return 0;
err:
	free(p);
	free(final);
	remove_tree(tmp);
	free(tmp);
	return -1;
}

struct model *model_load_dir(const char *dir, char *err, size_t errlen)
{
	struct model *m = xcalloc(1, sizeof *m);
	m->dir = xstrdup(dir);
	/* the manifest, read once: its fields and the input the version covers */
	char *p = xasprintf("%s/%s", dir, MODEL_MANIFEST_FILE);
	json_t *o = manifest_load(p, err, errlen);
	int r = o && info_parse(o, p, &m->info, err, errlen) == 0 &&
	    input_parse(o, p, &m->input, &m->ninput, err, errlen) == 0 ? 0 : -1;
	json_decref(o);
	free(p);
	if (r < 0)
		goto err;
	m->version = m->info.version;
	p = xasprintf("%s/%s", dir, MODEL_NET_FILE);
	m->net = model_net_load(p, NULL, err, errlen);
	free(p);
	if (!m->net)
		goto err;
	p = xasprintf("%s/%s", dir, MODEL_EMB_FILE);
	m->emb = emb_load(p, m->net->dm.d, err, errlen);
	free(p);
	if (!m->emb)
		goto err;
	m->feature_rows = strcmp(m->info.rows, MODEL_ROWS_FEATURES) == 0 ||
	    strcmp(m->info.rows, MODEL_ROWS_INIT_FEATURES) == 0;
	if (m->feature_rows && m->net->dm.d != m->net->dm.X) {
		errf(err, errlen, "%s/%s: rows \"%s\" with d %u, the features X %u", dir, MODEL_MANIFEST_FILE,
		    m->info.rows, m->net->dm.d, m->net->dm.X);
		goto err;
	}
	return m;
err:
	model_free(m);
	return NULL;
}

struct model *model_load(const char *modeldir, uint32_t version, char *err, size_t errlen)
{
	if (version == 0) {
		int r = model_latest(modeldir, &version, err, errlen);
		if (r < 0)
			return NULL;
		if (r == 0)
			return errf(err, errlen, "%s: no model version", modeldir), NULL;
	}
	char *dir = model_version_dir(modeldir, version);
	struct model *m = model_load_dir(dir, err, errlen);
	free(dir);
	if (m && m->version != version) {
		errf(err, errlen, "%s: manifest says version %u", m->dir, m->version);
		model_free(m);
		return NULL;
	}
	return m;
}

void model_free(struct model *m)
{
	if (!m)
		return;
	qnet_free(m->net);
	emb_free(m->emb);
	model_input_free(m->input, m->ninput);
	free(m->dir);
	free(m);
}
