/* meter_impl.h — what meter.c, meter_sysfs.c and meter_nvml.c share: one sensor and
 * the list the finders fill. */
#ifndef JOULE_METER_IMPL_H
#define JOULE_METER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sensor_kind {
    S_ENERGY_FILE, /* a sysfs counter file (unit: J per raw unit) */
    S_POWER_FILE,  /* a sysfs power file (unit: W per raw unit) */
    S_AMD_METRICS, /* amdgpu gpu_metrics energy_accumulator */
    S_NVML_ENERGY, /* nvmlDeviceGetTotalEnergyConsumption, mJ */
    S_NVML_POWER   /* nvmlDeviceGetPowerUsage, mW */
};

struct sensor {
    char name[256]; /* "rapl package-0 (/sys/class/powercap/intel-rapl:0)" */
    bool gpu;
    enum sensor_kind kind;
    char path[1024];
    double unit;        /* joules (counter) or watts (power) per raw unit */
    uint64_t max_range; /* raw value the counter wraps at, 0 when unknown */
    void *nvml_dev;
    /* running state */
    bool have_last;
    uint64_t last_raw;
    double last_t, last_w;
    double joules;     /* accumulated since the first read */
    uint32_t glitches; /* counter went backwards with no known range: interval skipped */
};

enum { METER_MAX_SENSORS = 16, METER_MAX_NOTES = 8 };

struct sensor_list {
    struct sensor s[METER_MAX_SENSORS];
    int n;
    char notes[METER_MAX_NOTES][256]; /* sensors found but unusable, with why */
    int n_notes;
};

void sensor_note(struct sensor_list *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct sensor *sensor_add(struct sensor_list *l);

/* Parses "DDDD:BB:DD.F" (any domain width, hex); false when malformed. */
bool meter_parse_pci(const char *s, unsigned *dom, unsigned *bus, unsigned *dev, unsigned *fn);
bool meter_same_pci(const char *a, const char *b);

/* meter_sysfs.c: GPUs under <root>/bus/pci/devices (only pci when not NULL) */
void sysfs_find_gpus(const char *root, const char *pci, struct sensor_list *l);
/* RAPL package zones under <root>/class/powercap */
void sysfs_find_rapl(const char *root, struct sensor_list *l);
/* One raw value of a file or gpu_metrics sensor. */
bool sysfs_read(const struct sensor *s, uint64_t *raw, char *why, size_t len);

/* meter_nvml.c */
struct nvml;
struct nvml *nvml_open(const char *lib, char *why, size_t len);
void nvml_close(struct nvml *nv);
/* Adds the NVIDIA GPU at pci (all when NULL); name_hint picks one by name otherwise. */
void nvml_find(struct nvml *nv, const char *pci, struct sensor_list *l);
bool nvml_read(struct nvml *nv, const struct sensor *s, uint64_t *raw, char *why, size_t len);

#endif
