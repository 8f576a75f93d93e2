// Prefixed shims for Linux calls that Swift's Glibc module does not expose (they need
// _GNU_SOURCE or are variadic).
#ifndef FLEXLVM_CSYSTEM_H
#define FLEXLVM_CSYSTEM_H

/// memfd_create(2) with MFD_CLOEXEC; returns the descriptor or -1 with errno.
int flexlvm_memfd_create(const char *name);

/// setns(2) into the mount namespace `fd` names (CLONE_NEWNS); 0, or -1 with errno.
int flexlvm_setns_mount(int fd);

#include <spawn.h>

/// posix_spawn_file_actions_addclosefrom_np: the child closes every descriptor >= `from`.
int flexlvm_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from);
#endif
