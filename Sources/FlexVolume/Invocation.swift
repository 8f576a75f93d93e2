import FlexLVMCore

/// One FlexVolume call, with its arguments parsed and validated (contract §1).
public enum Call: Sendable, Equatable {
    case initialize
    case getVolumeName
    case attach(VolumeOptions, node: String)
    case waitForAttach(devicePath: String, VolumeOptions)
    case isAttached(VolumeOptions, node: String)
    case detach(volumeName: String, node: String)
    case mountDevice(mountPath: String, devicePath: String, VolumeOptions)
    case unmountDevice(mountPath: String)
    case mount(podDir: String, VolumeOptions)
    case unmount(podDir: String)
    case expandVolume(VolumeOptions, mountPath: String, newSize: Int64, oldSize: Int64)
    case expandFS(VolumeOptions, devicePath: String, mountPath: String, newSize: Int64, oldSize: Int64)

    /// attach, isattached and detach: the calls kube-controller-manager makes.
    public var isControllerCall: Bool {
        switch self {
        case .attach, .isAttached, .detach: return true
        default: return false
        }
    }

    /// unmount, unmountdevice and detach: the calls that release volumes. They run with a
    /// broken configuration file too (its broken lines skipped), so a typo in it can never
    /// keep a pod in Terminating.
    public var releasesVolumes: Bool {
        switch self {
        case .unmount, .unmountDevice, .detach: return true
        default: return false
        }
    }

    /// The operation name as it appears in argv[1].
    public var operation: String {
        switch self {
        case .initialize: return "init"
        case .getVolumeName: return "getvolumename"
        case .attach: return "attach"
        case .waitForAttach: return "waitforattach"
        case .isAttached: return "isattached"
        case .detach: return "detach"
        case .mountDevice: return "mountdevice"
        case .unmountDevice: return "unmountdevice"
        case .mount: return "mount"
        case .unmount: return "unmount"
        case .expandVolume: return "expandvolume"
        case .expandFS: return "expandfs"
        }
    }
}

/// Turns argv into a ``Call``.
///
/// Arguments arrive as raw bytes: argv is not guaranteed to be UTF-8, and Swift's
/// `CommandLine.arguments` would silently repair it.
public enum Invocation {
    /// The outcome of parsing argv.
    public enum Parsed: Sendable, Equatable {
        case call(Call)
        /// An operation this driver does not implement: answered "Not supported", exit 0.
        case notSupported(operation: String)
    }

    /// First arguments that name `flexlvm`'s admin commands (run by the node binary), which
    /// no FlexVolume operation uses.
    public static let adminCommands: Set<String> = [
        "provision", "volumes", "snapshot", "restore", "clone", "reconcile", "metrics", "doctor", "install",
        "uninstall", "agent", "help", "-h", "--help",
        "--generate-completion-script",
    ]

    /// Operations the client may call that this driver answers "Not supported" always.
    static let unsupportedOperations: Set<String> = ["getvolumename"]

    /// Parses `arguments` (argv without argv[0]).
    public static func parse(_ arguments: [[UInt8]]) throws -> Parsed {
        guard let first = arguments.first else {
            throw usage("no operation given")
        }
        guard let operation = String(validating: first, as: UTF8.self), !operation.isEmpty,
            operation.utf8.count <= 64, operation.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else {
            throw usage("the operation name is not a printable ASCII word")
        }
        let rest = Array(arguments.dropFirst())
        let reader = ArgumentReader(operation: operation, arguments: rest)
        switch operation {
        case "init":
            try reader.expectCount(0, "init")
            return .call(.initialize)
        case "getvolumename":
            return .call(.getVolumeName)
        case "attach":
            try reader.expectCount(2, "attach <json options> <node name>")
            return .call(.attach(try reader.options(0), node: try reader.nodeName(1)))
        case "waitforattach":
            try reader.expectCount(2, "waitforattach <device path> <json options>")
            return .call(.waitForAttach(devicePath: try reader.devicePath(0), try reader.options(1)))
        case "isattached":
            try reader.expectCount(2, "isattached <json options> <node name>")
            // Old kubelets passed <node name> <json options>: take whichever is the object.
            let jsonFirst = rest[0].first(where: { !isJSONWhitespace($0) }) == UInt8(ascii: "{")
            let jsonSecond = rest[1].first(where: { !isJSONWhitespace($0) }) == UInt8(ascii: "{")
            let (optionsIndex, nodeIndex) = (!jsonFirst && jsonSecond) ? (1, 0) : (0, 1)
            return .call(.isAttached(try reader.options(optionsIndex), node: try reader.nodeName(nodeIndex)))
        case "detach":
            try reader.expectCount(2, "detach <volume name> <node name>")
            return .call(.detach(volumeName: try reader.volumeName(0), node: try reader.nodeName(1)))
        case "mountdevice":
            try reader.expectCount(3, "mountdevice <mount dir> <device path> <json options>")
            return .call(
                .mountDevice(mountPath: try reader.path(0), devicePath: try reader.devicePath(1), try reader.options(2))
            )
        case "unmountdevice":
            try reader.expectCount(1, "unmountdevice <mount dir>")
            return .call(.unmountDevice(mountPath: try reader.path(0)))
        case "mount":
            try reader.expectCount(2, "mount <pod volume dir> <json options>")
            return .call(.mount(podDir: try reader.path(0), try reader.options(1)))
        case "unmount":
            try reader.expectCount(1, "unmount <pod volume dir>")
            return .call(.unmount(podDir: try reader.path(0)))
        case "expandvolume":
            try reader.expectCount(4, "expandvolume <json options> <mount dir> <new size> <old size>")
            return .call(
                .expandVolume(
                    try reader.options(0), mountPath: try reader.path(1, allowEmpty: true), newSize: try reader.size(2),
                    oldSize: try reader.size(3, allowZero: true)))
        case "expandfs":
            try reader.expectCount(5, "expandfs <json options> <device path> <mount dir> <new size> <old size>")
            return .call(
                .expandFS(
                    try reader.options(0), devicePath: try reader.devicePath(1), mountPath: try reader.path(2),
                    newSize: try reader.size(3), oldSize: try reader.size(4, allowZero: true)))
        default:
            return .notSupported(operation: operation)
        }
    }

