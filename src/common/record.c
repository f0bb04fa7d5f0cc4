#include "record.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void record_reader_init(RecordReader *rd, FILE *fp, unsigned need, BoxPolicy boxes) {
    memset(rd, 0, sizeof *rd);
    rd->fp = fp;
    rd->need = need;
    rd->boxes = boxes;
    rd->truth_field = "truth";
}

static int fail(char *err, size_t errn, long line, const char *fmt, ...) {
    int k = snprintf(err, errn, "line %ld: ", line);
    if (k < 0 || (size_t)k >= errn) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + k, errn - (size_t)k, fmt, ap);
    va_end(ap);
    return -1;
}

static int get_string(json_t *obj, const char *key, bool required, const char **out,
                      const char *where, long line, char *err, size_t errn) {
    json_t *v = json_object_get(obj, key);
    if (!v) {
        *out = NULL;
        if (!required) return 0;
        return fail(err, errn, line, "%smissing \"%s\"", where, key);
    }
    if (!json_is_string(v) || json_string_length(v) == 0)
        return fail(err, errn, line, "%s\"%s\" must be a non-empty string", where, key);
    *out = json_string_value(v);
    return 0;
}

static int get_positive_int(json_t *obj, const char *key, int *out, long line, char *err, size_t errn) {
    json_t *v = json_object_get(obj, key);
    if (!v) return fail(err, errn, line, "missing \"%s\"", key);
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > 1000000)
        return fail(err, errn, line, "\"%s\" must be a positive integer", key);
    *out = (int)json_integer_value(v);
    return 0;
}

// Parses {"box": [x1,y1,x2,y2]} of one element and checks it against the policy.
static int get_box(json_t *elem, Box *b, const Record *rec, BoxPolicy pol, const char *where,
                   long line, char *err, size_t errn) {
    json_t *v = json_object_get(elem, "box");
    if (!v) return fail(err, errn, line, "%smissing \"box\"", where);
    double c[4];
    if (!json_is_array(v) || json_array_size(v) != 4)
        return fail(err, errn, line, "%s\"box\" must be 4 finite numbers", where);
    for (int i = 0; i < 4; i++) {
        json_t *x = json_array_get(v, (size_t)i);
        if (!json_is_number(x) || !isfinite(json_number_value(x)))
            return fail(err, errn, line, "%s\"box\" must be 4 finite numbers", where);
        c[i] = json_number_value(x);
    }
    *b = (Box){ c[0], c[1], c[2], c[3] };
    if (pol == BOX_STRICT || pol == BOX_ORDERED) {
        if (!(b->x1 < b->x2) || !(b->y1 < b->y2))
            return fail(err, errn, line, "%s\"box\" [%g,%g,%g,%g] is inverted or empty (need x1<x2, y1<y2)",
                        where, c[0], c[1], c[2], c[3]);
        if (pol == BOX_STRICT && !box_in_frame(*b, rec->width, rec->height, 1e-6))
            return fail(err, errn, line, "%s\"box\" [%g,%g,%g,%g] is outside the %dx%d frame",
                        where, c[0], c[1], c[2], c[3], rec->width, rec->height);
    }
    return 0;
}

static int get_score(json_t *elem, const char *key, bool required, double *out, const char *where,
                     long line, char *err, size_t errn) {
    json_t *v = json_object_get(elem, key);
    if (!v) {
        if (required) return fail(err, errn, line, "%smissing \"%s\"", where, key);
        *out = 1.0;
        return 0;
    }
    double s = json_number_value(v);
    if (!json_is_number(v) || !isfinite(s) || s < 0.0 || s > 1.0)
        return fail(err, errn, line, "%s\"%s\" must be a number in [0,1]", where, key);
    *out = s;
    return 0;
}

