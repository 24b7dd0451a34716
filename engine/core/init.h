/* init.h - call rkin_init() once, before any other engine call. */
#ifndef RKIN_INIT_H
#define RKIN_INIT_H

/* Turns GSL's aborting error handler off (the engine reports GSL failures
 * through rkin_err). Process-wide, idempotent; call it from main. */
void rkin_init(void);

#endif
