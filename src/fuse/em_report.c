// fuse --method em's files: the estimated matrices, in the schema of `simulate
// --matrices`, and the per-annotator report.
#include <math.h>

#include "em.h"

static json_t *class_list(char **classes, int K) {
    json_t *a = json_array();
    for (int z = 0; z < K; z++) json_array_append_new(a, json_string(classes[z]));
    json_array_append_new(a, json_string("no_obj"));
    return a;
}

json_t *em_matrices_json(const EmFit *fit, char **classes, char **names) {
    int K = fit->K, S = K + 1;
    json_t *experts = json_array();
    for (int r = 0; r < fit->R; r++) {
        json_t *rows = json_array();
        for (int z = 0; z < S; z++) {
            json_t *row = json_array();
            for (int l = 0; l < S; l++) json_array_append_new(row, json_real(fit->matrix[((long)r * S + z) * S + l]));
            json_array_append_new(rows, row);
        }
        json_array_append_new(experts, json_pack("{s:s,s:o}", "name", names[r], "matrix", rows));
    }
    return json_pack("{s:o,s:s,s:o}", "classes", class_list(classes, K), "rows",
                     "true class (no_obj last: labels of false positives)", "experts", experts);
}

json_t *em_report_json(const EmFit *fit, char **classes, char **names, const long *records, double iou_thr,
                       double smoothing) {
    int K = fit->K;
    json_t *prior = json_object(), *ann = json_object();
    for (int z = 0; z < K; z++) json_object_set_new(prior, classes[z], json_real(fit->prior[z]));
    json_object_set_new(prior, "no_obj", json_real(fit->prior[K]));
    for (int r = 0; r < fit->R; r++) {
        json_t *spread = json_null();
        if (fit->spread_n[r] > 0) {
            spread = json_array();
            for (int q = 0; q < 4; q++) json_array_append_new(spread, json_real(fit->spread[r * 4 + q]));
        }
        json_object_set_new(ann, names[r], json_pack("{s:I,s:I,s:I,s:f,s:f,s:o,s:I}", "records", (json_int_t)records[r],
            "boxes", (json_int_t)fit->boxes[r], "clusters_read", (json_int_t)fit->clusters_read[r],
            "accuracy", em_accuracy(fit, r), "miss_rate", em_miss_rate(fit, r), "box_spread", spread,
            "box_spread_boxes", (json_int_t)fit->spread_n[r]));
    }
    return json_pack("{s:s,s:f,s:f,s:i,s:i,s:f,s:I,s:o,s:o}", "method", "em", "iou_thr", iou_thr, "smoothing",
                     smoothing, "iterations", fit->iterations, "spread_iterations", fit->spread_iterations,
                     "log_likelihood", fit->log_likelihood, "patterns",
                     (json_int_t)fit->n_patterns, "prior", prior, "annotators", ann);
}
