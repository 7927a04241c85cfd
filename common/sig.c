/* sig.c: the signals every tool honours — INT/TERM stop reading, HUP reopens outputs. */
#include <signal.h>
#include <string.h>

#include "sig.h"

volatile sig_atomic_t sig_stop;
volatile sig_atomic_t sig_pipe;
volatile sig_atomic_t sig_hup;

static void
on_signal(int signo)
{
	if (signo == SIGHUP)
		sig_hup = 1;
	else
		sig_stop = 1;
}

void
sig_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;	/* no SA_RESTART: a blocked read returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}
