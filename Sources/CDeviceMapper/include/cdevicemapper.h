// Minimal, prefixed C shims over libdevmapper: read-only DM_DEVICE_INFO queries and the
// library's versions, with its variadic log callback bridged to a plain function.
//
// Linked dynamically into the node binary and statically (libdevmapper.a built from LVM2's
// source, scripts/build-libdevmapper) into the driver file, which answers the hot path.
#ifndef FLEXLVM_CDEVICEMAPPER_H
#define FLEXLVM_CDEVICEMAPPER_H

#include <stddef.h>
#include <stdint.h>

/// Where libdevmapper's messages go; `level` is syslog-like (2 fatal, 3 error, 4 print,
/// 5.. verbose/debug).
typedef void (*flexlvm_dm_log_sink_t)(int level, const char *message);

/// Routes every libdevmapper message to `sink` (never to stdout or stderr).
void flexlvm_dm_set_log_sink(flexlvm_dm_log_sink_t sink);

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

/// Forks a watchdog child and returns the write end of a pipe to it (or -errno). Writing a
/// byte (or closing it after one) lets the child exit; when this process dies first (even by
/// SIGKILL), the pipe reaches EOF and the child resumes every suspended device whose DM
/// UUID starts with `uuid_prefix` (an LVM VG: "LVM-<vg uuid>"), which thaws a filesystem
/// device-mapper froze for the suspend.
int flexlvm_dm_resume_watchdog(const char *uuid_prefix);

/// DM_DEVICE_SUSPEND (with flush and filesystem freeze) of the device `name`; 0 or -errno.
int flexlvm_dm_suspend(const char *name);

/// DM_DEVICE_RESUME of the device `name`; 0 or -errno.
int flexlvm_dm_resume(const char *name);

#endif
