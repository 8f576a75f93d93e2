#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Small file-system helpers over the system calls, all through ``systemCall(_:_:retryOnInterrupt:_:)``.
public enum Files {
    /// The contents of a file, refusing files larger than `limit` bytes.
    public static func read(_ path: String, limit: Int = 1 << 20) throws -> [UInt8] {
        let fd = try systemCall("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let count = try buffer.withUnsafeMutableBytes { raw in
                try systemCall("read", path) { Glibc.read(fd, raw.baseAddress, raw.count) }
            }
            if count == 0 { return out }
            out.append(contentsOf: buffer[0..<count])
            guard out.count <= limit else {
                throw FlexLVMError(.invalidArgument, "\(path) is larger than \(limit) bytes")
            }
        }
    }

    /// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], object: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = try bytes.withUnsafeBytes { raw in
                try systemCall("write", object) { Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset) }
            }
            offset += written
        }
    }

    /// Replaces `path` atomically with `bytes`: write a dot-named temporary beside it,
    /// fsync, rename over, fsync the directory.
    public static func writeAtomically(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644) throws {
        let directory = Paths.directory(of: path)
        let temporary = Paths.join(directory, ".\(Paths.baseName(of: path)).\(getpid()).tmp")
        let fd = try systemCall("open", temporary) {
            open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
        }
        do {
            try writeAll(fd, bytes, object: temporary)
            // The mode exactly as asked, whatever the caller's umask.
            _ = try systemCall("fchmod", temporary) { fchmod(fd, mode) }
            _ = try systemCall("fsync", temporary) { fsync(fd) }
            close(fd)
            _ = try systemCall("rename", "\(temporary) to \(path)") { rename(temporary, path) }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
    }

    /// Creates `path` and its missing parents with `mode`. Existing directories are fine.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws {
        if isDirectory(path) { return }
        let parent = Paths.directory(of: path)
        if parent != path && !isDirectory(parent) { try makeDirectories(parent, mode: mode) }
        switch valueOrErrno({ mkdir(path, mode) }) {
        case .success: return
        case .failure(let error) where error == .exists && isDirectory(path): return
        case .failure(let error): throw FlexLVMError(.system, "mkdir \(path)", cause: error)
        }
    }

    /// `stat(2)` of `path`, following links; nil when it does not exist.
    public static func status(_ path: String) throws -> stat? {
        var info = stat()
        switch valueOrErrno({ stat(path, &info) }) {
        case .success: return info
        case .failure(let error) where error == .noSuchFile || error == Errno(ENOTDIR): return nil
        case .failure(let error): throw FlexLVMError(.system, "stat \(path)", cause: error)
        }
    }

    /// Whether `path` is a directory (following links).
    public static func isDirectory(_ path: String) -> Bool {
        guard let info = try? status(path) else { return false }
        return info.st_mode & S_IFMT == S_IFDIR
    }

    /// Whether anything exists at `path` (without following a final link).
    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}

/// Path string helpers (no Foundation).
public enum Paths {
    /// The directory part of `path` ("/" for top-level entries, "." for bare names).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }

    /// The last component of `path`.
    public static func baseName(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    /// `base` and `component` joined with one slash.
    public static func join(_ base: String, _ component: String) -> String {
        base.hasSuffix("/") ? base + component : base + "/" + component
    }

    /// The path of the running executable, from /proc/self/exe.
    public static func currentExecutable() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, Int(PATH_MAX))
        guard count > 0 else { return nil }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A Linux device number split into major and minor (glibc's `major()`/`minor()` macros).
public struct DeviceNumber: Hashable, Sendable, CustomStringConvertible {
    public let major: UInt32
    public let minor: UInt32

    public init(major: UInt32, minor: UInt32) {
        self.major = major
        self.minor = minor
    }

    public init(_ dev: UInt64) {
        major = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff)))
        minor = UInt32(truncatingIfNeeded: (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff)))
    }

    public var description: String { "\(major):\(minor)" }

    /// The device number of the block device at `path`, or nil when `path` is missing or
    /// not a block device.
    public static func ofBlockDevice(_ path: String) throws -> DeviceNumber? {
        guard let info = try Files.status(path), info.st_mode & S_IFMT == S_IFBLK else { return nil }
        return DeviceNumber(UInt64(info.st_rdev))
    }
}

extension Files {
    /// Removes the file at `path`; a file that is already gone is not an error.
    public static func removeIfPresent(_ path: String) throws {
        switch valueOrErrno({ unlink(path) }) {
        case .success: return
        case .failure(let error) where error == .noSuchFile: return
        case .failure(let error): throw FlexLVMError(.system, "unlink \(path)", cause: error)
        }
    }

    /// The names in a directory (without "." and ".."); empty when it does not exist.
    public static func list(_ path: String) throws -> [String] {
        guard let directory = opendir(path) else {
            if errno == ENOENT { return [] }
            throw FlexLVMError(.system, "opendir \(path)", cause: Errno.current)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
