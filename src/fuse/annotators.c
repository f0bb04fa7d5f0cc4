// Annotator mode: one record's annotations fused into "objects".
//
// A line is read by the fast scanner when it is in its plain subset, else through jansson,
// which also words every error. Either way the output is the input line, byte for byte,
// with the "objects" value written in place (or appended), so both paths give the same text.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"

static int view_reserve(View *v, int n_src, int n_ann) {
    if (n_src > v->cap_src) {
        int cap = n_src * 2 + 8;
        Span *a = realloc(v->src_name, sizeof *a * (size_t)cap);
        if (a) v->src_name = a;
        Span *b = realloc(v->src_json, sizeof *b * (size_t)cap);
        if (b) v->src_json = b;
        if (!a || !b) return -1;
        v->cap_src = cap;
    }
    if (n_ann > v->cap_ann) {
        int cap = n_ann * 2 + 16;
        Span *a = realloc(v->label_json, sizeof *a * (size_t)cap);
        if (a) v->label_json = a;
        Span *b = realloc(v->label_name, sizeof *b * (size_t)cap);
        if (b) v->label_name = b;
        WbfInput *c = realloc(v->in, sizeof *c * (size_t)cap);
        if (c) v->in = c;
        Box *d = realloc(v->box, sizeof *d * (size_t)cap);
        if (d) v->box = d;
        if (!a || !b || !c || !d) return -1;
        v->cap_ann = cap;
    }
    v->n_src = n_src;
    v->n_ann = n_ann;
    v->n_labels = 0;
    return 0;
}

static int span_eq(Span a, Span b) { return a.n == b.n && memcmp(a.p, b.p, (size_t)a.n) == 0; }

// The id of a label, added in order of first appearance.
static int label_id(View *v, Span name, Span json) {
    for (int k = 0; k < v->n_labels; k++)
        if (span_eq(v->label_name[k], name)) return k;
    v->label_name[v->n_labels] = name;
    v->label_json[v->n_labels] = json;
    return v->n_labels++;
}

static void set_input(View *v, int i, int label, int source, double score, Box b) {
    v->box[i] = b;
    v->in[i] = (WbfInput){ label, source, score, box_normalise(b, v->width, v->height) };
}

// ---- the fast path --------------------------------------------------------------

static Span tok_span(const JTape *t, const char *s, int k) { return (Span){ s + t->tok[k].start, (int)t->tok[k].len }; }

// Reads the record from a strict-mode tape. Returns 0 when anything is not exactly as the
// record format wants it: the jansson path then decides, and words the error.
static int read_fast(const JTape *t, const char *s, View *v) {
    int id = jobj_get(t, s, 0, "id");
    int ann = jobj_get(t, s, 0, "annotations"), who = jobj_get(t, s, 0, "annotators");
    int w, h;
    if (!jtok_nonempty_string(t, id) || !jtok_frame_size(t, jobj_get(t, s, 0, "width"), &w) ||
        !jtok_frame_size(t, jobj_get(t, s, 0, "height"), &h))
        return 0;
    if (who < 0 || t->tok[who].type != JT_ARRAY || ann < 0 || t->tok[ann].type != JT_ARRAY) return 0;
    if (view_reserve(v, (int)t->tok[who].count, (int)t->tok[ann].count) != 0) return 0;
    v->width = w;
    v->height = h;
    int k = who + 1;
    for (int i = 0; i < v->n_src; i++, k = (int)t->tok[k].end) {
        if (!jtok_nonempty_string(t, k)) return 0;
        v->src_name[i] = v->src_json[i] = tok_span(t, s, k);
        for (int j = 0; j < i; j++)
            if (span_eq(v->src_name[j], v->src_name[i])) return 0;
    }
    k = ann + 1;
    for (int i = 0; i < v->n_ann; i++, k = (int)t->tok[k].end) {
        if (t->tok[k].type != JT_OBJECT) return 0;
        int a = jobj_get(t, s, k, "annotator"), l = jobj_get(t, s, k, "label");
        int b = jobj_get(t, s, k, "box"), sc = jobj_get(t, s, k, "score");
        if (!jtok_nonempty_string(t, a) || !jtok_nonempty_string(t, l) || b < 0 || t->tok[b].type != JT_ARRAY || t->tok[b].count != 4)
            return 0;
        Span name = tok_span(t, s, a);
        int src = -1;
        for (int j = 0; j < v->n_src && src < 0; j++)
            if (span_eq(v->src_name[j], name)) src = j;
        if (src < 0) return 0;
        double c[4], score = 1.0;
        for (int q = 0, e = b + 1; q < 4; q++, e = (int)t->tok[e].end) {
            if (t->tok[e].type != JT_NUMBER) return 0;
            c[q] = t->tok[e].num;
        }
        if (sc >= 0) {
            if (t->tok[sc].type != JT_NUMBER) return 0;
            score = t->tok[sc].num;
            if (!(score >= 0 && score <= 1)) return 0;
        }
        Span label = tok_span(t, s, l);
        set_input(v, i, label_id(v, label, label), src, score, (Box){ c[0], c[1], c[2], c[3] });
    }
    return 1;
}

