/*
 * A small fake of NVIDIA's NVML library (libnvidia-ml.so.1) for preflight's tests.
 *
 * The real `pynvml` binding (nvidia-ml-py) loads this library exactly as it loads the driver's:
 * CDLL("libnvidia-ml.so.1") found through LD_LIBRARY_PATH, or a handle put in place of
 * pynvml.nvmlLib in-process. It implements the C functions, with the real signatures and return
 * codes, that preflight's gpu.health queries call; nothing else.
 *
 * What it answers comes from a configuration file named by the environment variable
 * FAKE_NVML_CONFIG, read at nvmlInit (simple key=value lines, '#' comments):
 *
 *   init_error=9                      nvmlInit returns this code (9 DRIVER_NOT_LOADED,
 *                                     18 LIB_RM_VERSION_MISMATCH, 4 NO_PERMISSION, ...)
 *   count=8                           number of GPUs
 *   driver_version=550.54.15          nvmlSystemGetDriverVersion
 *   cuda_version=12040                nvmlSystemGetCudaDriverVersion(_v2): 12.4
 *   unsupported=nvmlDeviceGetX,...    functions returning NVML_ERROR_NOT_SUPPORTED on every GPU
 *   gpu.N.<key>=value                 one GPU (index N); gpu.*.<key> sets every GPU
 *       name uuid bus_id memory_total memory_used temperature slowdown shutdown
 *       ecc_current ecc_pending ecc_volatile ecc_aggregate (uncorrected totals)
 *       retired_pending remap_correctable remap_uncorrectable remap_pending remap_failure
 *       clock_reasons (bitmask, 0x.. accepted) power_mw power_limit_mw persistence
 *       mig_current mig_pending
 *       lost=1        every query of the GPU returns NVML_ERROR_GPU_IS_LOST
 *       lost=handle   nvmlDeviceGetHandleByIndex_v2 itself returns NVML_ERROR_GPU_IS_LOST
 *       unsupported=nvmlDeviceGetX,...    NOT_SUPPORTED for this GPU only
 *   xid=GPU:XID:DELAY_MS,...          XID critical events delivered by nvmlEventSetWait_v2,
 *                                     DELAY_MS after the event set was created
 *   init_delay_ms=0                   time nvmlInit takes (a real driver takes 0.1-2 s)
 *   trace=PATH                        append "nvmlDeviceGetMigMode N" (the last query of GPU N)
 *                                     and "nvmlEventSetWait" lines to PATH as they are called,
 *                                     so a test knows when the GPUs are read and the XID window
 *                                     is running
 *
 * FAKE_NVML_CONFIG may also name a directory: then <dir>/<$PREFLIGHT_NODE_NAME>.conf is read
 * (the node a probe pod runs on), else <dir>/default.conf, so one fake serves a whole fake
 * cluster's probe pods with different GPUs per node.
 *
 * A function can also be left out of the library altogether by compiling with
 * -DOMIT_<function name> (tests/support/fake_nvml.py does this for `omit=`), which is how an
 * older driver's library looks to the binding: NVML_ERROR_FUNCTION_NOT_FOUND.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef int nvmlReturn_t;
#define NVML_SUCCESS 0
#define NVML_ERROR_UNINITIALIZED 1
#define NVML_ERROR_INVALID_ARGUMENT 2
#define NVML_ERROR_NOT_SUPPORTED 3
#define NVML_ERROR_NO_PERMISSION 4
#define NVML_ERROR_NOT_FOUND 6
#define NVML_ERROR_INSUFFICIENT_SIZE 7
#define NVML_ERROR_DRIVER_NOT_LOADED 9
#define NVML_ERROR_TIMEOUT 10
#define NVML_ERROR_GPU_IS_LOST 15
#define NVML_ERROR_LIB_RM_VERSION_MISMATCH 18
#define NVML_ERROR_UNKNOWN 999

#define MAX_GPUS 64
#define MAX_XIDS 64
#define EVENT_XID_CRITICAL 0x8ULL

#define EXPORT __attribute__((visibility("default")))

typedef struct {
    int index;
    char name[96];
    char uuid[96];
    char bus_id[32];
    unsigned long long memory_total;
    unsigned long long memory_used;
    unsigned int temperature;
    unsigned int slowdown;
    unsigned int shutdown;
    int ecc_current;
    int ecc_pending;
    unsigned long long ecc_volatile;
    unsigned long long ecc_aggregate;
    int retired_pending;
    unsigned int remap_correctable;
    unsigned int remap_uncorrectable;
    unsigned int remap_pending;
    unsigned int remap_failure;
    unsigned long long clock_reasons;
    unsigned int power_mw;
    unsigned int power_limit_mw;
    int persistence;
    unsigned int mig_current;
    unsigned int mig_pending;
    int lost;        /* 1: queries fail, 2: the handle itself fails */
    char unsupported[1024];
} fake_gpu;

