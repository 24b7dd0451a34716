/* harness.h - one entry per C reader of external text: feeds arbitrary
 * bytes through it as a file's contents and checks what any reader owes
 * its caller (a failure carries a message; a success gives a table whose
 * every cell can be read). A broken promise calls abort(), so libFuzzer
 * and the replay test (test_regress) see it as a crash. */
#ifndef RKIN_FUZZ_HARNESS_H
#define RKIN_FUZZ_HARNESS_H

#ifdef __cplusplus
extern "C" {   /* fuzz_seg.cc */
#endif

#include <stddef.h>
#include <stdint.h>

typedef struct {
  const char *name;   /* folder name under corpus/ and regress/ */
  void (*run)(const uint8_t *data, size_t size);
} rkfuzz_reader;

/* NONMEM dataset (engine/pop/data.c), TARE cohort CSV
 * (engine/tare/tare_csv_in.c), population CSV (engine/pop/vpop_csv.c). */
void rkfuzz_data(const uint8_t *data, size_t size);
void rkfuzz_tare_cohort(const uint8_t *data, size_t size);
void rkfuzz_vpop_csv(const uint8_t *data, size_t size);
/* NIfTI-1/2 image (engine/image/nifti_io.c: .nii, .nii.gz, .hdr/.img
 * pair by the header's magic) and SBML model (engine/sbml/sbml_import.c),
 * both read from a path: the bytes go to a file in a private temporary
 * folder, removed afterwards. */
void rkfuzz_nifti(const uint8_t *data, size_t size);
void rkfuzz_sbml(const uint8_t *data, size_t size);
/* DICOM SEG (engine/image/dicom_io.cc, C++ over DCMTK's dcmseg), from a
 * path as above: listed, read as label maps and as a fractional map. */
void rkfuzz_seg(const uint8_t *data, size_t size);

extern const rkfuzz_reader rkfuzz_readers[];
extern const size_t rkfuzz_nreaders;

#ifdef __cplusplus
}
#endif

#endif
