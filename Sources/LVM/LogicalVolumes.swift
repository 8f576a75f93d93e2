import CSystem
import FlexLVMCore
import FlexVolume

#if canImport(Glibc)
    import Glibc
#endif

/// What LVM's metadata says of one LV.
public struct LogicalVolumeInfo: Sendable, Equatable {
    public let ref: LogicalVolumeRef
    public let vgUUID: String
    public let lvUUID: String
    /// lv_attr, e.g. "-wi-a-----".
    public let attributes: String
    public let sizeBytes: UInt64
    public let tags: [String]
    public let segmentType: String

    /// The DM UUID the kernel device of this LV carries: `LVM-<vg uuid><lv uuid>`, dashes removed.
    public var deviceMapperUUID: String {
        "LVM-" + vgUUID.filter { $0 != "-" } + lvUUID.filter { $0 != "-" }
    }

    /// lv_attr's first letter: '-' plain, 't' thin pool, 'V' thin volume, 's' snapshot, ...
    public var volumeType: Character { attributes.first ?? "?" }

    /// Whether the LV holds data a filesystem can live on (not a pool, image, log or
    /// metadata sub-LV, not a pvmove or VDO pool).
    public var isMountable: Bool { !"tTdDeiIlpc".contains(volumeType) }

    /// A phrase for the LV's type in messages.
    public var typeDescription: String {
        switch volumeType {
        case "t": return "a thin pool"
        case "T": return "thin pool data"
        case "d", "D": return "a VDO pool"
        case "e": return "pool or RAID metadata"
        case "i", "I": return "a mirror or RAID image"
        case "l": return "a mirror log"
        case "p": return "a pvmove volume"
        case "c": return "a volume under conversion"
        default: return "a \(segmentType) volume"
        }
    }

    /// Whether LVM's metadata says the LV is active on this host.
    public var isActive: Bool {
        let index = attributes.index(attributes.startIndex, offsetBy: 4, limitedBy: attributes.endIndex)
        return index.map { $0 < attributes.endIndex && attributes[$0] == "a" } ?? false
    }
}

extension LVM {
    static let reportFields = "vg_uuid,lv_uuid,lv_attr,lv_size,lv_tags,segtype"

    /// Reads one LV's metadata. Throws `.notFound` naming the VG or the LV when either is
    /// missing, with LVM's own words.
    public func logicalVolume(_ ref: LogicalVolumeRef) throws -> LogicalVolumeInfo {
        let output: Output
        do {
            output = try run(
                [
                    "lvs", "--noheadings", "--nosuffix", "--units", "b", "--separator", "|", "-o",
                    Self.reportFields, ref.lvmPath,
                ], for: "LV \(ref)")
        } catch let error as FlexLVMError {
            let said = (error.cause as? LVMMessagesError)?.messages ?? []
            if said.contains(where: { $0.contains("Volume group") && $0.contains("not found") }) {
                throw FlexLVMError(
                    .notFound,
                    "volume group \(ref.volumeGroup) not found on this node (LVM: \(said.joined(separator: "; ")))")
            }
            if said.contains(where: { $0.contains("Failed to find logical volume") }) {
                throw FlexLVMError(
                    .notFound, "logical volume \(ref.name) not found in volume group \(ref.volumeGroup)")
            }
            throw error
        }
        guard let row = output.lines.first(where: { $0.contains("|") }) else {
            throw FlexLVMError(.notFound, "logical volume \(ref.name) not found in volume group \(ref.volumeGroup)")
        }
        let fields = row.trimmingSpaces.split(separator: "|", omittingEmptySubsequences: false).map { String($0) }
        guard fields.count == 6, let size = UInt64(fields[3].trimmingSpaces) else {
            throw FlexLVMError(.lvm, "unexpected lvs output for \(ref): \(quoted(row))")
        }
        return LogicalVolumeInfo(
            ref: ref, vgUUID: fields[0], lvUUID: fields[1], attributes: fields[2], sizeBytes: size,
            tags: fields[4].split(separator: ",").map { String($0) }, segmentType: fields[5])
    }

    /// Activates the LV (`lvchange -ay`).
    public func activate(_ ref: LogicalVolumeRef) throws {
        try run(["lvchange", "-ay", ref.lvmPath], for: "LV \(ref)")
    }

    /// Deactivates the LV (`lvchange -an`).
    public func deactivate(_ ref: LogicalVolumeRef) throws {
        try run(["lvchange", "-an", ref.lvmPath], for: "LV \(ref)")
    }
}

