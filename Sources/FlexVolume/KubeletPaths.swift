import FlexLVMCore

/// kubelet's directory layout for this driver (contract §5), and the checks that keep every
/// path the driver mounts or unmounts inside it.
public struct KubeletPaths: Sendable {
    /// The driver's name as kubelet sees it: vendor `flexlvm`, driver `lvm`.
    public static let vendor = "flexlvm"
    public static let driver = "lvm"
    /// The plugin directory name, `vendor~driver`.
    public static let pluginDirectoryName = "\(vendor)~\(driver)"

    /// kubelet's root dir, e.g. /var/lib/kubelet.
    public let root: String

    public init(root: String) {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    /// Where kubelet mounts each volume once per node:
    /// `<root>/plugins/kubernetes.io/flexvolume/flexlvm/lvm/mounts`.
    public var globalMountsDirectory: String {
        "\(root)/plugins/kubernetes.io/flexvolume/\(Self.vendor)/\(Self.driver)/mounts"
    }

    /// The global mount dir of the volume named `volumeName` (the PV name).
    public func globalMountPath(_ volumeName: String) -> String { "\(globalMountsDirectory)/\(volumeName)" }

    /// The volume name of a global mount dir; fails for any path outside kubelet's
    /// `mounts` dir of this driver.
    public func volumeName(ofGlobalMountPath path: String) throws -> String {
        let prefix = globalMountsDirectory + "/"
        guard path.hasPrefix(prefix) else {
            throw FlexLVMError(
                .invalidArgument,
                "\(quoted(path)) is not a global mount dir of this driver (expected \(prefix)<volume name>)")
        }
        let name = String(path.dropFirst(prefix.count))
        try Self.checkVolumeName(name, in: path)
        return name
    }

    /// A pod's volume dir: `<root>/pods/<pod uid>/volumes/flexlvm~lvm/<volume name>`.
    public struct PodVolume: Sendable, Equatable {
        public let podUID: String
        public let volumeName: String
    }

    /// Splits a pod volume dir; fails for any path outside kubelet's pods tree or another
    /// driver's dir.
    public func podVolume(_ path: String) throws -> PodVolume {
        let prefix = "\(root)/pods/"
        let expected = "\(prefix)<pod uid>/volumes/\(Self.pluginDirectoryName)/<volume name>"
        guard path.hasPrefix(prefix) else {
            throw FlexLVMError(
                .invalidArgument, "\(quoted(path)) is not inside kubelet's pods dir (expected \(expected))")
        }
        let parts = path.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false).map(
            String.init)
        guard parts.count == 4, parts[1] == "volumes", parts[2] == Self.pluginDirectoryName else {
            throw FlexLVMError(
                .invalidArgument, "\(quoted(path)) is not a pod volume dir of this driver (expected \(expected))")
        }
        let uid = parts[0]
        guard !uid.isEmpty, uid.utf8.count <= 64,
            uid.utf8.allSatisfy({ LVMNameRules.isNameByte($0) && $0 != UInt8(ascii: "+") && $0 != UInt8(ascii: ".") })
        else {
            throw FlexLVMError(.invalidArgument, "\(quoted(path)): \(quoted(uid)) is not a pod UID")
        }
        try Self.checkVolumeName(parts[3], in: path)
        return PodVolume(podUID: uid, volumeName: parts[3])
    }

    /// The pods dir kubelet keeps.
    public var podsDirectory: String { "\(root)/pods" }

    // MARK: - Any kubelet root

    /// The part of a global mount dir below kubelet's root.
    static let globalMountsSuffix = "/plugins/kubernetes.io/flexvolume/\(vendor)/\(driver)/mounts/"

    /// The kubelet root and volume name of a global mount dir, whatever kubelet's
    /// `--root-dir`: the layout below the root is fixed, so the root is what precedes it.
    /// `allowedRoot` (the `kubeletRoot` setting), when set, is the only root accepted.
    public static func locate(globalMountPath path: String, allowedRoot: String?) throws -> (
        KubeletPaths, volumeName: String
    ) {
        guard let offset = Array(path.utf8).firstOffset(of: Array(globalMountsSuffix.utf8)) else {
            throw FlexLVMError(
                .invalidArgument,
                "\(quoted(path)) is not a global mount dir of this driver (expected <kubelet root>\(globalMountsSuffix)"
                    + "<volume name>)")
        }
        let root = String(decoding: Array(path.utf8)[..<offset], as: UTF8.self)
        let paths = try checkedRoot(root, of: path, allowedRoot: allowedRoot)
        return (paths, try paths.volumeName(ofGlobalMountPath: path))
    }

    /// The kubelet root and parts of a pod volume dir
    /// (`<kubelet root>/pods/<pod uid>/volumes/flexlvm~lvm/<volume name>`), whatever
    /// kubelet's `--root-dir`; `allowedRoot`, when set, is the only root accepted.
    public static func locate(podVolumeDir path: String, allowedRoot: String?) throws -> (KubeletPaths, PodVolume) {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        let expected = "<kubelet root>/pods/<pod uid>/volumes/\(pluginDirectoryName)/<volume name>"
        // The `pods` component: where the layout puts it, else (for a precise refusal of a
        // path of the wrong shape) the last one that something follows.
        guard
            let pods = parts.count >= 7 && parts[parts.count - 5] == "pods"
                ? parts.count - 5 : parts.dropLast().lastIndex(of: "pods"), pods > 0
        else {
            throw FlexLVMError(
                .invalidArgument, "\(quoted(path)) is not inside kubelet's pods dir (expected \(expected))")
        }
        let root = parts[..<pods].joined(separator: "/")
        let paths = try checkedRoot(root, of: path, allowedRoot: allowedRoot)
        return (paths, try paths.podVolume(path))
    }

    /// A kubelet root taken from a path: absolute, plain components, an existing directory,
    /// and the allowed root when one is set.
    static func checkedRoot(_ root: String, of path: String, allowedRoot: String?) throws -> KubeletPaths {
        let components = root.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard root.hasPrefix("/"), !components.isEmpty,
            components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." })
        else {
            throw FlexLVMError(.invalidArgument, "\(quoted(path)) does not lie below a kubelet root dir")
        }
        if let allowedRoot, KubeletPaths(root: allowedRoot).root != root {
            throw FlexLVMError(
                .invalidArgument,
                "\(quoted(path)) is below \(quoted(root)), not below kubelet root \(allowedRoot) (the kubeletRoot setting)"
            )
        }
        guard Files.isDirectory(root) else {
            throw FlexLVMError(.notFound, "kubelet root \(quoted(root)) of \(quoted(path)) is not a directory")
        }
        return KubeletPaths(root: root)
    }

    static func checkVolumeName(_ name: String, in path: String) throws {
        guard VolumeNameRules.isValid(name) else {
            throw FlexLVMError(.invalidArgument, "\(quoted(path)): \(quoted(name)) is not a volume name")
        }
    }
}
