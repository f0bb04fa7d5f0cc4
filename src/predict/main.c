// predict: runs a trained detector on records' images and writes their "detections".
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine.h"
#include "fsutil.h"
#include "image.h"
#include "model.h"
#include "record.h"

static const char *TOOL = "predict";

static void usage(void) {
    printf(
        "Usage: predict --model FILE [options] < records.jsonl > predicted.jsonl\n"
        "\n"
        "Letterboxes each record's image to the model's input size, runs the network,\n"
        "decodes the boxes (score = objectness x best class probability) and applies\n"
        "class-wise non-maximum suppression. Writes \"detections\" ({label, box, score}, in\n"
        "the record's frame, with the model's class names) and passes every other field\n"
        "through.\n"
        "\n"
        "  --model FILE     a model written by train\n"
        "  --conf X         keep detections scoring above X [0.001]\n"
        "  --iou X          NMS IoU threshold [0.6]\n"
        "  --max-det N      at most N detections per image [300]\n"
        "  --batch N        images per forward pass [16]\n"
        "  --root DIR       image paths are relative to DIR [.]\n"
        IMAGE_SOURCE_HELP
        "  --device NAME    auto (a GPU when there is one) | cuda | cpu [auto]\n"
        "  --gpu-math NAME  tf32 | fp32 convolutions on the GPU [tf32]\n"
        "  --quiet          no summary line\n"
        "  -h, --help       show this help\n");
}

