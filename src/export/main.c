// export: records out to other formats. `export coco` writes COCO detection JSON.
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "record.h"

static const char *TOOL = "export coco";

static void usage(void) {
    printf(
        "Usage: export coco [--field F] [--results] < records.jsonl > coco.json\n"
        "\n"
        "Writes the records as one COCO detection JSON: images (id 1..N in record order,\n"
        "file_name = \"image\", width, height, and \"record_id\" = the record's id), categories\n"
        "(the labels in byte order, ids 1..K) and annotations (bbox [x, y, w, h], area,\n"
        "iscrowd 0, an exact \"xyxy\" copy of the box, \"score\" when the field has one, and\n"
        "attributes.annotator for annotations). `ingest coco` reads it back unchanged.\n"
        "\n"
        "  --field F     truth | objects | detections | annotations [truth]\n"
        "  --results     write only the results list of pycocotools' loadRes\n"
        "                ({image_id, category_id, bbox, score}; needs scores)\n"
        "  -h, --help    show this help\n");
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "coco") != 0) {
        if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) { usage(); return 0; }
        cli_usage_error("export", "expected a format: export coco [options]");
    }
    argc--;
    argv++;
    const char *field = "truth";
    int results = 0;
    static const struct option opts[] = {
        { "field", required_argument, 0, 'f' }, { "results", no_argument, 0, 'r' }, { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 } };
    int c;
    argv[0] = (char *)TOOL;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (strcmp(optarg, "truth") && strcmp(optarg, "objects") && strcmp(optarg, "detections") &&
                strcmp(optarg, "annotations"))
                cli_usage_error(TOOL, "unknown --field '%s' (truth, objects, detections, annotations)", optarg);
            field = optarg;
            break;
        case 'r': results = 1; break;
        case 'h': usage(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", TOOL); return EXIT_USAGE;
        }
    }
    if (optind < argc) cli_usage_error(TOOL, "unexpected argument '%s' (records come on stdin)", argv[optind]);
    int is_ann = strcmp(field, "annotations") == 0;
    unsigned need = REC_ID | REC_IMAGE | REC_SIZE | (is_ann ? REC_ANNOTATORS | REC_ANNOTATIONS : 0);
    RecordReader rd;
    record_reader_init(&rd, stdin, need, BOX_STRICT);
    json_t *recs = json_array(), *labels = json_object(), *ids = json_object();
    char err[1024];
    for (;;) {
        Record rec;
        int rc = record_read(&rd, &rec, err, sizeof err);
        if (rc == 0) break;
        if (rc < 0) cli_die(TOOL, EXIT_DATA, "%s", err);
        long first = record_id_seen(ids, rec.id, strlen(rec.id), rec.line);
        if (first) cli_die(TOOL, EXIT_DATA, "line %ld: duplicate id \"%s\" (first on line %ld)", rec.line, rec.id, first);
        // The field's boxes, checked as the record format wants them.
        if (!is_ann) {
            Record chk;
            json_incref(rec.json);
            int bad = record_from_json(rec.json, rec.line, REC_TRUTH | (strcmp(field, "detections") == 0 ? REC_DETECTIONS : 0),
                                       BOX_STRICT, strcmp(field, "detections") == 0 ? "truth" : field, &chk, err, sizeof err);
            if (strcmp(field, "detections") == 0 && bad) {
                // detections only: the truth field need not be there
                record_free(&chk);
                json_incref(rec.json);
                bad = record_from_json(rec.json, rec.line, REC_DETECTIONS, BOX_STRICT, "truth", &chk, err, sizeof err);
            }
            record_free(&chk);
            if (bad) cli_die(TOOL, EXIT_DATA, "%s", err);
        }
        json_t *arr = json_object_get(rec.json, field);
        size_t i;
        json_t *a;
        json_array_foreach(arr, i, a) json_object_set_new(labels, json_string_value(json_object_get(a, "label")), json_true());
        json_array_append(recs, rec.json);
        record_free(&rec);
    }
    free(rd.buf);
    if (json_array_size(recs) == 0) cli_die(TOOL, EXIT_DATA, "no records on stdin");

    size_t nl = json_object_size(labels), k = 0;
    char **names = malloc(sizeof *names * (nl + 1));
    const char *l;
    json_t *unused;
    json_object_foreach(labels, l, unused) names[k++] = (char *)l;
    if (nl > 1) qsort(names, nl, sizeof *names, cmp_str);
    json_t *cat_id = json_object(), *cats = json_array();
    for (k = 0; k < nl; k++) {
        json_object_set_new(cat_id, names[k], json_integer((json_int_t)k + 1));
        json_array_append_new(cats, json_pack("{s:I,s:s}", "id", (json_int_t)k + 1, "name", names[k]));
    }
    json_t *images = json_array(), *anns = json_array();
    json_int_t ann_id = 1;
    size_t r;
    json_t *rec;
    json_array_foreach(recs, r, rec) {
        json_t *img = json_pack("{s:I,s:O,s:O,s:O,s:O}", "id", (json_int_t)r + 1, "file_name", json_object_get(rec, "image"),
                                "width", json_object_get(rec, "width"), "height", json_object_get(rec, "height"),
                                "record_id", json_object_get(rec, "id"));
        if (json_object_get(rec, "annotators")) json_object_set(img, "annotators", json_object_get(rec, "annotators"));
        json_array_append_new(images, img);
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(rec, field), i, a) {
            json_t *b = json_object_get(a, "box");
            double x1 = json_number_value(json_array_get(b, 0)), y1 = json_number_value(json_array_get(b, 1));
            double x2 = json_number_value(json_array_get(b, 2)), y2 = json_number_value(json_array_get(b, 3));
            double w = x2 - x1, h = y2 - y1;
            json_t *score = json_object_get(a, strcmp(field, "objects") == 0 ? "conf" : "score");
            json_t *cid = json_object_get(cat_id, json_string_value(json_object_get(a, "label")));
            if (results) {
                if (!score) cli_die(TOOL, EXIT_DATA, "record %zu: --results needs scores (use --field detections or objects)", r + 1);
                json_array_append_new(anns, json_pack("{s:I,s:O,s:[ffff],s:O}", "image_id", (json_int_t)r + 1, "category_id", cid,
                                                      "bbox", x1, y1, w, h, "score", score));
                continue;
            }
            json_t *e = json_pack("{s:I,s:I,s:O,s:[ffff],s:f,s:i,s:O}", "id", ann_id++, "image_id", (json_int_t)r + 1,
                                  "category_id", cid, "bbox", x1, y1, w, h, "area", w * h, "iscrowd", 0, "xyxy", b);
            if (score) json_object_set(e, "score", score);
            if (is_ann) json_object_set_new(e, "attributes", json_pack("{s:O}", "annotator", json_object_get(a, "annotator")));
            json_array_append_new(anns, e);
        }
    }
    json_t *out = results ? json_incref(anns)
                          : json_pack("{s:o,s:o,s:o}", "images", images, "annotations", json_incref(anns), "categories", cats);
    if (json_dumpf(out, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17)) != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
        cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
    fprintf(stderr, "%s: %zu images, %zu categories, %zu %s\n", TOOL, json_array_size(recs), nl, json_array_size(anns),
            results ? "results" : "annotations");
    json_decref(out);
    json_decref(anns);
    if (results) { json_decref(images); json_decref(cats); }
    json_decref(recs);
    json_decref(labels);
    json_decref(ids);
    json_decref(cat_id);
    free(names);
    return 0;
}
