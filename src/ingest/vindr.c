// ingest vindr: the VinDr-CXR CSV (image_id, class_name, class_id, rad_id, x_min, y_min,
// x_max, y_max) into one record per image.
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "csv.h"
#include "fsutil.h"
#include "image.h"
#include "ingest.h"
#include "record.h"

static const char *TOOL = "ingest vindr";

static void usage(void) {
    printf(
        "Usage: ingest vindr --csv FILE --images DIR [options] > records.jsonl\n"
        "\n"
        "One record per image of the CSV (columns image_id, class_name, rad_id, x_min, y_min,\n"
        "x_max, y_max; class_id is not needed). \"annotators\" lists the image's rad_ids,\n"
        "also those who found nothing; each box row becomes an annotation labelled by\n"
        "class_name; \"No finding\" rows add no box. The image is DIR/<image_id> with .png,\n"
        ".jpg, .jpeg, .dicom or .dcm; width and height are the frame of the CSV coordinates,\n"
        "read from the image, or from --sizes when the image files were resized. A box may\n"
        "lie at most 0.5 px past the frame (it is clipped to it). Text must be UTF-8. Every\n"
        "record is checked as `validate` checks it, and every image found, before the first\n"
        "record is written: on an error nothing is written.\n"
        "\n"
        "  --csv FILE           the annotations (VinDr train.csv)\n"
        "  --images DIR         folder of the images\n"
        "  --test-csv FILE      a consensus CSV (same columns, rad_id optional) put into \"truth\"\n"
        "  --sizes FILE         CSV of image_id, width, height: the original frames\n"
        "  --annotators LIST    keep only these radiologists' annotations (and images read by one)\n"
        "  --require-all        with --annotators: keep only images read by exactly those\n"
        "                       (the images of --test-csv are kept whoever read them)\n"
        "  --no-images          do not look for image files (needs --sizes)\n"
        "  -h, --help           show this help\n");
}

enum { C_ID, C_CLASS, C_RAD, C_X1, C_Y1, C_X2, C_Y2, N_COLS };
static const char *COLS[N_COLS] = { "image_id", "class_name", "rad_id", "x_min", "y_min", "x_max", "y_max" };

typedef struct {
    json_t *index;     // image_id -> position
    json_t **recs;     // records in order of first appearance
    long *first_line;  // CSV line of each image's first row
    const char **csv;  // which CSV named it first
    long n, cap;
} Images;

static long image_slot(Images *im, const char *id, long line, const char *csv) {
    json_t *pos = json_object_get(im->index, id);
    if (pos) return (long)json_integer_value(pos);
    if (im->n == im->cap) {
        im->cap = im->cap ? im->cap * 2 : 1024;
        im->recs = realloc(im->recs, sizeof *im->recs * (size_t)im->cap);
        im->first_line = realloc(im->first_line, sizeof *im->first_line * (size_t)im->cap);
        im->csv = realloc(im->csv, sizeof *im->csv * (size_t)im->cap);
        if (!im->recs || !im->first_line || !im->csv) cli_die(TOOL, EXIT_DATA, "out of memory");
    }
    im->recs[im->n] = json_pack("{s:s,s:s,s:i,s:i,s:[],s:[]}", "id", id, "image", "", "width", 0, "height", 0,
                                "annotators", "annotations");
    im->first_line[im->n] = line;
    im->csv[im->n] = csv;
    json_object_set_new(im->index, id, json_integer(im->n));
    return im->n++;
}

static int parse_coord(const char *s, double *v) {
    char *end;
    while (*s == ' ') s++;
    errno = 0;
    *v = strtod(s, &end);
    while (*end == ' ') end++;
    return (end == s || *end || errno || !isfinite(*v)) ? -1 : 0;
}

static int in_list(const char *name, char **list, int n) {
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0) return 1;
    return 0;
}

