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

// The records, kept as their input text (one NUL-terminated line each) for the later passes.
typedef struct {
    char *text;
    size_t len, cap;
    size_t *start;   // [n] offset of each line in text
    size_t n, cap_n;
} Lines;

static void keep_line(Lines *L, const char *line) {
    size_t k = strlen(line) + 1;
    if (L->len + k > L->cap) {
        size_t cap = L->cap ? L->cap : 1 << 20;
        while (cap < L->len + k) cap *= 2;
        char *t = realloc(L->text, cap);
        if (!t) cli_die(TOOL, EXIT_DATA, "out of memory");
        L->text = t;
        L->cap = cap;
    }
    if (L->n == L->cap_n) {
        size_t cap = L->cap_n ? L->cap_n * 2 : 1024;
        size_t *s = realloc(L->start, sizeof *s * cap);
        if (!s) cli_die(TOOL, EXIT_DATA, "out of memory");
        L->start = s;
        L->cap_n = cap;
    }
    memcpy(L->text + L->len, line, k);
    L->start[L->n++] = L->len;
    L->len += k;
}

// A kept record, parsed again (it was valid the first time).
static json_t *line_json(const Lines *L, size_t r) {
    json_t *rec = json_loads(L->text + L->start[r], 0, NULL);
    if (!rec) cli_die(TOOL, EXIT_DATA, "out of memory");
    return rec;
}

static void put_text(const char *s) {
    if (fputs(s, stdout) == EOF) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
}

// Writes one array element (owned), after a comma unless it is the first.
static void put_json(json_t *v, int comma) {
    if (!v || (comma && fputc(',', stdout) == EOF) || json_dumpf(v, stdout, JSON_COMPACT | JSON_REAL_PRECISION(17)) != 0)
        cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
    json_decref(v);
}

