// train: fits the detector to records' targets with the EARL loss, on the GPU or the CPU.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "data.h"
#include "ddp.h"
#include "dist.h"
#include "engine.h"
#include "evaluate.h"
#include "fsutil.h"
#include "loader.h"
#include "model.h"
#include "optim.h"
#include "safetensors.h"

// The name in messages: "train", or "train (rank 1 of 2)" under a launcher. Set once in
// main, before any other thread starts.
static char TOOL[64] = "train";

static void usage(void) {
    printf(
        "Usage: train --val val.jsonl --out model.safetensors [options] < train.jsonl > log.jsonl\n"
        "\n"
        "Trains a YOLOv5-layout detector on the records' targets, each weighted by the\n"
        "annotators' agreement (EARL). One JSON line per epoch goes to stdout: the loss parts,\n"
        "the learning rate, images/s and the validation mAP@0.4 and mAP@[.5:.95] (computed as\n"
        "`score` computes them). The model with the best validation mAP@0.4 is kept in --out;\n"
        "a checkpoint (--out with .ckpt) is written every epoch for --resume.\n"
        "\n"
        "Data\n"
        "  --val FILE            validation records (scored against their truth)\n"
        "  --val-truth FIELD     the validation truth field [truth]\n"
        "  --targets FIELD       objects (fused, default) | annotations (every box, weight 1) | truth\n"
        "  --annotator NAME      with --targets annotations: one annotator's boxes only\n"
        "  --weight MODE         each object's EARL weight and class targets (--targets objects):\n"
        "                          votes (default)  its \"votes\", one-hot on \"label\"\n"
        "                          conf             its \"conf\", one-hot on \"label\"\n"
        "                          none             1, one-hot on \"label\"\n"
        "                          probs            its \"probs\" as soft class targets, weight \"conf\"\n"
        "                          probs-exists     its \"probs\" as soft class targets, weight \"exists\"\n"
        "                          exists           its \"exists\", one-hot on \"label\"\n"
        "                        For soft targets (fuse --method em), probs is the default choice: its\n"
        "                        weight conf is what fuse writes as the object's agreement and score,\n"
        "                        so the training weight and the scored detections speak of one\n"
        "                        quantity. probs-exists is the alternative that does not count class\n"
        "                        uncertainty twice (in the soft target and again in the weight).\n"
        "                        \"probs\": label -> P(class | real), summing to 1 within 1e-4 (then\n"
        "                        divided by its sum), 0 for labels it leaves out; its labels join the\n"
        "                        classes. \"exists\" and \"conf\": probabilities in [0, 1].\n"
        "  --weight-obj          also weight the positive objectness targets\n"
        "  --root DIR            image paths are relative to DIR [.]\n"
        IMAGE_SOURCE_HELP
        "Model\n"
        "  --out FILE            the model file (safetensors)\n"
        "  --preset NAME         cpu (width 0.1875, ~1.0 M parameters) | n | s [cpu]\n"
        "  --size N              input side, a multiple of 32 [128]\n"
        "  --channels 1|3        input channels [1]\n"
        "Device\n"
        "  --device NAME         auto (a GPU when there is one) | cuda | cpu [auto]\n"
        "  --gpu-math NAME       tf32 (Tensor Cores) | fp32 convolutions on the GPU [tf32]\n"
        "Training\n"
        "  --epochs N [30]  --batch N [32]  --cos-lr  --seed S [0]\n"
        "  --optimizer NAME      sgd (Nesterov, momentum 0.937) | adamw (betas 0.937, 0.999) [sgd]\n"
        "  --lr0 X               initial learning rate [0.01 for sgd, 0.001 for adamw]\n"
        "  --lrf X               final learning rate, a fraction of lr0 [0.01]\n"
        "  --warmup-epochs X     warmup length (at least 100 iterations; 0: none) [3]\n"
        "  --nominal-batch N     gradients are accumulated over about N images per step [64]\n"
        "  --box-gain X  --obj-gain X  --cls-gain X   loss gains before YOLOv5's rescaling [0.05, 1, 0.5]\n"
        "  --mosaic P [1.0]  --scale X [0.5]  --translate X [0.1]\n"
        "  --resume              continue from the checkpoint next to --out\n"
        "  --quiet               no progress on stderr\n"
        "  -h, --help            show this help\n"
        "Several processes (mpirun -np N train ..., or srun train ...; see the README)\n"
        "  Each process trains on its part of every batch: --batch is per process, the global\n"
        "  batch is --batch x N. Gradients are summed over the processes (MPI on the CPU, NCCL\n"
        "  between GPUs, a GPU per process on each machine). Rank 0 alone reads stdin, validates,\n"
        "  logs and writes --out and its checkpoint.\n"
        "  --sync-bn             batch-norm statistics over the global batch (CPU processes), as\n"
        "                        PyTorch's SyncBatchNorm; the weights then equal one process's\n"
        "                        with N threads and the global batch, bit for bit (N = 2). Off by\n"
        "                        default: each process normalises by its own images, as DDP does\n"
        "                        (no exchange per layer)\n");
}

