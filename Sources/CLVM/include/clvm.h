// Minimal, prefixed C shims over libdevmapper and liblvm2cmd.
//
// libdevmapper is linked; liblvm2cmd is loaded with dlopen on the first LVM command, so
// the calls that need only the kernel's view (the hot path: one DM_DEVICE_INFO) do not pay
// for loading liblvm2cmd and its dozen dependencies. The shims also bridge libdevmapper's
// variadic log callback, and bundle one DM_DEVICE_INFO round trip.
#ifndef FLEXLVM_CLVM_H
#define FLEXLVM_CLVM_H

#include <stddef.h>
#include <stdint.h>

/// Where libdevmapper's and liblvm2cmd's messages go: `source` is 0 for libdevmapper, 1 for
/// liblvm2cmd; `level` is syslog-like (2 fatal, 3 error, 4 print, 5.. verbose/debug).
typedef void (*flexlvm_log_sink_t)(int source, int level, const char *message);

/// Routes every message of both libraries to `sink` (never to stdout or stderr).
void flexlvm_set_log_sink(flexlvm_log_sink_t sink);

/// Loads liblvm2cmd (once). Returns 0, or -1 with the loader's message in `error`.
int flexlvm_lvm_load(char *error, size_t length);

/// lvm2_init, lvm2_run, lvm2_exit and lvm2_disable_dmeventd_monitoring of the loaded
/// liblvm2cmd (flexlvm_lvm_load must have succeeded).
void *flexlvm_lvm_init(void);
int flexlvm_lvm_run(void *handle, const char *command);
void flexlvm_lvm_exit(void *handle);
void flexlvm_lvm_disable_monitoring(void *handle);

/// What DM_DEVICE_INFO says of one device-mapper device.
typedef struct flexlvm_dm_device {
    int exists;
    int suspended;
    int live_table;
    int read_only;
    int32_t open_count;
    uint32_t major;
    uint32_t minor;
    uint32_t target_count;
    char name[128];
    char uuid[129];
} flexlvm_dm_device;

/// Runs DM_DEVICE_INFO for the device named `key` (or whose DM UUID is `key` when
/// `by_uuid` is non-zero). Returns 0 and fills `out` (out->exists is 0 when there is no such
/// device), or a negative errno when the ioctl or libdevmapper failed.
int flexlvm_dm_info(const char *key, int by_uuid, flexlvm_dm_device *out);

/// DM_DEVICE_INFO for the device with this device number.
int flexlvm_dm_info_devnum(uint32_t major, uint32_t minor, flexlvm_dm_device *out);

/// Writes the kernel's device-mapper driver version into `buffer`. Returns 0 or -errno.
int flexlvm_dm_driver_version(char *buffer, size_t length);

/// Writes libdevmapper's own version into `buffer`. Returns 0 or -errno.
int flexlvm_dm_library_version(char *buffer, size_t length);

#endif
