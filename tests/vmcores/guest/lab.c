/*
 * lab: the user-space side of a ktriage corpus guest.
 *
 * One static binary, installed under several names so that `ps` in the dump shows a
 * plausible server: the process name (comm) is the name it was executed as.
 *
 *   lab threads N MB   a multi-threaded daemon: N threads, MB megabytes touched
 *   lab fork N         a worker master with N forked children (php-fpm like)
 *   lab idle           sleep forever
 *   lab trigger FILE STRING
 *                      write STRING to FILE (the lkdtm DIRECT file, sysrq-trigger)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void *idle_thread(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "threads") == 0) {
		int n = atoi(argv[2]);
		size_t bytes = (size_t)atoi(argv[3]) << 20;
		for (int i = 1; i < n; i++) {
			pthread_t t;
			pthread_create(&t, NULL, idle_thread, NULL);
		}
		char *mem = malloc(bytes);
		if (mem)
			memset(mem, 0x5a, bytes);
		idle_thread(NULL);
	} else if (argc >= 3 && strcmp(argv[1], "fork") == 0) {
		int n = atoi(argv[2]);
		for (int i = 0; i < n; i++) {
			if (fork() == 0) {
				char *mem = malloc(4 << 20);
				if (mem)
					memset(mem, 0x11, 4 << 20);
				for (;;)
					pause();
			}
		}
		for (;;)
			pause();
	} else if (argc >= 4 && strcmp(argv[1], "trigger") == 0) {
		int fd = open(argv[2], O_WRONLY);
		if (fd < 0) {
			perror(argv[2]);
			return 1;
		}
		fprintf(stderr, "lab-trigger: writing %s to %s\n", argv[3], argv[2]);
		if (write(fd, argv[3], strlen(argv[3])) < 0) {
			perror("write");
			return 1;
		}
		close(fd);
		/* Still alive: the trigger did not crash the kernel. */
		fprintf(stderr, "lab-trigger: %s returned\n", argv[3]);
		return 2;
	}
	for (;;)
		pause();
}