typedef struct {
    int gpu;
    unsigned long long xid;
    long delay_ms;
} fake_xid;

typedef struct {
    fake_gpu *device;
    unsigned long long eventType;
    unsigned long long eventData;
    unsigned int gpuInstanceId;
    unsigned int computeInstanceId;
} nvmlEventData_t;

typedef struct {
    char busIdLegacy[16];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;
    unsigned int pciSubSystemId;
    char busId[32];
} nvmlPciInfo_t;

typedef struct {
    unsigned long long total;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_t;

typedef struct {
    unsigned int version;
    unsigned long long total;
    unsigned long long reserved;
    unsigned long long free;
    unsigned long long used;
} nvmlMemory_v2_t;

typedef struct {
    unsigned long long registered[MAX_GPUS];
    struct timespec created;
    int delivered[MAX_XIDS];
} fake_event_set;

static fake_gpu gpus[MAX_GPUS];
static int gpu_count = 0;
static int initialized = 0;
static int init_error = 0;
static long init_delay_ms = 0;
static char driver_version[80] = "550.54.15";
static char nvml_version[80] = "12.550.54.15";
static int cuda_version = 12040;
static char unsupported_all[1024] = "";
static fake_xid xids[MAX_XIDS];
static int xid_count = 0;
static char trace_path[1024] = "";

/* -- configuration ----------------------------------------------------------------------- */

static void set_defaults(void) {
    gpu_count = 1;
    init_error = 0;
    init_delay_ms = 0;
    xid_count = 0;
    trace_path[0] = '\0';
    unsupported_all[0] = '\0';
    snprintf(driver_version, sizeof driver_version, "%s", "550.54.15");
    snprintf(nvml_version, sizeof nvml_version, "%s", "12.550.54.15");
    cuda_version = 12040;
    for (int i = 0; i < MAX_GPUS; i++) {
        fake_gpu *g = &gpus[i];
        memset(g, 0, sizeof *g);
        g->index = i;
        snprintf(g->name, sizeof g->name, "%s", "NVIDIA A100 80GB PCIe");
        snprintf(g->uuid, sizeof g->uuid, "GPU-1c0ffee0-0000-4000-8000-%012x", 0xa100 + i);
        snprintf(g->bus_id, sizeof g->bus_id, "00000001:%02X:00.0", i + 1);
        g->memory_total = 85899345920ULL; /* 80 GiB */
        g->memory_used = 4718592ULL;      /* what a real idle A100 shows */
        g->temperature = 34;
        g->slowdown = 92;
        g->shutdown = 95;
        g->ecc_current = 1;
        g->ecc_pending = 1;
        g->clock_reasons = 0x1; /* GPU idle */
        g->power_mw = 61000;
        g->power_limit_mw = 300000;
        g->persistence = 1;
    }
}

static void trim(char *text) {
    char *end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' ' || end[-1] == '\t'))
        *--end = '\0';
}

static unsigned long long number(const char *text) {
    return strtoull(text, NULL, 0); /* 0x.. hex accepted */
}

