// validate: checks a JSON Lines stream of records against the record format and passes
// the valid lines through unchanged, so it can guard any stage of a pipeline.
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fsutil.h"
#include "image.h"
#include "record.h"

static const char *TOOL = "validate";

static void usage(void) {
    printf(
        "Usage: validate [options] < records.jsonl > records.jsonl\n"
        "\n"
        "Checks each record against the record format (docs/format.md) and writes the valid\n"
        "lines to stdout byte for byte. Every record needs a unique \"id\"; the fields\n"
        "\"annotators\", \"annotations\", \"truth\" and \"detections\" are checked when present\n"
        "(with \"width\" and \"height\", which boxes need).\n"
        "\n"
        "  --require LIST   fields that must be present: comma list of id, image, size,\n"
        "                   annotators, annotations, truth, detections\n"
        "  --lenient        accept inverted and out-of-frame boxes (only finite numbers needed)\n"
        "  --images         decode each record's image in full (a missing or corrupt file is an error)\n"
        "  --root DIR       folder that \"image\" paths are relative to [.]\n"
        IMAGE_SOURCE_HELP
        "  --keep-going     report every bad record, skip it, and exit 1 at the end\n"
        "  --quiet          no summary line\n"
        "  -h, --help       show this help\n"
        "\n"
        "Exit codes: 0 all valid, 1 a bad record (or none at all), 2 a usage error.\n");
}

static unsigned parse_fields(const char *list) {
    static const struct { const char *name; unsigned flag; } names[] = {
        { "id", REC_ID }, { "image", REC_IMAGE }, { "size", REC_SIZE },
        { "annotators", REC_ANNOTATORS }, { "annotations", REC_ANNOTATIONS },
        { "truth", REC_TRUTH }, { "detections", REC_DETECTIONS } };
    unsigned flags = 0;
    char *copy = strdup(list), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        unsigned f = 0;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (strcmp(tok, names[i].name) == 0) f = names[i].flag;
        if (!f) cli_usage_error(TOOL, "--require: unknown field '%s'", tok);
        flags |= f;
    }
    free(copy);
    return flags;
}

// The checks for one record: the required fields, plus each optional one it carries.
static unsigned fields_to_check(const json_t *obj, unsigned required) {
    unsigned need = required | REC_ID;
    if (json_object_get(obj, "image")) need |= REC_IMAGE;
    if (json_object_get(obj, "width") || json_object_get(obj, "height")) need |= REC_SIZE;
    if (json_object_get(obj, "annotators")) need |= REC_ANNOTATORS;
    if (json_object_get(obj, "annotations")) need |= REC_ANNOTATIONS;
    if (json_object_get(obj, "truth")) need |= REC_TRUTH;
    if (json_object_get(obj, "detections")) need |= REC_DETECTIONS;
    return need;
}

int main(int argc, char **argv) {
    unsigned required = 0;
    BoxPolicy boxes = BOX_STRICT;
    bool images = false, keep_going = false, quiet = false;
    ImageSource src = IMAGE_SOURCE_DEFAULT;
    enum { O_REQUIRE = 256, O_LENIENT, O_IMAGES, O_ROOT, O_KEEP, O_QUIET };
    static const struct option opts[] = {
        { "require", required_argument, 0, O_REQUIRE }, { "lenient", no_argument, 0, O_LENIENT },
        { "images", no_argument, 0, O_IMAGES }, { "root", required_argument, 0, O_ROOT },
        { "keep-going", no_argument, 0, O_KEEP }, { "quiet", no_argument, 0, O_QUIET },
        { "help", no_argument, 0, 'h' },
        IMAGE_SOURCE_OPTIONS,
        { 0, 0, 0, 0 } };
    int c;
    argv[0] = (char *)TOOL;   // getopt's own messages then start with the tool's name
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_REQUIRE: required = parse_fields(optarg); break;
        case O_LENIENT: boxes = BOX_LENIENT; break;
        case O_IMAGES: images = true; break;
        case O_ROOT: src.root = optarg; break;
        case O_KEEP: keep_going = true; break;
        case O_QUIET: quiet = true; break;
        case 'h': usage(); return 0;
        default:
            if (image_source_option(&src, c, optarg, TOOL)) break;
            fprintf(stderr, "Try '%s --help'.\n", TOOL);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) cli_usage_error(TOOL, "unexpected argument '%s' (records come on stdin)", argv[optind]);
    if (images) required |= REC_IMAGE;

    RecordReader rd;
    record_reader_init(&rd, stdin, 0, boxes);
    json_t *seen = json_object();   // id -> line of its first record
    long good = 0, bad = 0, n_ann = 0, n_truth = 0, n_det = 0;
    char err[1024];
    for (;;) {
        Record raw, rec;
        int rc = record_read(&rd, &raw, err, sizeof err);
        if (rc == 0) break;
        if (rc == -2) cli_die(TOOL, EXIT_DATA, "%s", err);
        if (rc == 1) {
            json_incref(raw.json);   // rec shares the object with raw
            rc = record_from_json(raw.json, raw.line, fields_to_check(raw.json, required), boxes,
                                  "truth", &rec, err, sizeof err) == 0 ? 1 : -1;
            if (rc == 1 && record_id_unique(seen, rec.id, strlen(rec.id), rec.line, err, sizeof err) != 0) rc = -1;
            if (rc == 1 && images) {
                char ierr[600];
                Image im;
                if (image_load_record(&src, rec.image, &im, 0, ierr, sizeof ierr) != 0) {
                    snprintf(err, sizeof err, "line %ld: image: %s", rec.line, ierr);
                    rc = -1;
                } else {
                    image_free(&im);
                }
            }
            if (rc == 1) {
                fputs(rd.buf, stdout);
                if (rd.buf[strlen(rd.buf) - 1] != '\n') fputc('\n', stdout);
                good++;
                n_ann += rec.n_annotations;
                n_truth += rec.n_truth;
                n_det += rec.n_detections;
            }
            record_free(&rec);
            record_free(&raw);
        }
        if (rc == -1) {
            bad++;
            cli_warn(TOOL, "%s", err);
            if (!keep_going) { json_decref(seen); free(rd.buf); return EXIT_DATA; }
        }
    }
    json_decref(seen);
    free(rd.buf);
    if (fflush(stdout) != 0 || ferror(stdout)) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
    if (good + bad == 0) cli_die(TOOL, EXIT_DATA, "no records on stdin");
    if (!quiet)
        fprintf(stderr, "%s: %ld valid records (%ld annotations, %ld truth boxes, %ld detections), %ld bad\n",
                TOOL, good, n_ann, n_truth, n_det, bad);
    return bad ? EXIT_DATA : 0;
}
