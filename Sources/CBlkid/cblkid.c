#include "cblkid.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <blkid/blkid.h>

int flexlvm_blkid_probe(const char *path, char *type, size_t type_length, char *usage, size_t usage_length)
{
    type[0] = 0;
    usage[0] = 0;
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
