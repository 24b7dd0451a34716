/* native.c - tapes translated to C and compiled to machine code.
 *
 * The tape's loop pays a dispatch per instruction and a memory round trip
 * per value; as straight-line C the compiler keeps values in registers.
 * The C is the tape instruction for instruction, in the same order, with
 * the same operations (no contraction to FMA, no fast-math), so a native
 * tape gives the tape's results bit for bit. As rxode2 and mrgsolve do,
 * the system compiler is run once per model and its shared object cached
 * by the hash of the source.
 *
 * Security: the compiler is run by posix_spawn with an argument vector
 * (no shell); the cache is a directory of the user's own that no one else
 * may write (checked), files are created exclusively and renamed into
 * place, and a cached object is loaded only when it is a regular file of
 * the user's own, writable by no one else. */
#define _GNU_SOURCE
#include "core/native.h"
#include "core/tape_impl.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Bump when the generated code's form changes: old objects are not
 * reused (the hash covers the source, this covers how it is built). */
#define NATIVE_VERSION "radiokin-native-1 -O2 -ffp-contract=off"
#define NATIVE_MAX_INSTR 2000000   /* bounds the compiler's time */
#define CC_PATH "/usr/bin/cc"

struct rkin_native {
  void *handle;
  rkin_tape **tapes;
  size_t n;
};

/* The scalar semantics of expr.c's operators, restated for the
 * generated file (it links to nothing but libm). */
static const char prelude[] =
  "#include <math.h>\n"
  "static double rk_sign(double x)\n"
  "{ return x > 0 ? 1.0 : x < 0 ? -1.0 : x * 0.0; }\n"
  "static double rk_step(double x)\n"
  "{ return x > 0 ? 1.0 : x < 0 ? 0.0 : 0.5 + x * 0.0; }\n"
  "static double rk_min(double a, double b)\n"
  "{ return a < b || isnan(a) ? a : b; }\n"
  "static double rk_max(double a, double b)\n"
  "{ return a > b || isnan(a) ? a : b; }\n"
  "#define RK_NAN2(a, b) (isnan(a) || isnan(b))\n"
  "static double rk_lt(double a, double b)\n"
  "{ return RK_NAN2(a, b) ? NAN : a < b ? 1.0 : 0.0; }\n"
  "static double rk_le(double a, double b)\n"
  "{ return RK_NAN2(a, b) ? NAN : a <= b ? 1.0 : 0.0; }\n"
  "static double rk_gt(double a, double b)\n"
  "{ return RK_NAN2(a, b) ? NAN : a > b ? 1.0 : 0.0; }\n"
  "static double rk_ge(double a, double b)\n"
  "{ return RK_NAN2(a, b) ? NAN : a >= b ? 1.0 : 0.0; }\n"
  "static double rk_and(double a, double b)\n"
  "{ return RK_NAN2(a, b) ? NAN : (a != 0 && b != 0) ? 1.0 : 0.0; }\n"
  "static double rk_or(double a, double b)\n"
  "{ return RK_NAN2(a, b) ? NAN : (a != 0 || b != 0) ? 1.0 : 0.0; }\n"
  "static double rk_not(double a)\n"
  "{ return isnan(a) ? a : a == 0 ? 1.0 : 0.0; }\n"
  "static double rk_if(double a, double b, double c)\n"
  "{ return a != 0 ? (isnan(a) ? a : b) : c; }\n";

/* Writes work slot s as a C operand. */
static void operand(FILE *f, const rkin_tape *tp, int s)
{
  size_t u = (size_t)s, cbase = tp->ny + tp->np + 1;
  if (u < tp->ny) fprintf(f, "y[%zu]", u);
  else if (u < tp->ny + tp->np) fprintf(f, "p[%zu]", u - tp->ny);
  else if (u == tp->ny + tp->np) fputs("t", f);
  else if (u < cbase + tp->nc) {
    double v = tp->consts[u - cbase];
    if (isnan(v)) fputs("NAN", f);
    else if (isinf(v)) fputs(v > 0 ? "INFINITY" : "(-INFINITY)", f);
    else fprintf(f, "(%a)", v);      /* hexadecimal: exact */
  } else {
    fprintf(f, "w%zu", u - cbase - tp->nc);
  }
}

static void call1(FILE *f, const rkin_tape *tp, const char *fn, int a)
{
  fprintf(f, "%s(", fn);
  operand(f, tp, a);
  fputs(")", f);
}