typedef struct {
    const char *val, *val_truth, *out, *preset, *annotator;
    ImageSource images;
    TargetField targets;
    WeightMode weight;
    int weight_obj, size, ch, epochs, batch, cos_lr, resume, quiet, nbs, adamw, math, sync_bn;
    DeviceChoice device;
    float lr0, lrf, warmup, mosaic, scale, translate, gain[3];
    uint64_t seed;
} Args;

static void parse_args(int argc, char **argv, Args *a) {
    *a = (Args){ .val_truth = "truth", .preset = "cpu", .targets = TARGETS_OBJECTS, .weight = WEIGHT_VOTES, .size = 128,
                 .ch = 1, .epochs = 30, .batch = 32, .nbs = 64, .lr0 = -1, .lrf = 0.01f, .warmup = 3.0f,
                 .images = IMAGE_SOURCE_DEFAULT, .gain = { 0.05f, 1.0f, 0.5f }, .mosaic = 1.0f, .scale = 0.5f, .translate = 0.1f };
    enum { O_VAL = 256, O_VALT, O_TARGETS, O_ANN, O_WEIGHT, O_WOBJ, O_ROOT, O_OUT, O_PRESET, O_SIZE, O_CH, O_EPOCHS, O_BATCH,
           O_LR0, O_COS, O_SEED, O_MOSAIC, O_SCALE, O_TRANSLATE, O_RESUME, O_QUIET, O_NBS, O_OPT, O_LRF, O_WARM, O_BOXG, O_OBJG, O_CLSG, O_DEVICE, O_MATH, O_SYNCBN };
    static const struct option opts[] = {
        { "val", required_argument, 0, O_VAL }, { "val-truth", required_argument, 0, O_VALT },
        { "targets", required_argument, 0, O_TARGETS }, { "annotator", required_argument, 0, O_ANN },
        { "weight", required_argument, 0, O_WEIGHT }, { "weight-obj", no_argument, 0, O_WOBJ },
        { "root", required_argument, 0, O_ROOT }, { "out", required_argument, 0, O_OUT },
        { "preset", required_argument, 0, O_PRESET }, { "size", required_argument, 0, O_SIZE },
        { "channels", required_argument, 0, O_CH }, { "epochs", required_argument, 0, O_EPOCHS },
        { "batch", required_argument, 0, O_BATCH }, { "lr0", required_argument, 0, O_LR0 },
        { "cos-lr", no_argument, 0, O_COS }, { "seed", required_argument, 0, O_SEED },
        { "mosaic", required_argument, 0, O_MOSAIC }, { "scale", required_argument, 0, O_SCALE },
        { "translate", required_argument, 0, O_TRANSLATE }, { "resume", no_argument, 0, O_RESUME },
        { "quiet", no_argument, 0, O_QUIET }, { "nominal-batch", required_argument, 0, O_NBS },
        { "optimizer", required_argument, 0, O_OPT }, { "lrf", required_argument, 0, O_LRF },
        { "warmup-epochs", required_argument, 0, O_WARM }, { "box-gain", required_argument, 0, O_BOXG },
        { "obj-gain", required_argument, 0, O_OBJG }, { "cls-gain", required_argument, 0, O_CLSG },
        { "device", required_argument, 0, O_DEVICE }, { "gpu-math", required_argument, 0, O_MATH },
        { "sync-bn", no_argument, 0, O_SYNCBN },
        { "help", no_argument, 0, 'h' },
        IMAGE_SOURCE_OPTIONS,
        { 0, 0, 0, 0 } };
    int c;
    long v;
    double x;
    argv[0] = (char *)TOOL;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_VAL: a->val = optarg; break;
        case O_VALT: a->val_truth = optarg; break;
        case O_TARGETS:
            if (!strcmp(optarg, "objects")) a->targets = TARGETS_OBJECTS;
            else if (!strcmp(optarg, "annotations")) a->targets = TARGETS_ANNOTATIONS;
            else if (!strcmp(optarg, "truth")) a->targets = TARGETS_TRUTH;
            else cli_usage_error(TOOL, "unknown --targets '%s' (objects, annotations, truth)", optarg);
            break;
        case O_ANN: a->annotator = optarg; break;
        case O_WEIGHT:
            if (!strcmp(optarg, "votes")) a->weight = WEIGHT_VOTES;
            else if (!strcmp(optarg, "conf")) a->weight = WEIGHT_CONF;
            else if (!strcmp(optarg, "none")) a->weight = WEIGHT_NONE;
            else if (!strcmp(optarg, "probs")) a->weight = WEIGHT_PROBS;
            else if (!strcmp(optarg, "probs-exists")) a->weight = WEIGHT_PROBS_EXISTS;
            else if (!strcmp(optarg, "exists")) a->weight = WEIGHT_EXISTS;
            else cli_usage_error(TOOL, "unknown --weight '%s' (votes, conf, none, probs, probs-exists, exists)", optarg);
            break;
        case O_WOBJ: a->weight_obj = 1; break;
        case O_ROOT: a->images.root = optarg; break;
        case O_OUT: a->out = optarg; break;
        case O_PRESET: a->preset = optarg; break;
        case O_SIZE:
            if (cli_parse_long(optarg, 32, 4096, &v) || v % 32) cli_usage_error(TOOL, "--size needs a multiple of 32, got '%s'", optarg);
            a->size = (int)v;
            break;
        case O_CH:
            if (cli_parse_long(optarg, 1, 3, &v) || v == 2) cli_usage_error(TOOL, "--channels needs 1 or 3");
            a->ch = (int)v;
            break;
        case O_EPOCHS: if (cli_parse_long(optarg, 1, 100000, &v)) cli_usage_error(TOOL, "--epochs needs a count"); a->epochs = (int)v; break;
        case O_BATCH: if (cli_parse_long(optarg, 1, 4096, &v)) cli_usage_error(TOOL, "--batch needs a count"); a->batch = (int)v; break;
        case O_LR0: if (cli_parse_double(optarg, 1e-8, 10, &x)) cli_usage_error(TOOL, "--lr0 needs a rate > 0"); a->lr0 = (float)x; break;
        case O_COS: a->cos_lr = 1; break;
        case O_SEED: if (cli_parse_u64(optarg, &a->seed)) cli_usage_error(TOOL, "--seed needs an integer >= 0"); break;
        case O_MOSAIC: if (cli_parse_double(optarg, 0, 1, &x)) cli_usage_error(TOOL, "--mosaic needs a probability"); a->mosaic = (float)x; break;
        case O_SCALE: if (cli_parse_double(optarg, 0, 0.9, &x)) cli_usage_error(TOOL, "--scale needs 0..0.9"); a->scale = (float)x; break;
        case O_TRANSLATE: if (cli_parse_double(optarg, 0, 0.5, &x)) cli_usage_error(TOOL, "--translate needs 0..0.5"); a->translate = (float)x; break;
        case O_RESUME: a->resume = 1; break;
        case O_NBS: if (cli_parse_long(optarg, 1, 4096, &v)) cli_usage_error(TOOL, "--nominal-batch needs a count"); a->nbs = (int)v; break;
        case O_QUIET: a->quiet = 1; break;
        case O_SYNCBN: a->sync_bn = 1; break;
        case O_OPT:
            if (!strcmp(optarg, "sgd")) a->adamw = 0;
            else if (!strcmp(optarg, "adamw")) a->adamw = 1;
            else cli_usage_error(TOOL, "unknown --optimizer '%s' (sgd, adamw)", optarg);
            break;
        case O_LRF: if (cli_parse_double(optarg, 0, 1, &x)) cli_usage_error(TOOL, "--lrf needs 0..1"); a->lrf = (float)x; break;
        case O_WARM: if (cli_parse_double(optarg, 0, 1000, &x)) cli_usage_error(TOOL, "--warmup-epochs needs a number >= 0"); a->warmup = (float)x; break;
        case O_BOXG: case O_OBJG: case O_CLSG:
            if (cli_parse_double(optarg, 0, 1000, &x)) cli_usage_error(TOOL, "--%s needs a number >= 0", c == O_BOXG ? "box-gain" : c == O_OBJG ? "obj-gain" : "cls-gain");
            a->gain[c - O_BOXG] = (float)x;
            break;
        case O_DEVICE:
            if (engine_parse_device(optarg, &a->device)) cli_usage_error(TOOL, "unknown --device '%s' (auto, cuda, cpu)", optarg);
            break;
        case O_MATH:
            if (engine_parse_math(optarg, &a->math)) cli_usage_error(TOOL, "unknown --gpu-math '%s' (tf32, fp32)", optarg);
            break;
        case 'h': usage(); exit(0);
        default:
            if (image_source_option(&a->images, c, optarg, TOOL)) break;
            fprintf(stderr, "Try '%s --help'.\n", TOOL);
            exit(EXIT_USAGE);
        }
    }
    if (optind < argc) cli_usage_error(TOOL, "unexpected argument '%s' (records come on stdin)", argv[optind]);
    if (a->lr0 < 0) a->lr0 = a->adamw ? 0.001f : 0.01f;
    if (!a->out) cli_usage_error(TOOL, "--out FILE is required");
    if (!a->val) cli_usage_error(TOOL, "--val FILE is required");
    if (a->annotator && a->targets != TARGETS_ANNOTATIONS) cli_usage_error(TOOL, "--annotator needs --targets annotations");
}