int main(int argc, char **argv) {
    const char *model_path = NULL;
    ImageSource src = IMAGE_SOURCE_DEFAULT;
    double conf = 0.001, iou = 0.6;
    long max_det = 300, batch = 16;
    int quiet = 0, math = GPU_MATH_TF32;
    DeviceChoice device = DEVICE_AUTO;
    enum { O_MODEL = 256, O_CONF, O_IOU, O_MAX, O_BATCH, O_ROOT, O_QUIET, O_DEVICE, O_MATH };
    static const struct option opts[] = {
        { "model", required_argument, 0, O_MODEL }, { "conf", required_argument, 0, O_CONF },
        { "iou", required_argument, 0, O_IOU }, { "max-det", required_argument, 0, O_MAX },
        { "batch", required_argument, 0, O_BATCH }, { "root", required_argument, 0, O_ROOT },
        { "quiet", no_argument, 0, O_QUIET }, { "device", required_argument, 0, O_DEVICE },
        { "gpu-math", required_argument, 0, O_MATH }, { "help", no_argument, 0, 'h' },
        IMAGE_SOURCE_OPTIONS,
        { 0, 0, 0, 0 } };
    int c;
    argv[0] = (char *)TOOL;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_MODEL: model_path = optarg; break;
        case O_CONF: if (cli_parse_double(optarg, 0, 1, &conf)) cli_usage_error(TOOL, "--conf needs a number in [0,1]"); break;
        case O_IOU: if (cli_parse_double(optarg, 0, 1, &iou)) cli_usage_error(TOOL, "--iou needs a number in [0,1]"); break;
        case O_MAX: if (cli_parse_long(optarg, 1, 100000, &max_det)) cli_usage_error(TOOL, "--max-det needs a count"); break;
        case O_BATCH: if (cli_parse_long(optarg, 1, 1024, &batch)) cli_usage_error(TOOL, "--batch needs a count"); break;
        case O_ROOT: src.root = optarg; break;
        case O_QUIET: quiet = 1; break;
        case O_DEVICE:
            if (engine_parse_device(optarg, &device)) cli_usage_error(TOOL, "unknown --device '%s' (auto, cuda, cpu)", optarg);
            break;
        case O_MATH:
            if (engine_parse_math(optarg, &math)) cli_usage_error(TOOL, "unknown --gpu-math '%s' (tf32, fp32)", optarg);
            break;
        case 'h': usage(); return 0;
        default:
            if (image_source_option(&src, c, optarg, TOOL)) break;
            fprintf(stderr, "Try '%s --help'.\n", TOOL);
            return EXIT_USAGE;
        }
    }
    if (optind < argc) cli_usage_error(TOOL, "unexpected argument '%s' (records come on stdin)", argv[optind]);
    if (!model_path) cli_usage_error(TOOL, "--model FILE is required");
    char err[2048], desc[512];
    Model m;
    if (model_load(model_path, &m, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
    Net *n = &m.net;
    n->training = 0;
    Engine eng;
    if (engine_init(&eng, n, NULL, device, math, (int)batch, desc, sizeof desc) != 0) cli_die(TOOL, EXIT_DATA, "%s", eng.err);
    if (!quiet) fprintf(stderr, "%s: %s\n", TOOL, desc);
    int S = n->cfg.size, C = n->cfg.in_ch;
    size_t plane = (size_t)S * S;
    float *x = malloc(sizeof(float) * (size_t)batch * C * plane);
    Record *recs = calloc((size_t)batch, sizeof *recs);
    Letterbox *lb = malloc(sizeof *lb * (size_t)batch);
    double *fx = malloc(sizeof(double) * (size_t)batch), *fy = malloc(sizeof(double) * (size_t)batch);
    Det *all_dets = malloc(sizeof *all_dets * (size_t)max_det * (size_t)batch);
    int *counts = malloc(sizeof *counts * (size_t)batch);
    RecordReader rd;
    record_reader_init(&rd, stdin, REC_ID | REC_IMAGE | REC_SIZE, BOX_STRICT);
    long images = 0, total = 0;
    json_t *ids = json_object();   // id -> line of its first record
    double t0 = cli_now();
    for (int done = 0; !done;) {
        int B = 0;
        while (B < batch) {
            int rc = record_read_unique(&rd, ids, &recs[B], err, sizeof err);
            if (rc == 0) { done = 1; break; }
            if (rc < 0) cli_die(TOOL, EXIT_DATA, "%s", err);
            char ie[1024];
            Image im, boxed;
            if (image_load_record(&src, recs[B].image, &im, C, ie, sizeof ie) != 0)
                cli_die(TOOL, EXIT_DATA, "line %ld: %s", recs[B].line, ie);
            image_letterbox(&im, S, S, 114, &boxed, &lb[B]);
            fx[B] = (double)im.w / recs[B].width;   // the file may be a resized copy of the frame
            fy[B] = (double)im.h / recs[B].height;
            float *xb = x + (size_t)B * C * plane;
            for (size_t p = 0; p < plane; p++)
                for (int k = 0; k < C; k++) xb[k * plane + p] = boxed.data[p * C + k] / 255.0f;
            image_free(&im);
            image_free(&boxed);
            B++;
        }
        if (B == 0) break;
        if ((n->batch != B && engine_set_batch(&eng, B) != 0) || engine_forward(&eng, x, 0) != 0) cli_die(TOOL, EXIT_DATA, "%s", eng.err);
        // decoding and NMS per image on all threads, then the records in order
        #pragma omp parallel for schedule(dynamic)
        for (int b = 0; b < B; b++)
            counts[b] = detect_boxes(n, b, (float)conf, (float)iou, (int)max_det, all_dets + (size_t)b * max_det, (int)max_det);
        for (int b = 0; b < B; b++) {
            int nd = counts[b];
            const Det *dets = all_dets + (size_t)b * max_det;
            json_t *arr = json_array();
            for (int k = 0; k < nd; k++) {
                double sx = lb[b].scale_x * fx[b], sy = lb[b].scale_y * fy[b];
                Box bx = box_from_letterbox((Box){ dets[k].x1, dets[k].y1, dets[k].x2, dets[k].y2 }, sx, sy, lb[b].pad_x,
                                            lb[b].pad_y, recs[b].width, recs[b].height);
                if (!(bx.x2 > bx.x1 && bx.y2 > bx.y1)) continue;
                json_array_append_new(arr, json_pack("{s:s,s:o,s:f}", "label", m.classes[dets[k].cls], "box", json_box(bx),
                                                     "score", (double)dets[k].score));
            }
            total += (long)json_array_size(arr);
            json_object_set_new(recs[b].json, "detections", arr);
            if (record_write(stdout, recs[b].json) != 0) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
            record_free(&recs[b]);
            images++;
        }
    }
    if (fflush(stdout) != 0) cli_die(TOOL, EXIT_DATA, "cannot write to stdout");
    if (images == 0) cli_die(TOOL, EXIT_DATA, "no records on stdin");
    if (!quiet) fprintf(stderr, "%s: %ld images, %ld detections, %.1f images/s\n", TOOL, images, total, images / (cli_now() - t0));
    free(rd.buf); free(x); free(recs); free(lb); free(fx); free(fy); free(all_dets); free(counts);
    json_decref(ids);
    engine_free(&eng);
    model_free(&m);
    return 0;
}
