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

// The resume watchdog: a child that outlives this process only to resume suspended devices.

#include <fcntl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

static int _simple(int type, const char *name)
{
    struct dm_task *dmt = dm_task_create(type);
    if (!dmt)
        return -ENOMEM;
    if (!dm_task_set_name(dmt, name) || !dm_task_run(dmt))
        return _failure(dmt);
    dm_task_destroy(dmt);
    return 0;
}

static int _resume_suspended(const char *uuid_prefix)
{
    int resumed = 0;
    struct dm_task *list = dm_task_create(DM_DEVICE_LIST);
    if (!list || !dm_task_run(list)) {
        if (list)
            dm_task_destroy(list);
        return -1;
    }
    struct dm_names *names = dm_task_get_names(list);
    size_t prefix_length = strlen(uuid_prefix);
    if (names && names->dev) {
        unsigned next = 0;
        do {
            names = (struct dm_names *)((char *)names + next);
            flexlvm_dm_device device;
            if (_info(names->name, 0, 0, 0, &device) == 0 && device.exists && device.suspended
                && strncmp(device.uuid, uuid_prefix, prefix_length) == 0 && _simple(DM_DEVICE_RESUME, names->name) == 0)
                resumed++;
            next = names->next;
        } while (next);
    }
    dm_task_destroy(list);
    return resumed;
}

int flexlvm_dm_resume_watchdog(const char *uuid_prefix)
{
    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0)
        return -errno;
    pid_t pid = fork();
    if (pid < 0) {
        int err = errno;
        close(pipe_fds[0]);
        close(pipe_fds[1]);
        return -err;
    }
    if (pid == 0) {
        // The child: keep only the pipe's read end, wait for "done" or for EOF (the parent died).
        int keep = pipe_fds[0];
        dm_lib_release();
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd >= 0) {
            dup2(null_fd, 0);
            dup2(null_fd, 1);
            dup2(null_fd, 2);
        }
        if (keep > 3)
            syscall(SYS_close_range, 3, keep - 1, 0);
        syscall(SYS_close_range, keep + 1, ~0U, 0);
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        char byte;
        ssize_t count;
        do {
            count = read(keep, &byte, 1);
        } while (count < 0 && errno == EINTR);
        if (count == 1)
            _exit(0);
        // Two passes: a device resumed in the first may have had a suspended device below it.
        _resume_suspended(uuid_prefix);
        _resume_suspended(uuid_prefix);
        _exit(0);
    }
    close(pipe_fds[0]);
    return pipe_fds[1];
}

int flexlvm_dm_suspend(const char *name)
{
    return _simple(DM_DEVICE_SUSPEND, name);
}

int flexlvm_dm_resume(const char *name)
{
    return _simple(DM_DEVICE_RESUME, name);
}
