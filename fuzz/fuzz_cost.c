/* fuzz_cost — the cost config file (--cost-config: key = value lines). */
#include <stdint.h>
#include <stdio.h>

#include "fuzz_util.h"
#include "meter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[512];
    int fd = fuzz_memfd(data, size, path, sizeof path);
    if (fd < 0) return 0;
    struct cost_params p;
    cost_defaults(&p);
    if (cost_load(&p, path, err, sizeof err) == 0) {
        char buf[512];
        double hourly;
        (void)cost_hw_hourly(&p, &hourly);
        cost_describe(&p, buf, sizeof buf);
    }
    fuzz_memfd_close(fd);
    return 0;
}