// Reads one CSV into the images: annotations (train) or truth (test).
static void read_csv(const char *path, Images *im, int is_test, char **keep, int n_keep) {
    FILE *fp = fopen(path, "r");
    if (!fp) cli_die(TOOL, EXIT_DATA, "cannot open %s: %s", path, strerror(errno));
    CsvReader r;
    csv_init(&r, fp);
    char err[512];
    int rc = csv_read(&r, err, sizeof err);
    if (rc <= 0) cli_die(TOOL, EXIT_DATA, "%s: %s", path, rc == 0 ? "empty file (no header)" : err);
    int col[N_COLS];
    for (int k = 0; k < N_COLS; k++) {
        col[k] = csv_column(&r, COLS[k]);
        if (col[k] < 0 && !(is_test && k == C_RAD))
            cli_die(TOOL, EXIT_DATA, "%s: line 1: missing column \"%s\" (need image_id, class_name, rad_id, x_min, y_min, x_max, y_max)", path, COLS[k]);
    }
    while ((rc = csv_read(&r, err, sizeof err)) == 1) {
        if (r.n == 1 && !r.field[0][0]) continue;   // a blank line
        long line = r.line;
        for (int k = 0; k < N_COLS; k++)
            if (col[k] >= r.n) cli_die(TOOL, EXIT_DATA, "%s: line %ld: %d fields, expected at least %d", path, line, r.n, col[k] + 1);
        const char *id = r.field[col[C_ID]], *cls = r.field[col[C_CLASS]];
        const char *rad = col[C_RAD] >= 0 ? r.field[col[C_RAD]] : "consensus";
        if (!*id) cli_die(TOOL, EXIT_DATA, "%s: line %ld: empty image_id", path, line);
        if (!*cls) cli_die(TOOL, EXIT_DATA, "%s: line %ld: empty class_name", path, line);
        if (!*rad) cli_die(TOOL, EXIT_DATA, "%s: line %ld: empty rad_id", path, line);
        long slot = image_slot(im, id, line, path);   // may move im->recs
        json_t *rec = im->recs[slot];
        // a consensus image has "truth", also when its only row is "No finding"
        if (is_test && !json_object_get(rec, "truth")) json_object_set_new(rec, "truth", json_array());
        if (!is_test) {
            // Everyone who read the image, whatever --annotators keeps (for --require-all).
            json_t *all = json_object_get(rec, "_readers");
            if (!all) { all = json_object(); json_object_set_new(rec, "_readers", all); }
            json_object_set_new(all, rad, json_true());
        }
        if (n_keep && !is_test && !in_list(rad, keep, n_keep)) continue;   // read by others
        if (!is_test) {
            json_t *ann = json_object_get(rec, "annotators");
            int seen = 0;
            size_t i;
            json_t *a;
            json_array_foreach(ann, i, a) seen |= strcmp(json_string_value(a), rad) == 0;
            if (!seen) json_array_append_new(ann, json_string(rad));
        }
        int empty = 1;
        for (int k = C_X1; k <= C_Y2; k++) empty &= r.field[col[k]][strspn(r.field[col[k]], " ")] == '\0';
        if (empty) {
            if (strcmp(cls, "No finding") != 0)
                cli_die(TOOL, EXIT_DATA, "%s: line %ld: class \"%s\" has no box", path, line, cls);
            continue;
        }
        if (strcmp(cls, "No finding") == 0) continue;   // a "No finding" row never adds a box
        double c[4];
        for (int k = 0; k < 4; k++)
            if (parse_coord(r.field[col[C_X1 + k]], &c[k]) != 0)
                cli_die(TOOL, EXIT_DATA, "%s: line %ld: %s \"%s\" is not a number", path, line, COLS[C_X1 + k],
                        r.field[col[C_X1 + k]]);
        if (c[2] <= c[0]) cli_die(TOOL, EXIT_DATA, "%s: line %ld: x_max %g <= x_min %g (an empty or inverted box)", path, line, c[2], c[0]);
        if (c[3] <= c[1]) cli_die(TOOL, EXIT_DATA, "%s: line %ld: y_max %g <= y_min %g (an empty or inverted box)", path, line, c[3], c[1]);
        Box b = { c[0], c[1], c[2], c[3] };
        json_t *entry = is_test ? json_labeled_box(cls, b)
                                : json_pack("{s:s,s:s,s:o}", "annotator", rad, "label", cls, "box", json_box(b));
        json_object_set_new(entry, "_line", json_integer(line));   // for the frame check; not written
        json_array_append_new(json_object_get(rec, is_test ? "truth" : "annotations"), entry);
    }
    if (rc < 0) cli_die(TOOL, EXIT_DATA, "%s: %s", path, err);
    csv_free(&r);
    fclose(fp);
}

