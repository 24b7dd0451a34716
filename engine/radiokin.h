/* radiokin.h - the whole engine (librkin) in one include. */
#ifndef RADIOKIN_H
#define RADIOKIN_H

#include "core/err.h"
#include "core/init.h"
#include "core/nuclide.h"
#include "core/expr.h"
#include "core/model.h"
#include "core/dosing.h"
#include "solve/solve.h"
#include "pop/vpop.h"
#include "tare/tare.h"
#include "tare/tare_cohort.h"
#include "tac/tac.h"
#include "pop/data.h"
#include "pop/popest.h"

#include "dose/dosimetry.h"
#include "dose/sphere.h"
#include "dose/doserate.h"
#include "dose/gfactor.h"
#include "dose/radiobio.h"
#include "dose/organ.h"
#include "dose/tcp.h"
#include "tac/imaging.h"
#include "uncert/uncert.h"
#include "regimen/regimen.h"

#endif