static int parse_annotators(Record *rec, long line, char *err, size_t errn) {
    json_t *arr = json_object_get(rec->json, "annotators");
    if (!arr) return fail(err, errn, line, "missing \"annotators\"");
    if (!json_is_array(arr)) return fail(err, errn, line, "\"annotators\" must be an array of strings");
    size_t n = json_array_size(arr);
    rec->annotators = calloc(n ? n : 1, sizeof *rec->annotators);
    if (!rec->annotators) return fail(err, errn, line, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(arr, i);
        if (!json_is_string(s) || json_string_length(s) == 0)
            return fail(err, errn, line, "\"annotators\"[%zu] must be a non-empty string", i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(rec->annotators[j], json_string_value(s)) == 0)
                return fail(err, errn, line, "annotator \"%s\" is listed twice in \"annotators\"",
                            json_string_value(s));
        rec->annotators[i] = json_string_value(s);
    }
    rec->n_annotators = (int)n;
    return 0;
}

static int parse_annotations(Record *rec, bool check_names, BoxPolicy pol, long line, char *err, size_t errn) {
    json_t *arr = json_object_get(rec->json, "annotations");
    if (!arr) return fail(err, errn, line, "missing \"annotations\"");
    if (!json_is_array(arr)) return fail(err, errn, line, "\"annotations\" must be an array");
    size_t n = json_array_size(arr);
    rec->annotations = calloc(n ? n : 1, sizeof *rec->annotations);
    if (!rec->annotations) return fail(err, errn, line, "out of memory");
    char where[64];
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        Annotation *a = &rec->annotations[i];
        snprintf(where, sizeof where, "annotations[%zu]: ", i);
        if (!json_is_object(e)) return fail(err, errn, line, "%smust be an object", where);
        if (get_string(e, "annotator", true, &a->annotator, where, line, err, errn)) return -1;
        if (get_string(e, "label", true, &a->label, where, line, err, errn)) return -1;
        if (get_box(e, &a->box, rec, pol, where, line, err, errn)) return -1;
        if (get_score(e, "score", false, &a->score, where, line, err, errn)) return -1;
        a->annotator_index = -1;
        if (check_names) {
            for (int k = 0; k < rec->n_annotators; k++)
                if (strcmp(rec->annotators[k], a->annotator) == 0) { a->annotator_index = k; break; }
            if (a->annotator_index < 0)
                return fail(err, errn, line, "%sannotator \"%s\" is not in \"annotators\"", where, a->annotator);
        }
    }
    rec->n_annotations = (int)n;
    return 0;
}

static int parse_boxes(Record *rec, const char *field, const char *score_key, bool need_score,
                       BoxPolicy pol, LabeledBox **out, int *count, long line, char *err, size_t errn) {
    json_t *arr = json_object_get(rec->json, field);
    if (!arr) return fail(err, errn, line, "missing \"%s\"", field);
    if (!json_is_array(arr)) return fail(err, errn, line, "\"%s\" must be an array", field);
    size_t n = json_array_size(arr);
    *out = calloc(n ? n : 1, sizeof **out);
    if (!*out) return fail(err, errn, line, "out of memory");
    char where[96];
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        LabeledBox *b = &(*out)[i];
        snprintf(where, sizeof where, "%s[%zu]: ", field, i);
        if (!json_is_object(e)) return fail(err, errn, line, "%smust be an object", where);
        if (get_string(e, "label", true, &b->label, where, line, err, errn)) return -1;
        if (get_box(e, &b->box, rec, pol, where, line, err, errn)) return -1;
        if (score_key) {
            if (get_score(e, score_key, need_score, &b->score, where, line, err, errn)) return -1;
        } else {
            b->score = 1.0;
        }
    }
    *count = (int)n;
    return 0;
}

