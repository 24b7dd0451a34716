/* sbml_comp.c - hierarchical models (SBML Level 3 "comp" package,
 * Smith et al., J Integr Bioinform 2015): libSBML's CompFlatteningConverter
 * turns submodels, deletions and replacements into one plain model before
 * the import reads it. Before that, the size of the flat model is bounded:
 * a few nested definitions instantiating each other many times would
 * otherwise flatten into an exponentially large model from a small file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sbml/SBMLTypes.h>
/* the comp package's C API, header by header (its umbrella header
 * CompExtensionTypes.h pulls in C++ headers) */
#include <sbml/conversion/ConversionOption.h>
#include <sbml/conversion/ConversionProperties.h>
#include <sbml/packages/comp/common/compfwd.h>
#include <sbml/packages/comp/extension/CompModelPlugin.h>
#include <sbml/packages/comp/extension/CompSBMLDocumentPlugin.h>
#include <sbml/packages/comp/sbml/ExternalModelDefinition.h>
#include <sbml/packages/comp/sbml/Submodel.h>

#include "sbml/sbml_impl.h"

int sbml_comp_used(SBMLDocument_t *d)
{
  const XMLNamespaces_t *ns = SBMLDocument_getNamespaces(d);
  int k, used = 0;
  for (k = 0; ns && k < XMLNamespaces_getLength(ns) && !used; k++) {
    char *uri = XMLNamespaces_getURI(ns, k);
    used = uri && strstr(uri, "sbml.org/sbml/level3/version1/comp") != NULL;
    free(uri);
  }
  return used;
}

typedef struct {
  CompSBMLDocumentPlugin_t *doc;
  unsigned n_def;
  double *count;  /* instances of each model definition, -1 not yet known */
  char *state;    /* 0 new, 1 on the current path, 2 done */
  double total;
  const char *cycle;
} counter;

static double instances(counter *k, Model_t *m, rkin_err *err, int *rc);

/* The definition a submodel instantiates: an internal definition's index,
 * n_def for an external one (counted as one model: its own file is
 * flattened by libSBML), -1 when unknown (libSBML's validation reports
 * it). */
static long definition_of(counter *k, const char *ref)
{
  unsigned i, ne;
  if (!ref) return -1;
  for (i = 0; i < k->n_def; i++) {
    Model_t *md = (Model_t *)CompSBMLDocumentPlugin_getModelDefinition(k->doc, i);
    const char *id = md ? Model_getId(md) : NULL;
    if (id && strcmp(id, ref) == 0) return (long)i;
  }
  ne = CompSBMLDocumentPlugin_getNumExternalModelDefinitions(k->doc);
  for (i = 0; i < ne; i++) {
    ExternalModelDefinition_t *e =
      CompSBMLDocumentPlugin_getExternalModelDefinition(k->doc, i);
    char *id = e ? ExternalModelDefinition_getId(e) : NULL;
    int same = id && strcmp(id, ref) == 0;
    free(id);
    if (same) return (long)k->n_def;
  }
  return -1;
}

static double definition_instances(counter *k, long i, rkin_err *err, int *rc)
{
  if (i < 0 || (unsigned long)i == k->n_def) return 1;
  if (k->state[i] == 2) return k->count[i];
  if (k->state[i] == 1) {
    Model_t *md = (Model_t *)CompSBMLDocumentPlugin_getModelDefinition(k->doc,
                                                       (unsigned)i);
    *rc = rkin_err_set(err, RKIN_EINVAL, "model definition '%s' (line %u) "
                       "contains itself through its submodels",
                       Model_getId(md) ? Model_getId(md) : "?",
                       SBase_getLine((const SBase_t *)md));
    return 0;
  }
  k->state[i] = 1;
  k->count[i] = instances(k, (Model_t *)CompSBMLDocumentPlugin_getModelDefinition(
                            k->doc, (unsigned)i), err, rc);
  k->state[i] = 2;
  return k->count[i];
}

/* 1 + the instances of every submodel of m, recursively */
static double instances(counter *k, Model_t *m, rkin_err *err, int *rc)
{
  CompModelPlugin_t *p = m ? (CompModelPlugin_t *)SBase_getPlugin((SBase_t *)m,
                                                                "comp") : NULL;
  unsigned j, n = p ? CompModelPlugin_getNumSubmodels(p) : 0;
  double sum = 1;
  for (j = 0; j < n && !*rc; j++) {
    char *ref = Submodel_getModelRef(CompModelPlugin_getSubmodel(p, j));
    long i = definition_of(k, ref);
    free(ref);
    sum += definition_instances(k, i, err, rc);
    if (sum > 1e300) sum = 1e300;
  }
  return sum;
}

/* Every external definition must name a regular file, relative to the
 * model's folder or absolute: libSBML's own message for a missing one is
 * only "unresolved reference", and a URI (file:// included, which this
 * libSBML does not resolve) is not read. */
