// The operations benchmark's workload: one file operation N times, printing the mean nanoseconds
// per operation. C, so the loop measures the syscall path and not an interpreter.
//   oploop DIR open|unlink|rename|chmod COUNT
// unlink: link + unlink of a name (two traced operations per round, reported per operation).
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: oploop DIR open|unlink|rename|chmod COUNT\n");
		return 2;
	}
	char a[4096], b[4096];
	snprintf(a, sizeof(a), "%s/oploop-a", argv[1]);
	snprintf(b, sizeof(b), "%s/oploop-b", argv[1]);
	int fd = open(a, O_WRONLY | O_CREAT, 0644);
	if (fd < 0) {
		perror("create");
		return 1;
	}
	close(fd);
	const char *op = argv[2];
	long n = atol(argv[3]), ops = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = 0; i < n; i++) {
		int r = 0;
		if (!strcmp(op, "open")) {
			r = open(a, O_RDONLY);
			if (r >= 0)
				r = close(r);
			ops += 1;
		} else if (!strcmp(op, "unlink")) {
			r = link(a, b);
			if (r == 0)
				r = unlink(b);
			ops += 2;
		} else if (!strcmp(op, "rename")) {
			r = (i % 2) ? rename(b, a) : rename(a, b);
			ops += 1;
		} else if (!strcmp(op, "chmod")) {
			r = chmod(a, (i % 2) ? 0644 : 0600);
			ops += 1;
		} else {
			fprintf(stderr, "unknown operation %s\n", op);
			return 2;
		}
		if (r < 0) {
			perror(op);
			return 1;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
	printf("%.1f\n", ns / ops);
	unlink(a);
	unlink(b);
	return 0;
}
