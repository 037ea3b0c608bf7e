/* meter_tdp — the power figures an estimate falls back on when a device has no
 * energy sensor. Each row names its source and when it was read. GPU rows are the
 * board power limit (the most the card draws: an estimate from it is an upper bound
 * at full load). CPU rows are the package TDP (base power for Intel) and the core
 * count, so that work on some cores is charged their share.
 * The generic rows at the end catch CPUs whose exact model is hidden (virtual
 * machines often report just "AMD EPYC"); they stand for a common model of the family
 * and say so. Order matters: the first matching row wins. */
#include <ctype.h>
#include <stddef.h>

#include "meter.h"

static const struct meter_tdp_row rows[] = {
    /* NVIDIA data-centre */
    {"H200 NVL", true, 600, 0, "NVIDIA H200 datasheet (H200 NVL max TDP)", "2024-11"},
    {"H200", true, 700, 0, "NVIDIA H200 datasheet (SXM max TDP)", "2024-11"},
    {"H100 PCIe", true, 350, 0, "NVIDIA H100 datasheet (PCIe max TDP)", "2023-09"},
    {"H100 NVL", true, 400, 0, "NVIDIA H100 datasheet (NVL max TDP)", "2023-09"},
    {"H100", true, 700, 0, "NVIDIA H100 datasheet (SXM max TDP)", "2023-09"},
    {"A100-PCIE", true, 300, 0, "NVIDIA A100 datasheet (PCIe 80GB max TDP)", "2021-06"},
    {"A100", true, 400, 0, "NVIDIA A100 datasheet (SXM max TDP)", "2021-06"},
    {"L40S", true, 350, 0, "NVIDIA L40S datasheet (max power)", "2023-10"},
    {"L40", true, 300, 0, "NVIDIA L40 datasheet (max power)", "2022-10"},
    {"L4", true, 72, 0, "NVIDIA L4 datasheet (max power)", "2023-03"},
    {"A10G", true, 300, 0, "AWS G5 / NVIDIA A10G (board power)", "2021-11"},
    {"A10", true, 150, 0, "NVIDIA A10 datasheet (max power)", "2021-04"},
    {"Tesla T4", true, 70, 0, "NVIDIA T4 datasheet (max power)", "2019-01"},
    /* NVIDIA GeForce */
    {"RTX 4090", true, 450, 0, "NVIDIA GeForce RTX 4090 specifications (graphics card power)",
     "2022-10"},
    {"RTX 4080", true, 320, 0, "NVIDIA GeForce RTX 4080 specifications", "2022-11"},
    {"RTX 4070", true, 200, 0, "NVIDIA GeForce RTX 4070 specifications", "2023-04"},
    {"RTX 4060", true, 115, 0, "NVIDIA GeForce RTX 4060 specifications", "2023-06"},
    {"RTX 3090", true, 350, 0, "NVIDIA GeForce RTX 3090 specifications", "2020-09"},
    {"RTX 3080", true, 320, 0, "NVIDIA GeForce RTX 3080 specifications", "2020-09"},
    {"RTX 3070", true, 220, 0, "NVIDIA GeForce RTX 3070 specifications", "2020-10"},
    {"RTX 3060", true, 170, 0, "NVIDIA GeForce RTX 3060 specifications", "2021-02"},
    /* AMD */
    {"MI300X", true, 750, 0, "AMD Instinct MI300X datasheet (peak board power)", "2023-12"},
    {"MI250X", true, 560, 0, "AMD Instinct MI250X datasheet", "2021-11"},
    {"RX 7900 XTX", true, 355, 0, "AMD Radeon RX 7900 XTX specifications (total board power)",
     "2022-12"},
    {"RX 7900 XT", true, 315, 0, "AMD Radeon RX 7900 XT specifications", "2022-12"},
    {"RX 7800 XT", true, 263, 0, "AMD Radeon RX 7800 XT specifications", "2023-09"},
    {"RX 6800 XT", true, 300, 0, "AMD Radeon RX 6800 XT specifications", "2020-11"},
    /* Intel */
    {"Arc(TM) B580", true, 190, 0, "Intel Arc B580 specifications (total board power)", "2024-12"},
    {"Arc(TM) A770", true, 225, 0, "Intel Arc A770 specifications (total board power)", "2022-10"},
    {"Arc(TM) A750", true, 225, 0, "Intel Arc A750 specifications (total board power)", "2022-10"},
    /* CPUs: package TDP and cores */
    {"EPYC 9654", false, 360, 96, "AMD EPYC 9654 product page (default TDP)", "2022-11"},
    {"EPYC 9554", false, 360, 64, "AMD EPYC 9554 product page (default TDP)", "2022-11"},
    {"EPYC 7763", false, 280, 64, "AMD EPYC 7763 product page (default TDP)", "2021-03"},
    {"EPYC 7B13", false, 280, 64, "Google Cloud N2D/C2D (EPYC 7B13, a 7763-class part)", "2021-03"},
    {"EPYC 7742", false, 225, 64, "AMD EPYC 7742 product page (default TDP)", "2019-08"},
    {"Xeon(R) Platinum 8480", false, 350, 56, "Intel ARK Xeon Platinum 8480+ (TDP)", "2023-01"},
    {"Xeon(R) Platinum 8380", false, 270, 40, "Intel ARK Xeon Platinum 8380 (TDP)", "2021-04"},
    {"i9-14900K", false, 125, 24, "Intel ARK Core i9-14900K (processor base power)", "2023-10"},
    {"i9-13900K", false, 125, 24, "Intel ARK Core i9-13900K (processor base power)", "2022-09"},
    {"i7-12700K", false, 125, 12, "Intel ARK Core i7-12700K (processor base power)", "2021-11"},
    {"Ryzen 9 7950X", false, 170, 16, "AMD Ryzen 9 7950X product page (default TDP)", "2022-09"},
    {"Ryzen 7 7700X", false, 105, 8, "AMD Ryzen 7 7700X product page (default TDP)", "2022-09"},
    {"Ryzen 9 5950X", false, 105, 16, "AMD Ryzen 9 5950X product page (default TDP)", "2020-11"},
    /* generic families, for hidden model names */
    {"AMD EPYC", false, 280, 64,
     "AMD EPYC, model not reported: taken as an EPYC 7763 (AMD product page)", "2021-03"},
    {"Xeon", false, 270, 40,
     "Intel Xeon, model not reported: taken as a Xeon Platinum 8380 (Intel ARK)", "2021-04"},
};

const struct meter_tdp_row *meter_tdp_table(int *n)
{
    *n = (int)(sizeof rows / sizeof rows[0]);
    return rows;
}

static bool contains_ci(const char *hay, const char *needle)
{
    for (; *hay; hay++) {
        size_t i = 0;
        while (needle[i] && hay[i] &&
               tolower((unsigned char)hay[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (!needle[i]) return true;
    }
    return false;
}

const struct meter_tdp_row *meter_tdp_lookup(const char *name, bool gpu)
{
    if (!name) return NULL;
    int n;
    const struct meter_tdp_row *r = meter_tdp_table(&n);
    for (int i = 0; i < n; i++)
        if (r[i].gpu == gpu && contains_ci(name, r[i].match)) return &r[i];
    return NULL;
}