// ---- the jansson path -------------------------------------------------------------

// A string's JSON contents (escaped, without the quotes), kept in v->owned.
static Span escaped(View *v, const char *s) {
    json_t *str = json_string(s);
    char *text = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
    json_decref(str);
    if (!text) return (Span){ "", 0 };
    if (v->n_owned == v->cap_owned) {
        int cap = v->cap_owned ? v->cap_owned * 2 : 16;
        char **o = realloc(v->owned, sizeof *o * (size_t)cap);
        if (!o) { free(text); return (Span){ "", 0 }; }
        v->owned = o;
        v->cap_owned = cap;
    }
    v->owned[v->n_owned++] = text;
    return (Span){ text + 1, (int)strlen(text) - 2 };
}

static int read_jansson(const char *line, long lineno, View *v, Record *rec, char *err, size_t errn) {
    json_error_t je;
    json_t *obj = json_loads(line, JSON_REJECT_DUPLICATES, &je);
    if (!obj) {
        snprintf(err, errn, "line %ld: malformed JSON: %s (column %d)", lineno, je.text, je.column);
        return -1;
    }
    if (record_from_json(obj, lineno, REC_ID | REC_SIZE | REC_ANNOTATORS | REC_ANNOTATIONS, BOX_LENIENT, "truth",
                         rec, err, errn) != 0)
        return -1;
    if (view_reserve(v, rec->n_annotators, rec->n_annotations) != 0) {
        snprintf(err, errn, "line %ld: out of memory", lineno);
        return -1;
    }
    v->width = rec->width;
    v->height = rec->height;
    for (int t = 0; t < rec->n_annotators; t++) {
        v->src_name[t] = (Span){ rec->annotators[t], (int)strlen(rec->annotators[t]) };
        v->src_json[t] = escaped(v, rec->annotators[t]);
    }
    for (int i = 0; i < rec->n_annotations; i++) {
        const Annotation *a = &rec->annotations[i];
        Span name = { a->label, (int)strlen(a->label) };
        int known = v->n_labels;
        int id = label_id(v, name, name);
        if (id == known) v->label_json[id] = escaped(v, a->label);
        set_input(v, i, id, a->annotator_index, a->score, a->box);
    }
    return 0;
}

int view_read(const char *line, size_t len, long lineno, Workspace *ws, int force_jansson, Record *rec, char *err,
              size_t errn) {
    View *v = &ws->view;
    v->n_owned = 0;
    if (!force_jansson && jscan(line, len, 1, &ws->tape) == JSCAN_OK && read_fast(&ws->tape, line, v)) return 1;
    return read_jansson(line, lineno, v, rec, err, errn) == 0 ? 0 : -1;
}

char *view_id_copy(const char *line, const Workspace *ws, int how, const Record *rec) {
    if (how != 1) return strdup(rec->id);
    const JTok *t = &ws->tape.tok[jobj_get(&ws->tape, line, 0, "id")];
    return strndup(line + t->start, t->len);
}

void view_release(View *v) {
    for (int i = 0; i < v->n_owned; i++) free(v->owned[i]);
    v->n_owned = 0;
}

// ---- output -----------------------------------------------------------------------

static char *put_span(char *p, Span s) {
    *p++ = '"';
    memcpy(p, s.p, (size_t)s.n);
    p += s.n;
    *p++ = '"';
    return p;
}

static char *put_lit(char *p, const char *lit, size_t n) {
    memcpy(p, lit, n);
    return p + n;
}
#define PUT_LIT(p, lit) put_lit(p, lit, sizeof lit - 1)

static char *put_count(char *p, int v) {
    char tmp[12];
    int n = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v > 0);
    while (n) *p++ = tmp[--n];
    return p;
}

