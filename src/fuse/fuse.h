// fuse: the per-record work of each mode, shared by main.c.
#ifndef FUSE_FUSE_H
#define FUSE_FUSE_H

#include <jansson.h>
#include <stdbool.h>

#include "record.h"
#include "wbf.h"

typedef struct {
    WbfParams wbf;
    json_t *weights_by_name;   // NAME -> weight, or NULL for equal weights
    double *weights_by_pos;    // ensemble mode: one weight per file, or NULL
    int n_weights_by_pos;
    bool report;               // collect per-annotator statistics
} FuseOptions;

// Per-annotator agreement counts of one record (annotator mode, --report).
typedef struct {
    long boxes;          // boxes drawn
    long agreed;         // of them, in clusters with at least 2 votes
    double iou_sum;      // IoU of each clustered box with its fused box
    long iou_n;
    long pairs;          // (box, other annotator's best box with IoU > iou_thr) pairs
    long same_label;     // of them, with the same label
} AnnotatorStats;

// The result of one input line.
typedef struct {
    char *text;              // the output line (no newline), or NULL on error
    char err[1024];
    int failed;
    long boxes_in, clusters_out;
    WbfRepairs rep;
    int n_stats;
    AnnotatorStats *stats;   // one per annotator of the record, with --report
    const char **names;      // their names (borrowed from rec)
    Record rec;              // kept until the stats are merged
} LineResult;

// Annotator mode: validates the record, fuses its annotations into "objects".
void fuse_annotators_line(const char *line, long lineno, const FuseOptions *o, WbfResult *work, LineResult *r);
void line_result_free(LineResult *r);

#endif
