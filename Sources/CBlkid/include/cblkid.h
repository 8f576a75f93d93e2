// A prefixed shim over libblkid's low-level probe: what signature a block device holds.
#ifndef FLEXLVM_CBLKID_H
#define FLEXLVM_CBLKID_H

#include <stddef.h>

/// Probes `path` for filesystem, RAID, crypto and swap superblocks and partition tables.
/// Returns 1 and fills `type` (e.g. "ext4", "crypto_LUKS", "LVM2_member", "swap", or
/// "partition table <name>") and `usage` ("filesystem", "crypto", "raid", "other",
/// "partition table") when something is found, 0 when the device is blank, -2 when the
/// signatures are ambiguous (several found), or -errno on failure.
int flexlvm_blkid_probe(const char *path, char *type, size_t type_length, char *usage, size_t usage_length);

#endif