// The "objects" array: labels, pixel boxes, agreement, votes and the annotators. The
// longest text it can be is reserved first, then written without further checks.
static int objects_text(const View *v, const WbfResult *res, unsigned char *seen, JBuf *b) {
    size_t names = 0, labels = 0;
    for (int t = 0; t < v->n_src; t++) names += (size_t)v->src_json[t].n + 3;
    for (int k = 0; k < v->n_labels; k++) labels = labels > (size_t)v->label_json[k].n ? labels : (size_t)v->label_json[k].n;
    size_t need = 2 + (size_t)res->n_clusters * (96 + 5 * 24 + 24 + labels + names);
    if (need + 1 > b->cap) {
        char *ns = realloc(b->s, need + 1);
        if (!ns) return -1;
        b->s = ns;
        b->cap = need + 1;
    }
    char *p = b->s;
    *p++ = '[';
    for (int c = 0; c < res->n_clusters; c++) {
        const WbfCluster *cl = &res->clusters[c];
        Box box = box_denormalise(cl->box, v->width, v->height);
        if (c) *p++ = ',';
        p = PUT_LIT(p, "{\"label\":");
        p = put_span(p, v->label_json[cl->label]);
        p = PUT_LIT(p, ",\"box\":[");
        p += jfmt_real(box.x1, p); *p++ = ',';
        p += jfmt_real(box.y1, p); *p++ = ',';
        p += jfmt_real(box.x2, p); *p++ = ',';
        p += jfmt_real(box.y2, p);
        p = PUT_LIT(p, "],\"conf\":");
        p += jfmt_real(cl->conf, p);
        p = PUT_LIT(p, ",\"votes\":");
        p = put_count(p, cl->votes);
        p = PUT_LIT(p, ",\"annotators\":[");
        memset(seen, 0, (size_t)v->n_src);
        for (int k = 0; k < cl->n_members; k++) seen[v->in[cl->members[k]].source] = 1;
        int first = 1;
        for (int t = 0; t < v->n_src; t++) {
            if (!seen[t]) continue;
            if (!first) *p++ = ',';
            p = put_span(p, v->src_json[t]);
            first = 0;
        }
        p = PUT_LIT(p, "]}");
    }
    *p++ = ']';
    *p = '\0';
    b->n = (size_t)(p - b->s);
    return 0;
}

// Where the new "objects" value goes: the input line is cut into a head and a tail, with
// a separator before the value when it is appended. Returns -1 when the tape cannot say
// (a top-level key written with escapes).
int splice_objects(const char *line, size_t len, const JTape *t, LineResult *r, char *objects, size_t n) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    int k = 1;
    for (uint32_t m = 0; m < t->tok[0].count; m++, k = (int)t->tok[k + 1].end)
        if (t->tok[k].flags & JF_ESCAPED) return -1;
    int v = jobj_get(t, line, 0, "objects");
    size_t a, z;
    const char *sep = "";
    if (v >= 0) {
        a = t->tok[v].start;
        z = a + t->tok[v].len;
    } else {
        a = z = t->tok[0].start + t->tok[0].len - 1;   // before the final '}'
        sep = t->tok[0].count ? ",\"objects\":" : "\"objects\":";
    }
    r->piece[0] = (Span){ line, (int)a };
    r->piece[1] = (Span){ sep, (int)strlen(sep) };
    r->piece[2] = (Span){ objects, (int)n };
    r->piece[3] = (Span){ line + z, (int)(len - z) };
    r->owned = objects;
    return 0;
}

// ---- statistics ---------------------------------------------------------------------

static void collect_stats(const View *v, const WbfResult *res, const WbfParams *p, LineResult *r) {
    int m = v->n_src;
    r->stats = calloc((size_t)(m ? m : 1), sizeof *r->stats);
    r->names = malloc(sizeof *r->names * (size_t)(m ? m : 1));
    if (!r->stats || !r->names) { free(r->stats); r->stats = NULL; return; }
    if (m) memcpy(r->names, v->src_name, sizeof *r->names * (size_t)m);
    r->n_stats = m;
    double W = v->width, H = v->height;
    for (int i = 0; i < v->n_ann; i++) r->stats[v->in[i].source].boxes++;
    for (int c = 0; c < res->n_clusters; c++) {
        const WbfCluster *cl = &res->clusters[c];
        Box fused = box_denormalise(cl->box, W, H);
        for (int k = 0; k < cl->n_members; k++) {
            int i = cl->members[k];
            AnnotatorStats *s = &r->stats[v->in[i].source];
            if (cl->votes >= 2) s->agreed++;
            Box b = v->box[i];
            box_fix_order(&b);
            box_clamp(&b, W, H);
            s->iou_sum += box_iou(b, fused);
            s->iou_n++;
        }
    }
    // Label agreement: each box against the best-overlapping box of every other annotator.
    for (int i = 0; i < v->n_ann; i++) {
        int src = v->in[i].source;
        for (int t = 0; t < m; t++) {
            if (t == src) continue;
            int best = -1;
            double best_iou = p->iou_thr;
            for (int j = 0; j < v->n_ann; j++) {
                if (v->in[j].source != t) continue;
                double iou = box_iou(v->box[i], v->box[j]);
                if (iou > best_iou) { best_iou = iou; best = j; }
            }
            if (best < 0) continue;
            r->stats[src].pairs++;
            r->stats[src].same_label += v->in[i].label == v->in[best].label;
        }
    }
}

