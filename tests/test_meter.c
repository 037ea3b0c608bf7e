/* meter: sensors against a fake sysfs tree and a stub NVML built here, integration,
 * wrap-around, idle, estimates and the cost arithmetic. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "meter.h"
#include "testutil.h"

/* ---- a fake clock the tests move ---- */
static double fake_t, fake_step;
static double fake_clock(void)
{
    double t = fake_t;
    fake_t += fake_step;
    return t;
}

/* ---- the fake tree ---- */

static void put(const char *root, const char *rel, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    /* make the parent folders */
    for (char *p = path + strlen(root) + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(path, 0755);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void putu(const char *root, const char *rel, unsigned long long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%llu\n", v);
    put(root, rel, buf);
}

static char *make_root(void)
{
    static char dir[64];
    snprintf(dir, sizeof dir, "/tmp/joule-meter-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    return dir;
}

static void rm_root(const char *root)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    ck_assert_int_eq(system(cmd), 0);
}

/* A hwmon sensor: DIR/name says name (with its newline), DIR/FILE reads v. DIR ends in '/'. */
static void put_hwmon(const char *root, const char *dir, const char *name, const char *file,
                      unsigned long long v)
{
    char rel[512];
    snprintf(rel, sizeof rel, "%sname", dir);
    put(root, rel, name);
    snprintf(rel, sizeof rel, "%s%s", dir, file);
    putu(root, rel, v);
}

/* Opens a meter with o: its source must be src and its method must name in_method. */
static void expect_meter(const struct meter_opts *o, enum meter_source src, const char *in_method)
{
    struct meter *m = meter_open(o);
    ck_assert_int_eq(meter_source(m), src);
    ck_assert_msg(strstr(meter_method(m), in_method) != NULL, "%s", meter_method(m));
    meter_close(m);
}

#define RAPL "class/powercap/intel-rapl:0/"
static void make_rapl(const char *root, unsigned long long uj, unsigned long long range)
{
    put(root, RAPL "name", "package-0\n");
    putu(root, RAPL "energy_uj", uj);
    putu(root, RAPL "max_energy_range_uj", range);
    /* a subzone, which the meter must not add on top of its package */
    put(root, "class/powercap/intel-rapl:0:0/name", "core\n");
    putu(root, "class/powercap/intel-rapl:0:0/energy_uj", 5);
}

static struct meter_opts cpu_opts(const char *root)
{
    struct meter_opts o = {0};
    o.sysfs_root = root;
    o.nvml_lib = "/nonexistent/libnvidia-ml.so.1";
    o.sample_hz = -1; /* no thread: the test polls */
    o.clock = fake_clock;
    o.cpu_name = "Test CPU 9000 (not in the table)";
    o.cpu_threads = 2;
    return o;
}

/* cpu_opts wanting the GPU at pci_bus_id too (NULL: none named), the fake clock at 0 and still. */
static struct meter_opts gpu_opts(const char *root, const char *pci_bus_id)
{
    fake_t = 0, fake_step = 0;
    struct meter_opts o = cpu_opts(root);
    o.gpu = true;
    o.pci_bus_id = pci_bus_id;
    return o;
}

START_TEST(test_rapl_counter_and_wrap)
{
    char *root = make_root();
    make_rapl(root, 1000000, 10000000);
    fake_t = 0, fake_step = 0;
    struct meter_opts o = cpu_opts(root);
    struct meter *m = meter_open(&o);
    ck_assert_int_eq(meter_source(m), METER_COUNTER);
    ck_assert_str_eq(meter_scope(m), "cpu-package");
    ck_assert_ptr_nonnull(strstr(meter_method(m), "package-0"));
    struct meter_window w = {0};
    meter_window_begin(m, &w);
    putu(root, RAPL "energy_uj", 3000000); /* +2 J */
    fake_t = 1.5;
    meter_window_end(m, &w);
    ck_assert_double_eq_tol(w.joules, 2.0, 1e-9);
    ck_assert_double_eq_tol(w.seconds, 1.5, 1e-9);
    /* wrap: 9 J -> past the 10 J range -> 1 J is 2 J of work */
    putu(root, RAPL "energy_uj", 9000000);
    meter_poll(m);
    meter_window_begin(m, &w);
    putu(root, RAPL "energy_uj", 1000000);
    meter_poll(m);
    putu(root, RAPL "energy_uj", 1500000);
    fake_t = 4.0;
    meter_window_end(m, &w);
    ck_assert_double_eq_tol(w.joules, 2.0 + 2.5, 1e-9);
    struct meter_reading r;
    meter_read(m, &w, &r);
    ck_assert_int_eq(r.src, METER_COUNTER);
    ck_assert_double_eq_tol(r.joules, 4.5, 1e-9);
    ck_assert(r.short_window);
    ck_assert(!r.idle_known);
    meter_close(m);
    rm_root(root);
}
END_TEST

/* 0 when the meter reports RAPL's permission error and estimates instead */
static int permission_check(const char *root)
{
    struct meter_opts o = cpu_opts(root);
    o.cpu_name = "AMD EPYC 7763 64-Core Processor";
    struct meter *m = meter_open(&o);
    int rc = 0;
    if (meter_source(m) != METER_ESTIMATE) rc |= 1;
    if (!strstr(meter_method(m), "Permission denied") || !strstr(meter_method(m), "root-only")) {
        fprintf(stderr, "method: %s\n", meter_method(m));
        rc |= 2;
    }
    if (fabs(meter_estimate_w(m) - 8.75) > 1e-9) rc |= 4; /* 280 W / 64 cores x 2 threads */
    if (meter_measure_idle(m, 1.0)) rc |= 8;              /* nothing to measure idle with */
    meter_close(m);
    return rc;
}

START_TEST(test_rapl_permission_denied)
{
    char *root = make_root();
    make_rapl(root, 1000000, 10000000);
    char path[512];
    snprintf(path, sizeof path, "%s/" RAPL "energy_uj", root);
    ck_assert_int_eq(chmod(path, 0400), 0);
    int rc;
    if (geteuid() == 0) { /* root reads any file: check as nobody in a child */
        ck_assert_int_eq(chmod(root, 0755), 0);
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0) _exit(100);
            _exit(permission_check(root));
        }
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        rc = WIFEXITED(st) ? WEXITSTATUS(st) : 200;
        if (rc == 100) {
            fprintf(stderr, "SKIP %s: cannot drop root privileges\n", __func__);
            rc = 0;
        }
    } else {
        rc = permission_check(root);
    }
    ck_assert_msg(rc == 0, "permission check failed: %d", rc);
    chmod(path, 0644);
    rm_root(root);
}
END_TEST

