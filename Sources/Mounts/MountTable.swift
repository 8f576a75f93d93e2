import FlexLVMCore

/// One line of /proc/self/mountinfo.
public struct MountEntry: Sendable, Equatable {
    public let id: Int
    public let parentID: Int
    /// The device of the mounted filesystem (for a bind mount, the source's device).
    public let device: DeviceNumber
    /// The path inside the filesystem that is mounted here ("/" for a whole filesystem).
    public let root: String
    public let mountPoint: String
    /// Per-mount options (ro/rw, nosuid, ...).
    public let options: [String]
    /// Propagation fields such as "shared:1" (empty for private mounts).
    public let propagation: [String]
    public let fsType: String
    public let source: String
    public let superOptions: [String]

    public var isReadOnly: Bool { options.contains("ro") }

    /// The block device behind the mount. Usually ``device``; btrfs reports an anonymous
    /// device number (major 0) instead, so the source device is looked up.
    public var backingDevice: DeviceNumber {
        guard device.major == 0, source.hasPrefix("/"), let number = try? DeviceNumber.ofBlockDevice(source) else {
            return device
        }
        return number
    }
}

/// The mount table of this process's mount namespace, read from /proc/self/mountinfo.
/// Derived every time it is needed, never cached in a file that could drift.
public struct MountTable: Sendable {
    public let entries: [MountEntry]

    public init(entries: [MountEntry]) { self.entries = entries }

    /// Reads the current table.
    public static func current() throws -> MountTable {
        let bytes = try Files.read("/proc/self/mountinfo", limit: 64 << 20)
        return try MountTable(parsing: String(decoding: bytes, as: UTF8.self))
    }

    /// Parses mountinfo text.
    public init(parsing text: String) throws {
        var entries: [MountEntry] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard let separator = fields.firstIndex(of: "-"), separator >= 6, fields.count >= separator + 4,
                let id = Int(fields[0]), let parent = Int(fields[1])
            else {
                throw FlexLVMError(.internalError, "unexpected /proc/self/mountinfo line: \(line)")
            }
            let numbers = fields[2].split(separator: ":")
            guard numbers.count == 2, let major = UInt32(numbers[0]), let minor = UInt32(numbers[1]) else {
                throw FlexLVMError(.internalError, "unexpected device number in mountinfo: \(fields[2])")
            }
            entries.append(
                MountEntry(
                    id: id, parentID: parent, device: DeviceNumber(major: major, minor: minor),
                    root: Self.unescape(fields[3]), mountPoint: Self.unescape(fields[4]),
                    options: fields[5].split(separator: ",").map(String.init),
                    propagation: Array(fields[6..<separator]), fsType: fields[separator + 1],
                    source: Self.unescape(fields[separator + 2]),
                    superOptions: fields[separator + 3].split(separator: ",").map(String.init)))
        }
        self.entries = entries
    }

    /// The mount visible at `path` (the last one mounted there), or nil when `path` is not
    /// a mount point.
    public func mount(at path: String) -> MountEntry? {
        let target = Self.canonical(path)
        return entries.last { $0.mountPoint == target }
    }

    /// Every mount of the filesystem on `device`, in mount order.
    public func mounts(of device: DeviceNumber) -> [MountEntry] {
        entries.filter { $0.backingDevice == device }
    }

    /// `path` with symbolic links resolved when it exists (mountinfo shows canonical paths).
    public static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescape(_ field: String) -> String {
        guard field.contains("\\") else { return field }
        var bytes: [UInt8] = []
        let raw = Array(field.utf8)
        var index = 0
        while index < raw.count {
            if raw[index] == UInt8(ascii: "\\"), index + 3 < raw.count,
                let value = UInt8(String(decoding: raw[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(raw[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

#if canImport(Glibc)
    import Glibc
#endif
