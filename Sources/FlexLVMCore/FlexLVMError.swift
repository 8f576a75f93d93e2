#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The one error type of FlexLVM: an extensible code, a message an admin can act on, and
/// the underlying cause (an ``Errno``, LVM's own words, or another ``FlexLVMError``).
public struct FlexLVMError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is. Extensible: new codes are new static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The caller passed something malformed or unsafe (argv, JSON, an option value).
        public static let invalidArgument = Code("invalidArgument")
        /// A named object (VG, LV, device, path) does not exist.
        public static let notFound = Code("notFound")
        /// The object exists but is in use (an open device, a foreign mount).
        public static let busy = Code("busy")
        /// The object exists but is of the wrong kind (thin pool, wrong filesystem).
        public static let unsupported = Code("unsupported")
        /// liblvm2cmd refused or failed a command.
        public static let lvm = Code("lvm")
        /// A libdevmapper query or the device-mapper ioctl failed.
        public static let deviceMapper = Code("deviceMapper")
        /// A system call failed.
        public static let system = Code("system")
        /// Something did not happen within its time bound.
        public static let timeout = Code("timeout")
        /// A broken invariant inside the driver.
        public static let internalError = Code("internalError")
    }

    public let code: Code
    public let message: String
    public let cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The message followed by the chain of causes, as an admin reads it.
    public var description: String {
        guard let cause else { return message }
        return "\(message): \(cause)"
    }
}

/// A typed `errno` value.
public struct Errno: Error, Hashable, CustomStringConvertible, Sendable {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }

    /// The calling thread's current `errno`.
    public static var current: Errno { Errno(errno) }

    public static let interrupted = Errno(EINTR)
    public static let noSuchFile = Errno(ENOENT)
    public static let exists = Errno(EEXIST)
    public static let busy = Errno(EBUSY)
    public static let wouldBlock = Errno(EAGAIN)
    public static let invalid = Errno(EINVAL)
    public static let noDevice = Errno(ENODEV)
    public static let noDeviceOrAddress = Errno(ENXIO)

    public var description: String {
        guard let text = strerror(rawValue) else { return "errno \(rawValue)" }
        return "\(String(cString: text)) (errno \(rawValue))"
    }
}