// Reads and checks every record, keeps its text and the field's labels; returns the number
// of boxes in the field. Any problem stops here, before a byte is written.
static long read_records(const char *field, int results, Lines *lines, json_t *labels) {
    int is_ann = strcmp(field, "annotations") == 0, is_det = strcmp(field, "detections") == 0;
    unsigned need = REC_ID | REC_IMAGE | REC_SIZE | (is_ann ? REC_ANNOTATORS | REC_ANNOTATIONS : 0);
    RecordReader rd;
    record_reader_init(&rd, stdin, need, BOX_STRICT);
    json_t *ids = json_object();
    char err[1024];
    long n_boxes = 0;
    for (;;) {
        Record rec;
        int rc = record_read_unique(&rd, ids, &rec, err, sizeof err);
        if (rc == 0) break;
        if (rc < 0) cli_die(TOOL, EXIT_DATA, "%s", err);
        // The field's boxes, checked as the record format wants them.
        if (!is_ann) {
            Record chk;
            json_incref(rec.json);
            int bad = record_from_json(rec.json, rec.line, REC_TRUTH | (is_det ? REC_DETECTIONS : 0), BOX_STRICT,
                                       is_det ? "truth" : field, &chk, err, sizeof err);
            if (is_det && bad) {
                // detections only: the truth field need not be there
                record_free(&chk);
                json_incref(rec.json);
                bad = record_from_json(rec.json, rec.line, REC_DETECTIONS, BOX_STRICT, "truth", &chk, err, sizeof err);
            }
            record_free(&chk);
            if (bad) cli_die(TOOL, EXIT_DATA, "%s", err);
        }
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(rec.json, field), i, a) {
            if (results && !json_object_get(a, strcmp(field, "objects") == 0 ? "conf" : "score"))
                cli_die(TOOL, EXIT_DATA, "line %ld: %s[%zu]: --results needs scores (use --field detections or objects)",
                        rec.line, field, i);
            json_object_set_new(labels, json_string_value(json_object_get(a, "label")), json_true());
            n_boxes++;
        }
        keep_line(lines, rd.buf);
        record_free(&rec);
    }
    free(rd.buf);
    json_decref(ids);
    return n_boxes;
}

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
    Lines lines = { 0 };
    json_t *labels = json_object();
    long n_boxes = read_records(field, results, &lines, labels);
    if (lines.n == 0) cli_die(TOOL, EXIT_DATA, "no records on stdin");

    size_t nl = json_object_size(labels), k = 0;
    char **names = malloc(sizeof *names * (nl + 1));
    if (!names) cli_die(TOOL, EXIT_DATA, "out of memory");
    const char *l;
    json_t *unused;
    json_object_foreach(labels, l, unused) names[k++] = (char *)l;
    if (nl > 1) qsort(names, nl, sizeof *names, cmp_str);
    json_t *cat_id = json_object();
    for (k = 0; k < nl; k++) json_object_set_new(cat_id, names[k], json_integer((json_int_t)k + 1));

    // The document is written piece by piece, one record at a time: its three arrays come
    // from two passes over the records kept as text, so memory stays near the input's size.
    if (!results) {
        put_text("{\"images\":[");
        for (size_t r = 0; r < lines.n; r++) {
            json_t *rec = line_json(&lines, r);
            json_t *img = json_pack("{s:I,s:O,s:O,s:O,s:O}", "id", (json_int_t)r + 1, "file_name", json_object_get(rec, "image"),
                                    "width", json_object_get(rec, "width"), "height", json_object_get(rec, "height"),
                                    "record_id", json_object_get(rec, "id"));
            if (json_object_get(rec, "annotators")) json_object_set(img, "annotators", json_object_get(rec, "annotators"));
            put_json(img, r > 0);
            json_decref(rec);
        }
        put_text("],\"annotations\":");
    }
    put_text("[");
    json_int_t ann_id = 1;
    for (size_t r = 0; r < lines.n; r++) {
        json_t *rec = line_json(&lines, r);
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(rec, field), i, a) {
            json_t *b = json_object_get(a, "box");
            double x1 = json_number_value(json_array_get(b, 0)), y1 = json_number_value(json_array_get(b, 1));
            double x2 = json_number_value(json_array_get(b, 2)), y2 = json_number_value(json_array_get(b, 3));
            double w = x2 - x1, h = y2 - y1;
            json_t *score = json_object_get(a, strcmp(field, "objects") == 0 ? "conf" : "score");
            json_t *cid = json_object_get(cat_id, json_string_value(json_object_get(a, "label")));
            json_t *e;
            if (results) {
                e = json_pack("{s:I,s:O,s:[ffff],s:O}", "image_id", (json_int_t)r + 1, "category_id", cid, "bbox", x1, y1, w, h,
                              "score", score);
            } else {
                e = json_pack("{s:I,s:I,s:O,s:[ffff],s:f,s:i,s:O}", "id", ann_id, "image_id", (json_int_t)r + 1,
                              "category_id", cid, "bbox", x1, y1, w, h, "area", w * h, "iscrowd", 0, "xyxy", b);
                if (score) json_object_set(e, "score", score);
                if (is_ann) json_object_set_new(e, "attributes", json_pack("{s:O}", "annotator", json_object_get(a, "annotator")));
            }
            put_json(e, ann_id > 1);
            ann_id++;
        }
        json_decref(rec);
    }
    put_text("]");
    if (!results) {
        put_text(",\"categories\":[");
        for (k = 0; k < nl; k++) put_json(json_pack("{s:I,s:s}", "id", (json_int_t)k + 1, "name", names[k]), k > 0);
        put_text("]}");
    }
    put_text("\n");
    if (fflush(stdout) != 0) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
    fprintf(stderr, "%s: %zu images, %zu categories, %ld %s\n", TOOL, lines.n, nl, n_boxes, results ? "results" : "annotations");
    free(lines.text);
    free(lines.start);
    json_decref(labels);
    json_decref(cat_id);
    free(names);
    return 0;
}
