#include "cdevicemapper.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <libdevmapper.h>

static flexlvm_dm_log_sink_t _sink;

static void _dm_log(int level, const char *file, int line, int dm_errno_or_class, const char *format, ...)
{
    (void)file;
    (void)line;
    (void)dm_errno_or_class;
    if (!_sink)
        return;
    char message[2048];
    va_list ap;
    va_start(ap, format);
    vsnprintf(message, sizeof(message), format, ap);
    va_end(ap);
    _sink(level & 7, message);
}

void flexlvm_dm_set_log_sink(flexlvm_dm_log_sink_t sink)
{
    _sink = sink;
    dm_log_with_errno_init(_dm_log);
}

static int _failure(struct dm_task *dmt)
{
    int err = dmt ? dm_task_get_errno(dmt) : 0;
    if (err == 0)
        err = errno ? errno : EIO;
    if (dmt)
        dm_task_destroy(dmt);
    return -err;
}

static int _info(const char *key, int by_uuid, uint32_t major, uint32_t minor, flexlvm_dm_device *out)
{
    memset(out, 0, sizeof(*out));
    errno = 0;
    struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
    if (!dmt)
        return _failure(NULL);
    int set = key ? (by_uuid ? dm_task_set_uuid(dmt, key) : dm_task_set_name(dmt, key))
                  : (dm_task_set_major(dmt, major) && dm_task_set_minor(dmt, minor));
    if (!set) {
        dm_task_destroy(dmt);
        return -EINVAL;
    }
    if (!dm_task_run(dmt))
        return _failure(dmt);
    struct dm_info info;
    if (!dm_task_get_info(dmt, &info))
        return _failure(dmt);
    out->exists = info.exists;
    if (info.exists) {
        out->suspended = info.suspended;
        out->live_table = info.live_table;
        out->read_only = info.read_only;
        out->open_count = info.open_count;
        out->major = info.major;
        out->minor = info.minor;
        out->target_count = info.target_count;
        const char *name = dm_task_get_name(dmt);
        const char *uuid = dm_task_get_uuid(dmt);
        if (name)
            snprintf(out->name, sizeof(out->name), "%s", name);
        if (uuid)
            snprintf(out->uuid, sizeof(out->uuid), "%s", uuid);
    }
    dm_task_destroy(dmt);
    return 0;
}

int flexlvm_dm_info(const char *key, int by_uuid, flexlvm_dm_device *out)
{
    return _info(key, by_uuid, 0, 0, out);
}

int flexlvm_dm_info_devnum(uint32_t major, uint32_t minor, flexlvm_dm_device *out)
{
    return _info(NULL, 0, major, minor, out);
}

int flexlvm_dm_driver_version(char *buffer, size_t length)
{
    errno = 0;
    if (!dm_driver_version(buffer, length))
        return -(errno ? errno : ENODEV);
    return 0;
}

int flexlvm_dm_library_version(char *buffer, size_t length)
{
    if (!dm_get_library_version(buffer, length))
        return -EIO;
    return 0;
}