START_TEST(test_missing_sensors)
{
    char *root = make_root();
    fake_t = 0, fake_step = 0;
    struct meter_opts o = cpu_opts(root);
    struct meter *m = meter_open(&o);
    ck_assert_int_eq(meter_source(m), METER_NONE);
    struct meter_window w = {0};
    meter_window_begin(m, &w);
    fake_t = 20;
    meter_window_end(m, &w);
    struct meter_reading r;
    meter_read(m, &w, &r);
    ck_assert_int_eq(r.src, METER_NONE);
    ck_assert_msg(strstr(r.why, "TDP table") != NULL, "%s", r.why);
    ck_assert_str_eq(meter_source_name(r.src), "n/a");
    meter_close(m);
    /* --tdp */
    o.tdp_w = 50;
    m = meter_open(&o);
    ck_assert_int_eq(meter_source(m), METER_ESTIMATE);
    memset(&w, 0, sizeof w);
    fake_t = 0;
    meter_window_begin(m, &w);
    fake_t = 12;
    meter_window_end(m, &w);
    meter_read(m, &w, &r);
    ck_assert_int_eq(r.src, METER_ESTIMATE);
    ck_assert_double_eq_tol(r.joules, 600, 1e-9);
    ck_assert(!r.short_window);
    /* under 1 s: not reported */
    memset(&w, 0, sizeof w);
    meter_window_begin(m, &w);
    fake_t += 0.5;
    meter_window_end(m, &w);
    meter_read(m, &w, &r);
    ck_assert_int_eq(r.src, METER_NONE);
    ck_assert_ptr_nonnull(strstr(r.why, "under 1 s"));
    meter_close(m);
    rm_root(root);
}
END_TEST

