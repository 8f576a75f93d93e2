import FlexLVMCore

#if canImport(Glibc)
    import Glibc
#endif

/// FlexVolume replies counted from the driver's JSON-lines log: one `"event":"reply"` record
/// per call, with `op` and `status`, and `ms` when the node binary answered (the driver
/// file's own replies, `side` set, may carry no time: they are counted, not timed).
struct OperationLog: Equatable {
    /// The operations kubelet and kube-controller-manager call. Anything else a log line
    /// names (an unknown or garbled first argument) is counted as `other`, so that hostile
    /// argv cannot add label values without bound.
    static let operations: Set<String> = [
        "init", "getvolumename", "attach", "waitforattach", "isattached", "detach", "mountdevice", "unmountdevice",
        "mount", "unmount", "expandvolume", "expandfs",
    ]
    /// The reply statuses of the FlexVolume contract.
    static let statuses: Set<String> = ["Success", "Failure", "Not supported"]
    /// Upper bounds of the duration histogram, in milliseconds (0.005 s to 60 s).
    static let boundsMilliseconds: [UInt64] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000]

    struct ReplyKey: Hashable, Comparable {
        let operation: String
        let status: String
        static func < (lhs: ReplyKey, rhs: ReplyKey) -> Bool {
            (lhs.operation, lhs.status) < (rhs.operation, rhs.status)
        }
    }

    /// Replies per operation and status.
    private(set) var replies: [ReplyKey: UInt64] = [:]
    /// Durations per operation, of the replies that carry `ms`.
    private(set) var durations: [String: Histogram] = [:]

    init() {}

    /// Statistics of a log's text (for tests).
    init(text: String) {
        for line in text.split(separator: "\n") { add(line: Array(line.utf8)[...]) }
    }

    private static let marker = Array(#""event":"reply""#.utf8)

    /// Counts one log line if it is a reply record; anything else (other events, a torn or
    /// foreign line) is skipped.
    mutating func add(line: ArraySlice<UInt8>) {
        guard line.firstRange(of: Self.marker) != nil, line.count <= JSONParser.maximumSize,
            case .object(let members)? = try? JSONParser.parse(Array(line))
        else { return }
        func field(_ name: String) -> String? {
            switch members.first(where: { $0.key == name })?.value {
            case .string(let text)?, .number(let text)?: return text
            default: return nil
            }
        }
        guard field("event") == "reply", let status = field("status"), Self.statuses.contains(status) else { return }
        var operation = field("op") ?? ""
        // The node binary names an operation it could not parse quoted ('attach').
        if operation.count >= 2 && operation.hasPrefix("'") && operation.hasSuffix("'") {
            operation = String(operation.dropFirst().dropLast())
        }
        if !Self.operations.contains(operation) { operation = "other" }
        replies[ReplyKey(operation: operation, status: status), default: 0] += 1
        if let text = field("ms"), let milliseconds = Self.milliseconds(text) {
            durations[operation, default: Histogram(boundsMilliseconds: Self.boundsMilliseconds)]
                .observe(milliseconds: milliseconds)
        }
    }

    /// A non-negative time in milliseconds, rounded to whole ones.
    private static func milliseconds(_ text: String) -> UInt64? {
        if let whole = UInt64(text) { return whole }
        guard let value = Double(text), value.isFinite, value >= 0, value < 1e15 else { return nil }
        return UInt64(value.rounded())
    }

    /// Reads the log at `path` line by line; a missing log counts nothing.
    static func read(path: String) throws -> OperationLog {
        var log = OperationLog()
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return log }
            throw FlexLVMError(.system, "open \(path)", cause: Errno.current)
        }
        defer { close(fd) }
        var pending: [UInt8] = []
        // Set while skipping the rest of a line longer than any reply record.
        var skipping = false
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = try buffer.withUnsafeMutableBytes { raw in
                try systemCall("read", path) { Glibc.read(fd, raw.baseAddress, raw.count) }
            }
            if count == 0 { break }
            pending += buffer[0..<count]
            var start = pending.startIndex
            while let end = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                if !skipping { log.add(line: pending[start..<end]) }
                skipping = false
                start = end + 1
            }
            pending.removeSubrange(..<start)
            if pending.count > JSONParser.maximumSize {
                pending.removeAll()
                skipping = true
            }
        }
        if !skipping { log.add(line: pending[...]) }
        return log
    }
}
