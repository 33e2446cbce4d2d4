/* fd2reuse.c - a program whose fd 2 becomes one of its own files.
 *
 * It allocates (tracing starts, stderr noted), closes fd 2, creates ARGV[1], which
 * gets fd 2, then installs a handler for SIGUSR2 (heapsnap's snapshot signal: the shim
 * says so, on stderr) and writes its data to fd 2.  Prints what the file holds.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void on_usr2(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	void *volatile before = malloc(40); /* site:before_reuse */
	close(2);
	int fd = open(argv[1], O_CREAT | O_TRUNC | O_RDWR, 0600);
	if (fd != 2)
		return 3;
	signal(SIGUSR2, on_usr2);
	static const char data[] = "the program's data\n";
	if (write(fd, data, strlen(data)) != (ssize_t)strlen(data))
		return 4;
	char got[512] = "";
	ssize_t n = pread(fd, got, sizeof(got) - 1, 0);
	printf("%s", n > 0 ? got : "");
	free(before);
	return 0;
}
