/* meter_nvml — NVIDIA's management library, opened at run time with dlopen so joule
 * has no link-time dependency on it. Only the handful of calls the meter needs. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meter_impl.h"

typedef void *nvml_device;
/* nvmlPciInfo_t as nvml.h defines it (the v3 call fills this layout) */
struct nvml_pci_info {
    char bus_id_legacy[16];
    unsigned domain, bus, device, pci_device_id, pci_subsystem_id;
    char bus_id[32];
};

struct nvml {
    void *lib;
    int (*init)(void);
    int (*shutdown)(void);
    int (*count)(unsigned *);
    int (*by_index)(unsigned, nvml_device *);
    int (*name)(nvml_device, char *, unsigned);
    int (*pci)(nvml_device, struct nvml_pci_info *);
    int (*energy)(nvml_device, unsigned long long *);
    int (*power)(nvml_device, unsigned *);
    const char *(*error)(int);
};

static const char *errstr(const struct nvml *nv, int rc)
{
    const char *s = nv->error ? nv->error(rc) : NULL;
    return s ? s : "error";
}

struct nvml *nvml_open(const char *lib, char *why, size_t len)
{
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, len, "NVML: cannot load %s (no NVIDIA driver)", lib);
        return NULL;
    }
    struct nvml *nv = calloc(1, sizeof *nv);
    if (!nv) {
        dlclose(h);
        snprintf(why, len, "NVML: out of memory");
        return NULL;
    }
    nv->lib = h;
    /* POSIX allows converting dlsym's object pointer to a function pointer */
#define SYM(field, name) *(void **)(&nv->field) = dlsym(h, name)
    SYM(init, "nvmlInit_v2");
    SYM(shutdown, "nvmlShutdown");
    SYM(count, "nvmlDeviceGetCount_v2");
    SYM(by_index, "nvmlDeviceGetHandleByIndex_v2");
    SYM(name, "nvmlDeviceGetName");
    SYM(pci, "nvmlDeviceGetPciInfo_v3");
    SYM(energy, "nvmlDeviceGetTotalEnergyConsumption");
    SYM(power, "nvmlDeviceGetPowerUsage");
    SYM(error, "nvmlErrorString");
#undef SYM
    int rc;
    if (!nv->init || !nv->count || !nv->by_index || !nv->pci || (!nv->energy && !nv->power)) {
        snprintf(why, len, "NVML: %s lacks the functions joule needs", lib);
    } else if ((rc = nv->init()) != 0) {
        snprintf(why, len, "NVML: nvmlInit failed: %s", errstr(nv, rc));
    } else {
        return nv;
    }
    dlclose(h);
    free(nv);
    return NULL;
}

void nvml_close(struct nvml *nv)
{
    if (!nv) return;
    if (nv->shutdown) nv->shutdown();
    dlclose(nv->lib);
    free(nv);
}

void nvml_find(struct nvml *nv, const char *pci, struct sensor_list *l)
{
    unsigned n = 0;
    int rc = nv->count(&n);
    if (rc != 0) {
        sensor_note(l, "NVML: device count failed: %s", errstr(nv, rc));
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        nvml_device d;
        struct nvml_pci_info info;
        memset(&info, 0, sizeof info);
        if (nv->by_index(i, &d) != 0 || nv->pci(d, &info) != 0) continue;
        info.bus_id[sizeof info.bus_id - 1] = 0;
        if (pci && !meter_same_pci(pci, info.bus_id)) continue;
        char name[96] = "NVIDIA GPU";
        if (nv->name) nv->name(d, name, sizeof name);
        name[sizeof name - 1] = 0;
        unsigned long long mj;
        unsigned mw;
        bool counter = nv->energy && nv->energy(d, &mj) == 0;
        if (!counter && !(nv->power && (rc = nv->power(d, &mw)) == 0)) {
            sensor_note(l, "NVML %s (%s): neither energy nor power readable: %s", name, info.bus_id,
                        errstr(nv, rc));
            continue;
        }
        struct sensor *s = sensor_add(l);
        if (!s) return;
        snprintf(s->name, sizeof s->name, "NVML %s %s (%s)", counter ? "energy counter" : "power",
                 name, info.bus_id);
        s->gpu = true;
        s->kind = counter ? S_NVML_ENERGY : S_NVML_POWER;
        s->unit = 1e-3; /* mJ or mW */
        s->nvml_dev = d;
    }
}

bool nvml_read(struct nvml *nv, const struct sensor *s, uint64_t *raw, char *why, size_t len)
{
    int rc;
    if (s->kind == S_NVML_ENERGY) {
        unsigned long long v;
        if ((rc = nv->energy(s->nvml_dev, &v)) == 0) {
            *raw = v;
            return true;
        }
    } else {
        unsigned v;
        if ((rc = nv->power(s->nvml_dev, &v)) == 0) {
            *raw = v;
            return true;
        }
    }
    snprintf(why, len, "NVML: %s", errstr(nv, rc));
    return false;
}
