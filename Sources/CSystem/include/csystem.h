// Prefixed shims for Linux calls that Swift's Glibc module does not expose (they need
// _GNU_SOURCE or are variadic).
#ifndef FLEXLVM_CSYSTEM_H
#define FLEXLVM_CSYSTEM_H

/// memfd_create(2) with MFD_CLOEXEC; returns the descriptor or -1 with errno.
int flexlvm_memfd_create(const char *name);

#endif
