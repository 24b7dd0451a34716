/* dicom.h - DICOM images through DCMTK (dicom_io.cc, C++ behind this C
 * interface): one file holding a 3D volume (NM/SPECT multi-frame, RT Dose)
 * in, RT Dose out.
 *
 * DICOM's patient coordinates are LPS; radiokin's images are RAS (NIfTI):
 * x and y change sign on the way in and out. A volume needs uniform slice
 * spacing along the normal of ImageOrientationPatient (slices given by
 * GridFrameOffsetVector (RT Dose) or SpacingBetweenSlices / SliceThickness
 * (NM)); anything else is an error naming the file and the tag. Values are
 * the stored integers times DoseGridScaling (RT Dose) or RescaleSlope plus
 * RescaleIntercept. */
#ifndef RKIN_DICOM_H
#define RKIN_DICOM_H

#ifdef __cplusplus
extern "C" {  /* the C headers below too: their functions have C linkage */
#endif

#include "core/err.h"
#include "image/image.h"

/* Reads an RT Dose or a multi-frame NM/SPECT (or any single-file
 * multi-frame) volume. frame_uid (may be NULL, >= 65 bytes) receives the
 * FrameOfReferenceUID ("" when absent). */
int rkin_dicom_read(const char *path, rkin_image *im, char *frame_uid,
                    rkin_err *err);

/* Reads a series of single-frame images (a CT series: one file per slice)
 * from every regular file in folder dir (names starting with '.' are
 * skipped; at most 4096 files). Every file must be an image with the same
 * SeriesInstanceUID, FrameOfReferenceUID, size, pixel spacing and
 * orientation; slices are ordered along the normal and must be uniformly
 * spaced; each slice's rescale slope and intercept are applied (HU for
 * CT). Errors name the file and what differs. */
int rkin_dicom_read_series(const char *dir, rkin_image *im, char *frame_uid,
                           rkin_err *err);

/* Writes dose (Gy, >= 0) as an RT Dose (physical dose, 3D grid, 32-bit
 * unsigned values, DoseGridScaling = max / (2^32 - 1): relative precision
 * 2.3e-10 of the maximum) in the frame of reference frame_uid (the CT's;
 * a new UID when NULL or empty). Atomic as the NIfTI writer. */
int rkin_dicom_write_rtdose(const char *path, const rkin_image *dose,
                            const char *frame_uid, rkin_err *err);
/* The same with a given SeriesInstanceUID (NULL or "": a new one), e.g.
 * to write one volume as several files of one series. */
int rkin_dicom_write_rtdose_series(const char *path, const rkin_image *dose,
                                   const char *frame_uid,
                                   const char *series_uid, rkin_err *err);

#ifdef __cplusplus
}
#endif

#endif
