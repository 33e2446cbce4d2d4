/* snapfile.c - writing snapshot files atomically (see snapfile.h).
 *
 * The data goes to an O_TMPFILE (no name, so a crash leaves nothing), which is then
 * given its name with linkat(2); linkat fails with EEXIST rather than replace or
 * follow anything at the target.  Filesystems without O_TMPFILE get a hidden
 * O_EXCL|O_NOFOLLOW temporary that is renamed with RENAME_NOREPLACE.
 */
#include "snapfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pprof.h"

#define MAX_SUFFIX 1000

static int link_tmpfile(int fd, const char *target)
{
	char proc[64];
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, proc, AT_FDCWD, target, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
}

static int rename_noreplace(const char *from, const char *to)
{
	return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) < 0 ? -errno : 0;
}

/* Gives the written file (fd, or the temporary tmp) its final name. */
static int name_file(int fd, const char *tmp, const char *dir, const char *base,
		     char *path_out, size_t path_len)
{
	for (int k = 1; k <= MAX_SUFFIX; k++) {
		int n = k == 1 ? snprintf(path_out, path_len, "%s/%s.pb.gz", dir, base)
			       : snprintf(path_out, path_len, "%s/%s-%d.pb.gz", dir, base, k);
		if (n < 0 || (size_t)n >= path_len)
			return -ENAMETOOLONG;
		int r = tmp ? rename_noreplace(tmp, path_out) : link_tmpfile(fd, path_out);
		if (r != -EEXIST)
			return r;
	}
	return -EEXIST;
}

int snapfile_write(const profile_t *p, const char *dir, const char *base, char *path_out,
		   size_t path_len)
{
	char tmp[PATH_MAX];
	const char *tmp_name = NULL;
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		for (int tries = 0; fd < 0 && tries < 100; tries++) {
			snprintf(tmp, sizeof(tmp), "%s/.%s.%d.%d.tmp", dir, base, (int)getpid(),
				 rand());
			fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd < 0 && errno != EEXIST)
				break;
		}
		tmp_name = tmp;
	}
	if (fd < 0)
		return -errno;
	int r = pprof_write_fd(p, fd);
	if (r == 0)
		r = name_file(fd, tmp_name, dir, base, path_out, path_len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0 && tmp_name)
		unlink(tmp_name);
	return r;
}