#define AMD "bus/pci/devices/0000:03:00.0/hwmon/hwmon2/"
START_TEST(test_power_integration_and_idle)
{
    char *root = make_root();
    put_hwmon(root, AMD, "amdgpu\n", "power1_average", 20000000); /* 20 W */
    struct meter_opts o = gpu_opts(root, NULL);
    o.device_name = "AMD Radeon RX 7900 XTX";
    struct meter *m = meter_open(&o);
    ck_assert_int_eq(meter_source(m), METER_POWER);
    ck_assert_str_eq(meter_scope(m), "gpu");
    ck_assert_str_eq(meter_source_name(METER_POWER), "power-integrated");
    /* idle: 20 W over 1 s, sampled as the clock moves */
    fake_step = 0.1;
    ck_assert(meter_measure_idle(m, 1.0));
    double idle;
    ck_assert(meter_idle_w(m, &idle));
    ck_assert_double_eq_tol(idle, 20.0, 1e-6);
    /* work: power rises to 70 W; trapezoid over the samples */
    fake_step = 0;
    struct meter_window w = {0};
    meter_window_begin(m, &w);
    double t0 = w.t0;
    putu(root, AMD "power1_average", 70000000);
    fake_t = t0 + 1;
    meter_poll(m); /* 20 -> 70 over 1 s: 45 J */
    fake_t = t0 + 3;
    meter_window_end(m, &w); /* 70 W for 2 s: 140 J */
    struct meter_reading r;
    meter_read(m, &w, &r);
    ck_assert_double_eq_tol(r.joules, 185.0, 1e-6);
    ck_assert(r.idle_known);
    ck_assert_double_eq_tol(r.above_idle_j, 185.0 - 20.0 * 3, 1e-6);
    meter_close(m);

    /* with a readable RAPL package too the scope is gpu+cpu */
    make_rapl(root, 1000, 0);
    m = meter_open(&o);
    ck_assert_str_eq(meter_scope(m), "gpu+cpu");
    meter_close(m);
    /* a second GPU with a sensor and no PCI address: none is chosen */
    put_hwmon(root, "bus/pci/devices/0000:04:00.0/hwmon/hwmon3/", "amdgpu\n", "power1_input",
              1000000);
    expect_meter(&o, METER_ESTIMATE, "355 W");
    o.pci_bus_id = "0000:04:00.0";
    expect_meter(&o, METER_POWER, "0000:04:00.0");
    rm_root(root);
}
END_TEST

START_TEST(test_amd_metrics_still)
{
    /* a gpu_metrics v1.1 table whose accumulator does not move: the meter uses power */
    char *root = make_root();
    put_hwmon(root, AMD, "amdgpu\n", "power1_input", 30000000);
    unsigned char table[64] = {64, 0, 1, 1};
    table[24] = 0x10; /* energy_accumulator, never changing */
    char path[512];
    snprintf(path, sizeof path, "%s/bus/pci/devices/0000:03:00.0/gpu_metrics", root);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(table, 1, sizeof table, f);
    fclose(f);
    struct meter_opts o = gpu_opts(root, "0000:03:00.0");
    expect_meter(&o, METER_POWER, "power1_input");
    rm_root(root);
}
END_TEST

START_TEST(test_intel_energy_counter)
{
    char *root = make_root();
    put_hwmon(root, "bus/pci/devices/0000:0a:00.0/hwmon/hwmon1/", "xe\n", "energy1_input", 5000000);
    struct meter_opts o = gpu_opts(root, "0a:00.0"); /* domain omitted: 0000 */
    struct meter *m = meter_open(&o);
    ck_assert_int_eq(meter_source(m), METER_COUNTER);
    struct meter_window w = {0};
    meter_window_begin(m, &w);
    putu(root, "bus/pci/devices/0000:0a:00.0/hwmon/hwmon1/energy1_input", 12000000);
    fake_t = 2;
    meter_window_end(m, &w);
    ck_assert_double_eq_tol(w.joules, 7.0, 1e-9);
    meter_close(m);
    rm_root(root);
}
END_TEST

/* ---- stub NVML ---- */

