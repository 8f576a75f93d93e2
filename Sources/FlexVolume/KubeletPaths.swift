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

    static func checkVolumeName(_ name: String, in path: String) throws {
        guard VolumeNameRules.isValid(name) else {
            throw FlexLVMError(.invalidArgument, "\(quoted(path)): \(quoted(name)) is not a volume name")
        }
    }
}
