/* test_sbml_packed.c - the nesting pre-check of the SBML importer reads
 * compressed files the way libSBML does: a document nested 201 levels
 * deep is refused before libSBML reads it whether it is written plain,
 * as .gz (zlib), .bz2 (libbz2) or .zip (libSBML's bundled minizip), and
 * the same document 200 levels deep loads from each (so libSBML reads the
 * format and the check does not refuse what it cannot open). The files
 * are compressed here with the libraries libSBML reads them with. Before
 * the pre-check read .bz2 and .zip, it saw their compressed bytes, gave
 * up and left the nesting to libSBML (100,000 levels overflow its
 * stack). */
#include <bzlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <sbml/compress/zip.h>

#include "core/init.h"
#include "core/model.h"
#include "sbml/sbml.h"
#include "../tap.h"

static char dir[] = "/tmp/rkin_sbml_packed_XXXXXX";

/* a rate rule dA/dt = -(-(...(A))) of n nested minus: A's <ci> is
 * 5 + n levels under <sbml>, so 194 make 200 levels and 195 make 201 */
static char *nested_doc(int n, size_t *len)
{
  size_t cap = (size_t)n * 24 + 4096, m = 0;
  char *b = malloc(cap);
  int k;
  if (!b) return NULL;
  m += (size_t)snprintf(
      b, cap,
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<sbml xmlns=\"http://www.sbml.org/sbml/level3/version2/core\" "
      "level=\"3\" version=\"2\"><model id=\"m\"><listOfCompartments>"
      "<compartment id=\"C\" size=\"1\" constant=\"true\" "
      "spatialDimensions=\"3\"/></listOfCompartments><listOfSpecies>"
      "<species id=\"A\" compartment=\"C\" initialAmount=\"1\" "
      "hasOnlySubstanceUnits=\"true\" boundaryCondition=\"false\" "
      "constant=\"false\"/></listOfSpecies><listOfRules>"
      "<rateRule variable=\"A\">"
      "<math xmlns=\"http://www.w3.org/1998/Math/MathML\">");
  for (k = 0; k < n; k++, m += 15) memcpy(b + m, "<apply><minus/>", 15);
  m += (size_t)snprintf(b + m, cap - m, "<ci>A</ci>");
  for (k = 0; k < n; k++, m += 8) memcpy(b + m, "</apply>", 8);
  m += (size_t)snprintf(b + m, cap - m, "</math></rateRule></listOfRules>"
                        "</model></sbml>\n");
  *len = m;
  return b;
}

/* writes doc to path compressed as its name ends; 0 on success */
static int write_packed(const char *path, const char *doc, size_t len)
{
  size_t n = strlen(path);
  int rc = -1;
  if (n > 4 && strcmp(path + n - 4, ".bz2") == 0) {
    FILE *f = fopen(path, "wb");
    int e;
    BZFILE *bz = f ? BZ2_bzWriteOpen(&e, f, 9, 0, 0) : NULL;
    if (bz) {
      BZ2_bzWrite(&e, bz, (void *)doc, (int)len);
      rc = e == BZ_OK ? 0 : -1;
      BZ2_bzWriteClose(&e, bz, 0, NULL, NULL);
      if (e != BZ_OK) rc = -1;
    }
    if (f && fclose(f)) rc = -1;
  } else if (n > 4 && strcmp(path + n - 4, ".zip") == 0) {
    zipFile z = zipOpen(path, 0);
    zip_fileinfo info;
    memset(&info, 0, sizeof info);
    if (z) {
      if (zipOpenNewFileInZip(z, "m.xml", &info, NULL, 0, NULL, 0, NULL,
                              Z_DEFLATED, Z_DEFAULT_COMPRESSION) == ZIP_OK
          && zipWriteInFileInZip(z, doc, (unsigned)len) == ZIP_OK
          && zipCloseFileInZip(z) == ZIP_OK)
        rc = 0;
      if (zipClose(z, NULL) != ZIP_OK) rc = -1;
    }
  } else if (n > 3 && strcmp(path + n - 3, ".gz") == 0) {
    gzFile z = gzopen(path, "wb");
    if (z) {
      rc = gzwrite(z, doc, (unsigned)len) == (int)len ? 0 : -1;
      if (gzclose(z) != Z_OK) rc = -1;
    }
  } else {
    FILE *f = fopen(path, "wb");
    if (f) {
      rc = fwrite(doc, 1, len, f) == len ? 0 : -1;
      if (fclose(f)) rc = -1;
    }
  }
  return rc;
}

int main(void)
{
  static const char *const ext[4] = {"xml", "xml.gz", "xml.bz2", "xml.zip"};
  static const int depth[3] = {194, 195, 100000};
  char path[256];
  int i, j;
  rkin_init();
  if (!mkdtemp(dir)) {
    diag("mkdtemp failed");
    return 1;
  }
  for (j = 0; j < 3; j++) {
    size_t len;
    char *doc = nested_doc(depth[j], &len);
    if (!doc) break;
    for (i = 0; i < 4; i++) {
      rkin_sbml_result res;
      rkin_sbml_opts o;
      rkin_err err;
      char want[320];
      int rc;
      memset(&o, 0, sizeof o);
      rkin_err_clear(&err);
      snprintf(path, sizeof path, "%s/m.%s", dir, ext[i]);
      ok(write_packed(path, doc, len) == 0, "%d nested operators written "
         "as %s", depth[j], ext[i]);
      rc = rkin_sbml_load(path, &o, &res, &err);
      if (depth[j] == 194) {
        is_int(rc, 0, "... 200 levels load from %s (%s)", ext[i], err.msg);
        if (rc == 0) {
          is_int((int)rkin_model_nstates(res.model), 1, "... one state");
          rkin_sbml_result_free(&res);
        }
      } else {
        is_int(rc, RKIN_ERANGE, "... %d levels refused from %s",
               depth[j] + 6, ext[i]);
        snprintf(want, sizeof want, "%s: line 2: elements nested 201 deep "
                 "(at most 200 supported", path);
        like(err.msg, want, "... message names the file, its line and the "
             "limit");
        if (rc == 0) rkin_sbml_result_free(&res);
      }
      unlink(path);
    }
    free(doc);
  }
  rmdir(dir);
  done_testing();
  return exit_status();
}