static const char *stub_src =
    "#include <stdlib.h>\n#include <string.h>\n"
    "typedef struct { char l[16]; unsigned d, b, v, id, sub; char bus[32]; } pci_t;\n"
    "static unsigned long long e = 1000000;\n"
    "static int power_only(void) { const char *m = getenv(\"STUB_NVML_MODE\");"
    " return m && !strcmp(m, \"power\"); }\n"
    "int nvmlInit_v2(void) { return 0; }\n"
    "int nvmlShutdown(void) { return 0; }\n"
    "int nvmlDeviceGetCount_v2(unsigned *n) { *n = 1; return 0; }\n"
    "int nvmlDeviceGetHandleByIndex_v2(unsigned i, void **d) { *d = (void *)0x1; return i ? 2 : 0; "
    "}\n"
    "int nvmlDeviceGetName(void *d, char *s, unsigned n) { strncpy(s, \"NVIDIA Stub\", n); return "
    "0; }\n"
    "int nvmlDeviceGetPciInfo_v3(void *d, pci_t *p) { memset(p, 0, sizeof *p);"
    " strcpy(p->bus, \"00000000:65:00.0\"); p->b = 0x65; return 0; }\n"
    "int nvmlDeviceGetTotalEnergyConsumption(void *d, unsigned long long *v)"
    " { if (power_only()) return 3; e += 500; *v = e; return 0; }\n"
    "int nvmlDeviceGetPowerUsage(void *d, unsigned *mw) { *mw = 150000; return 0; }\n"
    "const char *nvmlErrorString(int r) { return r == 3 ? \"Not Supported\" : \"stub error\"; }\n";

/* Builds the stub into dir; false (and a SKIP line) without a compiler. */
static bool build_stub(const char *dir, char *lib, size_t len)
{
    char src[512], cmd[1536];
    snprintf(src, sizeof src, "%s/stub_nvml.c", dir);
    snprintf(lib, len, "%s/libnvidia-ml-stub.so", dir);
    FILE *f = fopen(src, "w");
    ck_assert_ptr_nonnull(f);
    fputs(stub_src, f);
    fclose(f);
    const char *cc = getenv("CC");
    snprintf(cmd, sizeof cmd, "%s -shared -fPIC -o '%s' '%s' 2>/dev/null", cc && *cc ? cc : "cc",
             lib, src);
    if (system(cmd) != 0) {
        fprintf(stderr, "SKIP stub NVML: no C compiler to build it\n");
        return false;
    }
    return true;
}

START_TEST(test_nvml_stub)
{
    char *root = make_root();
    char lib[600];
    if (!build_stub(root, lib, sizeof lib)) {
        rm_root(root);
        return;
    }
    struct meter_opts o = gpu_opts(root, "0000:65:00.0");
    o.nvml_lib = lib;
    o.device_name = "NVIDIA H200";
    unsetenv("STUB_NVML_MODE");
    struct meter *m = meter_open(&o);
    ck_assert_int_eq(meter_source(m), METER_COUNTER);
    ck_assert_msg(strstr(meter_method(m), "NVML energy counter NVIDIA Stub") != NULL, "%s",
                  meter_method(m));
    struct meter_window w = {0};
    meter_window_begin(m, &w);
    fake_t = 2;
    meter_window_end(m, &w);
    ck_assert_double_eq_tol(w.joules, 0.5, 1e-9); /* the stub adds 500 mJ per read */
    meter_close(m);

    /* power only: sampled and integrated */
    setenv("STUB_NVML_MODE", "power", 1);
    fake_t = 0;
    m = meter_open(&o);
    ck_assert_int_eq(meter_source(m), METER_POWER);
    memset(&w, 0, sizeof w);
    meter_window_begin(m, &w);
    fake_t = 2;
    meter_window_end(m, &w);
    ck_assert_double_eq_tol(w.joules, 300.0, 1e-9);
    meter_close(m);
    unsetenv("STUB_NVML_MODE");

    /* another PCI address: no sensor, the H200's board power as the estimate */
    o.pci_bus_id = "0000:66:00.0";
    m = meter_open(&o);
    ck_assert_int_eq(meter_source(m), METER_ESTIMATE);
    ck_assert_double_eq_tol(meter_estimate_w(m), 700, 1e-9);
    ck_assert_ptr_nonnull(strstr(meter_method(m), "H200"));
    meter_close(m);

    /* the sampling thread runs and stops cleanly */
    o.pci_bus_id = "0000:65:00.0";
    o.sample_hz = 50;
    o.clock = NULL;
    m = meter_open(&o);
    ck_assert_int_eq(meter_source(m), METER_COUNTER);
    usleep(20000);
    meter_close(m);
    rm_root(root);
}
END_TEST

