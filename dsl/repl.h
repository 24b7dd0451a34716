/* repl.h - the interactive prompt of the radiokin executable. */
#ifndef RKIN_REPL_H
#define RKIN_REPL_H

#include <lua.h>

/* Runs the function below its nargs arguments on top of the stack,
 * printing any error; returns 1 when it ran without error (results left
 * on the stack), 0 otherwise (function and arguments popped). */
typedef int (*lrk_runner)(lua_State *L, int nargs, int nresults,
                          int traceback);

/* Reads statements or expressions from the terminal until end of input,
 * with rk = require "radiokin" set as a global first; prints the values of
 * expressions. Line editing and history (saved in ~/.radiokin_history)
 * when built with readline, plain lines otherwise. Returns 0 when rk could
 * not be loaded. */
int lrk_repl(lua_State *L, const char *progname, int traceback,
             lrk_runner run);

#endif
