/* notify-listen.c: systemd's side of the notify protocol, for the tests — prints each datagram sent to a socket. */
#include <sys/socket.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Usage: notify-listen PATH FILE: binds a datagram socket at PATH, then appends each
 * message received to FILE, one a line, until killed.
 */
int
main(int argc, char **argv)
{
	struct sockaddr_un sa;
	char buf[4096];
	ssize_t n;
	FILE *fp;
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof sa.sun_path) {
		fprintf(stderr, "usage: notify-listen path file\n");
		return 2;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror(argv[1]);
		return 1;
	}
	for (;;) {
		if ((n = recv(fd, buf, sizeof buf - 1, 0)) < 0) {
			perror("recv");
			return 1;
		}
		buf[n] = '\0';
		if ((fp = fopen(argv[2], "a")) == NULL) {
			perror(argv[2]);
			return 1;
		}
		fprintf(fp, "%s\n", buf);
		fclose(fp);
	}
}
