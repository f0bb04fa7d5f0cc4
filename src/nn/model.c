#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loss_math.h"
#include "safetensors.h"

static const int STRIDES[NET_LEVELS] = { 8, 16, 32 };

int model_save(const char *path, const Model *m, const float *weights, const char *preset, char *err, size_t errn) {
    const Net *n = &m->net;
    StTensor *t = malloc(sizeof *t * (size_t)n->n_params);
    if (!t) { snprintf(err, errn, "out of memory"); return -1; }
    for (int i = 0; i < n->n_params; i++) {
        const Param *p = &n->param[i];
        t[i].name = p->name;
        t[i].data = weights + p->offset;
        t[i].ndim = p->ndim;
        for (int d = 0; d < p->ndim; d++) t[i].shape[d] = p->shape[d];
    }
    json_t *classes = json_array(), *anchors = json_array();
    for (int c = 0; c < m->n_classes; c++) json_array_append_new(classes, json_string(m->classes[c]));
    for (int l = 0; l < NET_LEVELS; l++)
        for (int a = 0; a < NET_ANCHORS; a++)
            json_array_append_new(anchors, json_pack("[ff]", n->anchors[l][a][0], n->anchors[l][a][1]));
    char *cls_text = json_dumps(classes, JSON_COMPACT), *anc_text = json_dumps(anchors, JSON_COMPACT | JSON_REAL_PRECISION(9));
    char *args_text = m->args ? json_dumps(m->args, JSON_COMPACT) : strdup("{}");
    char w[32], d[32], size[16], ch[16];
    snprintf(w, sizeof w, "%.9g", n->cfg.width);
    snprintf(d, sizeof d, "%.9g", n->cfg.depth);
    snprintf(size, sizeof size, "%d", n->cfg.size);
    snprintf(ch, sizeof ch, "%d", n->cfg.in_ch);
    json_t *meta = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "format", "mad-detector-1", "preset", preset ? preset : "",
                             "width_multiple", w, "depth_multiple", d, "input_size", size, "input_channels", ch,
                             "classes", cls_text, "anchors", anc_text, "train_args", args_text);
    int rc = st_write(path, t, n->n_params, meta, err, errn);
    json_decref(meta);
    json_decref(classes);
    json_decref(anchors);
    free(cls_text);
    free(anc_text);
    free(args_text);
    free(t);
    return rc;
}

static int meta_double(const StFile *f, const char *key, double *v) {
    const char *s = st_meta(f, key);
    char *end;
    if (!s) return -1;
    *v = strtod(s, &end);
    return *end ? -1 : 0;
}

int model_load(const char *path, Model *m, char *err, size_t errn) {
    memset(m, 0, sizeof *m);
    StFile f;
    if (st_read(path, &f, err, errn) != 0) return -1;
    double w, d, size, ch;
    const char *fmt = st_meta(&f, "format");
    if (!fmt || strcmp(fmt, "mad-detector-1") != 0 || meta_double(&f, "width_multiple", &w) || meta_double(&f, "depth_multiple", &d) ||
        meta_double(&f, "input_size", &size) || meta_double(&f, "input_channels", &ch) || !st_meta(&f, "classes")) {
        snprintf(err, errn, "%s: not a model file of this toolkit (metadata missing)", path);
        st_close(&f);
        return -1;
    }
    json_t *classes = json_loads(st_meta(&f, "classes"), 0, NULL), *anchors = json_loads(st_meta(&f, "anchors"), 0, NULL);
    if (!json_is_array(classes) || json_array_size(classes) == 0 || !json_is_array(anchors) ||
        json_array_size(anchors) != NET_LEVELS * NET_ANCHORS) {
        snprintf(err, errn, "%s: bad class or anchor metadata", path);
        json_decref(classes); json_decref(anchors);
        st_close(&f);
        return -1;
    }
    NetConfig cfg = { (float)w, (float)d, (int)ch, (int)json_array_size(classes), (int)size };
    if (net_build(&m->net, &cfg, 0) != 0) {
        snprintf(err, errn, "%s: cannot build the network it describes", path);
        json_decref(classes); json_decref(anchors);
        st_close(&f);
        return -1;
    }
    for (int i = 0; i < m->net.n_params; i++) {
        Param *p = &m->net.param[i];
        int nd;
        long shape[ST_MAX_DIMS];
        const float *src = st_tensor(&f, p->name, &nd, shape);
        int ok = src && nd == p->ndim;
        for (int k = 0; ok && k < nd; k++) ok = shape[k] == p->shape[k];
        if (!ok) {
            snprintf(err, errn, "%s: tensor %s is missing or has the wrong shape", path, p->name);
            json_decref(classes); json_decref(anchors);
            st_close(&f);
            model_free(m);
            return -1;
        }
        memcpy(m->net.params + p->offset, src, sizeof(float) * p->count);
    }
    m->n_classes = (int)json_array_size(classes);
    m->classes = calloc((size_t)m->n_classes, sizeof *m->classes);
    for (int c = 0; c < m->n_classes; c++) m->classes[c] = strdup(json_string_value(json_array_get(classes, (size_t)c)));
    for (int l = 0; l < NET_LEVELS; l++)
        for (int a = 0; a < NET_ANCHORS; a++)
            for (int k = 0; k < 2; k++)
                m->net.anchors[l][a][k] = (float)json_number_value(json_array_get(json_array_get(anchors, (size_t)(l * 3 + a)), (size_t)k));
    m->args = json_loads(st_meta(&f, "train_args") ? st_meta(&f, "train_args") : "{}", 0, NULL);
    json_decref(classes);
    json_decref(anchors);
    st_close(&f);
    return 0;
}

