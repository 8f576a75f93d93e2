#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The node-level settings of the driver.
///
/// Read from a `key = value` file (default `/etc/flexlvm/flexlvm.conf`, or the path in
/// `FLEXLVM_CONFIG`); each setting's environment variable wins over the file. A missing
/// file means defaults. Lines starting with `#` are comments.
public struct Configuration: Sendable, Equatable {
    public static let defaultPath = "/etc/flexlvm/flexlvm.conf"

    /// The Kubernetes node name from `FLEXLVM_NODE_NAME` or `nodeName`; nil means "use the
    /// host name as kubelet does" (see ``NodeIdentity``).
    public var nodeName: String?
    /// The driver's JSON-lines log (`FLEXLVM_LOG`, `logFile`). Never inside the plugin dir.
    public var logFile: String = "/var/log/flexlvm/flexlvm.log"
    /// Durable driver state such as the PV-name-to-LV map (`FLEXLVM_STATE_DIR`, `stateDir`).
    public var stateDir: String = "/var/lib/flexlvm"
    /// Where the attach:false mode mounts each LV once per node before binding it into pods
    /// (`FLEXLVM_STAGING_DIR`, `stagingDir`). Outside the plugin dir and kubelet's pods tree.
    public var stagingDir: String = "/var/lib/flexlvm/staging"
    /// Per-volume lock files (`FLEXLVM_LOCK_DIR`, `lockDir`).
    public var lockDir: String = "/run/lock/flexlvm"
    /// kubelet's root dir (`FLEXLVM_KUBELET_ROOT`, `kubeletRoot`).
    public var kubeletRoot: String = "/var/lib/kubelet"
    /// The VGs whose LVs the driver may serve (`FLEXLVM_VOLUME_GROUPS`, `volumeGroups`,
    /// comma-separated); empty means any VG.
    public var volumeGroups: [String] = []
    /// Whether `init` reports `attach: true` (`FLEXLVM_ATTACH`, `attach`).
    public var attach: Bool = true

    public init() {}

    /// The settings in force: defaults, then the file, then the environment.
    public static func load() throws -> Configuration {
        var configuration = Configuration()
        let path = Environment.value("FLEXLVM_CONFIG") ?? defaultPath
        if Files.exists(path) {
            try configuration.apply(fileContents: try Files.read(path, limit: 64 * 1024), source: path)
        } else if Environment.value("FLEXLVM_CONFIG") != nil {
            throw FlexLVMError(.notFound, "configuration file \(path) (named by FLEXLVM_CONFIG) does not exist")
        }
        try configuration.apply(environment: Environment.value)
        return configuration
    }

    /// Applies `key = value` lines.
    public mutating func apply(fileContents bytes: [UInt8], source: String) throws {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FlexLVMError(.invalidArgument, "\(source) is not UTF-8 text")
        }
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw FlexLVMError(.invalidArgument, "\(source):\(number + 1): expected 'key = value'")
            }
            let key = line[..<equals].trimmingSpaces
            let value = line[line.index(after: equals)...].trimmingSpaces
            try set(key, value, source: "\(source):\(number + 1)")
        }
    }

    /// Applies the `FLEXLVM_*` environment variables found through `lookup`.
    public mutating func apply(environment lookup: (String) -> String?) throws {
        let names = [
            ("FLEXLVM_NODE_NAME", "nodeName"), ("FLEXLVM_LOG", "logFile"), ("FLEXLVM_STATE_DIR", "stateDir"),
            ("FLEXLVM_LOCK_DIR", "lockDir"), ("FLEXLVM_STAGING_DIR", "stagingDir"),
            ("FLEXLVM_KUBELET_ROOT", "kubeletRoot"), ("FLEXLVM_ATTACH", "attach"),
            ("FLEXLVM_VOLUME_GROUPS", "volumeGroups"),
        ]
        for (variable, key) in names {
            if let value = lookup(variable) { try set(key, value.trimmingSpaces, source: variable) }
        }
    }

    private mutating func set(_ key: String, _ value: String, source: String) throws {
        func absolutePath() throws -> String {
            guard value.hasPrefix("/"), !value.split(separator: "/").contains("..") else {
                throw FlexLVMError(.invalidArgument, "\(source): \(key) must be an absolute path without '..'")
            }
            return value
        }
        switch key {
        case "nodeName": nodeName = value.isEmpty ? nil : value
        case "logFile": logFile = try absolutePath()
        case "stateDir": stateDir = try absolutePath()
        case "lockDir": lockDir = try absolutePath()
        case "stagingDir": stagingDir = try absolutePath()
        case "kubeletRoot": kubeletRoot = try absolutePath()
        case "volumeGroups":
            volumeGroups = value.split(separator: ",").map { $0.trimmingSpaces }.filter { !$0.isEmpty }
        case "attach":
            switch value.lowercased() {
            case "true", "yes", "1": attach = true
            case "false", "no", "0": attach = false
            default: throw FlexLVMError(.invalidArgument, "\(source): attach must be true or false, not '\(value)'")
            }
        default:
            throw FlexLVMError(.invalidArgument, "\(source): unknown setting '\(key)'")
        }
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces, tabs and carriage returns.
    public var trimmingSpaces: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}

/// The name of the Kubernetes node this driver runs on.
public enum NodeIdentity {
    /// The configured node name, else the host name lowercased and trimmed, as kubelet
    /// derives its default node name.
    public static func localNodeName(_ configuration: Configuration) -> String {
        if let name = configuration.nodeName { return name }
        return hostName().trimmingSpaces.lowercased()
    }

    /// gethostname(2).
    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