static void read_sizes(const char *path, json_t *sizes) {
    FILE *fp = fopen(path, "r");
    if (!fp) cli_die(TOOL, EXIT_DATA, "cannot open %s: %s", path, strerror(errno));
    CsvReader r;
    csv_init(&r, fp);
    char err[512];
    if (csv_read(&r, err, sizeof err) != 1) cli_die(TOOL, EXIT_DATA, "%s: empty file (no header)", path);
    int ci = csv_column(&r, "image_id"), cw = csv_column(&r, "width"), ch = csv_column(&r, "height");
    if (ci < 0 || cw < 0 || ch < 0) cli_die(TOOL, EXIT_DATA, "%s: line 1: need columns image_id, width, height", path);
    int rc;
    while ((rc = csv_read(&r, err, sizeof err)) == 1) {
        if (r.n == 1 && !r.field[0][0]) continue;
        long w, h;
        if (ci >= r.n || cw >= r.n || ch >= r.n || cli_parse_long(r.field[cw], 1, 1000000, &w) ||
            cli_parse_long(r.field[ch], 1, 1000000, &h))
            cli_die(TOOL, EXIT_DATA, "%s: line %ld: width and height must be positive integers", path, r.line);
        json_object_set_new(sizes, r.field[ci], json_pack("[ii]", (int)w, (int)h));
    }
    if (rc < 0) cli_die(TOOL, EXIT_DATA, "%s: %s", path, err);
    csv_free(&r);
    fclose(fp);
}

// The image file of an id, or NULL.
static char *find_image(const char *dir, const char *id) {
    static const char *ext[] = { ".png", ".jpg", ".jpeg", ".dicom", ".dcm" };
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t n = strlen(id) + strlen(ext[i]) + 1;
        char *name = malloc(n);
        snprintf(name, n, "%s%s", id, ext[i]);
        char *path = path_join(dir, name);
        free(name);
        if (access(path, R_OK) == 0) return path;
        free(path);
    }
    return NULL;
}

static int is_dicom(const char *path) {
    size_t n = strlen(path);
    return (n > 6 && strcmp(path + n - 6, ".dicom") == 0) || (n > 4 && strcmp(path + n - 4, ".dcm") == 0);
}

