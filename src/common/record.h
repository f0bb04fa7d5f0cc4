// Records: one JSON object per line, one line per image (see docs/format.md).
// A Record keeps the whole parsed object in `json` so that tools pass unknown fields
// through untouched, and exposes the fields it was asked to validate as C values.
// Strings in a Record are borrowed from `json` and live as long as it does.
#ifndef MAD_RECORD_H
#define MAD_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "box.h"

typedef struct {
    const char *annotator;
    int annotator_index;   // index into Record.annotators, -1 when not checked
    const char *label;
    Box box;
    double score;          // 1 when the record gives none
} Annotation;

// A labelled box of `truth`, `objects` or `detections`.
typedef struct {
    const char *label;
    Box box;
    double score;          // `score` of detections, `conf` of objects, 1 for truth
} LabeledBox;

// Fields a tool asks the reader to validate.
enum {
    REC_ID          = 1 << 0,
    REC_IMAGE       = 1 << 1,
    REC_SIZE        = 1 << 2,   // width and height
    REC_ANNOTATORS  = 1 << 3,
    REC_ANNOTATIONS = 1 << 4,   // implies REC_SIZE; checks annotators when REC_ANNOTATORS
    REC_TRUTH       = 1 << 5,   // implies REC_SIZE
    REC_DETECTIONS  = 1 << 6,   // implies REC_SIZE; each needs a score in [0,1]
    // With BOX_STRICT: detections may extend past the frame (other toolkits' detectors
    // produce such boxes, and COCOeval scores them as they are); x1 < x2, y1 < y2 still.
    REC_DETECTIONS_PAST_FRAME = 1 << 7,
};

// How boxes are checked beyond "4 finite numbers".
typedef enum {
    BOX_LENIENT,   // inverted or out-of-frame boxes are accepted (the tool repairs them)
    BOX_STRICT,    // x1 < x2, y1 < y2 and inside [0,width] x [0,height]
    BOX_ORDERED,   // x1 < x2, y1 < y2, anywhere
} BoxPolicy;

typedef struct {
    json_t *json;           // the whole object (owned)
    long line;              // 1-based input line number
    const char *id;
    const char *image;
    int width, height;
    int n_annotators;
    const char **annotators;
    int n_annotations;
    Annotation *annotations;
    int n_truth;
    LabeledBox *truth;
    int n_detections;
    LabeledBox *detections;
} Record;

typedef struct {
    FILE *fp;
    long line;
    unsigned need;          // REC_* flags to validate
    BoxPolicy boxes;
    const char *truth_field;   // name of the truth field, "truth" unless changed
    char *buf;
    size_t cap;
} RecordReader;

void record_reader_init(RecordReader *rd, FILE *fp, unsigned need, BoxPolicy boxes);

// Reads and validates the next non-blank line.
// Returns 1 with *rec filled, 0 at end of input, -1 on a bad line with a message such as
// `line 12: annotations[3]: "box" must be 4 finite numbers` in err. After -1 the reader
// can go on with the next line (for --keep-going); -2 means a read error (stop).
int record_read(RecordReader *rd, Record *rec, char *err, size_t errn);

// Validates an already parsed object (used by record_read, and by tests).
int record_from_json(json_t *obj, long line, unsigned need, BoxPolicy boxes,
                     const char *truth_field, Record *rec, char *err, size_t errn);

void record_free(Record *rec);

// Duplicate ids across a stream: records id (n bytes) at `line` in the set (a JSON object
// owned by the caller). Returns 0 when the id is new, else the line it was first seen on.
long record_id_seen(json_t *set, const char *id, size_t n, long line);
// The rule every tool applies: 0 when the id is new, else -1 with the message
// `line L: duplicate id "x" (first on line F)` in err.
int record_id_unique(json_t *set, const char *id, size_t n, long line, char *err, size_t errn);
// record_read, and a repeated id (tracked in ids) is a bad line too: -1 with its message.
int record_read_unique(RecordReader *rd, json_t *ids, Record *rec, char *err, size_t errn);

// Writes one object as a compact line. Reals keep 15 significant digits, so any decimal
// written with at most 15 significant digits passes through unchanged.
int record_write(FILE *fp, const json_t *obj);
#define RECORD_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

// JSON helpers for writers.
json_t *json_box(Box b);                                   // [x1,y1,x2,y2]
json_t *json_labeled_box(const char *label, Box b);        // {"label","box"}

#endif
