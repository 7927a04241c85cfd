/* sig.h: the signals every tool honours — INT/TERM stop reading, HUP reopens outputs. */
#ifndef SIG_H
#define SIG_H
#include <signal.h>

/* Set by SIGINT/SIGTERM: stop reading, flush, commit, exit 0. Never cleared. */
extern volatile sig_atomic_t sig_stop;
/* Set when a pipe the tool writes to has lost its reader (SIGPIPE is ignored): not an error. */
extern volatile sig_atomic_t sig_pipe;
/* Set by SIGHUP: reopen output files; the tool clears it after reopening. */
extern volatile sig_atomic_t sig_hup;

/* Installs the handlers (without SA_RESTART, so blocking reads return EINTR) and ignores SIGPIPE. */
void sig_install(void);

#endif
