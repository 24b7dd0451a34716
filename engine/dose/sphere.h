/* sphere.h - self-dose of a uniformly filled soft-tissue sphere (tumours,
 * lesions): electron and photon absorbed fractions and the S value, for
 * Lu-177, Y-90, Ho-166 and I-131.
 *
 * Model (Monte-Carlo-free, written for radiokin; constants in sphere.c with
 * their sources and confirmation tags):
 *   electrons: straight tracks of one effective length r_e per nuclide with
 *     uniform energy loss along the track. For a track of length s from a
 *     uniform isotropic source, the chance to be still inside a sphere of
 *     radius R is G(s) = 1 - 3s/(4R) + s^3/(16R^3) (s <= 2R), so
 *     phi_e = (1/r_e) int_0^r_e G = 1 - 3r_e/(8R) + r_e^3/(64R^3) for
 *     r_e <= 2R, and 3R/(4r_e) beyond.
 *   photons: first-flight absorption with one effective coefficient mu per
 *     nuclide, phi_p = 1 - P_esc(mu R), P_esc(x) = 3/(8x^3) (2x^2 - 1 +
 *     (1 + 2x) e^(-2x)) (escape probability from a uniform sphere).
 *   S = (Delta_e phi_e + Delta_p phi_p) / m, Delta from nuclide.h.
 * r_e and mu are fitted to published sphere data where the project has
 * them (Lu-177: the public sphere S table below, within 0.5 % from 4.3 mg
 * to 932 g; Y-90: Hashempour et al. 2019 spectral absorbed fractions 4-100
 * g, within 0.5 %); for I-131 and Ho-166 they are interpolated in mean
 * electron energy (U: verify before clinical use).
 *
 * Validity (RKIN_ERANGE outside): density 0.9-1.2 kg/L (soft tissue);
 * radius R >= 1.8 r_e (the smallest sphere in the fitted data relative to
 * its r_e; below it scattering makes the straight-track model
 * underestimate phi_e, by 13 % for Y-90 at 4 mg); mass <= 1 kg (R about
 * 6 cm, the largest fitted sphere; the photon model has no build-up). */
#ifndef RKIN_SPHERE_H
#define RKIN_SPHERE_H

#include "core/err.h"
#include "core/nuclide.h"

typedef struct {
  double radius_cm;      /* sphere radius */
  double phi_e;          /* electron absorbed fraction, 0..1 */
  double phi_p;          /* photon absorbed fraction, 0..1 */
  double s_gy_per_mbqh;  /* self-dose S value, Gy/(MBq·h) */
  double m_min_kg;       /* validity range for this nuclide and density */
  double m_max_kg;
  const char *source;    /* where the model constants come from */
} rkin_sphere;

/* Absorbed fractions and S for a sphere of mass m [kg] and density rho
 * [kg/L = g/cm^3]. Errors: a nuclide without sphere constants (lists the
 * supported ones), mass <= 0, density or mass outside the validity range
 * (the message gives the range). */
int rkin_sphere_eval(const rkin_nuclide *nuc, double mass_kg,
                     double density_kg_l, rkin_sphere *out, rkin_err *err);

/* The Lu-177 unit-density sphere S values
 * (qurit/PyTheranostics doodle/data/s-values/spheres.json, key "100%/0%",
 * units inferred there as Gy/(Bq s) with mass in g; provenance C), log-log
 * interpolated, in Gy/(MBq·h). Valid from 4.31e-6 to 0.932 kg (the table's
 * range); RKIN_ERANGE outside. Reference data for the model above. */
int rkin_sphere_lu177_table(double mass_kg, double *s_gy_per_mbqh,
                            rkin_err *err);

#endif