static void preset_multiples(const char *name, float *w, float *d) {
    if (!strcmp(name, "cpu")) { *w = 0.1875f; *d = 0.33f; return; }
    if (!strcmp(name, "n")) { *w = 0.25f; *d = 0.33f; return; }
    if (!strcmp(name, "s")) { *w = 0.5f; *d = 0.33f; return; }
    cli_usage_error(TOOL, "unknown --preset '%s' (cpu, n, s)", name);
}

// Validation mAP@0.4 and mAP@[.5:.95] of the current parameters (eval mode) on val.
static void validate_map(Model *m, Engine *eng, const Dataset *val, const char *truth_field, int batch, double *m40, double *m5095) {
    Net *n = &m->net;
    double thr[11];
    thr[0] = 0.4;
    eval_coco_thresholds(thr + 1);
    EvalSet e;
    eval_init(&e, thr, 11);
    size_t plane = (size_t)val->size * val->size;
    float *x = malloc(sizeof(float) * (size_t)batch * val->ch * plane);
    int *idx = malloc(sizeof(int) * (size_t)batch);
    Det *dets = malloc(sizeof *dets * 300);
    EvalBox *eb = malloc(sizeof *eb * 300);
    if (!x || !idx || !dets || !eb) cli_die(TOOL, EXIT_DATA, "validation: out of memory");
    for (int s = 0; s < val->n; s += batch) {
        int B = val->n - s < batch ? val->n - s : batch;
        for (int b = 0; b < B; b++) idx[b] = s + b;
        if (dataset_batch(val, idx, B, NULL, NULL, x, NULL, 0) < 0) cli_die(TOOL, EXIT_DATA, "validation: out of memory");
        int keep = n->batch;
        if ((B != keep && engine_set_batch(eng, B) != 0) || engine_forward(eng, x, 0) != 0) cli_die(TOOL, EXIT_DATA, "%s", eng->err);
        for (int b = 0; b < B; b++) {
            int i = s + b, nd = detect_boxes(n, b, 0.001f, 0.6f, 300, dets, 300);
            // the record's truth, read as every tool reads it (it was checked when loaded)
            Record r;
            char err[1024];
            if (record_from_json(json_incref(val->records[i]), val->lines[i], REC_TRUTH, BOX_STRICT, truth_field, &r, err,
                                 sizeof err) != 0)
                cli_die(TOOL, EXIT_DATA, "validation: %s", err);
            for (int k = 0; k < nd; k++) {
                Box bx = box_from_letterbox((Box){ dets[k].x1, dets[k].y1, dets[k].x2, dets[k].y2 }, val->scale_x[i],
                                            val->scale_y[i], val->pad_x[i], val->pad_y[i], r.width, r.height);
                eb[k] = (EvalBox){ m->classes[dets[k].cls], (int)strlen(m->classes[dets[k].cls]), bx, dets[k].score };
            }
            EvalBox *tb = malloc(sizeof *tb * (size_t)(r.n_truth + 1));
            if (!tb) cli_die(TOOL, EXIT_DATA, "validation: out of memory");
            for (int j = 0; j < r.n_truth; j++)
                tb[j] = (EvalBox){ r.truth[j].label, (int)strlen(r.truth[j].label), r.truth[j].box, 1 };
            if (eval_add_image(&e, tb, r.n_truth, eb, nd) != 0) cli_die(TOOL, EXIT_DATA, "validation: out of memory");
            free(tb);
            record_free(&r);
        }
        if (B != keep && engine_set_batch(eng, keep) != 0) cli_die(TOOL, EXIT_DATA, "%s", eng->err);
    }
    eval_sort_classes(&e);
    *m40 = eval_mean_ap(&e, 0, 1, AP_COCO, NULL, -1);
    *m5095 = eval_mean_ap(&e, 1, 11, AP_COCO, NULL, -1);
    eval_free(&e);
    free(x); free(idx); free(dets); free(eb);
}