static void set_gpu(fake_gpu *g, const char *key, const char *value) {
    if (!strcmp(key, "name")) snprintf(g->name, sizeof g->name, "%s", value);
    else if (!strcmp(key, "uuid")) snprintf(g->uuid, sizeof g->uuid, "%s", value);
    else if (!strcmp(key, "bus_id")) snprintf(g->bus_id, sizeof g->bus_id, "%s", value);
    else if (!strcmp(key, "memory_total")) g->memory_total = number(value);
    else if (!strcmp(key, "memory_used")) g->memory_used = number(value);
    else if (!strcmp(key, "temperature")) g->temperature = (unsigned int)number(value);
    else if (!strcmp(key, "slowdown")) g->slowdown = (unsigned int)number(value);
    else if (!strcmp(key, "shutdown")) g->shutdown = (unsigned int)number(value);
    else if (!strcmp(key, "ecc_current")) g->ecc_current = (int)number(value);
    else if (!strcmp(key, "ecc_pending")) g->ecc_pending = (int)number(value);
    else if (!strcmp(key, "ecc_volatile")) g->ecc_volatile = number(value);
    else if (!strcmp(key, "ecc_aggregate")) g->ecc_aggregate = number(value);
    else if (!strcmp(key, "retired_pending")) g->retired_pending = (int)number(value);
    else if (!strcmp(key, "remap_correctable")) g->remap_correctable = (unsigned int)number(value);
    else if (!strcmp(key, "remap_uncorrectable"))
        g->remap_uncorrectable = (unsigned int)number(value);
    else if (!strcmp(key, "remap_pending")) g->remap_pending = (unsigned int)number(value);
    else if (!strcmp(key, "remap_failure")) g->remap_failure = (unsigned int)number(value);
    else if (!strcmp(key, "clock_reasons")) g->clock_reasons = number(value);
    else if (!strcmp(key, "power_mw")) g->power_mw = (unsigned int)number(value);
    else if (!strcmp(key, "power_limit_mw")) g->power_limit_mw = (unsigned int)number(value);
    else if (!strcmp(key, "persistence")) g->persistence = (int)number(value);
    else if (!strcmp(key, "mig_current")) g->mig_current = (unsigned int)number(value);
    else if (!strcmp(key, "mig_pending")) g->mig_pending = (unsigned int)number(value);
    else if (!strcmp(key, "lost")) g->lost = !strcmp(value, "handle") ? 2 : (int)number(value);
    else if (!strcmp(key, "unsupported"))
        snprintf(g->unsupported, sizeof g->unsupported, "%s", value);
    else fprintf(stderr, "fake_nvml: unknown GPU key %s\n", key);
}

static void parse_xids(const char *value) {
    char copy[2048];
    snprintf(copy, sizeof copy, "%s", value);
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item && xid_count < MAX_XIDS;
         item = strtok_r(NULL, ",", &save)) {
        int gpu = 0;
        unsigned long long xid = 0;
        long delay = 0;
        if (sscanf(item, " %d:%llu:%ld", &gpu, &xid, &delay) >= 2) {
            xids[xid_count].gpu = gpu;
            xids[xid_count].xid = xid;
            xids[xid_count].delay_ms = delay;
            xid_count++;
        }
    }
}

static void load_config(void) {
    set_defaults();
    const char *path = getenv("FAKE_NVML_CONFIG");
    if (!path || !*path) return;
    char per_node[4096];
    struct stat info;
    if (stat(path, &info) == 0 && S_ISDIR(info.st_mode)) {
        /* one file per node (probe pods of an in-cluster test), else default.conf */
        const char *node = getenv("PREFLIGHT_NODE_NAME");
        snprintf(per_node, sizeof per_node, "%s/%s.conf", path, node && *node ? node : "default");
        if (access(per_node, R_OK) != 0)
            snprintf(per_node, sizeof per_node, "%s/default.conf", path);
        path = per_node;
    }
    FILE *file = fopen(path, "r");
    if (!file) {
        fprintf(stderr, "fake_nvml: cannot read %s\n", path);
        return;
    }
    char line[2048];
    while (fgets(line, sizeof line, file)) {
        trim(line);
        if (!line[0] || line[0] == '#') continue;
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        const char *key = line, *value = eq + 1;
        if (!strcmp(key, "count")) gpu_count = (int)number(value);
        else if (!strcmp(key, "init_error")) init_error = (int)number(value);
        else if (!strcmp(key, "init_delay_ms")) init_delay_ms = (long)number(value);
        else if (!strcmp(key, "driver_version"))
            snprintf(driver_version, sizeof driver_version, "%s", value);
        else if (!strcmp(key, "nvml_version"))
            snprintf(nvml_version, sizeof nvml_version, "%s", value);
        else if (!strcmp(key, "cuda_version")) cuda_version = (int)number(value);
        else if (!strcmp(key, "unsupported"))
            snprintf(unsupported_all, sizeof unsupported_all, "%s", value);
        else if (!strcmp(key, "xid")) parse_xids(value);
        else if (!strcmp(key, "trace")) snprintf(trace_path, sizeof trace_path, "%s", value);
        else if (!strncmp(key, "gpu.", 4)) {
            char *dot = strchr(key + 4, '.');
            if (!dot) continue;
            *dot = '\0';
            if (!strcmp(key + 4, "*")) {
                for (int i = 0; i < MAX_GPUS; i++) set_gpu(&gpus[i], dot + 1, value);
            } else {
                int index = atoi(key + 4);
                if (index >= 0 && index < MAX_GPUS) set_gpu(&gpus[index], dot + 1, value);
            }
        } else fprintf(stderr, "fake_nvml: unknown key %s\n", key);
    }
    fclose(file);
    if (gpu_count > MAX_GPUS) gpu_count = MAX_GPUS;
}

