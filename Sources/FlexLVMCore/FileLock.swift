#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// An exclusive flock(2) on a lock file, held until ``release()`` or deinit. The kernel drops
/// it when the process dies, so a crashed driver never leaves a volume locked.
public final class FileLock {
    private var fd: Int32

    /// Blocks until the lock on `path` is held (creating the file and its directory).
    public init(path: String) throws {
        try Files.makeDirectories(Paths.directory(of: path), mode: 0o755)
        fd = try systemCall("open", path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        do {
            _ = try systemCall("flock", path) { flock(fd, LOCK_EX) }
        } catch {
            close(fd)
            throw error
        }
    }

    /// The lock's descriptor, for a child that must hold the lock as long as it runs.
    public var descriptor: Int32 { fd }

    /// Releases the lock.
    public func release() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    deinit { release() }
}
