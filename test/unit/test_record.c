// Record parsing: good lines, every kind of bad line, and pass-through of unknown fields.
#include <stdlib.h>

#include "check.h"
#include "record.h"

static const unsigned ALL = REC_ID | REC_IMAGE | REC_SIZE | REC_ANNOTATORS | REC_ANNOTATIONS | REC_TRUTH;

// Parses one line with the given checks; returns the reader's code and the message.
static int parse(const char *line, unsigned need, BoxPolicy pol, Record *rec, char *err, size_t errn) {
    FILE *fp = fmemopen((void *)line, strlen(line), "r");
    RecordReader rd;
    record_reader_init(&rd, fp, need, pol);
    int rc = record_read(&rd, rec, err, errn);
    free(rd.buf);
    fclose(fp);
    return rc;
}

static void expect_error(const char *line, unsigned need, BoxPolicy pol, const char *message) {
    Record rec;
    char err[512] = "";
    int rc = parse(line, need, pol, &rec, err, sizeof err);
    CHECK(rc == -1);
    CHECK_STR_HAS(err, message);
    if (rc == 1) record_free(&rec);
}

int main(void) {
    const char *good =
        "{\"id\":\"a\",\"image\":\"a.jpg\",\"width\":100,\"height\":50,\"annotators\":[\"R1\",\"R2\",\"R3\"],"
        "\"annotations\":[{\"annotator\":\"R2\",\"label\":\"7\",\"box\":[1,2,30.5,40],\"score\":0.5},"
        "{\"annotator\":\"R1\",\"label\":\"Aortic enlargement\",\"box\":[0,0,100,50]}],"
        "\"truth\":[{\"label\":\"7\",\"box\":[1,2,30,40]}],\"extra\":{\"keep\":[1,2.5,\"x\"]}}\n";
    Record rec;
    char err[512];
    CHECK(parse(good, ALL, BOX_STRICT, &rec, err, sizeof err) == 1);
    CHECK(strcmp(rec.id, "a") == 0 && strcmp(rec.image, "a.jpg") == 0);
    CHECK(rec.width == 100 && rec.height == 50 && rec.line == 1);
    CHECK(rec.n_annotators == 3 && strcmp(rec.annotators[2], "R3") == 0);
    CHECK(rec.n_annotations == 2);
    CHECK(rec.annotations[0].annotator_index == 1 && rec.annotations[0].score == 0.5);
    CHECK(rec.annotations[0].box.x2 == 30.5);
    CHECK(rec.annotations[1].score == 1.0);
    CHECK(strcmp(rec.annotations[1].label, "Aortic enlargement") == 0);
    CHECK(rec.n_truth == 1 && rec.truth[0].box.y2 == 40);
    // writing keeps every field, in order, unknown ones too
    char *out = NULL;
    size_t outn = 0;
    FILE *mf = open_memstream(&out, &outn);
    CHECK(record_write(mf, rec.json) == 0);
    fclose(mf);
    CHECK_STR_HAS(out, "\"extra\":{\"keep\":[1,2.5,\"x\"]}");
    CHECK_STR_HAS(out, "{\"id\":\"a\",\"image\":\"a.jpg\",\"width\":100");
    CHECK_STR_HAS(out, "[1,2,30.5,40]");
    CHECK(out[outn - 1] == '\n');
    free(out);
    record_free(&rec);

    // reals keep 15 significant digits
    json_t *v = json_pack("{s:f,s:f}", "a", 0.1 + 0.2, "b", 12.339999999999999);
    char *s = json_dumps(v, RECORD_DUMP_FLAGS);
    CHECK(strcmp(s, "{\"a\":0.3,\"b\":12.34}") == 0);
    free(s);
    json_decref(v);

    // blank lines are skipped and line numbers still count them
    const char *two = "\n  \n{\"id\":\"b\"}\n";
    FILE *fp = fmemopen((void *)two, strlen(two), "r");
    RecordReader rd;
    record_reader_init(&rd, fp, REC_ID, BOX_STRICT);
    CHECK(record_read(&rd, &rec, err, sizeof err) == 1 && rec.line == 3);
    record_free(&rec);
    CHECK(record_read(&rd, &rec, err, sizeof err) == 0);
    free(rd.buf);
    fclose(fp);

    // bad lines
    expect_error("{\"id\":\"a\",}\n", REC_ID, BOX_STRICT, "line 1: malformed JSON");
    expect_error("[1,2]\n", REC_ID, BOX_STRICT, "must be a JSON object");
    expect_error("{\"id\":\"a\",\"id\":\"b\"}\n", REC_ID, BOX_STRICT, "malformed JSON: duplicate object key");
    expect_error("{\"image\":\"x\"}\n", REC_ID, BOX_STRICT, "missing \"id\"");
    expect_error("{\"id\":7}\n", REC_ID, BOX_STRICT, "\"id\" must be a non-empty string");
    expect_error("{\"id\":\"\"}\n", REC_ID, BOX_STRICT, "\"id\" must be a non-empty string");
    expect_error("{\"id\":\"a\",\"width\":0,\"height\":5}\n", REC_SIZE, BOX_STRICT, "\"width\" must be a positive integer");
    expect_error("{\"id\":\"a\",\"width\":10.5,\"height\":5}\n", REC_SIZE, BOX_STRICT, "\"width\" must be a positive integer");
    expect_error("{\"id\":\"a\",\"width\":10}\n", REC_SIZE, BOX_STRICT, "missing \"height\"");
    expect_error("{\"id\":\"a\",\"width\":10,\"height\":10,\"annotators\":\"R1\"}\n", REC_ANNOTATORS, BOX_STRICT,
                 "\"annotators\" must be an array of strings");
    expect_error("{\"annotators\":[\"R1\",\"R1\"]}\n", REC_ANNOTATORS, BOX_STRICT, "listed twice");
    const char *head = "{\"id\":\"a\",\"width\":10,\"height\":10,\"annotators\":[\"R1\"],\"annotations\":[";
    char line[512];
#define BAD(tail, msg) do { snprintf(line, sizeof line, "%s%s]}\n", head, tail); \
    expect_error(line, REC_ANNOTATORS | REC_ANNOTATIONS, BOX_STRICT, msg); } while (0)
    BAD("{\"annotator\":\"R1\",\"label\":\"1\",\"box\":[1,2,3]}", "annotations[0]: \"box\" must be 4 finite numbers");
    BAD("{\"annotator\":\"R1\",\"label\":\"1\",\"box\":[1,2,3,\"4\"]}", "\"box\" must be 4 finite numbers");
    BAD("{\"annotator\":\"R1\",\"label\":\"1\",\"box\":[1,2,3,1e999]}", "malformed JSON");
    BAD("{\"annotator\":\"R1\",\"label\":\"1\",\"box\":[1,2,3,NaN]}", "malformed JSON");
    BAD("{\"annotator\":\"R1\",\"label\":\"1\"}", "annotations[0]: missing \"box\"");
    BAD("{\"annotator\":\"R1\",\"box\":[1,2,3,4]}", "missing \"label\"");
    BAD("{\"annotator\":\"R1\",\"label\":1,\"box\":[1,2,3,4]}", "\"label\" must be a non-empty string");
    BAD("{\"annotator\":\"R9\",\"label\":\"1\",\"box\":[1,2,3,4]}", "annotator \"R9\" is not in \"annotators\"");
    BAD("{\"annotator\":\"R1\",\"label\":\"1\",\"box\":[5,2,3,4]}", "is inverted or empty");
    BAD("{\"annotator\":\"R1\",\"label\":\"1\",\"box\":[1,2,11,4]}", "is outside the 10x10 frame");
    BAD("{\"annotator\":\"R1\",\"label\":\"1\",\"box\":[-1,2,3,4]}", "is outside the 10x10 frame");
    BAD("{\"annotator\":\"R1\",\"label\":\"1\",\"box\":[1,2,3,4],\"score\":1.5}", "\"score\" must be a number in [0,1]");
    BAD("{\"annotator\":\"R1\",\"label\":\"1\",\"box\":[1,2,3,4]},7", "annotations[1]: must be an object");
    // the lenient policy accepts inverted and out-of-frame boxes for tools that repair them
    snprintf(line, sizeof line, "%s%s]}\n", head, "{\"annotator\":\"R1\",\"label\":\"1\",\"box\":[5,2,30,4]}");
    CHECK(parse(line, REC_ANNOTATORS | REC_ANNOTATIONS, BOX_LENIENT, &rec, err, sizeof err) == 1);
    record_free(&rec);
    // detections need a score
    expect_error("{\"width\":10,\"height\":10,\"detections\":[{\"label\":\"1\",\"box\":[1,2,3,4]}]}\n",
                 REC_DETECTIONS, BOX_STRICT, "detections[0]: missing \"score\"");
    expect_error("{\"width\":10,\"height\":10}\n", REC_TRUTH, BOX_STRICT, "missing \"truth\"");
    // a NUL byte inside a line
    const char nul[] = "{\"id\":\"a\"}\0x\n";
    fp = fmemopen((void *)nul, sizeof nul - 1, "r");
    record_reader_init(&rd, fp, REC_ID, BOX_STRICT);
    CHECK(record_read(&rd, &rec, err, sizeof err) == -1);
    CHECK_STR_HAS(err, "NUL byte");
    free(rd.buf);
    fclose(fp);
    return check_report("record");
}
