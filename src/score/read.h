// score: reading one record's truth and detections, by the fast scanner when the line is
// in its plain subset, else through jansson (which words every error).
#ifndef SCORE_READ_H
#define SCORE_READ_H

#include "evaluate.h"
#include "jscan.h"
#include "record.h"

typedef struct {
    JTape tape;
    EvalBox *truth, *dets;
    int n_truth, n_dets, cap_truth, cap_dets;
    const char *id;
    int id_len;
    Record rec;       // the jansson path's record
} ScoreLine;

// Reads a line; 0 on success, -1 with a message in err. The boxes stay valid until the
// next call (or score_line_free).
// strict_frame: detections must lie in the frame too (by default they may extend past it).
int score_read_line(ScoreLine *sl, const char *line, size_t len, long lineno, const char *truth_field, int strict_frame,
                    char *err, size_t errn);
void score_line_free(ScoreLine *sl);

#endif
