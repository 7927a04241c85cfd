/* sdnotify.c: READY=1 as one datagram to $NOTIFY_SOCKET, systemd's notify protocol in a few lines. */
#include <sys/socket.h>
#include <sys/un.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "sdnotify.h"

static atomic_int armed;
static atomic_int pending;	/* a ready sent before arming waits here */
static atomic_int sent;

/* The datagram to the socket $NOTIFY_SOCKET names (a path, or @ for the abstract namespace). */
static void
send_ready(void)
{
	static const char msg[] = "READY=1";
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	size_t n;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') || atomic_exchange(&sent, 1))
		return;
	n = strlen(path);
	if (n >= sizeof sa.sun_path) {
		diag_warn("NOTIFY_SOCKET: a path too long");
		return;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    sendto(fd, msg, sizeof msg - 1, MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		diag_warn("NOTIFY_SOCKET %s: cannot tell systemd the service is ready:", path);
	if (fd >= 0)
		close(fd);
}

void
sdnotify_arm(int ready)
{
	atomic_store(&armed, 1);
	if (ready || atomic_load(&pending))
		send_ready();
}

void
sdnotify_ready(void)
{
	atomic_store(&pending, 1);
	if (atomic_load(&armed))
		send_ready();
}
