// Ensemble mode of fuse: `fuse --ensemble A.jsonl B.jsonl ...`.
#ifndef FUSE_ENSEMBLE_H
#define FUSE_ENSEMBLE_H

#include <errno.h>
#include <stdio.h>

#include "fuse.h"

typedef struct {
    long records, boxes_in, boxes_out, partial, only_elsewhere, bad;
    WbfRepairs rep;
} EnsembleSummary;

// Joins the files' records by id (the first file's order and fields), fuses their
// detections and writes the records to out. Bad records are reported on stderr; returns -1
// when there was any.
int fuse_ensemble(char **paths, int k, const FuseOptions *o, bool allow_missing, bool keep_going, FILE *out,
                  EnsembleSummary *sum, const char *tool);

#endif