START_TEST(test_print_sensors)
{
    char *root = make_root();
    make_rapl(root, 1000, 100000);
    put(root, AMD "name", "amdgpu\n");
    putu(root, AMD "power1_input", 20000000);
    setenv("JOULE_SYSFS_ROOT", root, 1);
    setenv("JOULE_NVML_LIB", "/nonexistent/libnvidia-ml.so.1", 1);
    char path[512];
    snprintf(path, sizeof path, "%s/out.txt", root);
    FILE *f = fopen(path, "w");
    meter_print_sensors(f, NULL);
    fclose(f);
    unsetenv("JOULE_SYSFS_ROOT");
    unsetenv("JOULE_NVML_LIB");
    char *text = test_read_file(path, NULL);
    ck_assert_ptr_nonnull(text);
    ck_assert_msg(strstr(text, "rapl package-0") && strstr(text, "amdgpu hwmon power1_input") &&
                      strstr(text, "cannot load"),
                  "%s", text);
    ck_assert_ptr_null(strstr(text, "intel-rapl:0:0")); /* the subzone is not listed */
    free(text);
    rm_root(root);
}
END_TEST

/* The CPU estimate charges at most the cores online: -t 128 on 2 cores costs what -t 2 does,
 * and the method says so. */
static double estimate_for(const char *root, int32_t threads, int32_t online, char *method,
                           size_t cap)
{
    struct meter_opts o = cpu_opts(root);
    o.cpu_name = "AMD EPYC 7763 64-Core Processor"; /* 280 W, 64 cores */
    o.cpu_threads = threads;
    o.cores_online = online;
    struct meter *m = meter_open(&o);
    ck_assert_ptr_nonnull(m);
    ck_assert_int_eq(meter_source(m), METER_ESTIMATE);
    snprintf(method, cap, "%s", meter_method(m));
    double w = meter_estimate_w(m);
    meter_close(m);
    return w;
}

START_TEST(test_estimate_threads_capped)
{
    char *root = make_root(); /* no sensors: the estimate */
    char method[1024];
    ck_assert_double_eq_tol(estimate_for(root, 2, 2, method, sizeof method), 8.75, 1e-9);
    ck_assert_msg(strstr(method, "x 2 threads =") && !strstr(method, "capped") &&
                      strstr(method, "at most the 2 cores online"),
                  "%s", method);
    ck_assert_double_eq_tol(estimate_for(root, 1, 2, method, sizeof method), 4.375, 1e-9);
    /* 128 threads on 2 cores: charged 2 */
    ck_assert_double_eq_tol(estimate_for(root, 128, 2, method, sizeof method), 8.75, 1e-9);
    ck_assert_msg(strstr(method, "x 2 threads (-t 128 capped at the cores online) = 8.75 W") &&
                      strstr(method, "at most the 2 cores online"),
                  "%s", method);
    /* a machine with more cores online than the table's part: the part's 64 */
    ck_assert_double_eq_tol(estimate_for(root, 200, 128, method, sizeof method), 280, 1e-9);
    ck_assert_msg(strstr(method, "x 64 threads (-t 200 capped at the part's cores)"), "%s", method);
    /* the real count of cores online by default */
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    ck_assert_int_gt(online, 0);
    double want = 280.0 * (online < 64 ? online : 64) / 64;
    ck_assert_double_eq_tol(estimate_for(root, 1000, 0, method, sizeof method), want, 1e-9);
    ck_assert_double_eq_tol(estimate_for(root, (int32_t)online, 0, method, sizeof method), want,
                            1e-9);
    rm_root(root);
}
END_TEST

START_TEST(test_tdp_table)
{
    int n;
    const struct meter_tdp_row *r = meter_tdp_table(&n);
    ck_assert_int_gt(n, 20);
    for (int i = 0; i < n; i++) {
        ck_assert(r[i].watts > 0);
        ck_assert(r[i].source && strlen(r[i].source) > 5);
        ck_assert(r[i].date && strlen(r[i].date) == 7); /* YYYY-MM */
        ck_assert(r[i].gpu ? r[i].cores == 0 : r[i].cores > 0);
    }
    ck_assert_double_eq(meter_tdp_lookup("NVIDIA H100 PCIe", true)->watts, 350);
    ck_assert_double_eq(meter_tdp_lookup("vulkan:0 NVIDIA H100 80GB HBM3", true)->watts, 700);
    ck_assert_double_eq(meter_tdp_lookup("NVIDIA GeForce RTX 4090", true)->watts, 450);
    ck_assert_double_eq(meter_tdp_lookup("NVIDIA L40S", true)->watts, 350);
    ck_assert_double_eq(meter_tdp_lookup("NVIDIA L40", true)->watts, 300);
    ck_assert_double_eq(meter_tdp_lookup("NVIDIA L4", true)->watts, 72);
    ck_assert_double_eq(meter_tdp_lookup("NVIDIA A100-SXM4-80GB", true)->watts, 400);
    ck_assert_double_eq(meter_tdp_lookup("AMD EPYC 9654 96-Core Processor", false)->watts, 360);
    ck_assert_int_eq(meter_tdp_lookup("AMD EPYC", false)->cores, 64);
    ck_assert_ptr_null(meter_tdp_lookup("Some Unknown Accelerator", true));
}
END_TEST

