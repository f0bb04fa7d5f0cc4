// `fuse --method em`: the annotators' boxes located across labels (locate.h) and their
// labels inferred by Dawid-Skene EM over every record (truth_em.h).
#ifndef FUSE_EM_H
#define FUSE_EM_H

#include <stdbool.h>

#include "fuse.h"
#include "truth_em.h"

typedef struct {
    EmOptions em;
    const char *matrices;      // --matrices FILE, or NULL
    const char *report;        // --report FILE, or NULL
    bool keep_going, quiet;
} EmRun;

// Reads every record from stdin, fits the model and writes the records with "objects"
// to stdout; nothing is written when a record is bad (without --keep-going). Returns the
// exit status.
int fuse_em(const FuseOptions *o, const EmRun *run, const char *tool);

// The estimated matrices in the schema of `simulate --matrices`, and the per-annotator
// report (em_report.c). classes and names are the global labels and annotators, in order.
json_t *em_matrices_json(const EmFit *fit, char **classes, char **names);
json_t *em_report_json(const EmFit *fit, char **classes, char **names, const long *records, double iou_thr,
                       double smoothing);

#endif
