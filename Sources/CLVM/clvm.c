#include "clvm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <dlfcn.h>
#include <libdevmapper.h>
#include <lvm2cmd.h>

static flexlvm_log_sink_t _sink;

static struct {
    void *library;
    void (*log_fn)(lvm2_log_fn_t);
    void *(*init)(void);
    int (*run)(void *, const char *);
    void (*exit)(void *);
    void (*disable_monitoring)(void *);
} _lvm;

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
    _sink(0, level & 7, message);
}

static void _lvm_log(int level, const char *file, int line, int dm_errno, const char *message)
{
    (void)file;
    (void)line;
    (void)dm_errno;
    if (_sink && message)
        _sink(1, level, message);
}

void flexlvm_set_log_sink(flexlvm_log_sink_t sink)
{
    _sink = sink;
    dm_log_with_errno_init(_dm_log);
    if (_lvm.log_fn)
        _lvm.log_fn(_lvm_log);
}

int flexlvm_lvm_load(char *error, size_t length)
{
    if (_lvm.library)
        return 0;
    void *library = dlopen("liblvm2cmd.so.2.03", RTLD_NOW | RTLD_LOCAL);
    if (!library)
        library = dlopen("liblvm2cmd.so", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(error, length, "%s", dlerror());
        return -1;
    }
    _lvm.log_fn = (void (*)(lvm2_log_fn_t))dlsym(library, "lvm2_log_fn");
    _lvm.init = (void *(*)(void))dlsym(library, "lvm2_init");
    _lvm.run = (int (*)(void *, const char *))dlsym(library, "lvm2_run");
    _lvm.exit = (void (*)(void *))dlsym(library, "lvm2_exit");
    _lvm.disable_monitoring = (void (*)(void *))dlsym(library, "lvm2_disable_dmeventd_monitoring");
    if (!_lvm.log_fn || !_lvm.init || !_lvm.run || !_lvm.exit || !_lvm.disable_monitoring) {
        snprintf(error, length, "liblvm2cmd lacks the lvm2_* functions of lvm2cmd.h");
        memset(&_lvm, 0, sizeof(_lvm));
        dlclose(library);
        return -1;
    }
    _lvm.library = library;
    _lvm.log_fn(_lvm_log);
    return 0;
}

void *flexlvm_lvm_init(void) { return _lvm.init(); }
int flexlvm_lvm_run(void *handle, const char *command) { return _lvm.run(handle, command); }
void flexlvm_lvm_exit(void *handle) { _lvm.exit(handle); }
void flexlvm_lvm_disable_monitoring(void *handle) { _lvm.disable_monitoring(handle); }

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
