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
        return timestamp(seconds: Int64(now.tv_sec), milliseconds: Int(now.tv_nsec / 1_000_000))
    }

    /// UTC calendar time of `seconds` since the epoch, computed here rather than by
    /// gmtime_r, which makes glibc read /etc/localtime in every driver call (H. Hinnant's
    /// civil-from-days algorithm).
    static func timestamp(seconds: Int64, milliseconds: Int) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
            + "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))."
            + "\(pad(Int64(milliseconds), 3))Z"
    }
}
