/* radiokin.h - the whole engine (librkin) in one include. */
#ifndef RADIOKIN_H
#define RADIOKIN_H

#include "err.h"
#include "init.h"
#include "nuclide.h"
#include "expr.h"
#include "model.h"
#include "dosing.h"
#include "solve.h"
#include "vpop.h"
#include "tare.h"
#include "tare_cohort.h"
#include "tac.h"
#include "data.h"
#include "popest.h"

#include "dosimetry.h"
#include "sphere.h"
#include "doserate.h"
#include "gfactor.h"
#include "radiobio.h"
#include "organ.h"
#include "tcp.h"
#include "imaging.h"
#include "regimen.h"

#endif
