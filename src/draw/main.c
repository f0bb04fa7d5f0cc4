// draw: renders records' images with their boxes to PNG or JPEG, one record or a contact
// sheet of several.
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "font.h"
#include "fsutil.h"
#include "paint.h"
#include "record.h"

static const char *TOOL = "draw";

static void usage(void) {
    printf(
        "Usage: draw --out FILE.png|FILE.jpg [options] < records.jsonl\n"
        "\n"
        "Draws each record's image with its boxes: every annotator's \"annotations\" in its\n"
        "own colour, the fused \"objects\" (white, with their votes), the \"detections\"\n"
        "(yellow, with their scores) and the \"truth\" (green), and a legend. With --n N the\n"
        "first N records are tiled into one contact sheet, each captioned with its id.\n"
        "\n"
        "  --out FILE        the picture: PNG or JPEG, by the name's extension\n"
        "  --n N             records to draw [1]\n"
        "  --cols C          columns of the sheet [the smallest C with C*C >= N]\n"
        "  --cell PX         each record's side in the sheet; its image is letterboxed [256]\n"
        "  --layers LIST     which boxes: annotations,objects,detections,truth [all]\n"
        "  --min-score X     detections scoring below X are left out [0.25]\n"
        "  --root DIR        image paths are relative to DIR [.]\n"
        IMAGE_SOURCE_HELP
        "  -h, --help        show this help\n"
        "\n"
        "Exit codes: 0 drawn, 1 bad input (nothing is written), 2 a usage error.\n");
}

enum { L_TRUTH, L_ANN, L_OBJ, L_DET, L_COUNT };
static const char *LAYER_NAMES[L_COUNT] = { "truth", "annotations", "objects", "detections" };

typedef struct {
    char label[48];
    Box box;
    double score;
    int votes, who;   // votes of a fused object; annotator's colour of an annotation
} Mark;

typedef struct {
    Record rec;
    Mark *marks[L_COUNT];
    int n[L_COUNT];
    Image cell;        // the image letterboxed to the cell
    Letterbox lb;
    int file_w, file_h;   // the image file's size (the record's frame may differ)
} Item;

static const Rgb PALETTE[10] = { { 230, 25, 75 },  { 60, 180, 75 }, { 0, 130, 200 }, { 245, 130, 48 }, { 145, 30, 180 },
                                 { 70, 240, 240 }, { 240, 50, 230 }, { 210, 245, 60 }, { 250, 190, 212 }, { 0, 128, 128 } };
static const Rgb C_OBJ = { 255, 255, 255 }, C_DET = { 255, 225, 25 }, C_TRUTH = { 0, 255, 0 }, C_BG = { 32, 32, 32 },
                 C_TEXT = { 235, 235, 235 }, C_DARK = { 0, 0, 0 };

typedef struct {
    const char *names[64];
    int n;
} Annotators;

static int annotator_slot(Annotators *a, const char *name) {
    for (int i = 0; i < a->n; i++)
        if (!strcmp(a->names[i], name)) return i;
    if (a->n == 64) return 63;
    a->names[a->n] = name;
    return a->n++;
}

// Reads one layer's boxes from the record, checked by record.c as every tool checks them
// (a "label", a "box" inside the frame, an annotation's "annotator", a detection's
// "score"), and an object's "votes". Returns -1 with a message naming the line.
static int read_layer(Item *it, int layer, Annotators *ann, char *err, size_t errn) {
    static const unsigned NEED[L_COUNT] = { REC_TRUTH, REC_ANNOTATIONS, REC_TRUTH, REC_DETECTIONS };
    const Record *r = &it->rec;
    json_t *arr = json_object_get(r->json, LAYER_NAMES[layer]);
    it->n[layer] = 0;
    it->marks[layer] = NULL;
    if (!arr || json_is_null(arr)) return 0;
    Record t;   // the layer's boxes; its json stays the item's
    int rc = record_from_json(r->json, r->line, NEED[layer], BOX_STRICT, LAYER_NAMES[layer], &t, err, errn);
    int n = layer == L_ANN ? t.n_annotations : layer == L_DET ? t.n_detections : t.n_truth;
    if (rc == 0 && !(it->marks[layer] = calloc((size_t)n + 1, sizeof(Mark)))) {
        snprintf(err, errn, "line %ld: out of memory", r->line);
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < n; i++) {
        Mark *m = &it->marks[layer][i];
        if (layer == L_ANN) {
            const Annotation *a = &t.annotations[i];
            snprintf(m->label, sizeof m->label, "%s", a->label);
            m->box = a->box;
            m->who = annotator_slot(ann, a->annotator);
            continue;
        }
        const LabeledBox *b = layer == L_DET ? &t.detections[i] : &t.truth[i];
        snprintf(m->label, sizeof m->label, "%s", b->label);
        m->box = b->box;
        m->score = b->score;
        if (layer == L_OBJ) {
            json_t *vo = json_object_get(json_array_get(arr, (size_t)i), "votes");
            if (vo && !json_is_integer(vo)) {
                snprintf(err, errn, "line %ld: objects[%d]: \"votes\" must be an integer", r->line, i);
                rc = -1;
            }
            m->votes = vo ? (int)json_integer_value(vo) : 0;
        }
    }
    if (rc == 0) it->n[layer] = n;
    free(t.annotators);
    free(t.annotations);
    free(t.truth);
    free(t.detections);
    return rc;
}

