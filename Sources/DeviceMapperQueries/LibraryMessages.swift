import CDeviceMapper
import FlexLVMCore

/// Collects what libdevmapper and liblvm2cmd say. Installed once per process: from then on
/// neither library writes to stdout or stderr; their messages are kept for the current
/// command (so errors can quote LVM's own words) and copied to the driver's log.
/// libdevmapper is routed here by ``install(log:)``; the LVM module routes liblvm2cmd here
/// through ``receive(_:)``.
public final class LibraryMessages: @unchecked Sendable {
    /// One message from one of the libraries.
    public struct Message: Sendable, Equatable {
        public enum Source: Sendable { case deviceMapper, lvm }
        public let source: Source
        /// syslog-like: 2 fatal, 3 error, 4 print/warning, 5 and above verbose and debug.
        public let level: Int
        public let text: String

        public init(source: Source, level: Int, text: String) {
            self.source = source
            self.level = level
            self.text = text
        }

        public var isError: Bool { level <= 3 }
    }

    public static let shared = LibraryMessages()

    private let mutex = PThreadMutex()
    private var current: [Message] = []
    private var log: DriverLog?

    /// Routes libdevmapper's messages here and copies every message to `log`.
    public static func install(log: DriverLog?) {
        shared.mutex.withLock { shared.log = log }
        flexlvm_dm_set_log_sink { level, text in
            guard let text else { return }
            LibraryMessages.shared.receive(
                Message(source: .deviceMapper, level: Int(level), text: String(cString: text)))
        }
    }

    /// Keeps one message for the current command and copies it to the log.
    public func receive(_ message: Message) {
        let log = mutex.withLock {
            current.append(message)
            return self.log
        }
        if message.level <= 5 {
            log?.record(
                message.isError ? "error" : "debug", message.source == .lvm ? "lvm" : "devicemapper",
                [("message", message.text)])
        }
    }

    /// Writes a record about library use (for example each LVM command line) to the log.
    public func note(_ event: String, _ detail: String) {
        mutex.withLock { log }?.record("debug", event, [("detail", detail)])
    }

    /// Runs `body` and returns its result with the messages the libraries gave meanwhile.
    public func capturing<T>(_ body: () throws -> T) rethrows -> (T, [Message]) {
        let start = mutex.withLock {
            current.count
        }
        let result = try body()
        let messages = mutex.withLock {
            let taken = Array(current[start...])
            current.removeSubrange(start...)
            return taken
        }
        return (result, messages)
    }
}
