import FlexLVMCore

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// mount(2) and umount2(2), each through ``systemCall(_:_:retryOnInterrupt:_:)`` so a failure
/// names the call and the path. No `mount` binary is ever run.
public enum MountCalls {
    /// Mounts the filesystem on `device` at `target`.
    public static func mount(device: String, at target: String, type: String, options: MountOptions) throws {
        _ = try systemCall("mount(\(type), \(device))", target) {
            Glibc.mount(device, target, type, options.flags, options.data.isEmpty ? nil : options.data)
        }
    }

    /// Bind-mounts `source` on `target`, as kubelet's own mounter does (the bind keeps the
    /// propagation its place gives it), and makes it read-only when asked (a bind cannot be
    /// made read-only in the same call).
    public static func bind(_ source: String, at target: String, readOnly: Bool) throws {
        _ = try systemCall("mount(bind, \(source))", target) {
            Glibc.mount(source, target, nil, UInt(MS_BIND), nil)
        }
        guard readOnly else { return }
        do {
            try remountReadOnly(bind: target)
        } catch {
            // Never leave a read-write bind where a read-only one was asked.
            _ = umount2(target, Int32(UMOUNT_NOFOLLOW))
            throw error
        }
    }

    /// Makes the bind mount at `target` read-only.
    public static func remountReadOnly(bind target: String) throws {
        _ = try systemCall("mount(remount, bind, ro)", target) {
            Glibc.mount(nil, target, nil, UInt(MS_REMOUNT | MS_BIND | MS_RDONLY), nil)
        }
    }

    /// Unmounts `target` (never lazily: a busy mount is an error, not hidden).
    public static func unmount(_ target: String) throws {
        _ = try systemCall("umount", target) { umount2(target, Int32(UMOUNT_NOFOLLOW)) }
    }
}
