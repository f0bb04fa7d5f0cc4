// ingest: datasets in, records out.
#ifndef INGEST_INGEST_H
#define INGEST_INGEST_H

#include <jansson.h>

#include "box.h"

int ingest_vindr(int argc, char **argv);
int ingest_coco(int argc, char **argv);

// Runs validate's check (strict boxes) on a record about to be written; on failure exits
// with `where`, the record's place in the source ("train.csv: line 12").
void ingest_check_record(const char *tool, json_t *rec, const char *where);

// Boxes at most 0.5 px past the w x h frame (rounding in the source) are clipped to it.
// Returns -1, leaving the box as it was, when a box lies further out.
int ingest_clip_to_frame(Box *b, int w, int h);

#endif
