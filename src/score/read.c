#include "read.h"

#include <stdlib.h>
#include <string.h>

static int reserve(EvalBox **a, int *cap, int n) {
    if (n <= *cap) return 0;
    int c = n * 2 + 16;
    EvalBox *b = realloc(*a, sizeof *b * (size_t)c);
    if (!b) return -1;
    *a = b;
    *cap = c;
    return 0;
}

// An array of {"label", "box"[, "score"]} objects, checked as the record format wants them
// (strict boxes). Returns 0 when anything is off: the jansson path then words it.
static int read_boxes(const JTape *t, const char *s, int arr, int need_score, int framed, int w, int h, EvalBox **out,
                      int *cap, int *n) {
    if (arr < 0 || t->tok[arr].type != JT_ARRAY) return 0;
    int count = (int)t->tok[arr].count;
    if (reserve(out, cap, count) != 0) return 0;
    int k = arr + 1;
    for (int i = 0; i < count; i++, k = (int)t->tok[k].end) {
        if (t->tok[k].type != JT_OBJECT) return 0;
        int l = jobj_get(t, s, k, "label"), b = jobj_get(t, s, k, "box"), sc = jobj_get(t, s, k, "score");
        if (!jtok_nonempty_string(t, l) || b < 0 || t->tok[b].type != JT_ARRAY || t->tok[b].count != 4) return 0;
        double c[4], score = 1.0;
        for (int q = 0, e = b + 1; q < 4; q++, e = (int)t->tok[e].end) {
            if (t->tok[e].type != JT_NUMBER) return 0;
            c[q] = t->tok[e].num;
        }
        Box box = { c[0], c[1], c[2], c[3] };
        if (!(box.x1 < box.x2) || !(box.y1 < box.y2) || (framed && !box_in_frame(box, w, h, 1e-6))) return 0;
        if (sc >= 0) {
            if (t->tok[sc].type != JT_NUMBER) return 0;
            score = t->tok[sc].num;
            if (!(score >= 0 && score <= 1)) return 0;
        } else if (need_score) {
            return 0;
        }
        (*out)[i] = (EvalBox){ s + t->tok[l].start, (int)t->tok[l].len, box, score };
    }
    *n = count;
    return 1;
}

static int read_fast(ScoreLine *sl, const char *s, const char *truth_field, int strict_frame) {
    const JTape *t = &sl->tape;
    int id = jobj_get(t, s, 0, "id"), w, h;
    if (!jtok_nonempty_string(t, id) || !jtok_frame_size(t, jobj_get(t, s, 0, "width"), &w) ||
        !jtok_frame_size(t, jobj_get(t, s, 0, "height"), &h))
        return 0;
    sl->id = s + t->tok[id].start;
    sl->id_len = (int)t->tok[id].len;
    return read_boxes(t, s, jobj_get(t, s, 0, truth_field), 0, 1, w, h, &sl->truth, &sl->cap_truth, &sl->n_truth) &&
           read_boxes(t, s, jobj_get(t, s, 0, "detections"), 1, strict_frame, w, h, &sl->dets, &sl->cap_dets, &sl->n_dets);
}

int score_read_line(ScoreLine *sl, const char *line, size_t len, long lineno, const char *truth_field, int strict_frame,
                    char *err, size_t errn) {
    record_free(&sl->rec);
    if (jscan(line, len, 1, &sl->tape) == JSCAN_OK && read_fast(sl, line, truth_field, strict_frame)) return 0;
    json_error_t je;
    json_t *obj = json_loads(line, JSON_REJECT_DUPLICATES, &je);
    if (!obj) {
        snprintf(err, errn, "line %ld: malformed JSON: %s (column %d)", lineno, je.text, je.column);
        return -1;
    }
    Record *r = &sl->rec;
    unsigned need = REC_ID | REC_TRUTH | REC_DETECTIONS | (strict_frame ? 0 : REC_DETECTIONS_PAST_FRAME);
    if (record_from_json(obj, lineno, need, BOX_STRICT, truth_field, r, err, errn) != 0)
        return -1;
    if (reserve(&sl->truth, &sl->cap_truth, r->n_truth) != 0 || reserve(&sl->dets, &sl->cap_dets, r->n_detections) != 0) {
        snprintf(err, errn, "line %ld: out of memory", lineno);
        return -1;
    }
    for (int i = 0; i < r->n_truth; i++)
        sl->truth[i] = (EvalBox){ r->truth[i].label, (int)strlen(r->truth[i].label), r->truth[i].box, 1.0 };
    for (int i = 0; i < r->n_detections; i++)
        sl->dets[i] = (EvalBox){ r->detections[i].label, (int)strlen(r->detections[i].label), r->detections[i].box,
                                 r->detections[i].score };
    sl->n_truth = r->n_truth;
    sl->n_dets = r->n_detections;
    sl->id = r->id;
    sl->id_len = (int)strlen(r->id);
    return 0;
}

void score_line_free(ScoreLine *sl) {
    jtape_free(&sl->tape);
    free(sl->truth);
    free(sl->dets);
    record_free(&sl->rec);
    memset(sl, 0, sizeof *sl);
}