    static func usage(_ message: String) -> FlexLVMError {
        FlexLVMError(.invalidArgument, "usage: \(message)")
    }

    static func isJSONWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }
}

/// Validated access to positional arguments.
struct ArgumentReader {
    let operation: String
    let arguments: [[UInt8]]

    static let maximumPathLength = 4095
    static let maximumNameLength = VolumeNameRules.maximumLength

    func expectCount(_ count: Int, _ synopsis: String) throws {
        guard arguments.count == count else {
            throw FlexLVMError(
                .invalidArgument,
                "\(operation) takes \(count) argument\(count == 1 ? "" : "s") (\(synopsis)), got \(arguments.count)")
        }
    }

    func text(_ index: Int, _ what: String) throws -> String {
        guard let string = String(validating: arguments[index], as: UTF8.self) else {
            throw FlexLVMError(.invalidArgument, "\(operation): the \(what) argument is not valid UTF-8")
        }
        return string
    }

    func options(_ index: Int) throws -> VolumeOptions {
        do {
            return try VolumeOptions.parse(arguments[index])
        } catch let error as FlexLVMError {
            throw FlexLVMError(error.code, "\(operation): \(error.message)")
        }
    }

    func nodeName(_ index: Int) throws -> String {
        let name = try text(index, "node name")
        guard !name.isEmpty, name.utf8.count <= Self.maximumNameLength,
            name.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F && $0 != "/" })
        else {
            throw FlexLVMError(
                .invalidArgument, "\(operation): node name \(quoted(name)) is not a valid Kubernetes node name")
        }
        return name
    }

    /// A PV name or inline volume name: a DNS subdomain or label.
    func volumeName(_ index: Int) throws -> String {
        let name = try text(index, "volume name")
        guard VolumeNameRules.isValid(name) else {
            throw FlexLVMError(
                .invalidArgument,
                "\(operation): volume name \(quoted(name)) is not a valid PersistentVolume or volume name")
        }
        return name
    }

    /// An absolute path with no `..` component and no control characters.
    func path(_ index: Int, allowEmpty: Bool = false) throws -> String {
        let path = try text(index, "path")
        if allowEmpty && path.isEmpty { return path }
        guard path.hasPrefix("/"), path.utf8.count <= Self.maximumPathLength,
            !path.split(separator: "/").contains(".."),
            !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else {
            throw FlexLVMError(
                .invalidArgument, "\(operation): \(quoted(path)) is not an absolute path without '..' components")
        }
        return path
    }

    /// A device path: an absolute path, or empty when attach returned no device.
    func devicePath(_ index: Int) throws -> String {
        try path(index, allowEmpty: true)
    }

    /// A size in bytes: decimal digits, positive unless `allowZero`.
    func size(_ index: Int, allowZero: Bool = false) throws -> Int64 {
        let text = try text(index, "size")
        guard !text.isEmpty, text.utf8.count <= 19, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let value = Int64(text), allowZero || value > 0
        else {
            throw FlexLVMError(
                .invalidArgument,
                "\(operation): size \(quoted(text)) is not a \(allowZero ? "" : "positive ")number of bytes")
        }
        return value
    }
}

extension Call {
    /// What the driver's log records of a call: names and paths, never the raw JSON (which
    /// may carry secrets in `mount`).
    public var logFields: [(String, String)] {
        func volume(_ options: VolumeOptions) -> [(String, String)] {
            [
                ("vg", options.volumeGroup ?? ""), ("lv", options.volumeID ?? ""), ("pv", options.pvOrVolumeName ?? ""),
                ("fsType", options.fsType), ("readOnly", String(options.readOnly)),
            ]
        }
        switch self {
        case .initialize, .getVolumeName: return []
        case .attach(let options, let node), .isAttached(let options, let node):
            return volume(options) + [("node", node)]
        case .waitForAttach(let devicePath, let options): return volume(options) + [("devicePath", devicePath)]
        case .detach(let volumeName, let node): return [("pv", volumeName), ("node", node)]
        case .mountDevice(let mountPath, let devicePath, let options):
            return volume(options) + [("path", mountPath), ("devicePath", devicePath)]
        case .unmountDevice(let path), .unmount(let path): return [("path", path)]
        case .mount(let podDir, let options): return volume(options) + [("path", podDir)]
        case .expandVolume(let options, _, let newSize, _): return volume(options) + [("newSize", String(newSize))]
        case .expandFS(let options, _, let mountPath, let newSize, _):
            return volume(options) + [("path", mountPath), ("newSize", String(newSize))]
        }
    }
}
