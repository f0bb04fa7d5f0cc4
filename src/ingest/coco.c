// ingest coco: COCO detection JSON into records. Multi-annotator exports (CVAT, Label
// Studio) name each annotation's annotator in attributes.annotator or annotator_id.
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "fsutil.h"
#include "ingest.h"
#include "record.h"

static const char *TOOL = "ingest coco";

static void usage(void) {
    printf(
        "Usage: ingest coco FILE.json [--field truth|annotations|detections] [--image-dir DIR] > records.jsonl\n"
        "\n"
        "One record per COCO image, in the file's order. The record id is the image's\n"
        "\"record_id\" (as `export coco` writes it) or else its file name without folder and\n"
        "extension. Boxes [x, y, w, h] become [x1, y1, x2, y2] (an \"xyxy\" field, as `export\n"
        "coco` writes it, is taken as is). Labels are the category names. A box needs an\n"
        "area and may lie at most 0.5 px past its image's frame (it is clipped to it). Every\n"
        "record is checked as `validate` checks it before the first one is written: on an\n"
        "error nothing is written.\n"
        "\n"
        "  --field F        where the boxes go: annotations (with \"annotator\"), truth, or\n"
        "                   detections (with \"score\") [annotations when any annotation names\n"
        "                   an annotator, else truth]\n"
        "  --image-dir DIR  folder put in front of each file_name\n"
        "  -h, --help       show this help\n");
}

// The annotator an annotation names, as a string (owned), or NULL.
static char *annotator_of(json_t *a) {
    json_t *v = json_object_get(json_object_get(a, "attributes"), "annotator");
    if (!v) v = json_object_get(a, "annotator_id");
    if (!v) v = json_object_get(a, "annotator");
    if (json_is_string(v)) return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        char b[32];
        snprintf(b, sizeof b, "%lld", (long long)json_integer_value(v));
        return strdup(b);
    }
    return NULL;
}

// An image's "annotators" as record strings: strings as they are, integers as decimal text.
static json_t *annotator_list(json_t *who, const char *path, size_t img) {
    json_t *out = json_array();
    if (!who) return out;
    if (!json_is_array(who)) cli_die(TOOL, EXIT_DATA, "%s: images[%zu]: \"annotators\" must be an array", path, img);
    size_t j;
    json_t *x;
    json_array_foreach(who, j, x) {
        char b[32];
        if (json_is_integer(x)) snprintf(b, sizeof b, "%lld", (long long)json_integer_value(x));
        else if (!json_is_string(x) || !json_string_length(x))
            cli_die(TOOL, EXIT_DATA, "%s: images[%zu]: \"annotators\"[%zu] must be a non-empty string or an integer",
                    path, img, j);
        json_array_append_new(out, json_string(json_is_integer(x) ? b : json_string_value(x)));
    }
    return out;
}

static char *stem(const char *path) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *s = strdup(base), *dot = strrchr(s, '.');
    if (dot && dot != s) *dot = '\0';
    return s;
}

