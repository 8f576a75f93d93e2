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
    /// kubelet's root dir, when the admin restricts the driver to one (`FLEXLVM_KUBELET_ROOT`,
    /// `kubeletRoot`). Nil (the default) means the root is taken from each path kubelet passes,
    /// whatever its `--root-dir` (`/var/lib/kubelet`, k0s's, microk8s's).
    public var kubeletRoot: String?
    /// The VGs whose LVs the driver may serve (`FLEXLVM_VOLUME_GROUPS`, `volumeGroups`,
    /// comma-separated); empty means any VG.
    public var volumeGroups: [String] = []
    /// Whether `init` reports `attach: true` (`FLEXLVM_ATTACH`, `attach`); nil when neither
    /// says, and the default depends on where the driver is installed. Validated here with
    /// the rest; `init` reads it through ``AttachMode``, which never fails.
    public var attach: Bool?

    public init() {}

    /// The settings in force: defaults, then the file, then the environment. Any problem in
    /// the file or the environment is an error naming it.
    public static func load() throws -> Configuration {
        let (configuration, problems) = loadLeniently()
        if let error = brokenError(problems) { throw error }
        return configuration
    }

    /// The error that names the first of `problems` (nil when there are none).
    public static func brokenError(_ problems: [String]) -> FlexLVMError? {
        guard let first = problems.first else { return nil }
        return FlexLVMError(
            .invalidArgument,
            "the driver's configuration is broken: \(first)"
                + (problems.count > 1 ? " (and \(problems.count - 1) more problem(s))" : "")
                + "; run 'flexlvm doctor'")
    }

    /// The settings in force with every broken line or variable skipped (its default kept),
    /// and the problems found. Calls that release volumes (unmount, unmountdevice, detach,
    /// reconcile) and `doctor` use this, so a typo in the file never strands a volume.
    public static func loadLeniently() -> (Configuration, problems: [String]) {
        var configuration = Configuration()
        var problems: [String] = []
        let named = Environment.value("FLEXLVM_CONFIG")
        let path = named ?? defaultPath
        if Files.exists(path) {
            do {
                problems += configuration.apply(fileContents: try Files.read(path, limit: 64 * 1024), source: path)
            } catch {
                problems.append("\(path) cannot be read: \(error)")
            }
        } else if named != nil {
            problems.append("configuration file \(path) (named by FLEXLVM_CONFIG) does not exist")
        }
        problems += configuration.apply(environment: Environment.value)
        return (configuration, problems)
    }

    /// Applies `key = value` lines; returns the problems of the lines it skipped.
    @discardableResult
    public mutating func apply(fileContents bytes: [UInt8], source: String) -> [String] {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return ["\(source) is not UTF-8 text"]
        }
        var problems: [String] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingSpaces
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                problems.append("\(source):\(number + 1): expected 'key = value'")
                continue
            }
            let key = line[..<equals].trimmingSpaces
            let value = line[line.index(after: equals)...].trimmingSpaces
            do {
                try set(key, value, source: "\(source):\(number + 1)")
            } catch {
                problems.append("\(error)")
            }
        }
        return problems
    }

    /// The `FLEXLVM_*` variables and the settings they set.
    static let environmentNames = [
        ("FLEXLVM_NODE_NAME", "nodeName"), ("FLEXLVM_LOG", "logFile"), ("FLEXLVM_STATE_DIR", "stateDir"),
        ("FLEXLVM_LOCK_DIR", "lockDir"), ("FLEXLVM_STAGING_DIR", "stagingDir"),
        ("FLEXLVM_KUBELET_ROOT", "kubeletRoot"), ("FLEXLVM_ATTACH", "attach"),
        ("FLEXLVM_VOLUME_GROUPS", "volumeGroups"),
    ]

    /// Applies the `FLEXLVM_*` environment variables found through `lookup`; returns the
    /// problems of the variables it skipped.
    @discardableResult
    public mutating func apply(environment lookup: (String) -> String?) -> [String] {
        var problems: [String] = []
        for (variable, key) in Self.environmentNames {
            guard let value = lookup(variable) else { continue }
            do {
                try set(key, value.trimmingSpaces, source: variable)
            } catch {
                problems.append("\(error)")
            }
        }
        return problems
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
        case "kubeletRoot": kubeletRoot = value.isEmpty ? nil : try absolutePath()
        case "volumeGroups":
            volumeGroups = value.split(separator: ",").map { $0.trimmingSpaces }.filter { !$0.isEmpty }
        case "attach":
            guard let parsed = Self.parseBool(value) else {
                throw FlexLVMError(.invalidArgument, "\(source): attach must be true or false, not \(quoted(value))")
            }
            attach = parsed
        default:
            throw FlexLVMError(.invalidArgument, "\(source): unknown setting \(quoted(key))")
        }
    }

    static func parseBool(_ value: String) -> Bool? {
        switch value.lowercased() {
        case "true", "yes", "1": return true
        case "false", "no", "0": return false
        default: return nil
        }
    }
}

