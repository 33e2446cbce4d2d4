/* churn.c - says "ready PID", waits for a line on stdin, then allocates and frees
 * at full speed (N rounds, default 2,000,000) and says "churn done".  With
 * CHURN_FORK=1 it then forks a child that allocates 100 blocks of 10 bytes and says
 * "child PID". */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define SET 1024

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 2000000;
	static void *set[SET];
	char line[16];
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	unsigned x = 1;
	for (long i = 0; i < rounds; i++) {
		x = x * 1103515245u + 12345u;
		unsigned k = (x >> 8) % SET;
		free(set[k]);
		set[k] = malloc(16 + (x >> 20) % 256); /* site:churn */
	}
	printf("churn done\n");
	if (getenv("CHURN_FORK")) {
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			for (int i = 0; i < 100; i++)
				set[i] = malloc(10); /* site:child */
			printf("child %d\n", (int)getpid());
			exit(0);
		}
		waitpid(pid, NULL, 0);
	}
	return 0;
}
