import CSystem

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Entering another process's view of the file system, as `nsenter --target PID --mount --root`
/// does: the node agent, a container with `hostPID: true`, enters the host's (PID 1's) so that
/// what it runs sees the host's mounts, devices, locks and state, and the host's libraries.
public enum HostNamespace {
    /// Enters the mount namespace of process `pid`, then makes that process's root directory
    /// this process's root, and `/` its working directory. Returns the namespaces left and
    /// entered, as the kernel names them (`mnt:[4026531841]`): the same when this process was
    /// already in that namespace.
    ///
    /// The process must be single-threaded (setns(2) refuses a mount namespace to a process
    /// that shares its file-system attributes) and hold CAP_SYS_ADMIN and CAP_SYS_CHROOT.
    @discardableResult
    public static func enter(pid: Int32) throws -> (left: String, entered: String) {
        let left = link("/proc/self/ns/mnt")
        let namespace = "/proc/\(pid)/ns/mnt"
        let root = "/proc/\(pid)/root"
        let namespaceFD = try systemCall("open", namespace) { open(namespace, O_RDONLY | O_CLOEXEC) }
        defer { close(namespaceFD) }
        // Opened before setns: the process's root as it is now, which setns does not give (it
        // gives the namespace's root, which is not the process's when that process is chrooted).
        let rootFD = try systemCall("open", root) { open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        defer { close(rootFD) }
        _ = try systemCall("setns", namespace) { flexlvm_setns_mount(namespaceFD) }
        _ = try systemCall("fchdir", root) { fchdir(rootFD) }
        _ = try systemCall("chroot", root) { chroot(".") }
        _ = try systemCall("chdir", "/") { chdir("/") }
        return (left, link("/proc/self/ns/mnt"))
    }

    /// A symbolic link's target, or "?".
    static func link(_ path: String) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { return "?" }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Environment {
    /// This process's environment as `NAME=value` strings, in order.
    public static func all() -> [String] {
        var out: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            out.append(String(cString: pointer))
            entry += 1
        }
        return out
    }
}