static int check_external_files(CompSBMLDocumentPlugin_t *doc,
                                const char *path, rkin_err *err)
{
  unsigned i, n = CompSBMLDocumentPlugin_getNumExternalModelDefinitions(doc);
  const char *slash = strrchr(path, '/');
  int dirlen = slash ? (int)(slash - path) + 1 : 0, rc = 0;
  for (i = 0; i < n && !rc; i++) {
    ExternalModelDefinition_t *e =
      CompSBMLDocumentPlugin_getExternalModelDefinition(doc, i);
    char *id = ExternalModelDefinition_getId(e);
    char *src = ExternalModelDefinition_getSource(e);
    const char *file = src;
    char full[4096];
    struct stat st;
    unsigned line = SBase_getLine((const SBase_t *)e);
    if (!file || !*file) {
      rc = rkin_err_set(err, RKIN_EINVAL, "%s:%u: external model definition "
                        "'%s' has no source", path, line, id ? id : "?");
    } else if (strstr(file, "://")) {
      rc = rkin_err_set(err, RKIN_EINVAL, "%s:%u: external model definition "
                        "'%s': source '%s' is a URI (give a file path, "
                        "relative to the model's folder or absolute)", path, line, id ? id : "?", src);
    } else {
      if (file[0] == '/')
        snprintf(full, sizeof full, "%s", file);
      else
        snprintf(full, sizeof full, "%.*s%s", dirlen, path, file);
      if (stat(full, &st) != 0 || !S_ISREG(st.st_mode))
        rc = rkin_err_set(err, RKIN_EINVAL, "%s:%u: external model "
                          "definition '%s': source '%s' not found (looked "
                          "for %s)", path, line, id ? id : "?", src, full);
      else if ((rc = sbml_check_nesting(full, err)))
        rkin_err_prefix(err, "%s:%u: external model definition '%s': ", path,
                        line, id ? id : "?");
    }
    free(id);
    free(src);
  }
  return rc;
}

int sbml_comp_flatten(SBMLDocument_t *d, const char *path, rkin_err *err)
{
  counter k;
  int rc = 0;
  unsigned i, n;
  double total;
  ConversionProperties_t *props;
  ConversionOption_t *opt;
  memset(&k, 0, sizeof k);
  k.doc = (CompSBMLDocumentPlugin_t *)SBase_getPlugin((SBase_t *)d, "comp");
  if (!k.doc)
    return rkin_err_set(err, RKIN_EINVAL, "%s: the comp package is declared "
                        "but libSBML did not read it", path);
  if ((rc = check_external_files(k.doc, path, err))) return rc;
  k.n_def = CompSBMLDocumentPlugin_getNumModelDefinitions(k.doc);
  k.count = calloc(k.n_def + 1, sizeof *k.count);
  k.state = calloc(k.n_def + 1, 1);
  if (!k.count || !k.state) {
    free(k.count);
    free(k.state);
    return rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", path);
  }
  total = instances(&k, SBMLDocument_getModel(d), err, &rc);
  free(k.count);
  free(k.state);
  if (rc) {
    rkin_err_prefix(err, "%s: ", path);
    return rc;
  }
  if (total > SBML_COMP_MAX_INSTANCES)
    return rkin_err_set(err, RKIN_EINVAL, "%s: the hierarchical model "
                        "instantiates %.3g models through its submodels (at "
                        "most %d supported)", path, total,
                        SBML_COMP_MAX_INSTANCES);
  props = ConversionProperties_create();
  opt = ConversionOption_createWithKeyAndType("flatten comp", CNV_TYPE_BOOL);
  if (!props || !opt) {
    ConversionOption_free(opt);
    ConversionProperties_free(props);
    return rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", path);
  }
  ConversionOption_setBoolValue(opt, 1);
  ConversionProperties_addOption(props, opt);
  ConversionOption_free(opt);
  /* no validation of the documents before flattening: the flat model gets
   * the import's own checks (function call graph, then libSBML's
   * consistency check), which an external file would otherwise bypass */
  opt = ConversionOption_createWithKeyAndType("performValidation",
                                              CNV_TYPE_BOOL);
  if (!opt) {
    ConversionProperties_free(props);
    return rkin_err_set(err, RKIN_ENOMEM, "%s: out of memory", path);
  }
  ConversionOption_setBoolValue(opt, 0);
  ConversionProperties_addOption(props, opt);
  rc = SBMLDocument_convert(d, props);
  ConversionOption_free(opt);
  ConversionProperties_free(props);
  if (rc == LIBSBML_OPERATION_SUCCESS && SBMLDocument_getModel(d)) return 0;
  /* the converter logs why in the document's error log */
  n = SBMLDocument_getNumErrors(d);
  for (i = 0; i < n; i++) {
    const XMLError_t *e = (const XMLError_t *)SBMLDocument_getError(d, i);
    unsigned sev = XMLError_getSeverity(e);
    if (sev == LIBSBML_SEV_ERROR || sev == LIBSBML_SEV_FATAL) {
      const char *msg = XMLError_getShortMessage(e);
      return rkin_err_set(err, RKIN_EINVAL, "%s:%u: the hierarchical (comp) "
                          "model cannot be flattened: %s (libSBML %u)", path,
                          XMLError_getLine(e), msg && *msg ? msg : "error",
                          XMLError_getErrorId(e));
    }
  }
  return rkin_err_set(err, RKIN_EINVAL, "%s: the hierarchical (comp) model "
                      "cannot be flattened (libSBML code %d)", path, rc);
}
