/* leaderless.c - a process whose main thread has exited (pthread_exit) while another
 * thread lives on for a few seconds: /proc shows no memory map for it. */
#include <pthread.h>
#include <unistd.h>

static void *linger(void *arg)
{
	(void)arg;
	sleep(5);
	_exit(0);
}

int main(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, linger, NULL))
		return 1;
	pthread_exit(NULL);
}