// ---- one line -----------------------------------------------------------------------

static int source_weights(const View *v, const FuseOptions *o, Workspace *ws, long lineno, char *err, size_t errn) {
    if (v->n_src + 1 > ws->cap_weights) {
        double *w = realloc(ws->weights, sizeof *w * (size_t)(v->n_src + 1));
        if (!w) { snprintf(err, errn, "line %ld: out of memory", lineno); return -1; }
        ws->weights = w;
        ws->cap_weights = v->n_src + 1;
    }
    for (int t = 0; t < v->n_src; t++) {
        ws->weights[t] = 1.0;
        if (!o->weights_by_name) continue;
        json_t *w = json_object_getn(o->weights_by_name, v->src_name[t].p, (size_t)v->src_name[t].n);
        if (!w) {
            snprintf(err, errn, "line %ld: annotator \"%.*s\" has no weight in --weights", lineno, v->src_name[t].n,
                     v->src_name[t].p);
            return -1;
        }
        ws->weights[t] = json_real_value(w);
    }
    return 0;
}

void fuse_annotators_line(const char *line, size_t len, long lineno, const FuseOptions *o, Workspace *ws,
                          int force_jansson, LineResult *r) {
    View *v = &ws->view;
    int how = view_read(line, len, lineno, ws, force_jansson, &r->rec, r->err, sizeof r->err);
    r->fast = how == 1;
    if (how < 0) { r->failed = 1; goto done; }
    r->id = view_id_copy(line, ws, how, &r->rec);
    if (!r->id) {
        snprintf(r->err, sizeof r->err, "line %ld: out of memory", lineno);
        r->failed = 1;
        goto done;
    }
    if (source_weights(v, o, ws, lineno, r->err, sizeof r->err) != 0) { r->failed = 1; goto done; }
    if (wbf_fuse(v->in, v->n_ann, ws->weights, v->n_src, &o->wbf, &ws->wbf, &r->rep) != 0) {
        snprintf(r->err, sizeof r->err, "line %ld: out of memory", lineno);
        r->failed = 1;
        goto done;
    }
    unsigned char *seen = malloc((size_t)v->n_src + 1);
    if (!seen || objects_text(v, &ws->wbf, seen, &ws->objects) != 0) {
        free(seen);
        snprintf(r->err, sizeof r->err, "line %ld: out of memory", lineno);
        r->failed = 1;
        goto done;
    }
    free(seen);
    // The objects text is handed over, not copied; the next line grows a new buffer.
    char *objects = ws->objects.s;
    size_t n_objects = ws->objects.n;
    ws->objects = (JBuf){ 0 };
    int placed = (r->fast || jscan(line, len, 0, &ws->tape) == JSCAN_OK) &&
                 splice_objects(line, len, &ws->tape, r, objects, n_objects) == 0;
    if (!placed) {
        // A top-level key with escapes: let jansson place the field.
        json_t *objs = json_loadb(objects, n_objects, 0, NULL);
        free(objects);
        json_object_set_new(r->rec.json, "objects", objs);
        r->owned = json_dumps(r->rec.json, RECORD_DUMP_FLAGS);
        r->piece[0] = (Span){ r->owned, r->owned ? (int)strlen(r->owned) : 0 };
    }
    if (!r->owned) {
        snprintf(r->err, sizeof r->err, "line %ld: out of memory", lineno);
        r->failed = 1;
        goto done;
    }
    r->boxes_in = v->n_ann;
    r->clusters_out = ws->wbf.n_clusters;
    if (o->report) collect_stats(v, &ws->wbf, &o->wbf, r);
done:
    view_release(v);
}

void line_result_free(LineResult *r) {
    free(r->owned);
    free(r->id);
    free(r->stats);
    free(r->names);
    record_free(&r->rec);
    memset(r, 0, sizeof *r);
}

void workspace_free(Workspace *ws) {
    View *v = &ws->view;
    free(v->src_name); free(v->src_json); free(v->label_json); free(v->label_name);
    free(v->in); free(v->box); free(v->owned);
    jtape_free(&ws->tape);
    free(ws->objects.s);
    wbf_free(&ws->wbf);
    free(ws->weights);
    memset(ws, 0, sizeof *ws);
}
