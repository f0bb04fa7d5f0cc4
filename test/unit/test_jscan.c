// The fast JSON scanner: number conversion against strtod, number formatting against
// snprintf("%.15g") as jansson writes it, and what strict mode accepts and refuses.
#include <jansson.h>
#include <stdlib.h>

#include "check.h"
#include "jscan.h"
#include "record.h"
#include "rng.h"

// What jansson writes for a real with 15 significant digits.
static void jansson_text(double x, char *out, size_t n) {
    json_t *v = json_real(x);
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    snprintf(out, n, "%s", s);
    free(s);
    json_decref(v);
}

static int accepts(const char *line) {
    JTape t = { 0 };
    int rc = jscan(line, strlen(line), 1, &t);
    jtape_free(&t);
    return rc == JSCAN_OK;
}

int main(void) {
    Rng r;
    rng_seed(&r, 5, 0);
    char a[64], b[64];
    int fmt_bad = 0, num_bad = 0;
    for (int i = 0; i < 400000; i++) {
        double x;
        switch (i % 5) {
        case 4: x = rng_int(&r, 1, 65535) / 65536.0 * (rng_u32(&r) & 1 ? 1 : 1024); break;   // exact ties at 15 digits
        case 0: x = rng_uniform(&r) * 1024; break;                              // pixel coordinates
        case 1: x = (double)(float)(rng_uniform(&r)) * 1024; break;             // float32 values scaled
        case 2: x = rng_int(&r, 0, 3) / 3.0; break;                            // agreement fractions
        default: x = ldexp(rng_uniform(&r) + 0.5, rng_int(&r, -40, 60)) * (rng_u32(&r) & 1 ? 1 : -1);
        }
        jfmt_real(x, a);
        jansson_text(x, b, sizeof b);
        if (strcmp(a, b) != 0 && fmt_bad++ < 5) fprintf(stderr, "format %.17g: %s vs jansson %s\n", x, a, b);
        // and back: the text parses to the value strtod gives
        double y, z = strtod(a, NULL);
        if ((jnum(a, (uint32_t)strlen(a), &y) != 0 || y != z) && num_bad++ < 5) fprintf(stderr, "parse %s\n", a);
        snprintf(b, sizeof b, "%.*f", rng_int(&r, 0, 6), rng_uniform(&r) * 2000 - 1000);
        z = strtod(b, NULL);
        if ((jnum(b, (uint32_t)strlen(b), &y) != 0 || y != z) && num_bad++ < 5) fprintf(stderr, "parse %s\n", b);
    }
    CHECK(fmt_bad == 0);
    CHECK(num_bad == 0);
    const char *nums[] = { "0", "-0", "1e5", "1E-7", "123456789012345678", "0.1000000000000000055511151231257827",
                           "9007199254740993", "1.7976931348623157e308", "4.9e-324", "-12.5e+2" };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        double y;
        CHECK(jnum(nums[i], (uint32_t)strlen(nums[i]), &y) == 0 && y == strtod(nums[i], NULL));
    }
    double y;
    CHECK(jnum("1e999", 5, &y) == -1);

    // the sign of zero as jansson keeps it: the integer -0 is 0, the real -0.0 keeps its sign
    {
        const char *line = "{\"a\":[-0,-0.0,0,-0e0]}";
        JTape t = { 0 };
        CHECK(jscan(line, strlen(line), 1, &t) == JSCAN_OK);
        int arr = jobj_get(&t, line, 0, "a");
        CHECK(arr >= 0 && t.tok[arr].count == 4);
        if (arr >= 0 && t.tok[arr].count == 4) {
            CHECK(t.tok[arr + 1].num == 0 && !signbit(t.tok[arr + 1].num));
            CHECK(t.tok[arr + 2].num == 0 && signbit(t.tok[arr + 2].num));
            CHECK(t.tok[arr + 3].num == 0 && !signbit(t.tok[arr + 3].num));
            CHECK(t.tok[arr + 4].num == 0 && signbit(t.tok[arr + 4].num));
        }
        jtape_free(&t);
        json_t *o = json_loads(line, 0, NULL), *j = json_object_get(o, "a");
        CHECK(j && !signbit(json_number_value(json_array_get(j, 0))) && signbit(json_number_value(json_array_get(j, 1))) &&
              signbit(json_number_value(json_array_get(j, 3))));
        json_decref(o);
    }

    // strict mode: the plain subset is accepted, the rest refused
    CHECK(accepts("{\"id\":\"a\",\"box\":[1,2.5,-3e2,4],\"x\":{\"y\":[true,false,null]}}"));
    CHECK(accepts("  {\"a\" : [ ] , \"b\" : { } }  \n"));
    CHECK(!accepts("{\"a\":1,\"a\":2}"));                 // duplicate key
    CHECK(!accepts("{\"a\":{\"k\":1,\"k\":1}}"));         // nested duplicate
    CHECK(!accepts("{\"a\":\"\\n\"}"));                  // escape
    CHECK(!accepts("{\"a\":\"caf\xc3\xa9\"}"));          // UTF-8
    CHECK(!accepts("{\"a\":01}"));
    CHECK(!accepts("{\"a\":1.}"));
    CHECK(!accepts("{\"a\":.5}"));
    CHECK(!accepts("{\"a\":1e999}"));
    CHECK(!accepts("{\"a\":12345678901234567890}"));
    CHECK(!accepts("{\"a\":NaN}"));
    CHECK(!accepts("{\"a\":1,}"));
    CHECK(!accepts("{\"a\":1} x"));
    CHECK(!accepts("[1]"));
    CHECK(!accepts("{\"a\":tru}"));
    CHECK(!accepts("{\"a\":\"x}"));
    CHECK(!accepts(""));

    // positions and lookups
    const char *line = "{\"id\":\"img 1\",\"width\":640,\"boxes\":[[1,2,3,4],[5,6,7,8]],\"objects\":[]}";
    JTape t = { 0 };
    CHECK(jscan(line, strlen(line), 1, &t) == JSCAN_OK);
    int id = jobj_get(&t, line, 0, "id"), w = jobj_get(&t, line, 0, "width"), bx = jobj_get(&t, line, 0, "boxes");
    CHECK(id > 0 && t.tok[id].type == JT_STRING && t.tok[id].len == 5 && memcmp(line + t.tok[id].start, "img 1", 5) == 0);
    CHECK(w > 0 && t.tok[w].type == JT_NUMBER && (t.tok[w].flags & JF_INTEGER));
    CHECK(bx > 0 && t.tok[bx].type == JT_ARRAY && t.tok[bx].count == 2);
    int second = (int)t.tok[bx + 1].end;
    CHECK(t.tok[second].type == JT_ARRAY && t.tok[second + 1].start == (uint32_t)(strstr(line, "5,6") - line));
    int ob = jobj_get(&t, line, 0, "objects");
    CHECK(ob > 0 && t.tok[ob].len == 2 && line[t.tok[ob].start] == '[');
    CHECK(jobj_get(&t, line, 0, "truth") == -1);
    // lenient mode finds positions in lines with escapes and UTF-8
    const char *esc = "{\"a\\\"b\":\"x\\u00e9\xc3\xa9\",\"objects\":[1]}";
    CHECK(jscan(esc, strlen(esc), 0, &t) == JSCAN_OK);
    ob = jobj_get(&t, esc, 0, "objects");
    CHECK(ob > 0 && esc[t.tok[ob].start] == '[' && t.tok[ob].len == 3);
    jtape_free(&t);
    return check_report("jscan");
}