int record_from_json(json_t *obj, long line, unsigned need, BoxPolicy boxes,
                     const char *truth_field, Record *rec, char *err, size_t errn) {
    memset(rec, 0, sizeof *rec);
    rec->json = obj;
    rec->line = line;
    if (!json_is_object(obj)) return fail(err, errn, line, "a record must be a JSON object");
    if (need & (REC_ANNOTATIONS | REC_TRUTH | REC_DETECTIONS)) need |= REC_SIZE;
    if ((need & REC_ID) && get_string(obj, "id", true, &rec->id, "", line, err, errn)) return -1;
    if (!(need & REC_ID)) get_string(obj, "id", false, &rec->id, "", line, err, errn);
    if ((need & REC_IMAGE) && get_string(obj, "image", true, &rec->image, "", line, err, errn)) return -1;
    if (need & REC_SIZE) {
        if (get_positive_int(obj, "width", &rec->width, line, err, errn)) return -1;
        if (get_positive_int(obj, "height", &rec->height, line, err, errn)) return -1;
    }
    if ((need & REC_ANNOTATORS) && parse_annotators(rec, line, err, errn)) return -1;
    if ((need & REC_ANNOTATIONS) &&
        parse_annotations(rec, (need & REC_ANNOTATORS) != 0, boxes, line, err, errn)) return -1;
    if ((need & REC_TRUTH) &&
        parse_boxes(rec, truth_field ? truth_field : "truth", NULL, false, boxes, &rec->truth,
                    &rec->n_truth, line, err, errn)) return -1;
    if ((need & REC_DETECTIONS) &&
        parse_boxes(rec, "detections", "score", true,
                    boxes == BOX_STRICT && (need & REC_DETECTIONS_PAST_FRAME) ? BOX_ORDERED : boxes, &rec->detections, &rec->n_detections,
                    line, err, errn)) return -1;
    return 0;
}

static bool is_blank(const char *s) {
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return false;
    return true;
}

int record_read(RecordReader *rd, Record *rec, char *err, size_t errn) {
    memset(rec, 0, sizeof *rec);
    for (;;) {
        ssize_t len = getline(&rd->buf, &rd->cap, rd->fp);
        if (len < 0) {
            if (ferror(rd->fp)) { snprintf(err, errn, "line %ld: read error", rd->line + 1); return -2; }
            return 0;
        }
        rd->line++;
        if ((size_t)len != strlen(rd->buf))
            return fail(err, errn, rd->line, "contains a NUL byte");
        if (is_blank(rd->buf)) continue;
        json_error_t je;
        json_t *obj = json_loads(rd->buf, JSON_REJECT_DUPLICATES, &je);
        if (!obj) return fail(err, errn, rd->line, "malformed JSON: %s (column %d)", je.text, je.column);
        if (record_from_json(obj, rd->line, rd->need, rd->boxes, rd->truth_field, rec, err, errn) != 0) {
            record_free(rec);
            return -1;
        }
        return 1;
    }
}

void record_free(Record *rec) {
    json_decref(rec->json);
    free(rec->annotators);
    free(rec->annotations);
    free(rec->truth);
    free(rec->detections);
    memset(rec, 0, sizeof *rec);
}

long record_id_seen(json_t *set, const char *id, size_t n, long line) {
    json_t *first = json_object_getn(set, id, n);
    if (first) return (long)json_integer_value(first);
    json_object_setn_new(set, id, n, json_integer(line));
    return 0;
}

int record_id_unique(json_t *set, const char *id, size_t n, long line, char *err, size_t errn) {
    long first = record_id_seen(set, id, n, line);
    if (!first) return 0;
    snprintf(err, errn, "line %ld: duplicate id \"%.*s\" (first on line %ld)", line, (int)n, id, first);
    return -1;
}

int record_read_unique(RecordReader *rd, json_t *ids, Record *rec, char *err, size_t errn) {
    int rc = record_read(rd, rec, err, errn);
    if (rc == 1 && record_id_unique(ids, rec->id, strlen(rec->id), rec->line, err, errn) != 0) {
        record_free(rec);
        return -1;
    }
    return rc;
}

int record_write(FILE *fp, const json_t *obj) {
    if (json_dumpf(obj, fp, RECORD_DUMP_FLAGS) != 0) return -1;
    return fputc('\n', fp) == EOF ? -1 : 0;
}

json_t *json_box(Box b) {
    return json_pack("[ffff]", b.x1, b.y1, b.x2, b.y2);
}

json_t *json_labeled_box(const char *label, Box b) {
    return json_pack("{s:s,s:o}", "label", label, "box", json_box(b));
}