/// Whether `init` reports `attach: true`, and why: decided from what cannot be broken, so
/// that `init` always answers (kubelet drops a plugin whose `init` fails, and with it every
/// unmount of the volumes in use).
///
/// In order: `FLEXLVM_ATTACH` when it is a boolean; else the config file's `attach` line when
/// it is one (other lines, broken or not, are not read); else false when the driver is
/// installed in OpenShift's plugin dir (OpenShift never calls attach or detach); else true.
public struct AttachMode: Sendable, Equatable {
    /// OpenShift's FlexVolume plugin dir.
    public static let openShiftPluginDir = "/etc/kubernetes/kubelet-plugins/volume/exec"

    public let attach: Bool
    /// Where the decision came from, for `doctor` and the log.
    public let reason: String

    public init(attach: Bool, reason: String) {
        self.attach = attach
        self.reason = reason
    }

    /// The mode for a driver run from `executablePaths` (argv[0], /proc/self/exe).
    public static func decide(
        environment lookup: (String) -> String?, configFile: [UInt8]?, configPath: String,
        executablePaths: [String]
    ) -> AttachMode {
        if let value = lookup("FLEXLVM_ATTACH"), let attach = Configuration.parseBool(value.trimmingSpaces) {
            return AttachMode(attach: attach, reason: "FLEXLVM_ATTACH=\(value.trimmingSpaces)")
        }
        if let bytes = configFile, let text = String(validating: bytes, as: UTF8.self) {
            // The last valid line wins, as it does in the configuration.
            for rawLine in text.split(separator: "\n").reversed() {
                let line = rawLine.trimmingSpaces
                guard !line.hasPrefix("#"), let equals = line.firstIndex(of: "="),
                    line[..<equals].trimmingSpaces == "attach",
                    let attach = Configuration.parseBool(line[line.index(after: equals)...].trimmingSpaces)
                else { continue }
                return AttachMode(attach: attach, reason: "attach = \(attach) in \(configPath)")
            }
        }
        if executablePaths.contains(where: { $0.hasPrefix(openShiftPluginDir + "/") }) {
            return AttachMode(
                attach: false,
                reason: "installed in OpenShift's plugin dir \(openShiftPluginDir), whose KCM runs no driver")
        }
        return AttachMode(attach: true, reason: "default")
    }

    /// The mode of this process.
    public static func current() -> AttachMode {
        let path = Environment.value("FLEXLVM_CONFIG") ?? Configuration.defaultPath
        var executables = [CommandLine.arguments.first ?? ""]
        if let resolved = Paths.currentExecutable() { executables.append(resolved) }
        return decide(
            environment: Environment.value, configFile: try? Files.read(path, limit: 64 * 1024), configPath: path,
            executablePaths: executables)
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
