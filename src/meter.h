/* meter — energy of a piece of work, from the best sensor the machine has, and what
 * each token costs.
 *
 * Sensors, found for the device in use:
 *   gpu  NVIDIA: libnvidia-ml.so.1 opened with dlopen; the total-energy counter (mJ,
 *        Volta and newer), else power (mW) sampled and integrated. The NVML device is
 *        matched by PCI bus id.
 *        AMD: amdgpu hwmon energy1_input (uJ) or the gpu_metrics energy accumulator
 *        when they move, else power1_average / power1_input (uW) sampled.
 *        Intel discrete: i915 / xe hwmon energy1_input (uJ).
 *        GPUs are matched by PCI address under <root>/bus/pci/devices/<addr>/hwmon.
 *   cpu  RAPL powercap <root>/class/powercap/intel-rapl:N (package zones): energy_uj
 *        (uJ) with its wrap at max_energy_range_uj. Root-only on Linux >= 5.10: a
 *        permission error is reported as the reason, never as 0.
 * <root> is $JOULE_SYSFS_ROOT (default /sys); $JOULE_NVML_LIB names another NVML
 * library; both let the tests run against a fake tree and a stub library.
 *
 * Figures are labelled by their source: "counter" (hardware energy counter read at
 * both edges of each window and at least every second between), "power-integrated"
 * (power sampled at sample_hz, 20 Hz by default, trapezoid rule), or "estimate" (no
 * sensor: a TDP from the built-in table in meter_tdp.c, or --tdp W, times the time;
 * the method is spelled out). A figure that cannot be had is "n/a (why)".
 * Windows under 1 s are not reported; under 10 s they are flagged as short.
 * The backends return only after the device finished (logits are read back), so the
 * closing read of a window always follows the drained queue.
 */
#ifndef JOULE_METER_H
#define JOULE_METER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum meter_source { METER_NONE = 0, METER_COUNTER, METER_POWER, METER_ESTIMATE };
const char *meter_source_name(enum meter_source s); /* counter, power-integrated, estimate, n/a */

struct meter_opts {
    bool gpu;                /* the work runs on a GPU (else on the CPU) */
    const char *device_name; /* the backend's device (TDP table match for a GPU) */
    const char *pci_bus_id;  /* "0000:65:00.0" of the GPU, or NULL when unknown */
    const char *cpu_name;    /* NULL: "model name" of /proc/cpuinfo */
    int32_t cpu_threads;     /* threads the work uses on the CPU (share of the CPU's TDP); the
                                estimate charges at most the cores online, whatever -t says */
    int32_t cores_online;    /* 0: sysconf(_SC_NPROCESSORS_ONLN); tests set it */
    double tdp_w;            /* > 0: the estimate uses this power (--tdp) */
    double sample_hz;        /* power sampling rate; 0 = 20. < 0: no thread (tests poll) */
    const char *sysfs_root;  /* NULL: $JOULE_SYSFS_ROOT, else /sys */
    const char *nvml_lib;    /* NULL: $JOULE_NVML_LIB, else libnvidia-ml.so.1 */
    double (*clock)(void);   /* NULL: CLOCK_MONOTONIC seconds */
};

struct meter;

/* Finds the sensors for the device; never fails for want of one (it then estimates
 * or says why not). Returns NULL only when out of memory. */
struct meter *meter_open(const struct meter_opts *o);
void meter_close(struct meter *m);

enum meter_source meter_source(const struct meter *m);
const char *meter_scope(const struct meter *m);  /* gpu, cpu-package, gpu+cpu */
const char *meter_method(const struct meter *m); /* sensors used, or the estimate's method */
/* Power the estimate assumes (W), 0 when the meter does not estimate. */
double meter_estimate_w(const struct meter *m);

/* Reads every sensor now and updates the accumulated energy (the thread does this by
 * itself; tests without a thread call it). */
void meter_poll(struct meter *m);

/* Idle power over `seconds` of doing nothing. Returns false (and leaves the idle
 * figure unknown) when there is no sensor to measure it. */
bool meter_measure_idle(struct meter *m, double seconds);
bool meter_idle_w(const struct meter *m, double *w);

/* A window may be made of several timed spans (the repetitions of a test). */
struct meter_window {
    double seconds, joules;
    double t0, j0; /* the open span */
    bool open;
};
void meter_window_begin(struct meter *m, struct meter_window *w);
void meter_window_end(struct meter *m, struct meter_window *w);

struct meter_reading {
    enum meter_source src; /* METER_NONE: no figure, see why */
    double seconds;
    double joules; /* gross */
    bool idle_known;
    double idle_w;
    double above_idle_j; /* joules - idle_w x seconds, when idle_known */
    bool short_window;   /* under 10 s: flagged */
    char why[256];       /* reason when src == METER_NONE */
};
void meter_read(const struct meter *m, const struct meter_window *w, struct meter_reading *r);

/* `joule devices`: every energy sensor found (and those that cannot be read, with
 * why), for the GPU at pci_bus_id or all when NULL, and the CPU package. */
void meter_print_sensors(FILE *out, const char *pci_bus_id);

/* The CPU's "model name" from /proc/cpuinfo ("unknown CPU" when absent). */
void meter_cpu_model(char *buf, size_t len);

/* ---- cost ---- */

struct cost_params {
    double price_kwh;     /* currency per kWh (default 0.15) */
    double pue;           /* power usage effectiveness (default 1.0) */
    double hw_price;      /* purchase price; < 0 = not given (default) */
    double hw_life_years; /* default 4 */
    double utilization;   /* fraction of the lifetime in use (default 0.5) */
    double cloud_hourly;  /* < 0 = not given; else replaces the purchase amortization */
};
void cost_defaults(struct cost_params *p);
/* key: price-kwh, pue, hw-price, hw-life-years, utilization, cloud-hourly */
int cost_set(struct cost_params *p, const char *key, const char *value, char *err, size_t errlen);
/* A file of "key = value" lines (# comments), keys as for cost_set. */
int cost_load(struct cost_params *p, const char *path, char *err, size_t errlen);
/* Hardware cost per hour; false when neither hw-price nor cloud-hourly is given. */
bool cost_hw_hourly(const struct cost_params *p, double *per_hour);

struct cost_result {
    double energy_per_mtok; /* kWh x price x PUE per million tokens */
    bool hw_known;
    double hw_per_mtok;    /* hours x hourly cost per million tokens */
    double total_per_mtok; /* energy + hardware (energy alone when !hw_known) */
};
/* joules and seconds of a window that produced `tokens`. */
void cost_compute(const struct cost_params *p, double joules, double seconds, double tokens,
                  struct cost_result *out);
/* One line with every input, e.g. "price 0.15/kWh, PUE 1.00, hardware n/a (...)". */
void cost_describe(const struct cost_params *p, char *buf, size_t len);

/* ---- TDP table (meter_tdp.c) ---- */
struct meter_tdp_row {
    const char *match; /* case-insensitive substring of the device / CPU name */
    bool gpu;
    double watts; /* board power (GPU) or package TDP (CPU) */
    int cores;    /* CPU cores in the package (0 for GPUs) */
    const char *source;
    const char *date;
};
const struct meter_tdp_row *meter_tdp_table(int *n);
const struct meter_tdp_row *meter_tdp_lookup(const char *name, bool gpu);

#endif