extension LVM {
    /// Free space and extent size of a VG.
    public struct VolumeGroupSpace: Sendable {
        public let freeBytes: UInt64
        public let extentSize: UInt64
    }

    /// Reads a VG's free space (`vgs -o vg_free,vg_extent_size`).
    public func volumeGroupSpace(_ name: String) throws -> VolumeGroupSpace {
        let output = try run(
            [
                "vgs", "--noheadings", "--nosuffix", "--units", "b", "--separator", "|", "-o", "vg_free,vg_extent_size",
                name,
            ],
            for: "VG \(name)")
        guard let row = output.lines.first(where: { $0.contains("|") }) else {
            throw FlexLVMError(.notFound, "volume group \(name) not found")
        }
        let fields = row.trimmingSpaces.split(separator: "|").map { UInt64($0.trimmingSpaces) }
        guard fields.count == 2, let free = fields[0], let extent = fields[1] else {
            throw FlexLVMError(.lvm, "unexpected vgs output for \(name): \(quoted(row))")
        }
        return VolumeGroupSpace(freeBytes: free, extentSize: extent)
    }
}

extension LVM {
    /// The tag marking LVs that `flexlvm provision` created.
    public static let managedTag = "flexlvm"
    /// The tag prefix recording the PersistentVolume name of a provisioned LV.
    public static let persistentVolumeTagPrefix = "flexlvm.pv="

    /// Creates an LV of `sizeBytes` (LVM rounds up to whole extents), or a thin LV of that
    /// virtual size in `thinPool`, with `tags`, wiping old signatures, and leaves it inactive.
    public func createVolume(_ ref: LogicalVolumeRef, sizeBytes: UInt64, thinPool: String?, tags: [String]) throws {
        var words = ["lvcreate", "-q", "-y", "-W", "y", "-n", ref.name]
        if let thinPool {
            try LVMNameRules.validate(thinPool, as: "thin pool", isLogicalVolume: true)
            words += ["-V", "\(sizeBytes)b", "--thinpool", thinPool]
        } else {
            words += ["-L", "\(sizeBytes)b"]
        }
        for tag in tags { words += ["--addtag", tag] }
        try run(words + [ref.volumeGroup], for: "LV \(ref)")
        try deactivate(ref)
    }

    /// Every LV of the node, or those carrying `tag`.
    public func logicalVolumes(tagged tag: String? = nil) throws -> [LogicalVolumeInfo] {
        var words = [
            "lvs", "--noheadings", "--nosuffix", "--units", "b", "--separator", "|", "-o",
            "vg_name,lv_name," + Self.reportFields,
        ]
        if let tag { words += ["@\(tag)"] }
        let output = try run(words, for: tag.map { "LVs tagged \($0)" } ?? "LVs")
        return try output.lines.filter { $0.contains("|") }.map { line in
            let fields = line.trimmingSpaces.split(separator: "|", omittingEmptySubsequences: false).map { String($0) }
            guard fields.count == 8, let size = UInt64(fields[5].trimmingSpaces) else {
                throw FlexLVMError(.lvm, "unexpected lvs output: \(quoted(line))")
            }
            return LogicalVolumeInfo(
                ref: try LogicalVolumeRef(volumeGroup: fields[0].trimmingSpaces, name: fields[1]), vgUUID: fields[2],
                lvUUID: fields[3], attributes: fields[4], sizeBytes: size,
                tags: fields[6].split(separator: ",").map { String($0) }, segmentType: fields[7])
        }
    }

    /// The value LVM uses for a configuration setting such as `activation/udev_sync`
    /// (set or default). lvmconfig prints with stdio rather than through the log callback,
    /// so it writes to an anonymous memory file that is read back.
    public func configurationValue(_ path: String) throws -> String? {
        let fd = flexlvm_memfd_create("flexlvm-lvmconfig")
        guard fd >= 0 else { throw FlexLVMError(.system, "memfd_create", cause: Errno.current) }
        defer { close(fd) }
        try run(["lvmconfig", "--typeconfig", "full", "--file", "/proc/self/fd/\(fd)", path], for: "setting \(path)")
        lseek(fd, 0, SEEK_SET)
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = read(fd, &buffer, buffer.count)
        let text = String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.contains("=") }) else { return nil }
        return String(line[line.index(after: line.firstIndex(of: "=")!)...]).trimmingSpaces
    }

    /// liblvm2cmd's own version line ("LVM version: 2.03.16(2) (2022-05-18)").
    public func version() throws -> String {
        let output = try run(["version"], for: "version")
        return output.lines.first { $0.contains("LVM version") }?.trimmingSpaces ?? output.lines.first ?? "unknown"
    }
}