int ingest_coco(int argc, char **argv) {
    const char *field = NULL, *image_dir = NULL;
    static const struct option opts[] = {
        { "field", required_argument, 0, 'f' }, { "image-dir", required_argument, 0, 'd' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    int c;
    argv[0] = (char *)TOOL;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "truth") && strcmp(optarg, "annotations") && strcmp(optarg, "detections"))
                cli_usage_error(TOOL, "unknown --field '%s' (truth, annotations, detections)", optarg);
            field = optarg;
            break;
        case 'd': image_dir = optarg; break;
        case 'h': usage(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", TOOL); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) cli_usage_error(TOOL, "expected one COCO JSON file");
    const char *path = argv[optind];
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) cli_die(TOOL, EXIT_DATA, "%s: line %d: %s", path, je.line, je.text);
    if (json_is_array(root)) cli_die(TOOL, EXIT_DATA, "%s: a results list has no images: ingest the dataset JSON", path);
    json_t *images = json_object_get(root, "images"), *anns = json_object_get(root, "annotations");
    json_t *cats = json_object_get(root, "categories");
    if (!json_is_array(images)) cli_die(TOOL, EXIT_DATA, "%s: missing \"images\" array", path);
    if (!json_is_array(anns)) cli_die(TOOL, EXIT_DATA, "%s: missing \"annotations\" array", path);
    if (!json_is_array(cats)) cli_die(TOOL, EXIT_DATA, "%s: missing \"categories\" array", path);

    json_t *cat_name = json_object(), *image_pos = json_object();
    char key[32];
    size_t i;
    json_t *v;
    json_array_foreach(cats, i, v) {
        json_t *id = json_object_get(v, "id"), *name = json_object_get(v, "name");
        if (!json_is_integer(id) || !json_is_string(name) || !json_string_length(name))
            cli_die(TOOL, EXIT_DATA, "%s: categories[%zu]: needs an integer \"id\" and a non-empty \"name\"", path, i);
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(id));
        json_object_set(cat_name, key, name);
    }
    size_t n_img = json_array_size(images);
    json_t **recs = calloc(n_img + 1, sizeof *recs);
    json_t *ids = json_object();
    json_array_foreach(images, i, v) {
        json_t *id = json_object_get(v, "id"), *fn = json_object_get(v, "file_name");
        json_t *w = json_object_get(v, "width"), *h = json_object_get(v, "height");
        if (!json_is_integer(id) || !json_is_string(fn) || !json_is_integer(w) || !json_is_integer(h) ||
            json_integer_value(w) <= 0 || json_integer_value(h) <= 0)
            cli_die(TOOL, EXIT_DATA, "%s: images[%zu]: needs integer \"id\", \"file_name\", positive \"width\" and \"height\"", path, i);
        if (json_integer_value(w) > 1000000 || json_integer_value(h) > 1000000)
            cli_die(TOOL, EXIT_DATA, "%s: images[%zu]: \"width\" and \"height\" must be at most 1000000", path, i);
        json_t *rid = json_object_get(v, "record_id");
        char *id_text = json_is_string(rid) ? strdup(json_string_value(rid)) : stem(json_string_value(fn));
        if (!*id_text)
            cli_die(TOOL, EXIT_DATA, "%s: images[%zu]: empty record id (from %s)", path, i,
                    json_is_string(rid) ? "\"record_id\"" : "\"file_name\"");
        if (json_object_get(ids, id_text)) cli_die(TOOL, EXIT_DATA, "%s: images[%zu]: id \"%s\" is used twice", path, i, id_text);
        json_object_set_new(ids, id_text, json_true());
        char *img = path_join(image_dir, json_string_value(fn));
        recs[i] = json_pack("{s:s,s:s,s:I,s:I}", "id", id_text, "image", img, "width", json_integer_value(w),
                            "height", json_integer_value(h));
        json_object_set_new(recs[i], "annotators", annotator_list(json_object_get(v, "annotators"), path, i));
        free(id_text);
        free(img);
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(id));
        json_object_set_new(image_pos, key, json_integer((json_int_t)i));
    }
    int named = 0;
    json_array_foreach(anns, i, v) {
        char *a = annotator_of(v);
        named |= a != NULL;
        free(a);
    }
    if (!field) field = named ? "annotations" : "truth";
    for (size_t k = 0; k < n_img; k++) json_object_set_new(recs[k], field, json_array());

    json_array_foreach(anns, i, v) {
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(json_object_get(v, "image_id")));
        json_t *pos = json_object_get(image_pos, key);
        if (!json_is_integer(json_object_get(v, "image_id")) || !pos)
            cli_die(TOOL, EXIT_DATA, "%s: annotations[%zu]: unknown image_id", path, i);
        snprintf(key, sizeof key, "%lld", (long long)json_integer_value(json_object_get(v, "category_id")));
        json_t *name = json_object_get(cat_name, key);
        if (!name) cli_die(TOOL, EXIT_DATA, "%s: annotations[%zu]: unknown category_id", path, i);
        json_t *rec = recs[json_integer_value(pos)];
        double q4[4];
        json_t *xyxy = json_object_get(v, "xyxy"), *bb = json_object_get(v, "bbox");
        json_t *src = json_is_array(xyxy) ? xyxy : bb;
        if (!json_is_array(src) || json_array_size(src) != 4)
            cli_die(TOOL, EXIT_DATA, "%s: annotations[%zu]: \"bbox\" must be 4 finite numbers", path, i);
        for (int q = 0; q < 4; q++) {
            json_t *x = json_array_get(src, (size_t)q);
            q4[q] = json_number_value(x);
            if (!json_is_number(x) || !isfinite(q4[q])) cli_die(TOOL, EXIT_DATA, "%s: annotations[%zu]: \"bbox\" must be 4 finite numbers", path, i);
        }
        if (src == bb) {
            if (q4[2] <= 0 || q4[3] <= 0)
                cli_die(TOOL, EXIT_DATA, "%s: annotations[%zu]: \"bbox\" [%g,%g,%g,%g] has no area (width and height must be > 0)",
                        path, i, q4[0], q4[1], q4[2], q4[3]);
            q4[2] += q4[0];
            q4[3] += q4[1];
        } else if (!(q4[0] < q4[2]) || !(q4[1] < q4[3])) {
            cli_die(TOOL, EXIT_DATA, "%s: annotations[%zu]: \"xyxy\" [%g,%g,%g,%g] is inverted or empty (need x1<x2, y1<y2)",
                    path, i, q4[0], q4[1], q4[2], q4[3]);
        }
        int fw = (int)json_integer_value(json_object_get(rec, "width"));
        int fh = (int)json_integer_value(json_object_get(rec, "height"));
        Box b = { q4[0], q4[1], q4[2], q4[3] };
        if (ingest_clip_to_frame(&b, fw, fh) != 0)
            cli_die(TOOL, EXIT_DATA, "%s: annotations[%zu]: box [%g,%g,%g,%g] is outside the %dx%d frame of image %lld",
                    path, i, q4[0], q4[1], q4[2], q4[3], fw, fh,
                    (long long)json_integer_value(json_object_get(v, "image_id")));
        json_t *entry;
        if (strcmp(field, "annotations") == 0) {
            char *who = annotator_of(v);
            if (!who || !*who) cli_die(TOOL, EXIT_DATA, "%s: annotations[%zu]: names no annotator", path, i);
            json_t *list = json_object_get(rec, "annotators");
            int seen = 0;
            size_t j;
            json_t *x;
            json_array_foreach(list, j, x) seen |= strcmp(json_string_value(x), who) == 0;
            if (!seen) json_array_append_new(list, json_string(who));
            entry = json_pack("{s:s,s:O,s:o}", "annotator", who, "label", name, "box", json_box(b));
            free(who);
        } else {
            entry = json_pack("{s:O,s:o}", "label", name, "box", json_box(b));
        }
        json_t *score = json_object_get(v, "score");
        if (score) {
            double s = json_number_value(score);
            if (!json_is_number(score) || !(s >= 0 && s <= 1))
                cli_die(TOOL, EXIT_DATA, "%s: annotations[%zu]: \"score\" must be a number in [0,1]", path, i);
            json_object_set_new(entry, "score", json_real(s));
        } else if (strcmp(field, "detections") == 0) {
            cli_die(TOOL, EXIT_DATA, "%s: annotations[%zu]: detections need a \"score\"", path, i);
        }
        json_array_append_new(json_object_get(rec, field), entry);
    }
    char where[4200];
    for (size_t k = 0; k < n_img; k++) {
        snprintf(where, sizeof where, "%s: images[%zu]", path, k);
        ingest_check_record(TOOL, recs[k], where);
    }
    for (size_t k = 0; k < n_img; k++) {
        if (record_write(stdout, recs[k]) != 0) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
        json_decref(recs[k]);
    }
    if (fflush(stdout) != 0) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
    fprintf(stderr, "%s: %zu images, %zu boxes into \"%s\"\n", TOOL, n_img, json_array_size(anns), field);
    free(recs);
    json_decref(ids);
    json_decref(cat_name);
    json_decref(image_pos);
    json_decref(root);
    return n_img ? 0 : EXIT_DATA;
}
