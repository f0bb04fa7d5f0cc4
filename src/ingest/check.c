// The record check that `validate` runs, applied to each record before ingest writes it, so
// that what ingest writes always passes `validate`.
#include <string.h>

#include "cli.h"
#include "ingest.h"
#include "record.h"

void ingest_check_record(const char *tool, json_t *rec, const char *where) {
    unsigned need = REC_ID | REC_IMAGE | REC_SIZE | REC_ANNOTATORS;
    if (json_object_get(rec, "annotations")) need |= REC_ANNOTATIONS;
    if (json_object_get(rec, "truth")) need |= REC_TRUTH;
    if (json_object_get(rec, "detections")) need |= REC_DETECTIONS;
    Record r;
    char err[600];
    if (record_from_json(rec, 0, need, BOX_STRICT, "truth", &r, err, sizeof err) != 0) {
        const char *msg = strncmp(err, "line 0: ", 8) == 0 ? err + 8 : err;
        r.json = NULL;
        record_free(&r);
        cli_die(tool, EXIT_DATA, "%s: the record would not pass validate: %s", where, msg);
    }
    r.json = NULL;   // borrowed: the caller owns and writes it
    record_free(&r);
}

int ingest_clip_to_frame(Box *b, int w, int h) {
    if (!box_in_frame(*b, w, h, 0.5)) return -1;
    box_clamp(b, w, h);
    return 0;
}