/* -- helpers --------------------------------------------------------------------------- */

static void trace(const char *function, int index) {
    if (!trace_path[0]) return;
    FILE *file = fopen(trace_path, "a");
    if (!file) return;
    if (index >= 0) fprintf(file, "%s %d\n", function, index);
    else fprintf(file, "%s\n", function);
    fclose(file);
}

static int listed(const char *list, const char *function) {
    size_t len = strlen(function);
    for (const char *at = strstr(list, function); at; at = strstr(at + 1, function)) {
        int starts = at == list || at[-1] == ',' || at[-1] == ' ';
        int ends = at[len] == '\0' || at[len] == ',' || at[len] == ' ';
        if (starts && ends) return 1;
    }
    return 0;
}

/* The common preamble of every device query: initialized, a valid handle, not lost, supported. */
static nvmlReturn_t check(fake_gpu *g, const char *function) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    if (!g || g < gpus || g >= gpus + gpu_count) return NVML_ERROR_INVALID_ARGUMENT;
    if (g->lost) return NVML_ERROR_GPU_IS_LOST;
    if (listed(unsupported_all, function) || listed(g->unsupported, function))
        return NVML_ERROR_NOT_SUPPORTED;
    return NVML_SUCCESS;
}

#define CHECK(g)                                                                               \
    do {                                                                                       \
        nvmlReturn_t _ret = check((g), __func__);                                              \
        if (_ret != NVML_SUCCESS) return _ret;                                                 \
    } while (0)

static long elapsed_ms(const struct timespec *since) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000L + (now.tv_nsec - since->tv_nsec) / 1000000L;
}

static void sleep_ms(long ms) {
    if (ms <= 0) return;
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
}

static nvmlReturn_t copy_text(char *out, unsigned int size, const char *text) {
    if (!out) return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(text) + 1 > size) return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(out, text, strlen(text) + 1);
    return NVML_SUCCESS;
}

/* -- init and system ------------------------------------------------------------------- */

#ifndef OMIT_nvmlInitWithFlags
EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
    (void)flags;
    load_config();
    sleep_ms(init_delay_ms);
    if (init_error) return init_error;
    initialized++;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlInit_v2
EXPORT nvmlReturn_t nvmlInit_v2(void) {
    load_config();
    sleep_ms(init_delay_ms);
    if (init_error) return init_error;
    initialized++;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlShutdown
EXPORT nvmlReturn_t nvmlShutdown(void) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    initialized--;
    return NVML_SUCCESS;
}
#endif

EXPORT const char *nvmlErrorString(nvmlReturn_t result) {
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch.";
    default: return "Unknown Error";
    }
}

#ifndef OMIT_nvmlSystemGetDriverVersion
EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *version, unsigned int length) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    return copy_text(version, length, driver_version);
}
#endif

#ifndef OMIT_nvmlSystemGetNVMLVersion
EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *version, unsigned int length) {
    return copy_text(version, length, nvml_version);
}
#endif

#ifndef OMIT_nvmlSystemGetCudaDriverVersion
EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int *version) {
    if (!version) return NVML_ERROR_INVALID_ARGUMENT;
    *version = cuda_version;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlSystemGetCudaDriverVersion_v2
EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int *version) {
    if (!version) return NVML_ERROR_INVALID_ARGUMENT;
    *version = cuda_version;
    return NVML_SUCCESS;
}
#endif

/* -- devices ----------------------------------------------------------------------------- */

#ifndef OMIT_nvmlDeviceGetCount_v2
EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *count) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    if (!count) return NVML_ERROR_INVALID_ARGUMENT;
    *count = (unsigned int)gpu_count;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetHandleByIndex_v2
EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, fake_gpu **device) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    if (!device || index >= (unsigned int)gpu_count) return NVML_ERROR_INVALID_ARGUMENT;
    if (gpus[index].lost == 2) return NVML_ERROR_GPU_IS_LOST;
    *device = &gpus[index];
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetIndex
EXPORT nvmlReturn_t nvmlDeviceGetIndex(fake_gpu *g, unsigned int *index) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    if (!g || g < gpus || g >= gpus + gpu_count || !index) return NVML_ERROR_INVALID_ARGUMENT;
    *index = (unsigned int)g->index;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetName
EXPORT nvmlReturn_t nvmlDeviceGetName(fake_gpu *g, char *name, unsigned int length) {
    CHECK(g);
    return copy_text(name, length, g->name);
}
#endif

#ifndef OMIT_nvmlDeviceGetUUID
EXPORT nvmlReturn_t nvmlDeviceGetUUID(fake_gpu *g, char *uuid, unsigned int length) {
    CHECK(g);
    return copy_text(uuid, length, g->uuid);
}
#endif

#ifndef OMIT_nvmlDeviceGetPciInfo_v3
EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(fake_gpu *g, nvmlPciInfo_t *pci) {
    CHECK(g);
    if (!pci) return NVML_ERROR_INVALID_ARGUMENT;
    memset(pci, 0, sizeof *pci);
    sscanf(g->bus_id, "%x:%x:%x", &pci->domain, &pci->bus, &pci->device);
    snprintf(pci->busId, sizeof pci->busId, "%s", g->bus_id);
    snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%04X:%02X:%02X.0", pci->domain & 0xffff,
             pci->bus, pci->device);
    pci->pciDeviceId = 0x20b510de;
    pci->pciSubSystemId = 0x153310de;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetMemoryInfo
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(fake_gpu *g, nvmlMemory_t *memory) {
    CHECK(g);
    if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
    memory->total = g->memory_total;
    memory->used = g->memory_used;
    memory->free = g->memory_total - g->memory_used;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetMemoryInfo_v2
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(fake_gpu *g, nvmlMemory_v2_t *memory) {
    CHECK(g);
    if (!memory) return NVML_ERROR_INVALID_ARGUMENT;
    memory->total = g->memory_total;
    memory->reserved = 0;
    memory->used = g->memory_used;
    memory->free = g->memory_total - g->memory_used;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetEccMode
EXPORT nvmlReturn_t nvmlDeviceGetEccMode(fake_gpu *g, int *current, int *pending) {
    CHECK(g);
    if (!current || !pending) return NVML_ERROR_INVALID_ARGUMENT;
    *current = g->ecc_current;
    *pending = g->ecc_pending;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetTotalEccErrors
EXPORT nvmlReturn_t nvmlDeviceGetTotalEccErrors(fake_gpu *g, int error_type, int counter_type,
                                                unsigned long long *count) {
    CHECK(g);
    if (!count || error_type < 0 || error_type > 1 || counter_type < 0 || counter_type > 1)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!g->ecc_current) return NVML_ERROR_NOT_SUPPORTED; /* as the driver does with ECC off */
    if (error_type == 0) *count = 0; /* corrected errors: not configured here */
    else *count = counter_type == 0 ? g->ecc_volatile : g->ecc_aggregate;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetRetiredPagesPendingStatus
EXPORT nvmlReturn_t nvmlDeviceGetRetiredPagesPendingStatus(fake_gpu *g, int *pending) {
    CHECK(g);
    if (!pending) return NVML_ERROR_INVALID_ARGUMENT;
    *pending = g->retired_pending;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetRemappedRows
EXPORT nvmlReturn_t nvmlDeviceGetRemappedRows(fake_gpu *g, unsigned int *correctable,
                                              unsigned int *uncorrectable, unsigned int *pending,
                                              unsigned int *failure) {
    CHECK(g);
    if (!correctable || !uncorrectable || !pending || !failure) return NVML_ERROR_INVALID_ARGUMENT;
    *correctable = g->remap_correctable;
    *uncorrectable = g->remap_uncorrectable;
    *pending = g->remap_pending;
    *failure = g->remap_failure;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetTemperature
EXPORT nvmlReturn_t nvmlDeviceGetTemperature(fake_gpu *g, int sensor, unsigned int *temp) {
    CHECK(g);
    if (!temp || sensor != 0) return NVML_ERROR_INVALID_ARGUMENT;
    *temp = g->temperature;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetTemperatureThreshold
EXPORT nvmlReturn_t nvmlDeviceGetTemperatureThreshold(fake_gpu *g, int threshold,
                                                      unsigned int *temp) {
    CHECK(g);
    if (!temp) return NVML_ERROR_INVALID_ARGUMENT;
    if (threshold == 0) *temp = g->shutdown;
    else if (threshold == 1) *temp = g->slowdown;
    else return NVML_ERROR_NOT_SUPPORTED;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetCurrentClocksEventReasons
EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksEventReasons(fake_gpu *g,
                                                           unsigned long long *reasons) {
    CHECK(g);
    if (!reasons) return NVML_ERROR_INVALID_ARGUMENT;
    *reasons = g->clock_reasons;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetCurrentClocksThrottleReasons
EXPORT nvmlReturn_t nvmlDeviceGetCurrentClocksThrottleReasons(fake_gpu *g,
                                                              unsigned long long *reasons) {
    CHECK(g);
    if (!reasons) return NVML_ERROR_INVALID_ARGUMENT;
    *reasons = g->clock_reasons;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetPowerUsage
EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(fake_gpu *g, unsigned int *milliwatts) {
    CHECK(g);
    if (!milliwatts) return NVML_ERROR_INVALID_ARGUMENT;
    *milliwatts = g->power_mw;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetEnforcedPowerLimit
EXPORT nvmlReturn_t nvmlDeviceGetEnforcedPowerLimit(fake_gpu *g, unsigned int *milliwatts) {
    CHECK(g);
    if (!milliwatts) return NVML_ERROR_INVALID_ARGUMENT;
    *milliwatts = g->power_limit_mw;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetPersistenceMode
EXPORT nvmlReturn_t nvmlDeviceGetPersistenceMode(fake_gpu *g, int *mode) {
    CHECK(g);
    if (!mode) return NVML_ERROR_INVALID_ARGUMENT;
    *mode = g->persistence;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceGetMigMode
EXPORT nvmlReturn_t nvmlDeviceGetMigMode(fake_gpu *g, unsigned int *current,
                                         unsigned int *pending) {
    CHECK(g);
    if (!current || !pending) return NVML_ERROR_INVALID_ARGUMENT;
    *current = g->mig_current;
    *pending = g->mig_pending;
    trace("nvmlDeviceGetMigMode", g->index);
    return NVML_SUCCESS;
}
#endif

/* -- events -------------------------------------------------------------------------------- */

#ifndef OMIT_nvmlEventSetCreate
EXPORT nvmlReturn_t nvmlEventSetCreate(fake_event_set **set) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    if (!set) return NVML_ERROR_INVALID_ARGUMENT;
    fake_event_set *created = calloc(1, sizeof *created);
    if (!created) return NVML_ERROR_UNKNOWN;
    clock_gettime(CLOCK_MONOTONIC, &created->created);
    *set = created;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlDeviceRegisterEvents
EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(fake_gpu *g, unsigned long long types,
                                             fake_event_set *set) {
    CHECK(g);
    if (!set) return NVML_ERROR_INVALID_ARGUMENT;
    set->registered[g->index] |= types;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlEventSetWait_v2
EXPORT nvmlReturn_t nvmlEventSetWait_v2(fake_event_set *set, nvmlEventData_t *data,
                                        unsigned int timeout_ms) {
    if (!initialized) return NVML_ERROR_UNINITIALIZED;
    if (!set || !data) return NVML_ERROR_INVALID_ARGUMENT;
    trace("nvmlEventSetWait", -1);
    long now = elapsed_ms(&set->created);
    int next = -1;
    for (int i = 0; i < xid_count; i++) {
        int gpu = xids[i].gpu;
        if (set->delivered[i] || gpu < 0 || gpu >= gpu_count) continue;
        if (!(set->registered[gpu] & EVENT_XID_CRITICAL)) continue;
        if (next < 0 || xids[i].delay_ms < xids[next].delay_ms) next = i;
    }
    if (next < 0 || xids[next].delay_ms > now + (long)timeout_ms) {
        sleep_ms((long)timeout_ms);
        return NVML_ERROR_TIMEOUT;
    }
    sleep_ms(xids[next].delay_ms - now);
    set->delivered[next] = 1;
    memset(data, 0, sizeof *data);
    data->device = &gpus[xids[next].gpu];
    data->eventType = EVENT_XID_CRITICAL;
    data->eventData = xids[next].xid;
    data->gpuInstanceId = 0xFFFFFFFFu;
    data->computeInstanceId = 0xFFFFFFFFu;
    return NVML_SUCCESS;
}
#endif

#ifndef OMIT_nvmlEventSetFree
EXPORT nvmlReturn_t nvmlEventSetFree(fake_event_set *set) {
    if (!set) return NVML_ERROR_INVALID_ARGUMENT;
    free(set);
    return NVML_SUCCESS;
}
#endif
