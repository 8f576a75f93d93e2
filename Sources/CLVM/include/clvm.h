// Minimal, prefixed C shims over liblvm2cmd.
//
// liblvm2cmd is loaded with dlopen on the first LVM command, so the calls that need only
// the kernel's view (the hot path: one DM_DEVICE_INFO through CDeviceMapper) do not pay for
// loading liblvm2cmd and its dozen dependencies.
#ifndef FLEXLVM_CLVM_H
#define FLEXLVM_CLVM_H

#include <stddef.h>
#include <stdint.h>

/// Where liblvm2cmd's messages go; `level` is syslog-like (2 fatal, 3 error, 4 print,
/// 5.. verbose/debug).
typedef void (*flexlvm_lvm_log_sink_t)(int level, const char *message);

/// Routes every liblvm2cmd message to `sink` (never to stdout or stderr), now and once the
/// library is loaded.
void flexlvm_lvm_set_log_sink(flexlvm_lvm_log_sink_t sink);

/// Loads liblvm2cmd (once). Returns 0, or -1 with the loader's message in `error`.
int flexlvm_lvm_load(char *error, size_t length);

/// lvm2_init, lvm2_run, lvm2_exit and lvm2_disable_dmeventd_monitoring of the loaded
/// liblvm2cmd (flexlvm_lvm_load must have succeeded).
void *flexlvm_lvm_init(void);
int flexlvm_lvm_run(void *handle, const char *command);
void flexlvm_lvm_exit(void *handle);
void flexlvm_lvm_disable_monitoring(void *handle);

#endif
