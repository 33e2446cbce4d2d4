/* exec.c - telling the collector that this process image is being replaced.
 *
 * After a successful exec the image is gone but the pid lives on, and a short-lived
 * new image can end before the collector notices its maps changed.  So every exec
 * entry point marks the control block first, and clears the mark if exec returns
 * (failed).  Only the traced process itself marks: a vfork or posix_spawn child shares
 * our memory but has a pid of its own.  glibc's exec functions call execve
 * internally, not through the PLT, so each is wrapped on its own.
 */
#include <errno.h>
#include <stdarg.h>
#include <unistd.h>

#include "shim.h"

extern char **environ;

static void exec_begin(void)
{
	struct hs_ctl *c = shim_seg.ctl;
	if (c && atomic_load(&shim_state) == SHIM_ON && getpid() == c->pid)
		atomic_store(&c->exec_pending, 1);
}

static void exec_failed(void)
{
	struct hs_ctl *c = shim_seg.ctl;
	int saved = errno;
	if (c && atomic_load(&shim_state) == SHIM_ON && getpid() == c->pid)
		atomic_store(&c->exec_pending, 0);
	errno = saved;
}

/* Each wrapper's real function, found at its first call or, in a process that forks,
 * before the fork (exec_resolve): a child of a multithreaded parent must not look a
 * symbol up, since the loader's lock may have been held by a thread it lacks. */
#define RESOLVE(name)                                                                  \
	do {                                                                           \
		if (!real_##name)                                                      \
			real_##name = (__typeof__(real_##name))shim_next_symbol(#name); \
	} while (0)

#define EXEC_WRAPPER(name, params, args)                                   \
	static int (*real_##name) params;                                  \
	EXPORT int name params                                             \
	{                                                                  \
		RESOLVE(name);                                             \
		if (!real_##name) {                                        \
			errno = ENOSYS;                                    \
			return -1;                                         \
		}                                                          \
		exec_begin();                                              \
		int r = real_##name args;                                  \
		exec_failed();                                             \
		return r;                                                  \
	}

EXEC_WRAPPER(execve, (const char *path, char *const argv[], char *const envp[]),
	     (path, argv, envp))
EXEC_WRAPPER(execv, (const char *path, char *const argv[]), (path, argv))
EXEC_WRAPPER(execvp, (const char *file, char *const argv[]), (file, argv))
EXEC_WRAPPER(execvpe, (const char *file, char *const argv[], char *const envp[]),
	     (file, argv, envp))
EXEC_WRAPPER(fexecve, (int fd, char *const argv[], char *const envp[]), (fd, argv, envp))

void exec_resolve(void)
{
	RESOLVE(execve);
	RESOLVE(execv);
	RESOLVE(execvp);
	RESOLVE(execvpe);
	RESOLVE(fexecve);
}

/* The list forms gather their arguments and go through the vector forms above. */
#define COLLECT_ARGS(first, argv, ap)                         \
	size_t n_ = 1;                                        \
	va_start(ap, first);                                  \
	while (va_arg(ap, const char *))                      \
		n_++;                                         \
	va_end(ap);                                           \
	const char *argv[n_ + 1];                             \
	argv[0] = first;                                      \
	va_start(ap, first);                                  \
	for (size_t i_ = 1; i_ <= n_; i_++)                   \
		argv[i_] = va_arg(ap, const char *)

EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, argv, ap);
	va_end(ap);
	return execv(path, (char *const *)argv);
}

EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, argv, ap);
	va_end(ap);
	return execvp(file, (char *const *)argv);
}

EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	COLLECT_ARGS(arg, argv, ap);
	char *const *envp = va_arg(ap, char *const *);
	va_end(ap);
	return execve(path, (char *const *)argv, envp);
}
