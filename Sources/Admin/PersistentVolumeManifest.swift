import FlexLVMCore
import FlexVolume

/// The PersistentVolume `flexlvm provision` prints for an LV.
public struct PersistentVolumeManifest: Sendable, Equatable {
    public var name: String
    public var node: String
    public var volumeGroup: String
    public var volume: String
    public var capacityBytes: UInt64
    public var fsType: String
    public var storageClass: String
    public var accessModes: [String]

    /// A PV name from the node, VG and LV: a DNS subdomain (lowercase letters, digits, '-', '.').
    public static func defaultName(node: String, volumeGroup: String, volume: String) -> String {
        let raw = "\(node)-\(volumeGroup)-\(volume)".lowercased()
        var name = String(raw.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") ? $0 : "-" })
        while name.hasPrefix("-") || name.hasPrefix(".") { name.removeFirst() }
        while name.hasSuffix("-") || name.hasSuffix(".") { name.removeLast() }
        return String(name.prefix(253))
    }

    /// Checks the Kubernetes rules for the names this manifest carries.
    public func validate() throws {
        let subdomain =
            name.utf8.count <= 253 && !name.isEmpty
            && name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") }
            && name.first!.isLetterOrNumber && name.last!.isLetterOrNumber
        guard subdomain else {
            throw FlexLVMError(
                .invalidArgument, "PV name \(quoted(name)) is not a DNS subdomain (lowercase letters, digits, '-', '.')"
            )
        }
        guard
            storageClass.isEmpty
                || storageClass.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") })
        else { throw FlexLVMError(.invalidArgument, "storage class \(quoted(storageClass)) is not a valid name") }
        guard !node.isEmpty, node.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-._".contains($0)) })
        else {
            throw FlexLVMError(.invalidArgument, "node name \(quoted(node)) is not a valid label value")
        }
        let allowed = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteOncePod"]
        for mode in accessModes where !allowed.contains(mode) {
            throw FlexLVMError(
                .invalidArgument,
                "access mode \(quoted(mode)) is not one of \(allowed.joined(separator: ", ")) (a node-local LV cannot be shared across nodes)"
            )
        }
    }

    /// The manifest as YAML.
    public var yaml: String {
        var lines = [
            "apiVersion: v1",
            "kind: PersistentVolume",
            "metadata:",
            "  name: \(name)",
            "  labels:",
            "    flexlvm/node: \"\(node)\"",
            "spec:",
            "  capacity:",
            "    storage: \(Quantity.format(capacityBytes))",
            "  volumeMode: Filesystem",
            "  accessModes:",
        ]
        lines += accessModes.map { "  - \($0)" }
        lines += ["  persistentVolumeReclaimPolicy: Retain"]
        if !storageClass.isEmpty { lines.append("  storageClassName: \(storageClass)") }
        lines += [
            "  flexVolume:",
            "    driver: flexlvm/lvm",
            "    fsType: \(fsType)",
            "    options:",
            "      volumegroup: \"\(volumeGroup)\"",
            "      volumeID: \"\(volume)\"",
            "  nodeAffinity:",
            "    required:",
            "      nodeSelectorTerms:",
            "      - matchExpressions:",
            "        - key: kubernetes.io/hostname",
            "          operator: In",
            "          values:",
            "          - \"\(node)\"",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}

extension Character {
    fileprivate var isLetterOrNumber: Bool { isASCII && (isLetter || isNumber) }
}
