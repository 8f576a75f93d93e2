#include "csystem.h"

#include <sched.h>
#include <sys/mman.h>

int flexlvm_memfd_create(const char *name)
{
    return memfd_create(name, MFD_CLOEXEC);
}

int flexlvm_setns_mount(int fd)
{
    return setns(fd, CLONE_NEWNS);
}

int flexlvm_spawn_add_closefrom(posix_spawn_file_actions_t *actions, int from)
{
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}
