#include "clvm.h"

#include <stdio.h>
#include <string.h>
#include <dlfcn.h>
#include <lvm2cmd.h>

static flexlvm_lvm_log_sink_t _sink;

static struct {
    void *library;
    void (*log_fn)(lvm2_log_fn_t);
    void *(*init)(void);
    int (*run)(void *, const char *);
    void (*exit)(void *);
    void (*disable_monitoring)(void *);
} _lvm;

static void _lvm_log(int level, const char *file, int line, int dm_errno, const char *message)
{
    (void)file;
    (void)line;
    (void)dm_errno;
    if (_sink && message)
        _sink(level, message);
}

void flexlvm_lvm_set_log_sink(flexlvm_lvm_log_sink_t sink)
{
    _sink = sink;
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