void model_free(Model *m) {
    for (int c = 0; c < m->n_classes; c++) free(m->classes[c]);
    free(m->classes);
    json_decref(m->args);
    net_free(&m->net);
    memset(m, 0, sizeof *m);
}

static float iou_xyxy(const Det *a, const Det *b) {
    float w = fminf(a->x2, b->x2) - fmaxf(a->x1, b->x1), h = fminf(a->y2, b->y2) - fmaxf(a->y1, b->y1);
    if (w <= 0 || h <= 0) return 0;
    float i = w * h, u = (a->x2 - a->x1) * (a->y2 - a->y1) + (b->x2 - b->x1) * (b->y2 - b->y1) - i;
    return u > 0 ? i / u : 0;
}

static int by_score(const void *a, const void *b) {
    float x = ((const Det *)a)->score, y = ((const Det *)b)->score;
    return (x < y) - (x > y);
}

int detect_boxes(const Net *net, int b, float conf_thr, float iou_thr, int max_det, Det *out, int cap) {
    int nc = net->cfg.classes, no = 5 + nc, n = 0, ncand = 0, capc = 1024;
    Det *cand = malloc(sizeof *cand * (size_t)capc);
    if (!cand) return 0;
    for (int l = 0; l < NET_LEVELS; l++) {
        const Node *d = &net->node[net->detect[l]];
        long hw = (long)d->H * d->W;
        for (int a = 0; a < NET_ANCHORS; a++) {
            const float *p = d->out + ((size_t)b * d->C + (size_t)a * no) * hw;
            for (int y = 0; y < d->H; y++)
                for (int x = 0; x < d->W; x++) {
                    long i = (long)y * d->W + x;
                    float obj = sigmoid_f(p[4 * hw + i]);
                    if (obj <= conf_thr) continue;
                    int best = 0;
                    float bc = p[5 * hw + i];   // the largest class logit (they may all be negative)
                    for (int c = 1; c < nc; c++) {
                        float v = p[(5 + c) * hw + i];
                        if (v > bc) { bc = v; best = c; }
                    }
                    float score = obj * sigmoid_f(bc);
                    if (score <= conf_thr) continue;
                    float raw[4] = { p[i], p[hw + i], p[2 * hw + i], p[3 * hw + i] }, box[4];
                    float anchor[2] = { net->anchors[l][a][0] / STRIDES[l], net->anchors[l][a][1] / STRIDES[l] };
                    box_decode_f(raw, anchor, box, NULL);
                    float cx = (box[0] + x) * STRIDES[l], cy = (box[1] + y) * STRIDES[l];
                    float w = box[2] * STRIDES[l], h = box[3] * STRIDES[l];
                    if (ncand == capc) {
                        capc *= 2;
                        Det *nd = realloc(cand, sizeof *nd * (size_t)capc);
                        if (!nd) { free(cand); return 0; }
                        cand = nd;
                    }
                    cand[ncand++] = (Det){ cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, score, best };
                }
        }
    }
    qsort(cand, (size_t)ncand, sizeof *cand, by_score);
    for (int i = 0; i < ncand && n < max_det && n < cap; i++) {
        int keep = 1;
        for (int j = 0; j < n && keep; j++)
            if (out[j].cls == cand[i].cls && iou_xyxy(&out[j], &cand[i]) > iou_thr) keep = 0;
        if (keep) out[n++] = cand[i];
    }
    free(cand);
    return n;
}
