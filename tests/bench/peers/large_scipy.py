#!/usr/bin/python3
"""large_scipy.py - the peer of tests/bench/bench_large.c: the synthetic
200-state PBPK model of tests/large.h solved with scipy's BDF (given the
Jacobian's sparsity, so it uses sparse finite differences and a sparse LU)
and LSODA, on the patients the bench wrote.

    /usr/bin/python3 large_scipy.py MODEL_FILE N_PATIENTS

MODEL_FILE (written by bench_large): a comment line, then
"n_org lambda dose t_end rtol atol tia_a tia_b", then one line of
parameters per patient (11 per organ: kin kout kvi kiv kif kfi kon Bmax
koff kint krel; then kren). Prints "METHOD <m> ms_per_patient <x>" and
"TIA <m> <patient> <a> <b>" (MBq h) lines for the bench to read."""
import sys
import time

import numpy as np
from scipy.integrate import solve_ivp
from scipy.sparse import lil_matrix

NC = 5


def read(path):
    with open(path) as f:
        lines = [ln for ln in f if not ln.startswith("#")]
    head = lines[0].split()
    n_org = int(head[0])
    lam, dose, t_end, rtol, atol = map(float, head[1:6])
    tia = (int(head[6]), int(head[7]))
    pats = [np.array(list(map(float, ln.split()))) for ln in lines[1:]]
    return n_org, lam, dose, t_end, rtol, atol, tia, pats


def make_rhs(n_org, lam, p, tia):
    r = p[:-1].reshape(n_org, 11)
    kin, kout, kvi, kiv, kif, kfi, kon, bmax, koff, kint, krel = r.T
    kren = p[-1]
    ns = n_org * NC
    ia, ib = tia

    def rhs(t, y):
        Y = y[:ns].reshape(n_org, NC)
        V, I, F, B, L = Y.T
        P = V[0]
        bind = kon * F * (bmax - B)
        d = np.empty_like(y)
        D = d[:ns].reshape(n_org, NC)
        dV = kiv * I - kvi * V + krel * L
        ex = kout[1:] * V[1:] - kin[1:] * P
        dV[1:] -= ex
        dV[0] += ex.sum() - kren * P
        D[:, 0] = dV
        D[:, 1] = kvi * V - kiv * I + kfi * F - kif * I
        D[:, 2] = kif * I - kfi * F + koff * B - bind
        D[:, 3] = bind - (koff + kint) * B
        D[:, 4] = kint * B - krel * L
        d[:ns] -= lam * y[:ns]
        d[ns] = y[ia]
        d[ns + 1] = y[ib]
        return d

    return rhs


def sparsity(n_org, tia):
    ns = n_org * NC
    S = lil_matrix((ns + 2, ns + 2), dtype=int)
    for o in range(n_org):
        b = o * NC
        for i in range(NC):
            for j in range(NC):
                S[b + i, b + j] = 1
        S[b, 0] = S[0, b] = 1
    S[ns, tia[0]] = S[ns + 1, tia[1]] = 1
    return S.tocsc()


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: large_scipy.py MODEL_FILE N_PATIENTS")
    n_org, lam, dose, t_end, rtol, atol, tia, pats = read(sys.argv[1])
    n = min(int(sys.argv[2]), len(pats))
    ns = n_org * NC
    S = sparsity(n_org, tia)
    for method in ("BDF", "LSODA"):
        t0 = time.perf_counter()
        out = []
        for i in range(n):
            y0 = np.zeros(ns + 2)
            y0[0] = dose
            kw = {"jac_sparsity": S} if method == "BDF" else {}
            sol = solve_ivp(make_rhs(n_org, lam, pats[i], tia), (0, t_end),
                            y0, method=method, rtol=rtol, atol=atol, **kw)
            if not sol.success:
                sys.exit("%s failed for patient %d: %s" % (method, i,
                                                           sol.message))
            out.append(sol.y[ns:, -1])
        dt = time.perf_counter() - t0
        print("METHOD %s ms_per_patient %.3f" % (method, 1e3 * dt / n))
        for i, q in enumerate(out):
            print("TIA %s %d %.17g %.17g" % (method, i, q[0], q[1]))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
