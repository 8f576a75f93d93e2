import FlexLVMCore
import FlexVolume

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
