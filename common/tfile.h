/* tfile.h: the checksummed tensor file — a header, a directory of named tensors and the tensors, every byte checked. */
#ifndef TFILE_H
#define TFILE_H
#include <stddef.h>
#include <stdint.h>

/*
 * Little-endian: a 64-byte header (magic, format version, tensor count, file
 * size, directory crc32, header crc32), a directory of named tensors (name,
 * type, shape, offset, size, crc32 of the bytes) and the tensors, each
 * 64-byte aligned, the padding zero. See pageturn-model(5).
 *
 * Errors: every function that can fail writes one line into err (errlen
 * bytes) naming the file and the problem ("…: tensor 'fc.w': checksum
 * mismatch", "…: truncated: 4096 bytes, header says 8192", "…: bad magic").
 */

#define TFILE_FORMAT_VERSION 1
#define TFILE_NAME 48		/* a tensor's name, NUL-padded */
#define TFILE_MAXT 64		/* tensors a file may hold */

/* Element types. */
enum { TFILE_F32 = 1, TFILE_U32 = 2, TFILE_U64 = 3, TFILE_U8 = 4 };

/* One tensor of a file: on write, data points at the bytes; on read, into the file's bytes in memory. */
struct tfile_tensor {
	char name[TFILE_NAME];
	uint32_t dtype, rank;
	uint32_t shape[4];
	uint64_t offset, nbytes;
	uint32_t crc;
	const void *data;
};

/* An open file: its bytes read into private memory, its directory read. */
struct tfile {
	const char *path;
	void *buf;
	size_t size;
	uint32_t n;
	struct tfile_tensor t[TFILE_MAXT];
};

/*
 * Writes a tensor file: the tensors of t (data, dtype, rank, shape set; the
 * rest filled in) to path atomically (temporary name in the same directory,
 * fsync, rename, directory fsync). 0, or -1 with the reason in err.
 */
int tfile_write(const char *path, const char *magic, struct tfile_tensor *t, uint32_t n, char *err, size_t errlen);
/*
 * Reads the file at path into memory of its own and validates it (magic of 8
 * bytes; kind names the file in a message): 0, or -1 with the reason in err.
 * The bytes are a private copy, so the file may change or shrink afterwards
 * without harm to f. f->path points at path, which must outlive f.
 */
int tfile_open(struct tfile *f, const char *path, const char *magic, const char *kind, char *err, size_t errlen);
/* Frees the bytes of f; a closed f is a no-op. */
void tfile_close(struct tfile *f);
/* The tensor called name with the given type and rank, or NULL with the reason in err. */
const struct tfile_tensor *tfile_get(const struct tfile *f, const char *name, uint32_t dtype, uint32_t rank,
    char *err, size_t errlen);

/* Formats a message into err (errlen bytes; NULL or 0 writes nothing). */
void tfile_errf(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Writes all of buf to fd. 0 or -1 (errno set). */
int tfile_write_all(int fd, const void *buf, size_t n);
/* fsyncs a directory so that a rename in it is durable. 0 or -1 (errno set). */
int tfile_fsync_dir(const char *dir);

#endif