static void call2(FILE *f, const rkin_tape *tp, const char *fn, int a, int b)
{
  fprintf(f, "%s(", fn);
  operand(f, tp, a);
  fputs(", ", f);
  operand(f, tp, b);
  fputs(")", f);
}

static void infix(FILE *f, const rkin_tape *tp, const char *op, int a, int b)
{
  operand(f, tp, a);
  fprintf(f, " %s ", op);
  operand(f, tp, b);
}

/* One instruction as "const double wK = ...;". */
static void emit_instr(FILE *f, const rkin_tape *tp, size_t k)
{
  const instr *in = &tp->code[k];
  fprintf(f, "  const double w%zu = ", k);
  switch (in->op) {
  case T_NEG: fputs("-", f); operand(f, tp, in->a); break;
  case T_ADD: infix(f, tp, "+", in->a, in->b); break;
  case T_SUB: infix(f, tp, "-", in->a, in->b); break;
  case T_MUL: infix(f, tp, "*", in->a, in->b); break;
  case T_DIV: infix(f, tp, "/", in->a, in->b); break;
  case T_SQR: infix(f, tp, "*", in->a, in->a); break;
  case T_POW: call2(f, tp, "pow", in->a, in->b); break;
  case T_MIN: call2(f, tp, "rk_min", in->a, in->b); break;
  case T_MAX: call2(f, tp, "rk_max", in->a, in->b); break;
  case T_LT: call2(f, tp, "rk_lt", in->a, in->b); break;
  case T_LE: call2(f, tp, "rk_le", in->a, in->b); break;
  case T_GT: call2(f, tp, "rk_gt", in->a, in->b); break;
  case T_GE: call2(f, tp, "rk_ge", in->a, in->b); break;
  case T_AND: call2(f, tp, "rk_and", in->a, in->b); break;
  case T_OR: call2(f, tp, "rk_or", in->a, in->b); break;
  case T_EXP: call1(f, tp, "exp", in->a); break;
  case T_LOG: call1(f, tp, "log", in->a); break;
  case T_SQRT: call1(f, tp, "sqrt", in->a); break;
  case T_ABS: call1(f, tp, "fabs", in->a); break;
  case T_SIGN: call1(f, tp, "rk_sign", in->a); break;
  case T_STEP: call1(f, tp, "rk_step", in->a); break;
  case T_NOT: call1(f, tp, "rk_not", in->a); break;
  case T_SIN: call1(f, tp, "sin", in->a); break;
  case T_COS: call1(f, tp, "cos", in->a); break;
  case T_TAN: call1(f, tp, "tan", in->a); break;
  case T_ASIN: call1(f, tp, "asin", in->a); break;
  case T_ACOS: call1(f, tp, "acos", in->a); break;
  case T_ATAN: call1(f, tp, "atan", in->a); break;
  case T_FLOOR: call1(f, tp, "floor", in->a); break;
  case T_CEIL: call1(f, tp, "ceil", in->a); break;
  case T_FACT: fputs("tgamma(", f); operand(f, tp, in->a);
    fputs(" + 1.0)", f); break;
  case T_IFELSE:
    fputs("rk_if(", f);
    operand(f, tp, in->a);
    fputs(", ", f);
    operand(f, tp, in->b);
    fputs(", ", f);
    operand(f, tp, tp->third[k]);
    fputs(")", f);
    break;
  default: fputs("NAN", f); break;
  }
  fputs(";\n", f);
}

static void emit_tape(FILE *f, const rkin_tape *tp, size_t idx)
{
  size_t k;
  fprintf(f, "void rk_f%zu(double t, const double *y, const double *p, "
          "double *out)\n{\n  (void)t; (void)y; (void)p;\n", idx);
  for (k = 0; k < tp->n_instr; k++) emit_instr(f, tp, k);
  for (k = 0; k < tp->n_out; k++) {
    fprintf(f, "  out[%zu] = ", k);
    operand(f, tp, tp->out_slot[k]);
    fputs(";\n", f);
  }
  fputs("}\n", f);
}

int rkin_native_source(rkin_tape *const *tapes, size_t n, char **src,
                       size_t *len, rkin_err *err)
{
  FILE *f;
  size_t k, total = 0;
  *src = NULL;
  for (k = 0; k < n; k++) total += tapes[k] ? tapes[k]->n_instr : 0;
  if (total > NATIVE_MAX_INSTR)
    return rkin_err_set(err, RKIN_EINVAL, "native code: %zu instructions "
                        "(more than %d: the compiler's time would be "
                        "unbounded); keep the tape", total,
                        NATIVE_MAX_INSTR);
  if (!(f = open_memstream(src, len)))
    return rkin_err_set(err, RKIN_ENOMEM, "native code: out of memory");
  fputs(prelude, f);
  for (k = 0; k < n; k++)
    if (tapes[k]) emit_tape(f, tapes[k], k);
  if (fclose(f) || !*src) {
    free(*src);
    *src = NULL;
    return rkin_err_set(err, RKIN_ENOMEM, "native code: out of memory");
  }
  return RKIN_OK;
}

