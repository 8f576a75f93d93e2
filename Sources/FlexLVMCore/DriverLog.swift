#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The driver's log: one JSON object per line, appended to a file outside the plugin dir
/// (writes inside it would make kubelet re-run `init`). Logging never fails a driver call:
/// when the file cannot be opened, records are dropped.
public final class DriverLog: @unchecked Sendable {
    private let path: String
    private var fd: Int32 = -2
    private let lock = PThreadMutex()
    /// Fields written into every record (operation, pid).
    public var context: [(String, String)] = []

    public init(path: String) { self.path = path }

    /// Writes one record with a level, an event name and extra string fields.
    public func record(_ level: String, _ event: String, _ fields: [(String, String)] = []) {
        var members: [(String, String)] = [
            ("time", JSONWriter.string(Clock.timestamp())), ("level", JSONWriter.string(level)),
            ("event", JSONWriter.string(event)),
        ]
        for (key, value) in context + fields { members.append((key, JSONWriter.string(value))) }
        let line = JSONWriter.object(members) + "\n"
        lock.withLock {
            if fd == -2 { fd = openLog() }
            guard fd >= 0 else { return }
            try? Files.writeAll(fd, Array(line.utf8), object: path)
        }
    }

    private func openLog() -> Int32 {
        try? Files.makeDirectories(Paths.directory(of: path), mode: 0o750)
        return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
    }

    deinit { if fd >= 0 { close(fd) } }
}

/// A pthread mutex, for the few places that need one without Foundation.
public final class PThreadMutex: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    public init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    /// Runs `body` with the mutex held.
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}

/// Wall and monotonic time without Foundation.
public enum Clock {
    /// Monotonic nanoseconds, for durations.
    public static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// The current UTC time as RFC 3339 with milliseconds.
    public static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(now.tv_nsec / 1_000_000), 3))Z"
    }
}
