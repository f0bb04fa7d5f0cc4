// The device probe answers, with or without a GPU, and never crashes.
#include "check.h"
#include "device.h"

int main(void) {
    char desc[256] = "";
    int n = gpu_probe(desc, sizeof desc);
    CHECK(n >= 0);
    CHECK(desc[0] != '\0');
    if (n == 0) CHECK_STR_HAS(desc, "no GPU found");
    if (!gpu_compiled()) CHECK(n == 0);
    printf("device: %s\n", desc);
    return check_report("device");
}
