#include "csystem.h"

#include <sys/mman.h>

int flexlvm_memfd_create(const char *name)
{
    return memfd_create(name, MFD_CLOEXEC);
}