START_TEST(test_cost)
{
    struct cost_params p;
    cost_defaults(&p);
    struct cost_result c;
    /* 1 kWh for a million tokens at 0.15 and PUE 1 */
    cost_compute(&p, 3.6e6, 3600, 1e6, &c);
    ck_assert_double_eq_tol(c.energy_per_mtok, 0.15, 1e-12);
    ck_assert(!c.hw_known);
    ck_assert_double_eq_tol(c.total_per_mtok, 0.15, 1e-12);
    char err[256];
    ck_assert_int_eq(cost_set(&p, "pue", "1.5", err, sizeof err), 0);
    ck_assert_int_eq(cost_set(&p, "hw-price", "8766", err, sizeof err), 0);
    ck_assert_int_eq(cost_set(&p, "hw-life-years", "1", err, sizeof err), 0);
    ck_assert_int_eq(cost_set(&p, "utilization", "1", err, sizeof err), 0);
    double h;
    ck_assert(cost_hw_hourly(&p, &h));
    ck_assert_double_eq_tol(h, 1.0, 1e-12);
    /* 2 M tokens in 1 h: energy 0.225 / 2, hardware 1 / 2 */
    cost_compute(&p, 3.6e6, 3600, 2e6, &c);
    ck_assert_double_eq_tol(c.energy_per_mtok, 0.1125, 1e-12);
    ck_assert(c.hw_known);
    ck_assert_double_eq_tol(c.hw_per_mtok, 0.5, 1e-12);
    ck_assert_double_eq_tol(c.total_per_mtok, 0.6125, 1e-12);
    ck_assert_int_eq(cost_set(&p, "cloud-hourly", "3", err, sizeof err), 0);
    cost_compute(&p, 0, 1800, 1e6, &c);
    ck_assert_double_eq_tol(c.hw_per_mtok, 1.5, 1e-12);
    char desc[512];
    cost_describe(&p, desc, sizeof desc);
    ck_assert_ptr_nonnull(strstr(desc, "PUE 1.5"));
    ck_assert_ptr_nonnull(strstr(desc, "cloud-hourly"));
    /* bad input */
    ck_assert_int_ne(cost_set(&p, "pue", "0.5", err, sizeof err), 0);
    ck_assert_int_ne(cost_set(&p, "price-kwh", "cheap", err, sizeof err), 0);
    ck_assert_int_ne(cost_set(&p, "colour", "1", err, sizeof err), 0);
    /* config file */
    char *root = make_root();
    put(root, "cost.conf", "# prices\nprice-kwh = 0.30\npue 1.2  # data centre\n\n");
    char path[512];
    snprintf(path, sizeof path, "%s/cost.conf", root);
    cost_defaults(&p);
    ck_assert_int_eq(cost_load(&p, path, err, sizeof err), 0);
    ck_assert_double_eq_tol(p.price_kwh, 0.30, 1e-12);
    ck_assert_double_eq_tol(p.pue, 1.2, 1e-12);
    put(root, "cost.conf", "price-kwh = 0.3\nwatts = 5\n");
    ck_assert_int_ne(cost_load(&p, path, err, sizeof err), 0);
    ck_assert_msg(strstr(err, "cost.conf:2") != NULL, "%s", err);
    rm_root(root);
}
END_TEST

Suite *meter_suite(void)
{
    Suite *s = suite_create("meter");
    TCase *tc = tcase_create("meter");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rapl_counter_and_wrap);
    tcase_add_test(tc, test_rapl_permission_denied);
    tcase_add_test(tc, test_missing_sensors);
    tcase_add_test(tc, test_power_integration_and_idle);
    tcase_add_test(tc, test_amd_metrics_still);
    tcase_add_test(tc, test_intel_energy_counter);
    tcase_add_test(tc, test_nvml_stub);
    tcase_add_test(tc, test_print_sensors);
    tcase_add_test(tc, test_estimate_threads_capped);
    tcase_add_test(tc, test_tdp_table);
    tcase_add_test(tc, test_cost);
    suite_add_tcase(s, tc);
    return s;
}
