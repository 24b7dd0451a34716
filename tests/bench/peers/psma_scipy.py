#!/usr/bin/python3
"""psma_scipy.py - the peer of tests/bench/bench_sbml_psma.lua: the reduced
177Lu-PSMA model's right-hand side, as radiokin wrote it (m:write_python),
solved with scipy's LSODA and BDF (finite-difference Jacobian) through the
same doses, on the patients the bench wrote.

    /usr/bin/python3 psma_scipy.py MODULE.py SCENARIO_FILE

SCENARIO_FILE (written by the bench): comment lines (#), then
"t_end rtol atol", then "dose TIME_H STATE_NAME AMOUNT" lines, then
"patient NAME=VALUE ..." lines (parameters that differ from the module's
defaults). Each patient is integrated from 0 to t_end (h) from the zero
state, restarted at each dose (the amount added to the state). Prints
"METHOD <m> ms_per_sim <x> sims <n>" and "END <m> <patient> v1,v2,..."
(the state at t_end) for the bench to read."""
import importlib.util
import sys
import time

from scipy.integrate import solve_ivp


def load_module(path):
    spec = importlib.util.spec_from_file_location("model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def read(path, mod):
    t_end = rtol = atol = None
    doses, patients = [], []
    with open(path) as f:
        for ln in f:
            w = ln.split()
            if not w or w[0].startswith("#"):
                continue
            if w[0] == "dose":
                doses.append((float(w[1]), mod.STATES.index(w[2]),
                              float(w[3])))
            elif w[0] == "patient":
                p = list(mod.DEFAULTS)
                for kv in w[1:]:
                    k, v = kv.split("=", 1)
                    p[mod.PARAMS.index(k)] = float(v)
                patients.append(p)
            else:
                t_end, rtol, atol = map(float, w[:3])
    doses.sort()
    return t_end, rtol, atol, doses, patients


def simulate(mod, p, doses, t_end, method, rtol, atol):
    rhs = mod.rhs
    y = [0.0] * len(mod.STATES)
    t = 0.0
    k = 0
    while True:
        while k < len(doses) and doses[k][0] <= t:
            y[doses[k][1]] += doses[k][2]
            k += 1
        te = doses[k][0] if k < len(doses) and doses[k][0] < t_end else t_end
        if te > t:
            r = solve_ivp(lambda tt, yy: rhs(tt, yy, p), (t, te), y,
                          method=method, rtol=rtol, atol=atol)
            if not r.success:
                raise RuntimeError(f"{method}: {r.message} at t = {t} h")
            y = list(r.y[:, -1])
        t = te
        if t >= t_end:
            return y


def main():
    mod = load_module(sys.argv[1])
    t_end, rtol, atol, doses, patients = read(sys.argv[2], mod)
    for method in ("LSODA", "BDF"):
        t0 = time.process_time()
        ends = [simulate(mod, p, doses, t_end, method, rtol, atol)
                for p in patients]
        ms = (time.process_time() - t0) * 1e3 / len(patients)
        print(f"METHOD {method} ms_per_sim {ms:.3f} sims {len(patients)}")
        for i, y in enumerate(ends):
            print(f"END {method} {i} " + ",".join(f"{v:.17g}" for v in y))


if __name__ == "__main__":
    main()
