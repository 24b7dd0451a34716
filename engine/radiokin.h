/* radiokin.h - the whole engine (librkin) in one include. */
#ifndef RADIOKIN_H
#define RADIOKIN_H

#include "err.h"
#include "nuclide.h"

#endif
