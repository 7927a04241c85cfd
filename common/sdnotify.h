/* sdnotify.h: systemd's readiness notification (Type=notify) without libsystemd. */
#ifndef SDNOTIFY_H
#define SDNOTIFY_H

/*
 * Arms the notification: from now on sdnotify_ready() tells systemd; with
 * ready set, tells it at once. Call when the service can do its work (a
 * server listening); a no-op without $NOTIFY_SOCKET.
 */
void sdnotify_arm(int ready);
/*
 * Sends READY=1 to $NOTIFY_SOCKET once, if armed (else it is left for
 * sdnotify_arm()). Safe from any thread; a failure is said once and never fatal.
 */
void sdnotify_ready(void);

#endif
