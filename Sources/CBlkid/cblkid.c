#include "cblkid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <dlfcn.h>
#include <blkid/blkid.h>

// libblkid is loaded on the first probe (only mountdevice and mount need it).
static struct {
    blkid_probe (*new_probe_from_filename)(const char *);
    int (*enable_superblocks)(blkid_probe, int);
    int (*set_superblocks_flags)(blkid_probe, int);
    int (*enable_partitions)(blkid_probe, int);
    int (*set_partitions_flags)(blkid_probe, int);
    int (*do_safeprobe)(blkid_probe);
    int (*lookup_value)(blkid_probe, const char *, const char **, size_t *);
    void (*free_probe)(blkid_probe);
} _blkid;

#define blkid_new_probe_from_filename _blkid.new_probe_from_filename
#define blkid_probe_enable_superblocks _blkid.enable_superblocks
#define blkid_probe_set_superblocks_flags _blkid.set_superblocks_flags
#define blkid_probe_enable_partitions _blkid.enable_partitions
#define blkid_probe_set_partitions_flags _blkid.set_partitions_flags
#define blkid_do_safeprobe _blkid.do_safeprobe
#define blkid_probe_lookup_value _blkid.lookup_value
#define blkid_free_probe _blkid.free_probe

static int _load(void)
{
    if (_blkid.free_probe)
        return 0;
    void *library = dlopen("libblkid.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library)
        return -ELIBACC;
    _blkid.new_probe_from_filename = dlsym(library, "blkid_new_probe_from_filename");
    _blkid.enable_superblocks = dlsym(library, "blkid_probe_enable_superblocks");
    _blkid.set_superblocks_flags = dlsym(library, "blkid_probe_set_superblocks_flags");
    _blkid.enable_partitions = dlsym(library, "blkid_probe_enable_partitions");
    _blkid.set_partitions_flags = dlsym(library, "blkid_probe_set_partitions_flags");
    _blkid.do_safeprobe = dlsym(library, "blkid_do_safeprobe");
    _blkid.lookup_value = dlsym(library, "blkid_probe_lookup_value");
    _blkid.free_probe = dlsym(library, "blkid_free_probe");
    if (!_blkid.new_probe_from_filename || !_blkid.enable_superblocks || !_blkid.set_superblocks_flags
        || !_blkid.enable_partitions || !_blkid.set_partitions_flags || !_blkid.do_safeprobe || !_blkid.lookup_value
        || !_blkid.free_probe) {
        _blkid.free_probe = NULL;
        return -ELIBBAD;
    }
    return 0;
}

int flexlvm_blkid_probe(const char *path, char *type, size_t type_length, char *usage, size_t usage_length)
{
    type[0] = 0;
    usage[0] = 0;
    int loaded = _load();
    if (loaded < 0)
        return loaded;
    errno = 0;
    blkid_probe pr = blkid_new_probe_from_filename(path);
    if (!pr)
        return -(errno ? errno : EIO);
    blkid_probe_enable_superblocks(pr, 1);
    blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE);
    blkid_probe_enable_partitions(pr, 1);
    blkid_probe_set_partitions_flags(pr, BLKID_PARTS_ENTRY_DETAILS);
    int rc = blkid_do_safeprobe(pr);
    if (rc == 0) {
        const char *value = NULL;
        if (blkid_probe_lookup_value(pr, "TYPE", &value, NULL) == 0 && value) {
            snprintf(type, type_length, "%s", value);
            if (blkid_probe_lookup_value(pr, "USAGE", &value, NULL) == 0 && value)
                snprintf(usage, usage_length, "%s", value);
        } else if (blkid_probe_lookup_value(pr, "PTTYPE", &value, NULL) == 0 && value) {
            snprintf(type, type_length, "partition table %s", value);
            snprintf(usage, usage_length, "partition table");
        } else {
            snprintf(type, type_length, "an unknown signature");
            snprintf(usage, usage_length, "other");
        }
        rc = 1;
    } else if (rc == 1) {
        rc = 0;
    } else if (rc == -2) {
        rc = -2;
    } else {
        rc = -(errno ? errno : EIO);
    }
    blkid_free_probe(pr);
    return rc;
}
