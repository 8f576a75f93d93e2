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
    public convenience init(path: String) throws {
        guard let lock = try FileLock(path: path, wait: true) else {
            throw FlexLVMError(.internalError, "flock \(path) returned without the lock")
        }
        self.init(descriptor: lock.take())
    }

    private init(descriptor: Int32) { fd = descriptor }

    private init?(path: String, wait: Bool) throws {
        try Files.makeDirectories(Paths.directory(of: path), mode: 0o755)
        let fd = try systemCall("open", path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        switch valueOrErrno({ flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) }) {
        case .success: self.fd = fd
        case .failure(let error) where error == .wouldBlock:
            close(fd)
            return nil
        case .failure(let error):
            close(fd)
            throw FlexLVMError(.system, "flock \(path)", cause: error)
        }
    }

    /// The lock on `path` if nobody holds it now, else nil (never waits).
    public static func tryLock(path: String) throws -> FileLock? {
        try FileLock(path: path, wait: false)
    }

    private func take() -> Int32 {
        let taken = fd
        fd = -1
        return taken
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