int ingest_vindr(int argc, char **argv) {
    const char *csv = NULL, *test_csv = NULL, *images = NULL, *sizes_path = NULL, *ann_list = NULL;
    int require_all = 0, no_images = 0;
    enum { O_CSV = 256, O_TEST, O_IMAGES, O_SIZES, O_ANN, O_ALL, O_NOIMG };
    static const struct option opts[] = {
        { "csv", required_argument, 0, O_CSV }, { "test-csv", required_argument, 0, O_TEST },
        { "images", required_argument, 0, O_IMAGES }, { "sizes", required_argument, 0, O_SIZES },
        { "annotators", required_argument, 0, O_ANN }, { "require-all", no_argument, 0, O_ALL },
        { "no-images", no_argument, 0, O_NOIMG }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    int c;
    argv[0] = (char *)TOOL;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_CSV: csv = optarg; break;
        case O_TEST: test_csv = optarg; break;
        case O_IMAGES: images = optarg; break;
        case O_SIZES: sizes_path = optarg; break;
        case O_ANN: ann_list = optarg; break;
        case O_ALL: require_all = 1; break;
        case O_NOIMG: no_images = 1; break;
        case 'h': usage(); return 0;
        default: fprintf(stderr, "Try '%s --help'.\n", TOOL); return EXIT_USAGE;
        }
    }
    if (optind < argc) cli_usage_error(TOOL, "unexpected argument '%s'", argv[optind]);
    if (!csv && !test_csv) cli_usage_error(TOOL, "--csv FILE is required");
    if (!images && !no_images) cli_usage_error(TOOL, "--images DIR is required (or --no-images with --sizes)");
    if (no_images && !sizes_path) cli_usage_error(TOOL, "--no-images needs --sizes");
    if (require_all && !ann_list) cli_usage_error(TOOL, "--require-all needs --annotators");
    char *keep[64];
    int n_keep = 0;
    char *list_copy = ann_list ? strdup(ann_list) : NULL;
    for (char *save = NULL, *tok = list_copy ? strtok_r(list_copy, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save)) {
        if (n_keep == 64) cli_usage_error(TOOL, "--annotators: too many names");
        keep[n_keep++] = tok;
    }

    Images im = { json_object(), NULL, NULL, NULL, 0, 0 };
    if (csv) read_csv(csv, &im, 0, keep, n_keep);
    if (test_csv) read_csv(test_csv, &im, 1, NULL, 0);
    json_t *sizes = json_object();
    if (sizes_path) read_sizes(sizes_path, sizes);

    // Every record is completed and checked before the first one is written, so that a
    // missing image or a bad box leaves stdout empty.
    long written = 0, skipped = 0, boxes = 0;
    for (long i = 0; i < im.n; i++) {
        json_t *rec = im.recs[i];
        const char *id = json_string_value(json_object_get(rec, "id"));
        json_t *who = json_object_get(rec, "annotators");
        json_t *readers = json_object_get(rec, "_readers");
        if (n_keep) {
            int all = readers && (int)json_object_size(readers) == n_keep;
            for (int k = 0; k < n_keep && all; k++) all &= json_object_get(readers, keep[k]) != NULL;
            int read_by_one = json_array_size(who) > 0;
            // a consensus image (--test-csv) is kept: the readers choose the training images
            int consensus = json_object_get(rec, "truth") != NULL;
            if (!consensus && ((require_all && !all) || !read_by_one)) {
                skipped++;
                json_decref(rec);
                im.recs[i] = NULL;
                continue;
            }
        }
        json_object_del(rec, "_readers");
        long line = im.first_line[i];
        int w = 0, h = 0;
        json_t *sz = json_object_get(sizes, id);
        if (sz) { w = (int)json_integer_value(json_array_get(sz, 0)); h = (int)json_integer_value(json_array_get(sz, 1)); }
        char *path = NULL;
        if (!no_images) {
            path = find_image(images, id);
            if (!path)
                cli_die(TOOL, EXIT_DATA, "%s: line %ld: no image %s.{png,jpg,jpeg,dicom,dcm} in %s", im.csv[i], line, id, images);
            if (!is_dicom(path)) {
                int fw, fh, fc;
                char err[700];
                if (image_probe(path, &fw, &fh, &fc, err, sizeof err) != 0)
                    cli_die(TOOL, EXIT_DATA, "%s: line %ld: %s", im.csv[i], line, err);
                if (!sz) { w = fw; h = fh; }
                else if (fabs((double)fw / fh - (double)w / h) > 0.01 * ((double)w / h))
                    cli_die(TOOL, EXIT_DATA, "%s: line %ld: size mismatch: %s is %dx%d, but --sizes says %dx%d "
                            "(a different aspect ratio)", im.csv[i], line, path, fw, fh, w, h);
            } else if (!sz) {
                cli_die(TOOL, EXIT_DATA, "%s: line %ld: %s is DICOM: give its frame in --sizes (see pipelines/vindr.mk)",
                        im.csv[i], line, path);
            }
        }
        if (!w) cli_die(TOOL, EXIT_DATA, "%s: line %ld: image %s is not in --sizes", im.csv[i], line, id);
        json_object_set_new(rec, "image", json_string(path ? path : id));
        json_object_set_new(rec, "width", json_integer(w));
        json_object_set_new(rec, "height", json_integer(h));
        // every box must lie in the frame
        const char *fields[2] = { "annotations", "truth" };
        for (int f = 0; f < 2; f++) {
            size_t j;
            json_t *a;
            json_array_foreach(json_object_get(rec, fields[f]), j, a) {
                json_t *b = json_object_get(a, "box");
                Box box = { json_real_value(json_array_get(b, 0)), json_real_value(json_array_get(b, 1)),
                            json_real_value(json_array_get(b, 2)), json_real_value(json_array_get(b, 3)) };
                if (ingest_clip_to_frame(&box, w, h) != 0)
                    cli_die(TOOL, EXIT_DATA, "%s: line %ld: image %s: box [%g,%g,%g,%g] exceeds its %dx%d frame (wrong --sizes?)",
                            f ? test_csv : csv, (long)json_integer_value(json_object_get(a, "_line")), id,
                            box.x1, box.y1, box.x2, box.y2, w, h);
                json_object_set_new(a, "box", json_box(box));
                json_object_del(a, "_line");
                boxes++;
            }
        }
        char where[4200];
        snprintf(where, sizeof where, "%s: line %ld", im.csv[i], line);
        ingest_check_record(TOOL, rec, where);
        free(path);
    }
    for (long i = 0; i < im.n; i++) {
        if (!im.recs[i]) continue;
        if (record_write(stdout, im.recs[i]) != 0) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
        written++;
        json_decref(im.recs[i]);
    }
    if (fflush(stdout) != 0) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
    fprintf(stderr, "%s: %ld images, %ld boxes%s\n", TOOL, written, boxes,
            skipped ? "; images outside --annotators left out" : "");
    free(im.recs); free(im.first_line); free(im.csv);
    json_decref(im.index);
    json_decref(sizes);
    free(list_copy);
    return written ? 0 : EXIT_DATA;
}