/* FNV-1a, 64 bits: names the cached object (the directory is private,
 * so this is an index, not a defence). */
static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
  size_t i;
  for (i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= UINT64_C(1099511628211);
  }
  return h;
}

/* Group or others may write it. */
static int others_write(mode_t m)
{
  return (m & (S_IWGRP | S_IWOTH)) != 0;
}

/* A directory of the user's own that no one else may write. */
static int private_dir(const char *dir, rkin_err *err)
{
  struct stat st;
  if (lstat(dir, &st))
    return rkin_err_set(err, RKIN_EIO, "native code: cache directory %s: "
                        "%s", dir, strerror(errno));
  if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()
      || others_write(st.st_mode))
    return rkin_err_set(err, RKIN_EIO, "native code: cache directory %s "
                        "must be a directory of your own that group and "
                        "others cannot write", dir);
  return RKIN_OK;
}

static int make_dir(const char *dir, rkin_err *err)
{
  if (mkdir(dir, 0700) && errno != EEXIST)
    return rkin_err_set(err, RKIN_EIO, "native code: cannot create %s: %s",
                        dir, strerror(errno));
  return RKIN_OK;
}

/* $XDG_CACHE_HOME/radiokin or $HOME/.cache/radiokin, made if missing. */
static int default_dir(char *buf, size_t size, rkin_err *err)
{
  const char *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
  int rc;
  if (x && *x == '/') {
    if ((size_t)snprintf(buf, size, "%s", x) >= size) goto long_path;
  } else if (h && *h == '/') {
    if ((size_t)snprintf(buf, size, "%s/.cache", h) >= size) goto long_path;
  } else {
    return rkin_err_set(err, RKIN_EINVAL, "native code: neither "
                        "XDG_CACHE_HOME nor HOME is an absolute path; give "
                        "a cache directory");
  }
  if ((rc = make_dir(buf, err))) return rc;
  if (strlen(buf) + sizeof "/radiokin" > size) goto long_path;
  strcat(buf, "/radiokin");
  return make_dir(buf, err);
long_path:
  return rkin_err_set(err, RKIN_EINVAL, "native code: cache path too long");
}

static int write_file(const char *path, const char *data, size_t len,
                      rkin_err *err)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  size_t done = 0;
  if (fd < 0)
    return rkin_err_set(err, RKIN_EIO, "native code: cannot create %s: %s",
                        path, strerror(errno));
  while (done < len) {
    ssize_t w = write(fd, data + done, len - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      close(fd);
      unlink(path);
      return rkin_err_set(err, RKIN_EIO, "native code: writing %s: %s",
                          path, strerror(errno));
    }
    done += (size_t)w;
  }
  if (close(fd)) {
    unlink(path);
    return rkin_err_set(err, RKIN_EIO, "native code: writing %s: %s", path,
                        strerror(errno));
  }
  return RKIN_OK;
}

/* The first line of the compiler's messages, for the error. */
static void first_line(const char *path, char *buf, size_t size)
{
  FILE *f = fopen(path, "r");
  buf[0] = '\0';
  if (!f) return;
  if (fgets(buf, (int)size, f)) buf[strcspn(buf, "\n")] = '\0';
  fclose(f);
}

/* cc -O2 -ffp-contract=off -fPIC -shared -o so c -lm, stdout and stderr
 * to log; no shell, a fixed environment. */
static int compile(const char *c, const char *so, const char *log,
                   rkin_err *err)
{
  char *argv[] = {"cc", "-O2", "-ffp-contract=off", "-fPIC", "-shared",
                  "-o", (char *)so, (char *)c, "-lm", NULL};
  char *envp[] = {"PATH=/usr/bin:/bin", "LC_ALL=C", NULL};
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int rc, status = 0;
  char msg[200];
  if (access(CC_PATH, X_OK))
    return rkin_err_set(err, RKIN_EIO, "native code: no C compiler at "
                        CC_PATH " (install gcc, or keep the tape)");
  if (posix_spawn_file_actions_init(&fa))
    return rkin_err_set(err, RKIN_ENOMEM, "native code: out of memory");
  rc = posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT
                                        | O_TRUNC, 0600)
       || posix_spawn_file_actions_adddup2(&fa, 1, 2)
       || posix_spawn(&pid, CC_PATH, &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  if (rc)
    return rkin_err_set(err, RKIN_EIO, "native code: cannot run "
                        CC_PATH);
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      return rkin_err_set(err, RKIN_EIO, "native code: waiting for the "
                          "compiler: %s", strerror(errno));
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return RKIN_OK;
  first_line(log, msg, sizeof msg);
  return rkin_err_set(err, RKIN_EIO, "native code: the compiler failed "
                      "(%s)", msg[0] ? msg : "no message");
}

