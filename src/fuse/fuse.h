// fuse: the per-record work of each mode, shared by main.c.
#ifndef FUSE_FUSE_H
#define FUSE_FUSE_H

#include <jansson.h>
#include <stdbool.h>

#include "jscan.h"
#include "record.h"
#include "wbf.h"

typedef struct {
    WbfParams wbf;
    json_t *weights_by_name;   // NAME -> weight, or NULL for equal weights
    double *weights_by_pos;    // ensemble mode: one weight per file, or NULL
    int n_weights_by_pos;
    bool report;               // collect per-annotator statistics
} FuseOptions;

// A piece of text that need not end in NUL.
typedef struct {
    const char *p;
    int n;
} Span;

// Per-annotator agreement counts of one record (annotator mode, --report).
typedef struct {
    long boxes;          // boxes drawn
    long agreed;         // of them, in clusters with at least 2 votes
    double iou_sum;      // IoU of each clustered box with its fused box
    long iou_n;
    long pairs;          // (box, other annotator's best box with IoU > iou_thr) pairs
    long same_label;     // of them, with the same label
} AnnotatorStats;

// What annotator mode needs of a record, read by the fast scanner or through jansson.
typedef struct {
    int width, height;
    int n_src, n_ann, n_labels;
    Span *src_name;      // decoded annotator names
    Span *src_json;      // the same as JSON string contents (escaped)
    Span *label_json;    // label ids -> JSON string contents, in order of first appearance
    Span *label_name;    // label ids -> decoded labels
    WbfInput *in;        // one per annotation: label id, source, score, normalised box
    Box *box;            // the annotation boxes in pixels
    char **owned;        // escaped strings made for the jansson path
    int n_owned;
    int cap_src, cap_ann, cap_owned;
} View;

// Reusable memory of one thread.
typedef struct {
    JTape tape;
    JBuf objects;
    WbfResult wbf;
    View view;
    double *weights;
    int cap_weights;
} Workspace;

// The result of one input line.
typedef struct {
    // The output line, written as up to three pieces and a newline: the input line up to
    // the "objects" value, the new value (owned), and the rest of the input line.
    Span piece[4];
    char *owned;
    char err[1024];
    int failed;
    int fast;                // read by the fast scanner
    long boxes_in, clusters_out;
    WbfRepairs rep;
    int n_stats;
    AnnotatorStats *stats;   // one per annotator of the record, with --report
    Span *names;             // their names (into the line or rec)
    Record rec;              // the jansson path's record, kept until the stats are merged
    char *id;                // the record's id (owned), for the duplicate check in order
} LineResult;

// Reads a record line into ws->view: by the fast scanner (returns 1, ws->tape then holds
// the strict tape of the line), else through jansson (returns 0; rec holds the record),
// or -1 with "line N: ..." in err. The view's strings borrow from the line or from
// strings the view owns until view_release.
int view_read(const char *line, size_t len, long lineno, Workspace *ws, int force_jansson, Record *rec, char *err,
              size_t errn);
void view_release(View *v);
// A copy (malloc'd, NULL when out of memory) of the id of the line view_read just read:
// how is what view_read returned (1: the fast scanner's tape, whose strings have no
// escapes, so the token is the id; 0: rec).
char *view_id_copy(const char *line, const Workspace *ws, int how, const Record *rec);

// Cuts the line around its "objects" value (or before its final '}' when it has none)
// into r->piece, with `objects` (handed over to r->owned) in the middle. t is a tape of
// the line. Returns -1 when the tape cannot say where (a top-level key with escapes).
int splice_objects(const char *line, size_t len, const JTape *t, LineResult *r, char *objects, size_t n);

// Annotator mode: validates the record and writes it back with "objects".
// force_jansson skips the fast scanner (for tests of the two paths).
void fuse_annotators_line(const char *line, size_t len, long lineno, const FuseOptions *o, Workspace *ws,
                          int force_jansson, LineResult *r);
void line_result_free(LineResult *r);
void workspace_free(Workspace *ws);

#endif
