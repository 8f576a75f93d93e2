import FlexLVMCore
import FlexVolume

/// One LV as the snapshot, clone and thin-pool commands see it: its origin, pool and use.
public struct LogicalVolumeUsage: Sendable, Equatable {
    public let ref: LogicalVolumeRef
    public let lvUUID: String
    public let vgUUID: String
    /// lv_attr, e.g. "swi-a-s---".
    public let attributes: String
    public let sizeBytes: UInt64
    /// The origin LV's name (COW and thin snapshots, and thin clones), or empty.
    public let origin: String
    /// The thin pool of a thin LV, or empty.
    public let pool: String
    /// data_percent: a thin LV's or pool's data use, a COW snapshot's COW use; nil when inactive.
    public let dataPercent: Double?
    /// metadata_percent of a thin pool; nil otherwise.
    public let metadataPercent: Double?
    public let tags: [String]

    /// lv_attr's first letter: 's' COW snapshot, 'S' merging COW snapshot, 'V' thin, 't' pool, ...
    public var volumeType: Character { attributes.first ?? "?" }
    var attribute: [Character] { Array(attributes) }

    /// A COW snapshot (merging or not).
    public var isCopyOnWriteSnapshot: Bool { volumeType == "s" || volumeType == "S" }
    /// A thin LV.
    public var isThin: Bool { volumeType == "V" }
    public var isThinPool: Bool { volumeType == "t" }
    /// Tagged by `flexlvm snapshot create`, or any COW snapshot.
    public var isSnapshot: Bool { isCopyOnWriteSnapshot || tags.contains(LVM.snapshotTag) }
    /// A COW snapshot LVM declared invalid (its COW store overflowed).
    public var isInvalid: Bool { attribute.count > 4 && attribute[4] == "I" }
    /// A snapshot whose merge into its origin is pending or running.
    public var isMerging: Bool { volumeType == "S" }
    /// An origin with a snapshot merge pending or running (lv_attr 'O').
    public var hasMergingSnapshot: Bool { volumeType == "O" }
    /// lv_attr's 10th letter: 'k' means LVM's activation-skip flag is set.
    public var skipsActivation: Bool { attribute.count > 9 && attribute[9] == "k" }
    public var isActive: Bool { attribute.count > 4 && attribute[4] == "a" }

    /// The DM UUID of this LV's kernel device.
    public var deviceMapperUUID: String {
        "LVM-" + vgUUID.filter { $0 != "-" } + lvUUID.filter { $0 != "-" }
    }
}

extension LVM {
    /// The tag `flexlvm snapshot create` puts on snapshots: the driver never serves them.
    public static let snapshotTag = "flexlvm.snapshot"

    static let usageFields =
        "vg_name,lv_name,lv_uuid,vg_uuid,lv_attr,lv_size,origin,pool_lv,data_percent,metadata_percent,lv_tags"

    /// Every LV of `volumeGroup` (or of the node), with origins, pools and use.
    public func usage(volumeGroup: String? = nil) throws -> [LogicalVolumeUsage] {
        var words = [
            "lvs", "--noheadings", "--nosuffix", "--units", "b", "--separator", "|", "-o", Self.usageFields,
        ]
        if let volumeGroup {
            try LVMNameRules.validate(volumeGroup, as: "volume group", isLogicalVolume: false)
            words.append(volumeGroup)
        }
        let output = try run(words, for: volumeGroup.map { "VG \($0)" } ?? "LVs")
        return try output.lines.filter { $0.contains("|") }.map { line in
            let fields = line.trimmingSpaces.split(separator: "|", omittingEmptySubsequences: false).map {
                String($0).trimmingSpaces
            }
            guard fields.count == 11, let size = UInt64(fields[5]) else {
                throw FlexLVMError(.lvm, "unexpected lvs output: \(quoted(line))")
            }
            return LogicalVolumeUsage(
                ref: try LogicalVolumeRef(volumeGroup: fields[0], name: fields[1]), lvUUID: fields[2],
                vgUUID: fields[3], attributes: fields[4], sizeBytes: size, origin: fields[6], pool: fields[7],
                dataPercent: Double(fields[8]), metadataPercent: Double(fields[9]),
                tags: fields[10].split(separator: ",").map { String($0) })
        }
    }

    /// One LV's usage row; throws `.notFound` when it does not exist.
    public func usage(of ref: LogicalVolumeRef) throws -> LogicalVolumeUsage {
        _ = try logicalVolume(ref)  // LVM's own "not found" wording
        guard let row = try usage(volumeGroup: ref.volumeGroup).first(where: { $0.ref == ref }) else {
            throw FlexLVMError(.notFound, "logical volume \(ref.name) not found in volume group \(ref.volumeGroup)")
        }
        return row
    }

    /// Creates a snapshot of `origin`: a thin snapshot when `cowSizeBytes` is nil (thin
    /// origins), else a COW snapshot with a COW store of that size. LVM suspends the origin
    /// with a flush and its filesystem frozen (device-mapper's lockfs) while it switches
    /// tables, so the snapshot holds the filesystem at one instant, clean.
    public func createSnapshot(of origin: LogicalVolumeRef, name: String, cowSizeBytes: UInt64?, tags: [String])
        throws
    {
        try LVMNameRules.validate(name, as: "snapshot", isLogicalVolume: true)
        var words = ["lvcreate", "-q", "-y", "-s", "-n", name]
        if let cowSizeBytes { words += ["-L", "\(cowSizeBytes)b"] }
        for tag in tags { words += ["--addtag", tag] }
        try run(words + [origin.lvmPath], for: "snapshot \(origin.volumeGroup)/\(name) of \(origin)")
    }

    /// Creates a thin clone: a thin snapshot of `source` with activation-skip cleared and
    /// `tags`, left inactive.
    public func createThinClone(of source: LogicalVolumeRef, name: String, tags: [String]) throws {
        var words = ["lvcreate", "-q", "-y", "-s", "-k", "n", "-n", name]
        for tag in tags { words += ["--addtag", tag] }
        try run(words + [source.lvmPath], for: "clone \(source.volumeGroup)/\(name) of \(source)")
    }

    /// Removes an LV (`lvremove -f`); LVM refuses an open one.
    public func remove(_ ref: LogicalVolumeRef) throws {
        try run(["lvremove", "-q", "-y", "-f", ref.lvmPath], for: "LV \(ref)")
    }

    /// Merges a snapshot back into its origin (`lvconvert --merge`). LVM starts the merge now
    /// when the origin can be (re)activated, else at the origin's next activation.
    public func merge(_ snapshot: LogicalVolumeRef) throws -> Output {
        try run(["lvconvert", "-q", "-y", "-i", "1", "--merge", snapshot.lvmPath], for: "snapshot \(snapshot)")
    }

    /// Activates an LV even if it has the activation-skip flag (`lvchange -ay -K`).
    public func activateIgnoringSkip(_ ref: LogicalVolumeRef) throws {
        try run(["lvchange", "-ay", "-K", ref.lvmPath], for: "LV \(ref)")
    }
}