// One record's cell: the letterboxed image and its boxes, at (ox, oy) in the sheet.
static void draw_cell(Image *sheet, const Item *it, int ox, int oy, int cell, const int *on, double min_score, int ts) {
    const Letterbox lb = it->lb;
    paint_blit(sheet, &it->cell, ox, oy);
    // the record's frame may differ from the file's size (a resized copy)
    double fx = (double)it->file_w / it->rec.width, fy = (double)it->file_h / it->rec.height;
    int thick = cell >= 512 ? 2 : 1;
    for (int layer = 0; layer < L_COUNT; layer++) {
        if (!on[layer]) continue;
        for (int i = 0; i < it->n[layer]; i++) {
            const Mark *m = &it->marks[layer][i];
            if (layer == L_DET && m->score < min_score) continue;
            Rgb c = layer == L_TRUTH ? C_TRUTH : layer == L_ANN ? PALETTE[m->who % 10] : layer == L_OBJ ? C_OBJ : C_DET;
            int x1 = ox + (int)lround(m->box.x1 * fx * lb.scale_x + lb.pad_x), y1 = oy + (int)lround(m->box.y1 * fy * lb.scale_y + lb.pad_y);
            int x2 = ox + (int)lround(m->box.x2 * fx * lb.scale_x + lb.pad_x), y2 = oy + (int)lround(m->box.y2 * fy * lb.scale_y + lb.pad_y);
            if (x2 > ox + cell - 1) x2 = ox + cell - 1;
            if (y2 > oy + cell - 1) y2 = oy + cell - 1;
            paint_rect(sheet, x1, y1, x2, y2, c, thick);
            char text[64];
            if (layer == L_OBJ) snprintf(text, sizeof text, "%s v%d", m->label, m->votes);
            else if (layer == L_DET) snprintf(text, sizeof text, "%s %.2f", m->label, m->score);
            else snprintf(text, sizeof text, "%s", m->label);
            if (!*text || layer == L_ANN) continue;   // annotators' labels would pile up: colours tell them apart
            int ty = y1 - FONT_H * ts - 2 >= oy ? y1 - FONT_H * ts - 2 : y1 + thick;
            paint_label(sheet, x1, ty, text, C_DARK, c, ts);
        }
    }
}

// Lays the legend's entries (a swatch and a name each) out in lines of width W from y, and
// paints them when sheet is not NULL. Returns the number of lines.
static int legend(Image *sheet, int W, int y, int line_h, const char **name, const Rgb *col, int n, int ts) {
    int lines = 1, x = 4;
    for (int i = 0; i < n; i++) {
        int w = 14 * ts + paint_text_width(name[i], ts) + 10;
        if (x + w > W && x > 4) { lines++; y += line_h; x = 4; }
        if (sheet) {
            paint_fill(sheet, x, y, x + 10 * ts, y + FONT_H * ts - 1, col[i]);
            paint_text(sheet, x + 14 * ts, y, name[i], C_TEXT, ts);
        }
        x += w;
    }
    return lines;
}