/* A cached object is used only when it is a regular file of our own
 * that group and others cannot write. 1: usable, 0: absent, else error. */
static int cached(const char *so, rkin_err *err)
{
  struct stat st;
  if (lstat(so, &st)) return 0;
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()
      || others_write(st.st_mode))
    return rkin_err_set(err, RKIN_EIO, "native code: %s is not a regular "
                        "file of your own writable only by you: not loaded",
                        so);
  return 1;
}

rkin_native *rkin_native_build(rkin_tape *const *tapes, size_t n,
                               const char *cache_dir, rkin_err *err)
{
  char dir[4096], so[4200], c[4200], tmp[4200], log[4200];
  char *src = NULL;
  size_t len = 0, k;
  uint64_t h;
  int rc;
  rkin_native *nat = NULL;
  if ((rc = rkin_native_source(tapes, n, &src, &len, err))) return NULL;
  if (cache_dir) {
    if ((size_t)snprintf(dir, sizeof dir, "%s", cache_dir) >= sizeof dir) {
      rkin_err_set(err, RKIN_EINVAL, "native code: cache path too long");
      goto fail;
    }
  } else if (default_dir(dir, sizeof dir, err)) {
    goto fail;
  }
  if (private_dir(dir, err)) goto fail;
  h = fnv1a(UINT64_C(14695981039346656037), NATIVE_VERSION,
            sizeof NATIVE_VERSION - 1);
  h = fnv1a(h, src, len);
  snprintf(so, sizeof so, "%s/rk-%016" PRIx64 ".so", dir, h);
  if ((rc = cached(so, err)) < 0) goto fail;
  if (!rc) {
    long pid = (long)getpid();
    snprintf(c, sizeof c, "%s/rk-%016" PRIx64 "-%ld.c", dir, h, pid);
    snprintf(tmp, sizeof tmp, "%s/rk-%016" PRIx64 "-%ld.so.part", dir, h,
             pid);
    snprintf(log, sizeof log, "%s/rk-%016" PRIx64 "-%ld.log", dir, h, pid);
    unlink(c);
    if (write_file(c, src, len, err)) goto fail;
    rc = compile(c, tmp, log, err);
    unlink(c);
    unlink(log);
    if (!rc && rename(tmp, so))
      rc = rkin_err_set(err, RKIN_EIO, "native code: cannot rename %s: %s",
                        tmp, strerror(errno));
    if (rc) {
      unlink(tmp);
      goto fail;
    }
  }
  nat = calloc(1, sizeof *nat);
  if (!nat || !(nat->tapes = calloc(n ? n : 1, sizeof *nat->tapes))) {
    rkin_err_set(err, RKIN_ENOMEM, "native code: out of memory");
    goto fail;
  }
  if (!(nat->handle = dlopen(so, RTLD_NOW | RTLD_LOCAL))) {
    rkin_err_set(err, RKIN_EIO, "native code: cannot load %s: %s", so,
                 dlerror());
    goto fail;
  }
  for (k = 0; k < n; k++) {
    char name[32];
    void *sym;
    if (!tapes[k]) continue;
    snprintf(name, sizeof name, "rk_f%zu", k);
    if (!(sym = dlsym(nat->handle, name))) {
      rkin_err_set(err, RKIN_EIO, "native code: %s lacks %s", so, name);
      goto fail;
    }
    /* POSIX: a data pointer from dlsym converts to a function pointer. */
    memcpy(&tapes[k]->fn, &sym, sizeof sym);
    nat->tapes[nat->n++] = tapes[k];
  }
  free(src);
  return nat;
fail:
  free(src);
  rkin_native_free(nat);
  return NULL;
}

void rkin_native_free(rkin_native *nat)
{
  size_t k;
  if (!nat) return;
  for (k = 0; k < nat->n; k++) nat->tapes[k]->fn = NULL;
  if (nat->handle) dlclose(nat->handle);
  free(nat->tapes);
  free(nat);
}
