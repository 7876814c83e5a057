/* fuzz_plan.c -- libFuzzer harness for the plan loader
 *
 * Takes the input as a plan file, repairs its size field and both
 * checksums so that mutations reach the structural checks, loads it and,
 * when it loads, reads every view of every record, every list entry,
 * string, interpolation part and template value, renders every prompt
 * template, and reads every embedded sub-plan, loaded on its own the same
 * way (walk.h).  The seeds
 * include a plan with sub-plans.  Build: build-plan.sh.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

#include "walk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *d = malloc(size ? size : 1);
    if (!d)
        return 0;
    memcpy(d, data, size);
    if (size >= PR_PLAN_HEADER_SIZE) {
        pr_put_u64(d + 16, size);
        pr_put_u32(d + 44, pr_crc32c(0, d + PR_PLAN_HEADER_SIZE,
                                     size - PR_PLAN_HEADER_SIZE));
        uint8_t h[PR_PLAN_HEADER_SIZE];
        memcpy(h, d, sizeof h);
        memset(h + 40, 0, 8);
        pr_put_u32(d + 40, pr_crc32c(0, h, sizeof h));
    }
    struct pr_plan p;
    char err[256];
    if (pr_plan_load_mem(&p, d, size, err, sizeof err) == 0) {
        sink += walk(&p);
        pr_plan_close(&p);
    } else if (!err[0]) {
        abort(); /* every rejection must say why */
    }
    free(d);
    return 0;
}