// A checkpoint's metadata entry; a checkpoint without it is refused, naming the key.
static const char *checkpoint_meta(const StFile *f, const char *path, const char *key) {
    const char *v = st_meta(f, key);
    if (!v) cli_die(TOOL, EXIT_DATA, "--resume: %s lacks \"%s\" in its metadata", path, key);
    return v;
}

static long checkpoint_long(const StFile *f, const char *path, const char *key, long lo, long hi) {
    long v;
    if (cli_parse_long(checkpoint_meta(f, path, key), lo, hi, &v) != 0)
        cli_die(TOOL, EXIT_DATA, "--resume: %s: \"%s\" is not an integer in [%ld, %ld]", path, key, lo, hi);
    return v;
}

// The checkpoint next to --out: parameters, optimiser state, anchors, and where the run was.
static void read_checkpoint(const char *ckpt, Model *m, Optimizer *opt, Rng *rng, int *start_epoch, double *best) {
    StFile f;
    char err[2048];
    if (st_read(ckpt, &f, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "--resume: %s", err);
    int nd;
    long shape[ST_MAX_DIMS];
    size_t nf = m->net.n_floats;
    const float *p = st_tensor(&f, "params", &nd, shape), *mb = st_tensor(&f, "momentum", &nd, shape), *em = st_tensor(&f, "ema", &nd, shape);
    if (!p || !mb || !em || (size_t)shape[0] != nf) cli_die(TOOL, EXIT_DATA, "--resume: %s does not match this model", ckpt);
    memcpy(m->net.params, p, sizeof(float) * nf);
    memcpy(opt->momentum_buf, mb, sizeof(float) * nf);
    memcpy(opt->ema, em, sizeof(float) * nf);
    if (opt->second) {
        const float *sm = st_tensor(&f, "second_moment", &nd, shape);
        if (!sm || (size_t)shape[0] != nf) cli_die(TOOL, EXIT_DATA, "--resume: %s was not written with --optimizer adamw", ckpt);
        memcpy(opt->second, sm, sizeof(float) * nf);
    }
    *start_epoch = (int)checkpoint_long(&f, ckpt, "epoch", 0, INT_MAX);
    opt->updates = checkpoint_long(&f, ckpt, "updates", 0, LONG_MAX);
    const char *best_text = checkpoint_meta(&f, ckpt, "best");
    char *end;
    *best = strtod(best_text, &end);
    if (end == best_text || *end) cli_die(TOOL, EXIT_DATA, "--resume: %s: \"best\" is not a number", ckpt);
    if (sscanf(checkpoint_meta(&f, ckpt, "rng"), "%lu %lu", (unsigned long *)&rng->state, (unsigned long *)&rng->inc) != 2)
        cli_die(TOOL, EXIT_DATA, "--resume: %s: \"rng\" is not two integers", ckpt);
    const float *an = st_tensor(&f, "anchors", &nd, shape);
    if (an) memcpy(m->net.anchors, an, sizeof m->net.anchors);
    st_close(&f);
}

// Rank 0's checkpoint to every process (the others do not read the file: their machines
// need not see it, nor agree on it).
static void share_checkpoint(const Dist *dist, Model *m, Optimizer *opt, Rng *rng, int *start_epoch, double *best) {
    size_t bytes = sizeof(float) * m->net.n_floats;
    dist_bcast(dist, m->net.params, bytes, 0);
    dist_bcast(dist, opt->momentum_buf, bytes, 0);
    dist_bcast(dist, opt->ema, bytes, 0);
    if (opt->second) dist_bcast(dist, opt->second, bytes, 0);
    dist_bcast(dist, m->net.anchors, sizeof m->net.anchors, 0);
    dist_bcast(dist, start_epoch, sizeof *start_epoch, 0);
    dist_bcast(dist, &opt->updates, sizeof opt->updates, 0);
    dist_bcast(dist, best, sizeof *best, 0);
    dist_bcast(dist, rng, sizeof *rng, 0);
}

// The records on stdin: read by rank 0 and given to every process (a launcher gives stdin
// to rank 0 alone), each process decoding its block of the images.
static void load_training_records(const Dist *dist, const DataOptions *dopt, Dataset *train, Model *m) {
    char err[2048];
    FILE *in = stdin;
    char *text = NULL;
    size_t len = 0;
    DataOptions o = *dopt;
    if (dist->active) {
        if (dist_read_all(dist, stdin, &text, &len, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "stdin: %s", err);
        in = len ? fmemopen(text, len, "r") : fopen("/dev/null", "r");
        if (!in) cli_die(TOOL, EXIT_DATA, "out of memory");
        o.part = dist->rank;
        o.parts = dist->size;
        o.share = ddp_share_images;
        o.share_ctx = (void *)dist;
    }
    if (dataset_load(train, in, "stdin", &o, &m->classes, &m->n_classes, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
    if (m->n_classes == 0) cli_die(TOOL, EXIT_DATA, "the training records hold no targets");
    if (in != stdin) fclose(in);
    free(text);
}

// Every process reads the same arguments, before MPI starts (so that none is stopped before
// it speaks): rank 0 alone shows the help or the error, the others' output is muted meanwhile.
static void parse_args_once(int argc, char **argv, Args *a) {
    if (dist_launcher_rank() == 0) {
        parse_args(argc, argv, a);
        return;
    }
    int keep_out = dup(STDOUT_FILENO), keep_err = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
    }
    parse_args(argc, argv, a);
    if (null >= 0) {
        dup2(keep_out, STDOUT_FILENO);
        dup2(keep_err, STDERR_FILENO);
        close(null);
    }
    if (keep_out >= 0) close(keep_out);
    if (keep_err >= 0) close(keep_err);
}

int main(int argc, char **argv) {
    Dist dist;
    char desc[512], err[2048];
    Args a;
    parse_args_once(argc, argv, &a);
    if (dist_init(&dist, err, sizeof err) != 0) cli_die(TOOL, EXIT_USAGE, "%s", err);
    if (dist.active) snprintf(TOOL, sizeof TOOL, "train (rank %d of %d)", dist.rank, dist.size);
    int lead = dist.rank == 0;   // validates, logs and writes the files
    if (!lead && !freopen("/dev/null", "r", stdin)) cli_die(TOOL, EXIT_DATA, "cannot close stdin");   // rank 0 reads it
    if (!lead) a.quiet = 1;
    if (lead) {
        // A folder that cannot take the model is found now, not after the first epoch.
        AtomicFile probe;
        char perr[600];
        if (atomic_open(&probe, a.out, perr, sizeof perr) != 0) cli_die(TOOL, EXIT_DATA, "%s", perr);
        atomic_abort(&probe);
    }
    float wm, dm;
    preset_multiples(a.preset, &wm, &dm);
    DataOptions dopt = { a.targets, a.weight, a.annotator, a.images, a.size, a.ch, NULL, 0, 0, NULL, NULL };
    Model m = { 0 };
    Dataset train, val = { 0 };
    load_training_records(&dist, &dopt, &train, &m);
    if (lead) {
        FILE *vf = fopen(a.val, "r");
        if (!vf) cli_die(TOOL, EXIT_DATA, "cannot open %s", a.val);
        DataOptions vopt = dopt;
        vopt.field = TARGETS_NONE;   // only the images: scoring reads --val-truth from the records
        vopt.check = a.val_truth;
        int nc = m.n_classes;
        if (dataset_load(&val, vf, a.val, &vopt, &m.classes, &nc, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
        fclose(vf);
    }

    NetConfig cfg = { wm, dm, a.ch, m.n_classes, a.size };
    if (net_build(&m.net, &cfg, a.seed) != 0) cli_die(TOOL, EXIT_DATA, "cannot build the network");
    Rng rng;
    rng_seed(&rng, a.seed, 0x747261696eULL);
    if (fit_anchors(&train, m.net.anchors, &rng) != 0 && !a.quiet) cli_warn(TOOL, "fewer than 9 boxes: YOLOv5's default anchors kept");
    // B: the global batch, over every process; each process runs its part (local: the largest)
    if (train.n < dist.size) cli_die(TOOL, EXIT_DATA, "%d training images for %d processes: each needs one at least", train.n, dist.size);
    long want = (long)a.batch * dist.size;
    int B = want < train.n ? (int)want : train.n, local = (B + dist.size - 1) / dist.size;
    m.args = json_pack("{s:s,s:i,s:i,s:i,s:f,s:I,s:i,s:b}", "preset", a.preset, "size", a.size, "epochs", a.epochs, "batch", B, "lr0",
                       (double)a.lr0, "seed", (json_int_t)a.seed, "processes", dist.size, "sync_bn", a.sync_bn);

    OptConfig oc;
    optim_defaults(&oc);
    oc.lr0 = a.lr0;
    oc.epochs = a.epochs;
    oc.cos_lr = a.cos_lr;
    oc.nominal_batch = a.nbs;
    oc.adamw = a.adamw;
    oc.lrf = a.lrf;
    oc.warmup_epochs = a.warmup;
    Optimizer opt;
    if (optim_init(&opt, &m.net, &oc) != 0) cli_die(TOOL, EXIT_DATA, "out of memory");
    Engine eng;
    if (ddp_pick_gpu(&dist, a.device, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
    if (engine_init(&eng, &m.net, &opt, a.device, a.math, local, desc, sizeof desc) != 0) cli_die(TOOL, EXIT_DATA, "%s", eng.err);
    if (!a.quiet) fprintf(stderr, "%s: %s\n", TOOL, desc);
    Ddp ddp;
    if (ddp_init(&ddp, &dist, &eng, a.sync_bn, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
    if (!a.quiet && dist.active)
        fprintf(stderr, "%s: %d processes, %d images per batch (%d each), batch norm %s\n", TOOL, dist.size, B, a.batch,
                a.sync_bn && dist.size > 1 ? "over the global batch (--sync-bn)" : "per process");
    LossOptions lo;
    loss_defaults(&lo);
    lo.weight_obj = a.weight_obj;
    lo.box_gain = a.gain[0];
    lo.obj_gain = a.gain[1];
    lo.cls_gain = a.gain[2];
    AugOptions aug = { a.mosaic, a.scale, a.translate };
    int tcap = 64 * B + 1024;
    Loader loader;
    if (loader_init(&loader, &train, &aug, &rng, B, dist.rank, dist.size, tcap) != 0) cli_die(TOOL, EXIT_DATA, "out of memory");
    int *order = malloc(sizeof *order * (size_t)train.n);
    int accumulate = (int)fmax(round((double)a.nbs / B), 1);
    // with several processes, a last batch of fewer images than processes is left out
    long per_epoch = dist.size == 1 ? (train.n + B - 1) / B : train.n / B + (train.n % B >= dist.size);
    double best = -1;
    int start_epoch = 0;
    size_t ckpt_len = strlen(a.out) + 8;
    char *ckpt = malloc(ckpt_len);
    snprintf(ckpt, ckpt_len, "%s.ckpt", a.out);
    // What a killed run left: temporary files of the model and of the checkpoint.
    int stale = lead ? remove_stale_temps(a.out) + remove_stale_temps(ckpt) : 0;
    if (stale && !a.quiet) fprintf(stderr, "%s: removed %d temporary file%s left by a killed run\n", TOOL, stale, stale > 1 ? "s" : "");
    // --resume: rank 0 reads the checkpoint (or finds none yet) and gives it to every process
    struct stat ckpt_st;
    if (lead && a.resume && stat(ckpt, &ckpt_st) != 0 && errno == ENOENT) {
        // killed before its first epoch ended: nothing to resume, so start from the beginning
        fprintf(stderr, "%s: --resume: no checkpoint %s yet; training from the beginning\n", TOOL, ckpt);
        a.resume = 0;
    }
    if (lead && a.resume) read_checkpoint(ckpt, &m, &opt, &rng, &start_epoch, &best);
    dist_bcast(&dist, &a.resume, sizeof a.resume, 0);
    if (a.resume) {
        share_checkpoint(&dist, &m, &opt, &rng, &start_epoch, &best);
        opt.has_momentum = 1;
        if (engine_upload(&eng) != 0) cli_die(TOOL, EXIT_DATA, "%s", eng.err);
    }
    if (!a.quiet)
        fprintf(stderr, "%s: %d training images (%ld targets), %d validation images, %d classes, preset %s (%.1f M multiply-adds per image)\n",
                TOOL, train.n, train.n_boxes, val.n, m.n_classes, a.preset, net_macs(&m.net) / 1e6);
    Progress pr;
    for (int epoch = start_epoch; epoch < a.epochs; epoch++) {
        for (int i = 0; i < train.n; i++) order[i] = i;
        rng_shuffle_int(&rng, order, train.n);
        double sbox = 0, sobj = 0, scls = 0, t0 = cli_now(), lr[3] = { 0 }, mom, snorm = 0;
        long steps = 0, updates = 0;
        progress_start(&pr, TOOL, "batches", per_epoch, a.quiet);
        if (engine_zero_grad(&eng) != 0) cli_die(TOOL, EXIT_DATA, "%s", eng.err);
        if (loader_start_epoch(&loader, order, per_epoch) != 0) cli_die(TOOL, EXIT_DATA, "cannot start the data loader thread");
        for (long it = 0; it < per_epoch; it++) {
            const Batch *bt = loader_next(&loader);
            if (bt->nt < 0) cli_die(TOOL, EXIT_DATA, "out of memory (building a batch)");
            int nb = bt->nb;
            if (nb != m.net.batch && engine_set_batch(&eng, nb) != 0) cli_die(TOOL, EXIT_DATA, "%s", eng.err);
            if (ddp_loss_norm(&ddp, bt->t, bt->nt, bt->global, &lo, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
            engine_team_begin(&eng);   // on the CPU: the team of threads for this step, by measurement
            if (engine_forward(&eng, bt->x, 1) != 0) cli_die(TOOL, EXIT_DATA, "%s", eng.err);
            LossParts lp;
            if (engine_loss(&eng, bt->t, bt->nt, &lo, &lp) != 0) cli_die(TOOL, EXIT_DATA, "%s", eng.err);
            if (!isfinite(lp.total))
                cli_die(TOOL, EXIT_DATA, "epoch %d, batch %ld: the loss is not finite (%g): lower --lr0%s", epoch + 1, it + 1, lp.total,
                        engine_on_gpu(&eng) ? ", or try --gpu-math fp32" : "");
            if (engine_backward(&eng, bt->x) != 0) cli_die(TOOL, EXIT_DATA, "%s", eng.err);
            ddp_after_backward(&ddp);
            // the process's part of the global batch's loss (the parts add up over processes)
            sbox += lp.box / bt->global; sobj += lp.obj / bt->global; scls += lp.cls / bt->global;
            optim_schedule(&oc, epoch, it, per_epoch, lr, &mom);
            int acc = accumulate;
            long ni = it + (long)epoch * per_epoch, nw = optim_warmup_iters(&oc, per_epoch);
            if (ni <= nw && nw > 0) acc = (int)fmax(1, round(1 + ((double)a.nbs / B - 1) * ni / nw));
            if ((it + 1) % acc == 0 || it == per_epoch - 1) {
                double norm;
                if (ddp_before_step(&ddp) != 0 || engine_step(&eng, lr, mom, B, acc, oc.clip, &norm) != 0 || engine_zero_grad(&eng) != 0)
                    cli_die(TOOL, EXIT_DATA, "%s", eng.err);
                snorm += norm;
                updates++;
            }
            engine_team_end(&eng, nb);
            steps++;
            progress_update(&pr, it + 1);
        }
        if (m.net.batch != local && engine_set_batch(&eng, local) != 0) cli_die(TOOL, EXIT_DATA, "%s", eng.err);
        loader_end_epoch(&loader);
        progress_end(&pr);
        double secs = cli_now() - t0, parts[3] = { sbox, sobj, scls };
        dist_sum_f64(&dist, parts, 3);
        sbox = parts[0]; sobj = parts[1]; scls = parts[2];
        if (!lead) continue;   // rank 0 alone validates and writes
        // validation with the EMA weights; the device's state comes back to the host for saving
        double m40, m5095;
        if (engine_use_ema(&eng, 1) != 0) cli_die(TOOL, EXIT_DATA, "%s", eng.err);
        validate_map(&m, &eng, &val, a.val_truth, local, &m40, &m5095);
        if (engine_use_ema(&eng, 0) != 0 || engine_download(&eng) != 0) cli_die(TOOL, EXIT_DATA, "%s", eng.err);
        if (m40 > best) {
            best = m40;
            if (model_save(a.out, &m, opt.ema, a.preset, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
        }
        // the checkpoint: parameters, momentum, EMA, anchors, and where we are
        {
            char ep[16], up[32], bs[32], rs[64];
            snprintf(ep, sizeof ep, "%d", epoch + 1);
            snprintf(up, sizeof up, "%ld", opt.updates);
            snprintf(bs, sizeof bs, "%.17g", best);
            snprintf(rs, sizeof rs, "%lu %lu", (unsigned long)rng.state, (unsigned long)rng.inc);
            json_t *meta = json_pack("{s:s,s:s,s:s,s:s}", "epoch", ep, "updates", up, "best", bs, "rng", rs);
            StTensor ts[5] = { { "params", m.net.params, 1, { (long)m.net.n_floats } }, { "momentum", opt.momentum_buf, 1, { (long)m.net.n_floats } },
                               { "ema", opt.ema, 1, { (long)m.net.n_floats } }, { "anchors", &m.net.anchors[0][0][0], 1, { 18 } },
                               { "second_moment", opt.second, 1, { (long)m.net.n_floats } } };
            if (st_write(ckpt, ts, opt.second ? 5 : 4, meta, err, sizeof err) != 0) cli_die(TOOL, EXIT_DATA, "%s", err);
            json_decref(meta);
        }
        printf("{\"epoch\":%d,\"box\":%.6g,\"obj\":%.6g,\"cls\":%.6g,\"loss\":%.6g,\"lr\":%.6g,\"grad_norm\":%.4g,\"images_per_s\":%.1f,\"val_map40\":%.6g,\"val_map50_95\":%.6g}\n",
               epoch + 1, sbox / steps, sobj / steps, scls / steps, (sbox + sobj + scls) / steps, lr[1], snorm / (updates ? updates : 1), train.n / secs,
               m40 < 0 ? 0 : m40, m5095 < 0 ? 0 : m5095);
        fflush(stdout);
    }
    if (!a.quiet) fprintf(stderr, "%s: best validation mAP@0.4 %.4f -> %s\n", TOOL, best, a.out);
    loader_free(&loader);
    ddp_free(&ddp);
    engine_free(&eng);
    free(order); free(ckpt);
    optim_free(&opt);
    dataset_free(&train);
    if (lead) dataset_free(&val);
    model_free(&m);
    dist_finalize(&dist);
    return 0;
}
