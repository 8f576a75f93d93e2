import FlexLVMCore

/// Why LVM would refuse a VG or LV name, checked before any name reaches liblvm2cmd.
///
/// The rules are LVM2 2.03's (`validate_name`, `apply_lvname_restrictions` in
/// lib/misc/lvm-string.c): characters `[A-Za-z0-9+_.-]`, no leading `-`, not `.` or `..`,
/// at most 127 bytes; LV names must not start with `snapshot` or `pvmove` nor contain a
/// reserved sub-LV suffix. Because names are validated this strictly, they can be passed to
/// liblvm2cmd's command line without quoting.
public enum LVMNameRules {
    public static let maximumLength = 127
    public static let reservedLVPrefixes = ["snapshot", "pvmove"]
    public static let reservedLVSubstrings = [
        "_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_imeta", "_iorig", "_mimage", "_mlog", "_pmspare",
        "_rimage", "_rmeta", "_tdata", "_tmeta", "_vdata", "_vorigin", "_wcorig",
    ]

    /// Throws an ``FlexLVMError`` naming the rule `name` breaks; `what` is "volumegroup" or "volumeID".
    public static func validate(_ name: String, as what: String, isLogicalVolume: Bool) throws {
        func refuse(_ reason: String) -> FlexLVMError {
            FlexLVMError(.invalidArgument, "option \(what) \(quoted(name)) is not a valid LVM name: \(reason)")
        }
        guard !name.isEmpty else { throw refuse("it is empty") }
        guard name.utf8.count <= maximumLength else {
            throw refuse("it is \(name.utf8.count) bytes long, more than \(maximumLength)")
        }
        guard name.utf8.allSatisfy(isNameByte) else {
            throw refuse("only letters, digits and + _ . - are allowed")
        }
        guard !name.hasPrefix("-") else { throw refuse("it must not start with '-'") }
        guard name != "." && name != ".." else { throw refuse("'.' and '..' are reserved") }
        if isLogicalVolume {
            if let prefix = reservedLVPrefixes.first(where: { name.hasPrefix($0) }) {
                throw refuse("names starting with '\(prefix)' are reserved by LVM")
            }
            if let part = reservedLVSubstrings.first(where: { name.contains($0) }) {
                throw refuse("names containing '\(part)' are reserved by LVM for internal volumes")
            }
        }
    }

    public static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: "-"):
            return true
        default: return false
        }
    }
}

/// The names kubelet gives volumes (a PV's name, or a pod's volume name for an inline volume)
/// as far as the driver lets them into paths and its state dir: 1 to 253 bytes of
/// `[A-Za-z0-9_.-]`, not starting with '.' or '-' (so never `.`, `..` or an option). Every
/// DNS subdomain and label, which is what Kubernetes allows, passes.
public enum VolumeNameRules {
    public static let maximumLength = 253

    public static func isValid(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= maximumLength && !name.hasPrefix(".") && !name.hasPrefix("-")
            && name.utf8.allSatisfy { LVMNameRules.isNameByte($0) && $0 != UInt8(ascii: "+") }
    }
}

/// A validated reference to one logical volume: `volumegroup` and `volumeID` of a PV.
public struct LogicalVolumeRef: Hashable, Sendable, CustomStringConvertible {
    public let volumeGroup: String
    public let name: String

    /// Validates both names against LVM's rules.
    public init(volumeGroup: String, name: String) throws {
        try LVMNameRules.validate(volumeGroup, as: "volumegroup", isLogicalVolume: false)
        try LVMNameRules.validate(name, as: "volumeID", isLogicalVolume: true)
        self.volumeGroup = volumeGroup
        self.name = name
        guard deviceMapperName.utf8.count <= 127 else {
            throw FlexLVMError(
                .invalidArgument,
                "volumegroup and volumeID together are too long: the device-mapper name \(deviceMapperName) exceeds 127 bytes"
            )
        }
    }

    /// `vg/lv`, as LVM commands take it.
    public var lvmPath: String { "\(volumeGroup)/\(name)" }
    public var description: String { lvmPath }

    /// The device-mapper name LVM gives the LV: both names with `-` doubled, joined by `-`.
    public var deviceMapperName: String {
        "\(volumeGroup.replacing("-", with: "--"))-\(name.replacing("-", with: "--"))"
    }

    /// The block device kubelet is told about: `/dev/mapper/<dm name>`.
    public var devicePath: String { "/dev/mapper/\(deviceMapperName)" }
}

extension LogicalVolumeRef {
    /// The LV whose device-mapper name is `name` (`vg-lv` with dashes doubled), or nil when
    /// `name` is not of that form.
    public init?(deviceMapperName name: String) {
        var parts: [[Character]] = [[]]
        let characters = Array(name)
        var index = 0
        while index < characters.count {
            if characters[index] == "-" {
                if index + 1 < characters.count && characters[index + 1] == "-" {
                    parts[parts.count - 1].append("-")
                    index += 2
                    continue
                }
                parts.append([])
            } else {
                parts[parts.count - 1].append(characters[index])
            }
            index += 1
        }
        guard parts.count == 2, let ref = try? LogicalVolumeRef(volumeGroup: String(parts[0]), name: String(parts[1]))
        else { return nil }
        self = ref
    }
}