int main(int argc, char **argv) {
    const char *out = NULL;
    ImageSource src = IMAGE_SOURCE_DEFAULT;
    long n = 1, cols = 0, cell = 256;
    double min_score = 0.25;
    int on[L_COUNT] = { 1, 1, 1, 1 };
    enum { O_OUT = 256, O_N, O_COLS, O_CELL, O_LAYERS, O_MIN, O_ROOT };
    static const struct option opts[] = { { "out", required_argument, 0, O_OUT },      { "n", required_argument, 0, O_N },
                                           { "cols", required_argument, 0, O_COLS },    { "cell", required_argument, 0, O_CELL },
                                           { "layers", required_argument, 0, O_LAYERS }, { "min-score", required_argument, 0, O_MIN },
                                           { "root", required_argument, 0, O_ROOT },    { "help", no_argument, 0, 'h' },
                                           IMAGE_SOURCE_OPTIONS,
                                           { 0, 0, 0, 0 } };
    int c;
    argv[0] = (char *)TOOL;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_OUT: out = optarg; break;
        case O_N: if (cli_parse_long(optarg, 1, 10000, &n)) cli_usage_error(TOOL, "--n needs a count from 1 to 10000"); break;
        case O_COLS: if (cli_parse_long(optarg, 1, 1000, &cols)) cli_usage_error(TOOL, "--cols needs a count"); break;
        case O_CELL: if (cli_parse_long(optarg, 16, 4096, &cell)) cli_usage_error(TOOL, "--cell needs 16..4096 pixels"); break;
        case O_MIN: if (cli_parse_double(optarg, 0, 1, &min_score)) cli_usage_error(TOOL, "--min-score needs a number in [0,1]"); break;
        case O_ROOT: src.root = optarg; break;
        case O_LAYERS: {
            for (int k = 0; k < L_COUNT; k++) on[k] = 0;
            char *s = strdup(optarg), *save = NULL;
            for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                int k = 0;
                while (k < L_COUNT && strcmp(t, LAYER_NAMES[k])) k++;
                if (k == L_COUNT) cli_usage_error(TOOL, "unknown layer '%s' in --layers (annotations, objects, detections, truth)", t);
                on[k] = 1;
            }
            free(s);
            break;
        }
        case 'h': usage(); return 0;
        default:
            if (image_source_option(&src, c, optarg, TOOL)) break;
            fprintf(stderr, "Try '%s --help'.\n", TOOL);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) cli_usage_error(TOOL, "unexpected argument '%s' (records come on stdin)", argv[optind]);
    if (!out) cli_usage_error(TOOL, "--out FILE is required");
    const char *ext = strrchr(out, '.');
    if (!ext || (strcasecmp(ext, ".png") && strcasecmp(ext, ".jpg") && strcasecmp(ext, ".jpeg")))
        cli_usage_error(TOOL, "--out must end in .png, .jpg or .jpeg");

    // read the records and load their images first: a bad one stops before anything is drawn
    char err[2048];
    Item *items = calloc((size_t)n, sizeof *items);
    if (!items) cli_die(TOOL, EXIT_DATA, "out of memory");
    Annotators ann = { { 0 }, 0 };
    RecordReader rd;
    record_reader_init(&rd, stdin, REC_ID | REC_IMAGE | REC_SIZE, BOX_STRICT);
    int got = 0;
    json_t *ids = json_object();   // id -> line of its first record
    while (got < n) {
        int rc = record_read_unique(&rd, ids, &items[got].rec, err, sizeof err);
        if (rc == 0) break;
        if (rc < 0) cli_die(TOOL, EXIT_DATA, "%s", err);
        Item *it = &items[got];
        json_t *names = json_object_get(it->rec.json, "annotators");
        size_t i;
        json_t *v;
        json_array_foreach(names, i, v) if (json_is_string(v)) annotator_slot(&ann, json_string_value(v));
        for (int layer = 0; layer < L_COUNT; layer++)
            if (on[layer] && read_layer(it, layer, &ann, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
        char ie[1024];
        Image im;
        if (image_load_record(&src, it->rec.image, &im, 3, ie, sizeof ie) != 0)
            cli_die(TOOL, EXIT_DATA, "line %ld: %s", it->rec.line, ie);
        // only the cell-sized copy is kept
        it->file_w = im.w;
        it->file_h = im.h;
        if (image_letterbox(&im, (int)cell, (int)cell, 40, &it->cell, &it->lb) != 0) cli_die(TOOL, EXIT_DATA, "out of memory");
        image_free(&im);
        got++;
    }
    if (got == 0) cli_die(TOOL, EXIT_DATA, "no records on stdin");

    int C = (int)(cols ? cols : (long)ceil(sqrt((double)got)));
    if (C > got) C = got;
    int R = (got + C - 1) / C, ts = cell >= 384 ? 2 : 1, cap = FONT_H * ts + 4, S = (int)cell;
    int legend_h = FONT_H * ts + 8;
    // the legend's entries: annotators, then the other layers present
    const char *lname[80];
    Rgb lcol[80];
    int nl = 0, any[L_COUNT] = { 0 };
    for (int k = 0; k < got; k++)
        for (int layer = 0; layer < L_COUNT; layer++) any[layer] |= on[layer] && items[k].n[layer] > 0;
    if (any[L_ANN])
        for (int i = 0; i < ann.n && nl < 64; i++) { lname[nl] = ann.names[i]; lcol[nl++] = PALETTE[i % 10]; }
    if (any[L_OBJ]) { lname[nl] = "fused (votes)"; lcol[nl++] = C_OBJ; }
    if (any[L_DET]) { lname[nl] = "detections (score)"; lcol[nl++] = C_DET; }
    if (any[L_TRUTH]) { lname[nl] = "truth"; lcol[nl++] = C_TRUTH; }
    int W = C * S, lines = legend(NULL, W, 0, legend_h, lname, lcol, nl, ts);
    Image sheet;
    if (image_alloc(&sheet, W, R * (S + cap) + lines * legend_h, 3, C_BG.r) != 0) cli_die(TOOL, EXIT_DATA, "out of memory");
    for (int k = 0; k < got; k++) {
        int ox = (k % C) * S, oy = (k / C) * (S + cap);
        paint_text(&sheet, ox + 2, oy + 2, items[k].rec.id ? items[k].rec.id : "", C_TEXT, ts);
        draw_cell(&sheet, &items[k], ox, oy + cap, S, on, min_score, ts);
    }
    legend(&sheet, W, R * (S + cap) + 4, legend_h, lname, lcol, nl, ts);
    if (image_save(out, &sheet, 90, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
    image_free(&sheet);
    for (int k = 0; k < got; k++) {
        image_free(&items[k].cell);
        for (int layer = 0; layer < L_COUNT; layer++) free(items[k].marks[layer]);
        record_free(&items[k].rec);
    }
    free(items);
    json_decref(ids);
    free(rd.buf);
    return 0;
}
