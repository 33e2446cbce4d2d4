/* fileid.h - whether a file at a path is still the one read from it before.
 *
 * A file's identity here is its device, inode, size, and modification and change
 * times.  The change time because anyone who may write a file may also set its
 * modification time back after rewriting it in place (cp -p, tar, rsync -a do); no one
 * can set the change time, which any write, chmod or link moves.  The collectors keep
 * what they read from a file (a module's build-id, a symbol cache entry) while its
 * identity holds.  Whether two names are of one file at all is its device and inode
 * alone (file_same_inode()).
 */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtim, ctim;
};

static inline struct file_id file_id_of(const struct stat *st)
{
	return (struct file_id){ st->st_dev, st->st_ino, st->st_size, st->st_mtim, st->st_ctim };
}

/* Whether two stat results are of one file, however it was named. */
static inline bool file_same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

static inline bool file_id_same(const struct file_id *id, const struct stat *st)
{
	return id->dev == st->st_dev && id->ino == st->st_ino && id->size == st->st_size &&
	       id->mtim.tv_sec == st->st_mtim.tv_sec && id->mtim.tv_nsec == st->st_mtim.tv_nsec &&
	       id->ctim.tv_sec == st->st_ctim.tv_sec && id->ctim.tv_nsec == st->st_ctim.tv_nsec;
}
